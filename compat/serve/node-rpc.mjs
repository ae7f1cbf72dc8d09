// A JSON-RPC caller for a node URL (anvil's dev methods in compat/serve.sh's set-up scripts).

/** `rpc(method, params)` on `url`: the result, or an Error naming the method and the node's error. */
export function nodeRpc(url) {
  return async (method, params) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    })
    const body = await res.json()
    if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`)
    return body.result
  }
}
