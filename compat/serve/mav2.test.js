// Alchemy's deployed Modular Account V2 (its release runtime bytecode at its canonical addresses,
// from the aa-benchmarks copy vendored in vendor/shared/oracles/mav2-gas) placed on the anvil that
// `keyward serve` runs on, then account-kit 4.88.5's createModularAccountV2Client with its DEFAULT
// factory and implementation sends user operations through Keyward's bundler on /v2/KEY/chain/ID.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { http, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { LocalAccountSigner } from '@aa-sdk/core'
import { createModularAccountV2Client } from '@account-kit/smart-contracts'
import { devAccounts, keywardDev, publicClient, walletFor } from '../test/lib.js'
import { mav2 } from './place-mav2.mjs'

const base = process.env.KEYWARD_SERVE_BASE
const key = process.env.KEYWARD_KEY_SDK
const bundlerUrl = `${base}/v2/${key}/chain/${keywardDev.id}`

// compat/serve.sh placed them (serve/place-mav2.mjs) before starting keyward serve.

function client(privateKey, extra = {}) {
  return createModularAccountV2Client({
    mode: 'default',
    chain: keywardDev,
    transport: http(bundlerUrl),
    signer: LocalAccountSigner.privateKeyToAccountSigner(privateKey),
    ...extra,
  })
}

test('the real MAv2 factory is where account-kit looks for it', async () => {
  const code = await publicClient.getCode({ address: mav2.AccountFactory.address })
  assert.equal(code, mav2.AccountFactory.bytecode)
  assert.equal(mav2.AccountFactory.address, '0x00000000000017c61b5bEe81050EC8eFc9c6fecd')
})

test("account-kit's default MAv2 client: a counterfactual account deployed by its first op, then a second op", async () => {
  const owner = generatePrivateKey()
  const c = await client(owner)
  const account = c.account.address
  assert.equal(await publicClient.getCode({ address: account }), undefined, 'counterfactual')
  const funder = walletFor(devAccounts[2])
  await publicClient.waitForTransactionReceipt({ hash: await funder.sendTransaction({ to: account, value: parseEther('1') }) })
  const recipient = privateKeyToAccount(generatePrivateKey()).address

  const first = await c.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('0.1') } })
  const tx1 = await c.waitForUserOperationTransaction({ hash: first.hash, retries: { maxRetries: 40, intervalMs: 250, multiplier: 1 } })
  assert.match(tx1, /^0x[0-9a-f]{64}$/)
  assert.notEqual(await publicClient.getCode({ address: account }), undefined, 'deployed by the MAv2 factory')
  assert.equal(await publicClient.getBalance({ address: recipient }), parseEther('0.1'))

  const second = await c.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('0.2') } })
  await c.waitForUserOperationTransaction({ hash: second.hash, retries: { maxRetries: 40, intervalMs: 250, multiplier: 1 } })
  assert.equal(await publicClient.getBalance({ address: recipient }), parseEther('0.3'))
  const receipt = await fetch(bundlerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getUserOperationReceipt', params: [second.hash] }),
  }).then((r) => r.json())
  assert.equal(receipt.result.success, true)
  assert.equal(receipt.result.sender.toLowerCase(), account.toLowerCase())
})
