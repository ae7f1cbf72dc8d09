// 6. viem's v0.7 userOpHash equals Keyward's EntryPoint.getUserOpHash of the packed operation.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeFunctionData, maxUint128, parseGwei } from 'viem'
import { getUserOperationHash, toPackedUserOperation } from 'viem/account-abstraction'
import { CHAIN_ID, ENTRY_POINT, artifact, devAccounts, publicClient } from './lib.js'

const entryPointAbi = artifact('EntryPoint').abi
const counterAbi = artifact('TestCounter').abi

const gas = {
  callGasLimit: 100_000n,
  verificationGasLimit: 150_000n,
  preVerificationGas: 50_000n,
  maxFeePerGas: parseGwei('3'),
  maxPriorityFeePerGas: parseGwei('1'),
}

const userOperations = {
  'plain (no factory, no paymaster)': {
    sender: devAccounts[1].address,
    nonce: 0n,
    callData: '0x',
    signature: '0x',
    ...gas,
  },
  'with factory and a keyed nonce': {
    sender: '0x1234567890123456789012345678901234567890',
    nonce: (42n << 64n) | 7n,
    factory: '0x00000000000000000000000000000000000FAC70',
    factoryData: '0x5fbfb9cf' + '00'.repeat(31) + '01' + '00'.repeat(32),
    callData: encodeFunctionData({ abi: counterAbi, functionName: 'count' }),
    signature: '0x' + '11'.repeat(65),
    ...gas,
  },
  'with paymaster and paymaster data': {
    sender: devAccounts[2].address,
    nonce: 3n,
    callData: '0xdeadbeef',
    paymaster: '0x000000000000000000000000000000000000BEEF',
    paymasterVerificationGasLimit: 60_000n,
    paymasterPostOpGasLimit: 30_000n,
    paymasterData: '0xcafe0001',
    signature: '0x',
    ...gas,
  },
  'with factory and paymaster, extreme values': {
    sender: '0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF',
    nonce: 2n ** 256n - 1n,
    factory: '0x0000000000000000000000000000000000000001',
    factoryData: '0x',
    callData: '0x' + 'ab'.repeat(300),
    callGasLimit: maxUint128,
    verificationGasLimit: maxUint128,
    preVerificationGas: 2n ** 256n - 1n,
    maxFeePerGas: maxUint128,
    maxPriorityFeePerGas: 0n,
    paymaster: '0x0000000000000000000000000000000000000002',
    paymasterVerificationGasLimit: maxUint128,
    paymasterPostOpGasLimit: 1n,
    paymasterData: '0x',
    signature: '0x01',
  },
}

const viemHash = (userOperation, chainId = CHAIN_ID) =>
  getUserOperationHash({
    userOperation,
    entryPointAddress: ENTRY_POINT,
    entryPointVersion: '0.7',
    chainId,
  })

const entryPointHash = (userOperation) =>
  publicClient.readContract({
    address: ENTRY_POINT,
    abi: entryPointAbi,
    functionName: 'getUserOpHash',
    args: [toPackedUserOperation(userOperation)],
  })

for (const [name, userOperation] of Object.entries(userOperations)) {
  test(`getUserOpHash matches viem: ${name}`, async () => {
    const expected = viemHash(userOperation)
    assert.match(expected, /^0x[0-9a-f]{64}$/)
    assert.equal(await entryPointHash(userOperation), expected)
  })
}

test('the hashes are all different, ignore the signature and commit to the chain id', async () => {
  const hashes = Object.values(userOperations).map((op) => viemHash(op))
  assert.equal(new Set(hashes).size, hashes.length)

  const [plain] = Object.values(userOperations)
  const resigned = { ...plain, signature: `0x${'22'.repeat(65)}` }
  assert.equal(await entryPointHash(resigned), viemHash(plain))

  // Keyward's EntryPoint hashes with chain id 31337 (block.chainid), not another chain's.
  assert.notEqual(await entryPointHash(plain), viemHash(plain, 1))

  // A one-unit change of any gas field changes the on-chain hash.
  const bumped = { ...plain, preVerificationGas: plain.preVerificationGas + 1n }
  assert.notEqual(await entryPointHash(bumped), await entryPointHash(plain))
  assert.equal(await entryPointHash(bumped), viemHash(bumped))
})
