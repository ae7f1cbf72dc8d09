// 5. eth_call / eth_estimateGas with state overrides, and reverts that viem decodes.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import {
  BaseError,
  ContractFunctionRevertedError,
  encodeFunctionData,
  hexToBigInt,
  numberToHex,
  pad,
  parseEther,
  zeroAddress,
  zeroHash,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ENTRY_POINT, artifact, deploy, devAccounts, publicClient, walletFor } from './lib.js'

const counterArtifact = artifact('TestCounter')
const { abi } = counterArtifact
const entryPointAbi = artifact('EntryPoint').abi
const owner = devAccounts[0]
let counter // TestCounter address

// SELFBALANCE PUSH0 MSTORE PUSH1 0x20 PUSH0 RETURN: returns its own balance as a uint256.
const SELF_BALANCE_CODE = '0x475f5260205ff3'
const freshAddress = () => privateKeyToAccount(generatePrivateKey()).address
const slot0 = pad('0x0', { size: 32 })

before(async () => {
  ;({ address: counter } = await deploy(walletFor(owner), 'TestCounter'))
})

/** Runs `fn`, expects it to throw, and returns viem's ContractFunctionRevertedError from the chain. */
async function revertOf(fn) {
  const error = await fn().then(
    () => assert.fail('expected the call to revert'),
    (err) => err,
  )
  assert.ok(error instanceof BaseError, `not a viem error: ${error}`)
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError)
  assert.ok(reverted, `no ContractFunctionRevertedError in: ${error.message}`)
  return reverted
}

test('eth_call with a code and balance override runs the override', async () => {
  const address = freshAddress()
  const balance = 123456789n

  const { data } = await publicClient.call({
    to: address,
    stateOverride: [{ address, balance, code: SELF_BALANCE_CODE }],
  })
  assert.equal(hexToBigInt(data), balance)

  // The override was for that call only.
  const plain = await publicClient.call({ to: address })
  assert.equal(plain.data, undefined)
  assert.equal(await publicClient.getBalance({ address }), 0n)
  assert.equal(await publicClient.getCode({ address }), undefined)
})

test('eth_call with a storage override (stateDiff and full state) is read back', async () => {
  const read = (stateOverride) =>
    publicClient.readContract({ address: counter, abi, functionName: 'counter', stateOverride })
  const before = await read(undefined)

  const value = pad(numberToHex(41), { size: 32 })
  assert.equal(await read([{ address: counter, stateDiff: [{ slot: slot0, value }] }]), 41n)
  assert.equal(await read([{ address: counter, state: [{ slot: slot0, value }] }]), 41n)
  assert.equal(await read(undefined), before, 'the override leaked into the chain state')

  // TestCounter's code placed at an empty address, with its storage set.
  const elsewhere = freshAddress()
  const code = counterArtifact.deployedBytecode
  assert.equal(
    await publicClient.readContract({
      address: elsewhere,
      abi,
      functionName: 'counter',
      stateOverride: [{ address: elsewhere, code, stateDiff: [{ slot: slot0, value }] }],
    }),
    41n,
  )
})

test('eth_estimateGas honours balance and code overrides', async () => {
  // An unfunded sender cannot move 1 ETH (geth's "insufficient funds"), unless overridden.
  const poor = freshAddress()
  const transfer = { account: poor, to: owner.address, value: parseEther('1') }
  await assert.rejects(publicClient.estimateGas(transfer), /fund/i)
  const gas = await publicClient.estimateGas({
    ...transfer,
    stateOverride: [{ address: poor, balance: parseEther('2') }],
  })
  assert.equal(gas, 21000n)

  // burnGas(200k) on an empty address costs nothing; with TestCounter's code put there it burns.
  const target = freshAddress()
  const burn = {
    account: owner.address,
    to: target,
    data: encodeFunctionData({ abi, functionName: 'burnGas', args: [200_000n] }),
  }
  const empty = await publicClient.estimateGas(burn)
  assert.ok(empty < 30_000n, `estimate for an empty account: ${empty}`)
  const overridden = await publicClient.estimateGas({
    ...burn,
    stateOverride: [{ address: target, code: counterArtifact.deployedBytecode }],
  })
  assert.ok(overridden > 200_000n, `estimate with the code override: ${overridden}`)
})

test('eth_estimateGas is enough for the transaction it estimates', async () => {
  const estimate = await publicClient.estimateContractGas({
    account: owner,
    address: counter,
    abi,
    functionName: 'count',
  })
  const hash = await walletFor(owner).writeContract({
    address: counter,
    abi,
    functionName: 'count',
    gas: estimate,
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  assert.ok(estimate >= receipt.gasUsed, `estimate ${estimate} < used ${receipt.gasUsed}`)
})

test('a reverting eth_call decodes to Error("TestCounter: failed")', async () => {
  const reverted = await revertOf(() =>
    publicClient.readContract({ address: counter, abi, functionName: 'fail' }),
  )
  assert.equal(reverted.reason, 'TestCounter: failed')
  assert.equal(reverted.data?.errorName, 'Error')
  assert.deepEqual(reverted.data?.args, ['TestCounter: failed'])

  // simulateContract (eth_call from an account) and eth_estimateGas revert the same way.
  const simulated = await revertOf(() =>
    publicClient.simulateContract({ account: owner, address: counter, abi, functionName: 'fail' }),
  )
  assert.equal(simulated.reason, 'TestCounter: failed')
  const estimated = await revertOf(() =>
    publicClient.estimateContractGas({ account: owner, address: counter, abi, functionName: 'fail' }),
  )
  assert.equal(estimated.reason, 'TestCounter: failed')
})

test('raw revert data comes back byte for byte', async () => {
  const reverted = await revertOf(() =>
    publicClient.readContract({ address: counter, abi, functionName: 'failWithLength', args: [64n] }),
  )
  assert.equal(reverted.raw, `0x${'ab'.repeat(64)}`)
})

test('EntryPoint.innerHandleOp from outside reverts with Error("AA92 internal call only")', async () => {
  const opInfo = {
    mUserOp: {
      sender: owner.address,
      nonce: 0n,
      verificationGasLimit: 0n,
      callGasLimit: 0n,
      paymasterVerificationGasLimit: 0n,
      paymasterPostOpGasLimit: 0n,
      preVerificationGas: 0n,
      paymaster: zeroAddress,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
    },
    userOpHash: zeroHash,
    prefund: 0n,
    contextOffset: 0n,
    preOpGas: 0n,
  }
  const reverted = await revertOf(() =>
    publicClient.simulateContract({
      account: owner,
      address: ENTRY_POINT,
      abi: entryPointAbi,
      functionName: 'innerHandleOp',
      args: ['0x', opInfo, '0x'],
    }),
  )
  assert.equal(reverted.reason, 'AA92 internal call only')
  assert.equal(reverted.data?.errorName, 'Error')
})
