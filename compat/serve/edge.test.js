// The HTTP edge of `keyward serve` (run by compat/serve.sh): API keys in the path or the header,
// refusals with their HTTP status and a JSON-RPC body saying why, scopes, rates, the per-chain
// path, hidden methods, probes and metrics.
import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, test } from 'node:test'

const base = process.env.KEYWARD_SERVE_BASE
const keys = {
  sdk: process.env.KEYWARD_KEY_SDK,
  limited: process.env.KEYWARD_KEY_LIMITED,
  revoked: process.env.KEYWARD_KEY_REVOKED,
  otherChain: process.env.KEYWARD_KEY_OTHER_CHAIN,
}
const signer = '0x000000000000000000000000000000000000dEaD'

/** POSTs `body` with `Expect: 100-continue`: the body goes out only once the server asks for it,
 *  so a server refusing it from its length answers without the client writing into a closed
 *  socket (fetch would race the answer with EPIPE). Resolves with the HTTP status. */
function postExpectingContinue(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
    })
    req.on('continue', () => req.end(body))
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode)
      req.destroy()
    })
    req.on('error', reject)
    req.flushHeaders()
  })
}

async function post(path, body, headers = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let json
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, json, text }
}

const request = (method, params = []) => ({ jsonrpc: '2.0', id: 7, method, params })
const requestAccount = request('wallet_requestAccount', [{ signerAddress: signer }])

describe('API keys', () => {
  test('no key: 401 with a JSON-RPC error naming what is missing', async () => {
    const r = await post('/', requestAccount)
    assert.equal(r.status, 401)
    assert.equal(r.json.error.code, 4100)
    assert.match(r.json.error.message, /missing API key/)
  })

  test('an unknown key: 401', async () => {
    const r = await post('/v2/kw_not_a_key', requestAccount)
    assert.equal(r.status, 401)
    assert.match(r.json.error.message, /unknown API key/)
  })

  test('a revoked key: 401 saying so', async () => {
    const r = await post(`/v2/${keys.revoked}`, requestAccount)
    assert.equal(r.status, 401)
    assert.match(r.json.error.message, /revoked/)
  })

  test('a key in the path or as a bearer token is served', async () => {
    const inPath = await post(`/v2/${keys.sdk}`, requestAccount)
    assert.equal(inPath.status, 200, inPath.text)
    assert.match(inPath.json.result.accountAddress, /^0x[0-9a-fA-F]{40}$/)
    const bearer = await post('/', requestAccount, { authorization: `Bearer ${keys.sdk}` })
    assert.equal(bearer.status, 200, bearer.text)
    assert.equal(bearer.json.result.accountAddress, inPath.json.result.accountAddress)
  })

  test('a key limited to another chain: 403 naming the chain', async () => {
    const prepare = request('wallet_prepareCalls', [{ from: signer, chainId: '0x7a69', calls: [] }])
    const r = await post(`/v2/${keys.otherChain}`, prepare)
    assert.equal(r.status, 403)
    assert.match(r.json.error.message, /may not use chain 31337/)
    const onChainPath = await post(`/v2/${keys.otherChain}/chain/31337`, request('eth_chainId'))
    assert.equal(onChainPath.status, 403)
  })

  test('over the rate: 429 with Retry-After, then served again later', async () => {
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(await post(`/v2/${keys.limited}`, requestAccount))
    assert.deepEqual(answers.slice(0, 3).map((a) => a.status), [200, 200, 200])
    const over = answers[3]
    assert.equal(over.status, 429)
    assert.equal(over.json.error.code, -32005)
    const retry = Number(over.headers.get('retry-after'))
    assert.ok(retry >= 1 && retry <= 20, `Retry-After ${retry}`)
  })
})

describe('paths', () => {
  test('/chain/ID serves the bundler and the node reads of that chain', async () => {
    const path = `/v2/${keys.sdk}/chain/31337`
    const id = await post(path, request('eth_chainId'))
    assert.equal(id.json.result, '0x7a69')
    const eps = await post(path, request('eth_supportedEntryPoints'))
    assert.deepEqual(eps.json.result.map((a) => a.toLowerCase()), ['0x0000000071727de22e5e9d8baf0edac6f37da032'])
    const block = await post(path, request('eth_blockNumber'))
    assert.match(block.json.result, /^0x[0-9a-f]+$/)
  })

  test('writes to the node and the bundler test controls are not reachable', async () => {
    const path = `/v2/${keys.sdk}/chain/31337`
    for (const method of ['eth_sendRawTransaction', 'debug_bundler_clearState', 'debug_bundler_dumpMempool']) {
      const r = await post(path, request(method, ['0x00']))
      assert.equal(r.json.error?.code, -32601, `${method}: ${r.text}`)
    }
  })

  test('a chain not served: 404 with code 5710', async () => {
    const r = await post(`/v2/${keys.sdk}/chain/5`, request('eth_chainId'))
    assert.equal(r.status, 404)
    assert.equal(r.json.error.code, 5710)
  })

  test('the Wallet API root has no node methods', async () => {
    const r = await post(`/v2/${keys.sdk}`, request('eth_chainId'))
    assert.equal(r.json.error?.code, -32601)
  })

  test('a body over the limit: 413', async () => {
    const big = JSON.stringify(request('wallet_requestAccount', [{ signerAddress: signer, pad: 'x'.repeat(2 << 20) }]))
    assert.equal(await postExpectingContinue(`/v2/${keys.sdk}`, big), 413)
  })

  test('a CORS preflight is answered with the SDK headers allowed', async () => {
    const res = await fetch(`${base}/v2/${keys.sdk}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization,alchemy-aa-sdk-version',
      },
    })
    assert.ok(res.status < 300, `preflight ${res.status}`)
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
  })
})

describe('two chains in one process', () => {
  test('/chain/31338 is the second node; the Wallet API serves each chain by its chainId', async () => {
    const path = `/v2/${keys.sdk}`
    const id = await post(`${path}/chain/31338`, request('eth_chainId'))
    assert.equal(id.json.result, '0x7a6a')
    const owner = '0x00000000000000000000000000000000000b0b00'
    const { json } = await post(path, request('wallet_requestAccount', [{ signerAddress: owner }]))
    const account = json.result.accountAddress
    // Funded on the second chain only: a prepare there estimates against that chain's state.
    const res = await fetch(process.env.KEYWARD_CHAIN2_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request('anvil_setBalance', [account, '0xde0b6b3a7640000'])),
    })
    assert.equal((await res.json()).error, undefined)
    const call = { to: owner, value: '0x1' }
    const prepared = await post(path, request('wallet_prepareCalls', [{ from: account, chainId: '0x7a6a', calls: [call] }]))
    assert.equal(prepared.json.error, undefined, prepared.text)
    assert.equal(prepared.json.result.chainId, '0x7a6a')
    assert.equal(prepared.json.result.type, 'user-operation-v070')
    const elsewhere = await post(path, request('wallet_prepareCalls', [{ from: account, chainId: '0x5', calls: [call] }]))
    assert.equal(elsewhere.json.error.code, 5710)
    assert.match(elsewhere.json.error.message, /31337/)
    assert.match(elsewhere.json.error.message, /31338/)
  })
})

describe('probes and metrics', () => {
  test('/health and /ready', async () => {
    assert.equal((await fetch(`${base}/health`)).status, 200)
    const ready = await fetch(`${base}/ready`)
    assert.equal(ready.status, 200)
    assert.match(await ready.text(), /ready/)
  })

  test('/metrics counts calls by method and code, refusals by status, and the chain gauges', async () => {
    await post(`/v2/${keys.sdk}/chain/31337`, request('eth_chainId'))
    const text = await (await fetch(`${base}/metrics`)).text()
    assert.match(text, /keyward_rpc_requests_total\{[^}]*method="eth_chainId"[^}]*\} \d+/)
    assert.match(text, /keyward_rpc_requests_total\{[^}]*method="wallet_requestAccount"[^}]*code="0"[^}]*\} \d+|keyward_rpc_requests_total\{[^}]*code="0"[^}]*method="wallet_requestAccount"[^}]*\} \d+/)
    assert.match(text, /keyward_http_refused_total\{status="401"\} \d+/)
    assert.match(text, /keyward_rpc_request_duration_seconds_bucket/)
    // Both bundler keys of the chain report their balance.
    const bundlerKeys = new Set([...text.matchAll(/keyward_bundler_balance_wei\{[^}]*key="(0x[0-9a-fA-F]{40})"/g)].map((m) => m[1]))
    assert.equal(bundlerKeys.size, 2, text)
    assert.match(text, /keyward_mempool_operations\{/)
  })
})
