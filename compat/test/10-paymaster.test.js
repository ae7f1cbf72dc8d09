// 10. Gas sponsorship. ERC-7677: viem's paymaster client (`createPaymasterClient`) asks `keyward dev`
//     for stub and final paymaster data under the default dev policy, viem's bundler client
//     estimates and sends, and an account holding 0 ETH gets its operations included, paid from the
//     VerifyingPaymaster's deposit. Wallet API: the official SDK (`@alchemy/wallet-apis` 5.1.0)
//     sends calls with the `paymaster: { policyId }` capability from a smart account and from an
//     EIP-7702 EOA, both holding 0 ETH.

import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { alchemyWalletTransport, createSmartWalletClient } from '@alchemy/wallet-apis'
import { defineChain, encodeFunctionData, getAddress, http, isAddressEqual, parseEventLogs } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createPaymasterClient, entryPoint07Abi } from 'viem/account-abstraction'
import {
  CHAIN_ID,
  ENTRY_POINT,
  RPC_URL,
  artifact,
  bundlerClientFor,
  deploy,
  devAccounts,
  publicClient,
  rawRpc,
  rpcErrorCodes,
  toTestAccount,
  walletFor,
} from './lib.js'

// The default policy `keyward dev` prints in its banner (crates/paymaster/src/dev.rs).
const DEV_POLICY_ID = '4337e2b0-1a6d-4c3e-9f00-000000004337'
const counterAbi = artifact('TestCounter').abi
const paymasterAbi = artifact('VerifyingPaymaster').abi
const wallet = walletFor(devAccounts[0])
const paymasterClient = createPaymasterClient({ transport: http(RPC_URL) })
const RECEIPT_TIMEOUT = 20_000

let factory // TestAccountFactory
let counter // TestCounter
const countCall = () => ({ to: counter, data: encodeFunctionData({ abi: counterAbi, functionName: 'count' }) })
const depositOf = (address) =>
  publicClient.readContract({ address: ENTRY_POINT, abi: entryPoint07Abi, functionName: 'balanceOf', args: [address] })

before(async () => {
  ;({ address: factory } = await deploy(wallet, 'TestAccountFactory', [ENTRY_POINT]))
  ;({ address: counter } = await deploy(wallet, 'TestCounter'))
  counter = getAddress(counter)
})

test('createPaymasterClient + bundler client: a 0-ETH account deploys and calls, paid by the paymaster deposit', async () => {
  const owner = privateKeyToAccount(generatePrivateKey())
  const account = await toTestAccount({ owner, factory, salt: 0n })
  assert.equal(await publicClient.getBalance({ address: account.address }), 0n)
  const bundler = bundlerClientFor({ paymaster: paymasterClient, paymasterContext: { policyId: DEV_POLICY_ID } })

  // The stub names the paymaster: a VerifyingPaymaster whose signer is the dev paymaster key.
  const stub = await paymasterClient.getPaymasterStubData({
    sender: account.address,
    nonce: 0n,
    callData: '0x',
    chainId: 31337,
    entryPointAddress: ENTRY_POINT,
    context: { policyId: DEV_POLICY_ID },
  })
  assert.equal(stub.isFinal, false)
  assert.equal(stub.sponsor.name.length > 0, true)
  const paymaster = stub.paymaster
  const signer = await publicClient.readContract({ address: paymaster, abi: paymasterAbi, functionName: 'verifyingSigner' })
  assert.ok(!isAddressEqual(signer, owner.address))
  const depositBefore = await depositOf(paymaster)
  assert.ok(depositBefore > 0n, 'keyward dev funds the deposit')

  for (const [nonce, expectedCount] of [
    [0n, 1n],
    [1n, 2n],
  ]) {
    const hash = await bundler.sendUserOperation({ account, calls: [countCall()] })
    const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })
    assert.equal(receipt.success, true)
    assert.equal(receipt.nonce, nonce)
    assert.ok(isAddressEqual(receipt.paymaster, paymaster))
    const [counted] = parseEventLogs({ abi: counterAbi, logs: receipt.logs, eventName: 'Counted' })
    assert.ok(isAddressEqual(counted.args.caller, account.address))
    assert.equal(counted.args.counter, expectedCount)
    const { userOperation: op } = await bundler.getUserOperation({ hash })
    assert.ok(isAddressEqual(op.paymaster, paymaster))
    // validUntil (6) ‖ validAfter (6) ‖ signature (65)
    assert.equal(op.paymasterData.length, 2 + 77 * 2)
  }
  assert.equal(await publicClient.getBalance({ address: account.address }), 0n)
  assert.equal(await depositOf(account.address), 0n)
  assert.ok(await account.isDeployed())
  assert.ok((await depositOf(paymaster)) < depositBefore, 'the deposit paid')
})

test('an unknown policy is refused by pm_getPaymasterStubData with -32000 and the reason', async () => {
  const owner = privateKeyToAccount(generatePrivateKey())
  const account = await toTestAccount({ owner, factory, salt: 0n })
  const unknown = '0b6c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d'
  const bundler = bundlerClientFor({ paymaster: paymasterClient, paymasterContext: { policyId: unknown } })
  await assert.rejects(bundler.sendUserOperation({ account, calls: [countCall()] }), (error) => {
    assert.ok(rpcErrorCodes(error).includes(-32000), `codes: ${rpcErrorCodes(error)}: ${error.message}`)
    assert.match(error.message, new RegExp(`unknown policy ${unknown}`))
    return true
  })
  const { body } = await rawRpc({
    jsonrpc: '2.0',
    id: 1,
    method: 'pm_getPaymasterStubData',
    params: [{ sender: account.address, nonce: '0x0', callData: '0x' }, ENTRY_POINT, '0x7a69', { policyId: unknown }],
  })
  assert.equal(body.error.code, -32000)
  assert.deepEqual(body.error.data, { policyId: unknown, reason: 'unknown' })
})

// ---------------------------------------------------------------------------------------------
// The official SDK against the Wallet API of `keyward dev`.
const sdkChain = defineChain({
  id: CHAIN_ID,
  name: 'Keyward dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL] } },
  blockTime: 1000,
})
const sdkTransport = alchemyWalletTransport({ url: RPC_URL })
const WAIT = { timeout: 60_000, pollingInterval: 250 }
const sponsored = { paymaster: { policyId: DEV_POLICY_ID } }
const readCounter = () => publicClient.readContract({ address: counter, abi: counterAbi, functionName: 'counter' })

async function sendSponsored(client) {
  const before = await readCounter()
  const { id } = await client.sendCalls({ calls: [countCall()], capabilities: sponsored })
  const status = await client.waitForCallsStatus({ id, ...WAIT })
  assert.equal(status.statusCode, 200, `status ${status.statusCode}`)
  assert.equal(status.receipts[0].status, 'success')
  assert.equal(await readCounter(), before + 1n)
}

test('official SDK: sendCalls with paymaster { policyId } from a 0-ETH smart account, twice', async () => {
  const owner = privateKeyToAccount(generatePrivateKey())
  const { address } = await createSmartWalletClient({ signer: owner, transport: sdkTransport, chain: sdkChain }).requestAccount()
  const client = createSmartWalletClient({ signer: owner, transport: sdkTransport, chain: sdkChain, account: address })
  const prepared = await client.prepareCalls({ calls: [countCall()], capabilities: sponsored })
  assert.equal(prepared.feePayment.sponsored, true)
  assert.ok(prepared.data.paymaster, 'the prepared operation names a paymaster')
  const paymaster = prepared.data.paymaster
  const depositBefore = await depositOf(paymaster)
  await sendSponsored(client) // deploys the counterfactual account
  await sendSponsored(client)
  assert.equal(await publicClient.getBalance({ address }), 0n)
  assert.equal(await depositOf(address), 0n)
  assert.ok((await depositOf(paymaster)) < depositBefore, 'the deposit paid')
})

test('official SDK: a 0-ETH EOA is delegated (EIP-7702) and calls, sponsored', async () => {
  const owner = privateKeyToAccount(generatePrivateKey())
  const client = createSmartWalletClient({ signer: owner, transport: sdkTransport, chain: sdkChain })
  await sendSponsored(client)
  await sendSponsored(client)
  assert.equal(await publicClient.getBalance({ address: owner.address }), 0n)
})

test('official SDK: an unknown policy is refused at prepare, naming the policy', async () => {
  const owner = privateKeyToAccount(generatePrivateKey())
  const { address } = await createSmartWalletClient({ signer: owner, transport: sdkTransport, chain: sdkChain }).requestAccount()
  const client = createSmartWalletClient({ signer: owner, transport: sdkTransport, chain: sdkChain, account: address })
  const unknown = '0b6c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d'
  await assert.rejects(client.prepareCalls({ calls: [countCall()], capabilities: { paymaster: { policyId: unknown } } }), (error) => {
    const text = []
    for (let e = error; e; e = e.cause) text.push(e.message, e.details ?? '')
    assert.match(text.join('\n'), new RegExp(`unknown policy ${unknown}`))
    return true
  })
})
