// 12. eth_estimateGas for a sender holding little ether (issue 11, item 3): like geth, the search is
//     capped by what the balance pays at the request's fee, so viem's sendTransaction from an EOA
//     with 0.01 ETH works without giving gas, a type-4 delegation included; a sender that cannot
//     pay even the gas needed gets a clear refusal.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { concat, encodeFunctionData, parseEther, parseGwei } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { artifact, deploy, devAccounts, publicClient, rpcErrorCodes, walletFor } from './lib.js'

const { abi } = artifact('TestCounter')
const countData = encodeFunctionData({ abi, functionName: 'count' })
const funder = walletFor(devAccounts[0])
let delegate // TestCounter address

/** A fresh key holding `value` wei, sent by a dev key. */
async function freshKeyWith(value) {
  const account = privateKeyToAccount(generatePrivateKey())
  const hash = await funder.sendTransaction({ to: account.address, value })
  assert.equal((await publicClient.waitForTransactionReceipt({ hash })).status, 'success')
  return account
}

before(async () => {
  ;({ address: delegate } = await deploy(funder, 'TestCounter'))
})

test('an EOA holding 0.01 ETH sends a type-4 delegation with viem, without giving gas', async () => {
  const account = await freshKeyWith(parseEther('0.01'))
  const wallet = walletFor(account)
  const authorization = await wallet.signAuthorization({ contractAddress: delegate, executor: 'self' })
  // viem fills fees first, then eth_estimateGas with them: before the fix this was refused with
  // "lack of funds … for max fee" (the block gas limit at that fee costs more than 0.01 ETH).
  const hash = await wallet.sendTransaction({ authorizationList: [authorization], to: account.address, data: countData })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  assert.equal(receipt.type, 'eip7702')
  const code = await publicClient.getCode({ address: account.address })
  assert.equal(code?.toLowerCase(), concat(['0xef0100', delegate]).toLowerCase())
  const spent = receipt.gasUsed * receipt.effectiveGasPrice
  assert.equal(await publicClient.getBalance({ address: account.address }), parseEther('0.01') - spent)
})

test('estimates with and without fee fields agree for a plain transfer and a contract call', async () => {
  const account = await freshKeyWith(parseEther('0.01'))
  for (const request of [
    { to: devAccounts[1].address, value: 1n },
    { to: delegate, data: countData },
  ]) {
    const without = await publicClient.estimateGas({ account: account.address, ...request })
    const withFees = await publicClient.estimateGas({
      account: account.address,
      ...request,
      maxFeePerGas: parseGwei('3'),
      maxPriorityFeePerGas: parseGwei('1'),
    })
    assert.equal(withFees, without)
  }
})

test('a sender that cannot pay even the gas needed is refused clearly', async () => {
  const account = await freshKeyWith(20_000n * parseGwei('3'))
  await assert.rejects(
    publicClient.estimateGas({
      account: account.address,
      to: devAccounts[1].address,
      maxFeePerGas: parseGwei('3'),
      maxPriorityFeePerGas: parseGwei('1'),
    }),
    (error) => {
      assert.ok(rpcErrorCodes(error).includes(-32000), `codes ${rpcErrorCodes(error)}: ${error.message}`)
      assert.match(
        error.message,
        /insufficient funds for gas \* price \+ value: gas required exceeds allowance \(20000\): balance 60000000000000 wei, value 0 wei, fee 3000000000 wei per gas/,
      )
      return true
    },
  )
})
