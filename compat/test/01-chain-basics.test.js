// 1. Chain basics: what a wallet asks first.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CHAIN_ID, devAccounts, publicClient } from './lib.js'

test('eth_chainId is 31337 and net_version agrees', async () => {
  assert.equal(await publicClient.getChainId(), CHAIN_ID)
  assert.equal(await publicClient.request({ method: 'net_version' }), String(CHAIN_ID))
})

test('eth_blockNumber agrees with eth_getBlockByNumber(latest)', async () => {
  const number = await publicClient.getBlockNumber({ cacheTime: 0 })
  assert.equal(typeof number, 'bigint')
  const latest = await publicClient.getBlock({ blockTag: 'latest' })
  assert.equal(latest.number, number) // nothing mines between the two: one block per transaction
  assert.match(latest.hash, /^0x[0-9a-f]{64}$/)
})

test('dev key 0 is funded', async () => {
  const balance = await publicClient.getBalance({ address: devAccounts[0].address })
  assert.ok(balance > 0n, `balance of ${devAccounts[0].address} is ${balance}`)
})

test('web3_clientVersion starts with "keyward"', async () => {
  const version = await publicClient.request({ method: 'web3_clientVersion' })
  assert.equal(typeof version, 'string')
  assert.ok(version.startsWith('keyward'), `web3_clientVersion is ${JSON.stringify(version)}`)
})

test('fee endpoints answer positive values viem can use', async () => {
  assert.ok((await publicClient.getGasPrice()) > 0n)
  const fees = await publicClient.estimateFeesPerGas()
  assert.ok(fees.maxFeePerGas > 0n)
  assert.ok(fees.maxFeePerGas >= fees.maxPriorityFeePerGas)
  const history = await publicClient.getFeeHistory({ blockCount: 1, rewardPercentiles: [50] })
  assert.equal(history.baseFeePerGas.length, 2) // blockCount + the next block
  assert.ok(history.baseFeePerGas.every((fee) => fee > 0n))
})
