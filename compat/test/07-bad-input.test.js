// 7. Bad input gets a JSON-RPC error, never a crash; the server keeps answering.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BaseError } from 'viem'
import { CHAIN_ID, publicClient, rawRpc } from './lib.js'

const request = (method, params, id = 1) => ({ jsonrpc: '2.0', id, method, params })

async function assertAlive() {
  const { body } = await rawRpc(request('eth_chainId', [], 99))
  assert.deepEqual(body, { jsonrpc: '2.0', id: 99, result: `0x${CHAIN_ID.toString(16)}` })
  assert.equal(await publicClient.getChainId(), CHAIN_ID)
}

/** Asserts a JSON-RPC 2.0 error response for `id`: an integer code, a message, no result. */
function assertRpcError(body, id) {
  assert.equal(body.jsonrpc, '2.0')
  assert.equal(body.id, id)
  assert.equal(body.result, undefined, `unexpected result ${JSON.stringify(body.result)}`)
  assert.ok(body.error, `no error in ${JSON.stringify(body)}`)
  assert.ok(Number.isInteger(body.error.code), `error code ${body.error.code}`)
  assert.equal(typeof body.error.message, 'string')
  assert.ok(body.error.message.length > 0)
}

const garbage = {
  'random bytes': '0xdeadbeef',
  'truncated type-2 envelope': '0x02f8',
  'a typed envelope with an unknown type': `0x7f${'00'.repeat(40)}`,
  'not hex at all': '0xnot-hex',
  'empty': '0x',
}

for (const [name, raw] of Object.entries(garbage)) {
  test(`eth_sendRawTransaction with ${name} is a JSON-RPC error`, async () => {
    const { body } = await rawRpc(request('eth_sendRawTransaction', [raw], 7))
    assertRpcError(body, 7)
    await assertAlive()
  })
}

test('viem surfaces a rejected raw transaction as an error', async () => {
  await assert.rejects(
    publicClient.sendRawTransaction({ serializedTransaction: '0xdeadbeef' }),
    (err) => err instanceof BaseError,
  )
  await assertAlive()
})

test('malformed JSON, an unknown method and missing params are JSON-RPC errors', async () => {
  const parse = await rawRpc('{"jsonrpc":"2.0","id":1,"method":')
  assert.equal(parse.body.error?.code, -32700)

  const unknown = await rawRpc(request('eth_noSuchMethod', [], 3))
  assertRpcError(unknown.body, 3)
  assert.equal(unknown.body.error.code, -32601)

  const missing = await rawRpc(request('eth_getBalance', [], 4))
  assertRpcError(missing.body, 4)
  assert.equal(missing.body.error.code, -32602)

  await assertAlive()
})
