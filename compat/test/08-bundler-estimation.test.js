// 8. (estimation) eth_estimateUserOperationGas as viem uses it: the answer must be usable as is.
//    viem's sendUserOperation estimates with zero gas fields and its account's stub signature, then
//    sends the estimate unchanged with the real signature; viem's estimateUserOperationGas action
//    sends no gas fields at all (ERC-7769: they are optional when estimating).
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { encodeFunctionData, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  ENTRY_POINT,
  TEST_ACCOUNT_STUB_SIGNATURE,
  VIEM_STYLE_STUB_SIGNATURE,
  artifact,
  bundlerClientFor,
  deploy,
  devAccounts,
  publicClient,
  toTestAccount,
  walletFor,
} from './lib.js'

const counterAbi = artifact('TestCounter').abi
const wallet = walletFor(devAccounts[0])
const bundlerClient = bundlerClientFor()
const zeroGas = { callGasLimit: 0n, verificationGasLimit: 0n, preVerificationGas: 0n }

let factory
let counter
const countCall = () => ({ to: counter, data: encodeFunctionData({ abi: counterAbi, functionName: 'count' }) })

/** A fresh counterfactual TestAccount (viem's own gas estimation: no headroom), funded with 1 ETH. */
async function freshAccount(options = {}) {
  const account = await toTestAccount({ owner: privateKeyToAccount(generatePrivateKey()), factory, ...options })
  const hash = await wallet.sendTransaction({ to: account.address, value: parseEther('1') })
  await publicClient.waitForTransactionReceipt({ hash })
  return account
}

before(async () => {
  ;({ address: factory } = await deploy(wallet, 'TestAccountFactory', [ENTRY_POINT]))
  ;({ address: counter } = await deploy(wallet, 'TestCounter'))
})

test('the gas viem estimates is accepted: sendUserOperation({ account, calls }) is included', async () => {
  const account = await freshAccount()
  // Keyward prices preVerificationGas on the operation as given, whose preVerificationGas is 0
  // while estimating; the answer's own non-zero bytes then make eth_sendUserOperation ask for
  // 12 gas more per byte ("preVerificationGas X is below the X+24 this operation's share...").
  // Deterministically: the operation carrying the estimate must not need more than the estimate.
  const fees = { maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n }
  const estimate = (gas) => bundlerClient.estimateUserOperationGas({ account, calls: [countCall()], ...fees, ...gas })
  const first = await estimate(zeroGas)
  const again = await estimate(first)
  assert.ok(
    again.preVerificationGas <= first.preVerificationGas,
    `estimated preVerificationGas ${first.preVerificationGas}, but the operation carrying it needs ` +
      `${again.preVerificationGas}`,
  )

  const hash = await bundlerClient.sendUserOperation({ account, calls: [countCall()] })
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: 20_000 })
  assert.equal(receipt.success, true)
  assert.equal(await account.isDeployed(), true)
})

test("the preVerificationGas estimate does not depend on the stub signature's bytes", async () => {
  // The stub is replaced by the real signature, whose bytes are unknown when estimating: with
  // viem's own stub shape (16 zero bytes in r) the estimate must still cover a real signature.
  const owner = privateKeyToAccount(generatePrivateKey())
  const estimate = async (signature) =>
    bundlerClient.estimateUserOperationGas({
      account: await toTestAccount({ owner, factory }),
      calls: [countCall()],
      ...zeroGas,
      signature,
    })
  const plain = await estimate(TEST_ACCOUNT_STUB_SIGNATURE)
  const viemStyle = await estimate(VIEM_STYLE_STUB_SIGNATURE)
  assert.equal(plain.callGasLimit, viemStyle.callGasLimit)
  assert.ok(
    viemStyle.preVerificationGas >= plain.preVerificationGas,
    `with viem's stub shape preVerificationGas is ${viemStyle.preVerificationGas}, ` +
      `${plain.preVerificationGas - viemStyle.preVerificationGas} less than with a stub without zero bytes ` +
      `(${plain.preVerificationGas}): a real signature is then refused for too little preVerificationGas`,
  )
})

test('estimateUserOperationGas without gas fields (optional in ERC-7769) answers the gas fields', async () => {
  const account = await freshAccount()
  // viem's estimateUserOperationGas action fills nonce, factory, fees and the stub signature only.
  const gas = await bundlerClient.estimateUserOperationGas({ account, calls: [countCall()] })
  assert.ok(gas.callGasLimit > 0n, 'callGasLimit')
  assert.ok(gas.verificationGasLimit > 0n, 'verificationGasLimit')
  assert.ok(gas.preVerificationGas > 0n, 'preVerificationGas')
})
