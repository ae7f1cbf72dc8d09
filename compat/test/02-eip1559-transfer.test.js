// 2. A type-2 (EIP-1559) ETH transfer, with exact balance accounting.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { devAccounts, publicClient, walletFor } from './lib.js'

test('a type-2 transfer lands with exact balances on both sides', async () => {
  const sender = devAccounts[0]
  const recipient = privateKeyToAccount(generatePrivateKey()).address
  const value = parseEther('1.234567890123456789')

  const senderBefore = await publicClient.getBalance({ address: sender.address })
  assert.equal(await publicClient.getBalance({ address: recipient }), 0n)

  const hash = await walletFor(sender).sendTransaction({ to: recipient, value, type: 'eip1559' })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })

  assert.equal(receipt.status, 'success')
  assert.equal(receipt.type, 'eip1559')
  assert.equal(receipt.transactionHash, hash)
  assert.equal(receipt.from, sender.address.toLowerCase())
  assert.equal(receipt.to, recipient.toLowerCase())
  assert.equal(receipt.gasUsed, 21000n)
  assert.ok(receipt.effectiveGasPrice > 0n)

  assert.equal(await publicClient.getBalance({ address: recipient }), value)
  const senderAfter = await publicClient.getBalance({ address: sender.address })
  assert.equal(senderBefore - senderAfter, value + receipt.gasUsed * receipt.effectiveGasPrice)
})

test('the effective gas price is the block base fee plus a tip within the caps', async () => {
  const sender = devAccounts[0]
  const hash = await walletFor(sender).sendTransaction({ to: sender.address, value: 1n })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  const tx = await publicClient.getTransaction({ hash })
  const block = await publicClient.getBlock({ blockHash: receipt.blockHash })

  assert.equal(tx.type, 'eip1559')
  const tip = receipt.effectiveGasPrice - block.baseFeePerGas
  assert.ok(tip >= 0n && tip <= tx.maxPriorityFeePerGas, `tip ${tip}`)
  assert.ok(receipt.effectiveGasPrice <= tx.maxFeePerGas)
  assert.equal(
    receipt.effectiveGasPrice,
    min(tx.maxFeePerGas, block.baseFeePerGas + tx.maxPriorityFeePerGas),
  )
})

test('the sender nonce advances by one per transaction', async () => {
  const sender = devAccounts[0]
  const before = await publicClient.getTransactionCount({ address: sender.address })
  const hash = await walletFor(sender).sendTransaction({ to: sender.address, value: 0n })
  await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(await publicClient.getTransactionCount({ address: sender.address }), before + 1)
  assert.equal((await publicClient.getTransaction({ hash })).nonce, before)
})

const min = (a, b) => (a < b ? a : b)
