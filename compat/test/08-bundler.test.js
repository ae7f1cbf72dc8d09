// 8. The ERC-4337 bundler RPC (EntryPoint v0.7) of `keyward dev`, driven by viem's own
//    account-abstraction client: a viem SmartAccount for TestAccount (lib.js `toTestAccount`) and
//    `createBundlerClient` on the chain's URL.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  decodeFunctionData,
  encodeFunctionData,
  getAddress,
  isAddressEqual,
  isHash,
  parseEther,
  parseGwei,
  parseEventLogs,
  zeroAddress,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  UserOperationNotFoundError,
  UserOperationReceiptNotFoundError,
  entryPoint07Abi,
  entryPoint08Address,
  getUserOperationHash,
} from 'viem/account-abstraction'
import {
  CHAIN_ID,
  ENTRY_POINT,
  artifact,
  bundlerClientFor,
  deploy,
  devAccounts,
  publicClient,
  rpcErrorCodes,
  toTestAccount,
  walletFor,
} from './lib.js'

const counterAbi = artifact('TestCounter').abi
const accountAbi = artifact('TestAccount').abi
const paymasterAbi = artifact('TestPaymaster').abi
const factoryAbi = artifact('TestAccountFactory').abi
const countCall = () => ({ to: counter, data: encodeFunctionData({ abi: counterAbi, functionName: 'count' }) })
const failCall = () => ({ to: counter, data: encodeFunctionData({ abi: counterAbi, functionName: 'fail' }) })

const funder = devAccounts[0]
const wallet = walletFor(funder)
const bundlerClient = bundlerClientFor()
const RECEIPT_TIMEOUT = 20_000
/** Gas fields generous enough for a count() call from a deployed TestAccount. */
const GENEROUS_GAS = { callGasLimit: 200_000n, verificationGasLimit: 300_000n, preVerificationGas: 100_000n }

let factory // TestAccountFactory
let counter // TestCounter
let paymaster // TestPaymaster, with an EntryPoint deposit
let owner // owner key of `account`
let account // TestAccount at getAddress(owner, 1): counterfactual, deployed by test 2

const debug = (method, params = []) => bundlerClient.request({ method: `debug_bundler_${method}`, params })
const readCounter = () => publicClient.readContract({ address: counter, abi: counterAbi, functionName: 'counter' })
const depositOf = (address) =>
  publicClient.readContract({ address: ENTRY_POINT, abi: entryPoint07Abi, functionName: 'balanceOf', args: [address] })
const onchainNonce = (address, key = 0n) =>
  publicClient.readContract({
    address: ENTRY_POINT,
    abi: entryPoint07Abi,
    functionName: 'getNonce',
    args: [address, key],
  })
const waitForReceipt = (hash) => bundlerClient.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })

/** Asserts `promise` rejects with a viem error whose cause chain carries JSON-RPC `code`. */
async function rejectsWithCode(promise, code, messagePattern) {
  await assert.rejects(promise, (error) => {
    const codes = rpcErrorCodes(error)
    assert.ok(codes.includes(code), `expected code ${code} in the cause chain, got [${codes}]: ${error.message}`)
    if (messagePattern) assert.match(error.message, messagePattern)
    return true
  })
}

before(async () => {
  ;({ address: factory } = await deploy(wallet, 'TestAccountFactory', [ENTRY_POINT]))
  ;({ address: counter } = await deploy(wallet, 'TestCounter'))
  counter = getAddress(counter) // checksummed, as decoded calldata and events have it
  ;({ address: paymaster } = await deploy(wallet, 'TestPaymaster', [ENTRY_POINT]))
  const hash = await wallet.writeContract({
    address: paymaster,
    abi: paymasterAbi,
    functionName: 'deposit',
    value: parseEther('1'),
  })
  assert.equal((await publicClient.waitForTransactionReceipt({ hash })).status, 'success')
  owner = privateKeyToAccount(generatePrivateKey())
  account = await toTestAccount({ owner, factory, salt: 1n })
})

after(async () => {
  // Leave the bundler as the other files expect it, whatever failed.
  await debug('setBundlingMode', ['auto']).catch(() => {})
})

test('eth_supportedEntryPoints and eth_chainId through the bundler client', async () => {
  const entryPoints = await bundlerClient.getSupportedEntryPoints()
  assert.equal(entryPoints.length, 1)
  assert.ok(isAddressEqual(entryPoints[0], ENTRY_POINT), `supported: ${entryPoints}`)
  assert.equal(await bundlerClient.getChainId(), CHAIN_ID)
})

test('a counterfactual account is deployed by its first user operation, which calls count()', async () => {
  assert.equal(await publicClient.getCode({ address: account.address }), undefined)
  assert.equal(await account.isDeployed(), false)
  const fund = await wallet.sendTransaction({ to: account.address, value: parseEther('1') })
  await publicClient.waitForTransactionReceipt({ hash: fund })
  const balanceBefore = await publicClient.getBalance({ address: account.address })

  // viem fills nonce, factory, fees and signature, and estimates gas with eth_estimateUserOperationGas.
  const hash = await bundlerClient.sendUserOperation({ account, calls: [countCall()] })
  assert.ok(isHash(hash), `not a hash: ${hash}`)

  const receipt = await waitForReceipt(hash)
  assert.equal(receipt.success, true)
  assert.equal(receipt.userOpHash, hash)
  assert.ok(isAddressEqual(receipt.entryPoint, ENTRY_POINT))
  assert.ok(isAddressEqual(receipt.sender, account.address))
  assert.equal(receipt.nonce, 0n)
  assert.ok(isAddressEqual(receipt.paymaster, zeroAddress))
  assert.ok(receipt.actualGasCost > 0n && receipt.actualGasUsed > 0n)
  assert.equal(receipt.receipt.status, 'success')
  assert.ok(isAddressEqual(receipt.receipt.to, ENTRY_POINT))

  const counted = parseEventLogs({ abi: counterAbi, logs: receipt.logs, eventName: 'Counted' })
  assert.equal(counted.length, 1, 'one Counted event in the operation logs')
  assert.ok(isAddressEqual(counted[0].address, counter))
  assert.deepEqual(counted[0].args, { caller: account.address, counter: 1n, value: 0n })
  assert.equal(await readCounter(), 1n)

  // Deployed by the factory, at the counterfactual address.
  const code = await publicClient.getCode({ address: account.address })
  assert.ok(code && code.length > 2, 'the account has code')
  assert.ok(
    isAddressEqual(
      await publicClient.readContract({ address: account.address, abi: accountAbi, functionName: 'owner' }),
      owner.address,
    ),
  )
  assert.equal(await account.isDeployed(), true)
  assert.deepEqual(await account.getFactoryArgs(), { factory: undefined, factoryData: undefined })

  // The account paid its prefund into its deposit; the EntryPoint kept the actual cost.
  const balanceAfter = await publicClient.getBalance({ address: account.address })
  assert.equal(balanceBefore - balanceAfter, receipt.actualGasCost + (await depositOf(account.address)))

  // eth_getUserOperationByHash: the operation as sent, where it was included.
  const found = await bundlerClient.getUserOperation({ hash })
  assert.ok(isAddressEqual(found.entryPoint, ENTRY_POINT))
  assert.equal(found.blockNumber, receipt.receipt.blockNumber)
  assert.equal(found.blockHash, receipt.receipt.blockHash)
  assert.equal(found.transactionHash, receipt.receipt.transactionHash)
  const op = found.userOperation
  assert.ok(isAddressEqual(op.sender, account.address))
  assert.equal(op.nonce, 0n)
  assert.ok(isAddressEqual(op.factory, factory))
  assert.equal(
    op.factoryData,
    encodeFunctionData({ abi: factoryAbi, functionName: 'createAccount', args: [owner.address, 1n] }),
  )
  assert.ok(op.callGasLimit > 0n && op.verificationGasLimit > 0n && op.preVerificationGas > 0n)
  assert.ok(op.maxFeePerGas > 0n)
  assert.equal(op.signature.length, 2 + 65 * 2)
  assert.equal(
    getUserOperationHash({ userOperation: op, entryPointAddress: ENTRY_POINT, entryPointVersion: '0.7', chainId: CHAIN_ID }),
    hash,
  )
  assert.deepEqual(await account.decodeCalls(op.callData), [{ ...countCall(), value: 0n }])
})

test('a second operation (nonce 1) batches two calls through executeBatch', async () => {
  assert.equal(await account.getNonce(), 1n)
  const hash = await bundlerClient.sendUserOperation({ account, calls: [countCall(), countCall()] })
  const receipt = await waitForReceipt(hash)
  assert.equal(receipt.success, true)
  assert.equal(receipt.nonce, 1n)

  const counted = parseEventLogs({ abi: counterAbi, logs: receipt.logs, eventName: 'Counted' })
  assert.deepEqual(
    counted.map((e) => e.args.counter),
    [2n, 3n],
  )
  assert.equal(await readCounter(), 3n)
  assert.equal(await onchainNonce(account.address), 2n)

  const { userOperation: op } = await bundlerClient.getUserOperation({ hash })
  assert.equal(op.nonce, 1n)
  assert.equal(op.factory ?? undefined, undefined, 'no factory once deployed')
  assert.equal(decodeFunctionData({ abi: accountAbi, data: op.callData }).functionName, 'executeBatch')
  assert.equal(op.callData.slice(0, 10), '0x34fcd5be')
})

test('sponsored by TestPaymaster: an account holding 0 ETH deploys and calls, and keeps 0 ETH', async () => {
  const sponsoredOwner = privateKeyToAccount(generatePrivateKey())
  const sponsored = await toTestAccount({
    owner: sponsoredOwner,
    factory,
    salt: 0n,
  })
  assert.equal(await publicClient.getBalance({ address: sponsored.address }), 0n)

  // A paymaster "service" as viem knows them: getPaymasterData answers the paymaster fields,
  // here mode 1 (accept with context, so the EntryPoint calls postOp). viem estimates its gas.
  const sponsoring = bundlerClientFor({
    paymaster: { getPaymasterData: async () => ({ paymaster, paymasterData: '0x01' }) },
  })
  const depositBefore = await depositOf(paymaster)
  const hash = await sponsoring.sendUserOperation({ account: sponsored, calls: [countCall()] })
  const receipt = await waitForReceipt(hash)
  assert.equal(receipt.success, true)
  assert.ok(isAddressEqual(receipt.paymaster, paymaster))
  assert.equal(await publicClient.getBalance({ address: sponsored.address }), 0n)
  assert.equal(await depositOf(sponsored.address), 0n)
  assert.equal(depositBefore - (await depositOf(paymaster)), receipt.actualGasCost, 'the paymaster paid')
  assert.equal(await sponsored.isDeployed(), true)

  const [postOp] = parseEventLogs({ abi: paymasterAbi, logs: receipt.logs, eventName: 'PostOpCalled' })
  assert.ok(postOp, 'PostOpCalled in the operation logs')
  assert.equal(postOp.args.userOpHash, hash)
  assert.ok(isAddressEqual(postOp.args.sender, sponsored.address))
  const [counted] = parseEventLogs({ abi: counterAbi, logs: receipt.logs, eventName: 'Counted' })
  assert.ok(isAddressEqual(counted.args.caller, sponsored.address))

  const { userOperation: op } = await bundlerClient.getUserOperation({ hash })
  assert.ok(isAddressEqual(op.paymaster, paymaster))
  assert.equal(op.paymasterData, '0x01')
  assert.ok(op.paymasterVerificationGasLimit > 0n && op.paymasterPostOpGasLimit > 0n)

  // Static paymaster fields on the request (mode 0: accept, no postOp); viem estimates the rest.
  const second = await bundlerClient.sendUserOperation({
    account: sponsored,
    calls: [countCall()],
    paymaster,
    paymasterData: '0x00',
  })
  const secondReceipt = await waitForReceipt(second)
  assert.equal(secondReceipt.success, true)
  assert.equal(secondReceipt.nonce, 1n)
  assert.ok(isAddressEqual(secondReceipt.paymaster, paymaster))
  assert.equal(
    parseEventLogs({ abi: paymasterAbi, logs: secondReceipt.logs, eventName: 'PostOpCalled' }).length,
    0,
    'mode 0 has no postOp',
  )
  assert.equal(await publicClient.getBalance({ address: sponsored.address }), 0n)
})

test('an operation signed by another key is refused with -32507 and never included', async () => {
  const impostor = await toTestAccount({
    owner,
    factory,
    salt: 1n,
    signer: privateKeyToAccount(generatePrivateKey()),
  })
  assert.equal(impostor.address, account.address)
  const nonce = await onchainNonce(account.address)
  const before = await readCounter()
  await rejectsWithCode(bundlerClient.sendUserOperation({ account: impostor, calls: [countCall()] }), -32507)
  assert.equal(await onchainNonce(account.address), nonce)
  assert.equal(await readCounter(), before)
})

test('a used nonce and a nonce gap are refused with -32500 and AA25', async () => {
  // Estimation already simulates the stale nonce: the refusal can come from either call.
  await rejectsWithCode(bundlerClient.sendUserOperation({ account, calls: [countCall()], nonce: 0n }), -32500, /AA25/)

  // With all gas fields given, viem skips estimation: this is eth_sendUserOperation's own check.
  const next = await onchainNonce(account.address)
  const fees = { maxFeePerGas: parseGwei('10'), maxPriorityFeePerGas: parseGwei('1') }
  await rejectsWithCode(
    bundlerClient.sendUserOperation({ account, calls: [countCall()], ...GENEROUS_GAS, ...fees, nonce: 0n }),
    -32500,
    /AA25/,
  )
  await rejectsWithCode(
    bundlerClient.sendUserOperation({ account, calls: [countCall()], ...GENEROUS_GAS, ...fees, nonce: next + 5n }),
    -32500,
    /AA25/,
  )
  assert.equal(await onchainNonce(account.address), next)
})

test('estimating an operation whose call reverts fails with -32521 and the revert reason', async () => {
  // The zero gas fields viem's sendUserOperation sends when it estimates (without them Keyward
  // refuses the request: see 08-bundler-estimation.test.js).
  const zeroGas = { callGasLimit: 0n, verificationGasLimit: 0n, preVerificationGas: 0n }
  await rejectsWithCode(
    bundlerClient.estimateUserOperationGas({ account, calls: [failCall()], ...zeroGas }),
    -32521,
    /TestCounter: failed/,
  )
  // The same through sendUserOperation (which estimates first): nothing is sent.
  await rejectsWithCode(bundlerClient.sendUserOperation({ account, calls: [failCall()] }), -32521)
})

test('an unsupported entry point is refused with -32602', async () => {
  await rejectsWithCode(
    bundlerClient.sendUserOperation({ account, calls: [countCall()], entryPointAddress: entryPoint08Address }),
    -32602,
  )
  await rejectsWithCode(
    bundlerClient.estimateUserOperationGas({
      account,
      calls: [countCall()],
      callGasLimit: 0n,
      verificationGasLimit: 0n,
      preVerificationGas: 0n,
      entryPointAddress: entryPoint08Address,
    }),
    -32602,
    /not supported/,
  )
})

test('unknown userOpHash: viem reports not found (the RPC answers null)', async () => {
  const unknown = `0x${'ab'.repeat(32)}`
  await assert.rejects(bundlerClient.getUserOperation({ hash: unknown }), UserOperationNotFoundError)
  await assert.rejects(bundlerClient.getUserOperationReceipt({ hash: unknown }), UserOperationReceiptNotFoundError)
  assert.equal(await bundlerClient.request({ method: 'eth_getUserOperationByHash', params: [unknown] }), null)
  assert.equal(await bundlerClient.request({ method: 'eth_getUserOperationReceipt', params: [unknown] }), null)
})

test('manual bundling: the operation waits in the mempool until debug_bundler_sendBundleNow', async () => {
  assert.equal(await debug('setBundlingMode', ['manual']), 'ok')
  try {
    const before = await readCounter()
    const hash = await bundlerClient.sendUserOperation({ account, calls: [countCall()] })

    // ERC-7769: the mempool as plain user operations, in arrival order.
    const sent = await bundlerClient.getUserOperation({ hash })
    const mempool = await debug('dumpMempool', [ENTRY_POINT])
    const entry = mempool.find((e) => e.sender && isAddressEqual(e.sender, account.address) && BigInt(e.nonce) === sent.userOperation.nonce)
    assert.ok(entry, `${hash} not in ${JSON.stringify(mempool)}`)

    // Well past the ~100 ms of auto mode: still not bundled.
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(await bundlerClient.request({ method: 'eth_getUserOperationReceipt', params: [hash] }), null)
    await assert.rejects(bundlerClient.getUserOperationReceipt({ hash }), UserOperationReceiptNotFoundError)
    const pending = await bundlerClient.getUserOperation({ hash })
    assert.equal(pending.blockNumber, null)
    assert.equal(pending.transactionHash, null)
    assert.equal(await readCounter(), before)

    const tx = await debug('sendBundleNow')
    assert.ok(isHash(tx), `sendBundleNow answered ${tx}`)
    const txReceipt = await publicClient.waitForTransactionReceipt({ hash: tx })
    assert.equal(txReceipt.status, 'success')

    const receipt = await waitForReceipt(hash)
    assert.equal(receipt.success, true)
    assert.equal(receipt.receipt.transactionHash, tx)
    assert.equal(await readCounter(), before + 1n)
    assert.ok(
      !(await debug('dumpMempool', [ENTRY_POINT])).some(
        (e) => isAddressEqual(e.sender, account.address) && BigInt(e.nonce) === sent.userOperation.nonce,
      ),
    )

    // Nothing pending: no bundle (ERC-7769 answers "ok").
    assert.equal(await debug('sendBundleNow'), 'ok')
  } finally {
    assert.equal(await debug('setBundlingMode', ['auto']), 'ok')
  }
})

test('debug_bundler_clearState empties the mempool; the dropped nonce can be sent again', async () => {
  assert.equal(await debug('setBundlingMode', ['manual']), 'ok')
  let dropped
  try {
    dropped = await bundlerClient.sendUserOperation({ account, calls: [countCall()] })
    assert.equal((await debug('dumpMempool', [ENTRY_POINT])).length, 1)
    assert.equal(await debug('clearState'), 'ok')
    assert.deepEqual(await debug('dumpMempool', [ENTRY_POINT]), [])
    assert.equal(await debug('sendBundleNow'), 'ok')
  } finally {
    assert.equal(await debug('setBundlingMode', ['auto']), 'ok')
  }
  await assert.rejects(bundlerClient.getUserOperationReceipt({ hash: dropped }), UserOperationReceiptNotFoundError)

  // Auto mode again: the same nonce goes through within moments.
  const before = await readCounter()
  const nonce = await onchainNonce(account.address)
  const hash = await bundlerClient.sendUserOperation({ account, calls: [countCall()] })
  const receipt = await waitForReceipt(hash)
  assert.equal(receipt.success, true)
  assert.equal(receipt.nonce, nonce)
  assert.equal(await readCounter(), before + 1n)
})
