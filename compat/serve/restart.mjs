// compat/serve.sh's crash test, in two halves around a `kill -9` of `keyward serve`:
//   node restart.mjs send FILE   — an account, a session key, 6 calls accepted (3 sponsored); their
//                                  ids written to FILE; returns as soon as the last is accepted
//   node restart.mjs check FILE  — after the restart: every call reaches 200 and ran exactly once
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { alchemyWalletTransport, createSmartWalletClient } from '@alchemy/wallet-apis'
import { defineChain, encodeFunctionData, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { CHAIN_ID, RPC_URL, artifact, deploy, devAccounts, publicClient, walletFor } from '../test/lib.js'

const [mode, file] = process.argv.slice(2)
const chain = defineChain({
  id: CHAIN_ID,
  name: 'anvil',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL] } },
  blockTime: 1000,
})
const transport = alchemyWalletTransport({ url: RPC_URL })
const POLICY_ID = '4337e2b0-1a6d-4c3e-9f00-000000004337'
const counterAbi = artifact('TestCounter').abi
const CALLS = 6

if (mode === 'send') {
  const funder = walletFor(devAccounts[1])
  const counter = (await deploy(funder, 'TestCounter')).address
  const owner = privateKeyToAccount(generatePrivateKey())
  const ownerClient = createSmartWalletClient({ signer: owner, transport, chain })
  const account = (await ownerClient.requestAccount()).address
  const hash = await funder.sendTransaction({ to: account, value: parseEther('1') })
  await publicClient.waitForTransactionReceipt({ hash })
  const sessionKey = privateKeyToAccount(generatePrivateKey())
  const { context } = await createSmartWalletClient({ signer: owner, transport, chain, account }).grantPermissions({
    account,
    expirySec: Math.floor(Date.now() / 1000) + 3600,
    key: { publicKey: sessionKey.address, type: 'secp256k1' },
    permissions: [{ type: 'root' }],
  })
  const session = createSmartWalletClient({ signer: sessionKey, transport, chain, account })
  const data = encodeFunctionData({ abi: counterAbi, functionName: 'count' })
  const ids = []
  for (let i = 0; i < CALLS; i++) {
    const paymaster = i % 2 === 1 ? { paymaster: { policyId: POLICY_ID } } : {}
    const { id } = await session.sendCalls({ calls: [{ to: counter, data }], capabilities: { permissions: { context }, ...paymaster } })
    ids.push(id)
  }
  writeFileSync(file, JSON.stringify({ account, counter, ids }))
  console.log(`restart: ${ids.length} calls accepted for ${account}`)
} else if (mode === 'check') {
  const { account, counter, ids } = JSON.parse(readFileSync(file, 'utf8'))
  const client = createSmartWalletClient({ signer: privateKeyToAccount(generatePrivateKey()), transport, chain })
  for (const id of ids) {
    const status = await client.waitForCallsStatus({ id, timeout: 90_000, pollingInterval: 250 })
    assert.equal(status.statusCode, 200, `${id}: ${status.statusCode}`)
  }
  const count = await publicClient.readContract({ address: counter, abi: counterAbi, functionName: 'countOf', args: [account] })
  assert.equal(count, BigInt(CALLS), 'each accepted call executed exactly once')
  console.log(`restart: all ${ids.length} calls executed once after the restart`)
} else {
  throw new Error('usage: node restart.mjs send|check FILE')
}
