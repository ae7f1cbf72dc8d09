// 13. rundler_maxPriorityFeePerGas (issue 11, item 9): Alchemy's fee estimator asks the bundler
//     for its priority fee with this Rundler method. viem's createBundlerClient with an
//     `estimateFeesPerGas` built on it sends a simple account's user operation, which is included.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { encodeFunctionData, hexToBigInt, http, isHex, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createBundlerClient } from 'viem/account-abstraction'
import { ENTRY_POINT, RPC_URL, artifact, deploy, devAccounts, publicClient, toTestAccount, walletFor } from './lib.js'

const counterAbi = artifact('TestCounter').abi
const wallet = walletFor(devAccounts[0])
let counter
let account
let asked = 0 // how often the estimator asked the bundler

before(async () => {
  ;({ address: counter } = await deploy(wallet, 'TestCounter'))
  const { address: factory } = await deploy(wallet, 'TestAccountFactory', [ENTRY_POINT])
  account = await toTestAccount({ owner: privateKeyToAccount(generatePrivateKey()), factory })
  const hash = await wallet.sendTransaction({ to: account.address, value: parseEther('1') })
  assert.equal((await publicClient.waitForTransactionReceipt({ hash })).status, 'success')
})

/** Alchemy's estimator shape: the bundler's priority fee, and twice the base fee on top. */
const bundlerClient = createBundlerClient({
  client: publicClient,
  transport: http(RPC_URL),
  pollingInterval: 50,
  userOperation: {
    async estimateFeesPerGas({ bundlerClient }) {
      const priority = await bundlerClient.request({ method: 'rundler_maxPriorityFeePerGas', params: [] })
      asked += 1
      assert.ok(isHex(priority), `not a hex quantity: ${priority}`)
      const maxPriorityFeePerGas = hexToBigInt(priority)
      const block = await publicClient.getBlock()
      return { maxFeePerGas: block.baseFeePerGas * 2n + maxPriorityFeePerGas, maxPriorityFeePerGas }
    },
  },
})

test('rundler_maxPriorityFeePerGas answers a hex quantity: the chain tip the bundler uses', async () => {
  const priority = await bundlerClient.request({ method: 'rundler_maxPriorityFeePerGas', params: [] })
  assert.equal(hexToBigInt(priority), await publicClient.estimateMaxPriorityFeePerGas())
})

test('a user operation whose fees come from rundler_maxPriorityFeePerGas is included', async () => {
  const data = encodeFunctionData({ abi: counterAbi, functionName: 'count' })
  const hash = await bundlerClient.sendUserOperation({ account, calls: [{ to: counter, data }] })
  assert.ok(asked >= 1, 'the fee estimator was not called')
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: 20_000 })
  assert.equal(receipt.success, true)
  const { userOperation } = await bundlerClient.getUserOperation({ hash })
  const priority = await bundlerClient.request({ method: 'rundler_maxPriorityFeePerGas', params: [] })
  assert.equal(userOperation.maxPriorityFeePerGas, hexToBigInt(priority))
  const counted = await publicClient.readContract({ address: counter, abi: counterAbi, functionName: 'counter' })
  assert.equal(counted, 1n)
})
