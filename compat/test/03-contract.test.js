// 3. Deploy TestCounter from its artifact, call it, and read the transaction, block and event back.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { encodeFunctionData, parseEventLogs } from 'viem'
import { CHAIN_ID, artifact, deploy, devAccounts, publicClient, walletFor } from './lib.js'

const { abi, deployedBytecode } = artifact('TestCounter')
const owner = devAccounts[0]
const wallet = walletFor(owner)
let counter // { address, receipt }

before(async () => {
  counter = await deploy(wallet, 'TestCounter')
})

test('the deployment receipt has a contract address and the code is the deployed bytecode', async () => {
  assert.equal(counter.receipt.status, 'success')
  assert.equal(counter.receipt.to, null)
  assert.match(counter.address, /^0x[0-9a-fA-F]{40}$/)
  const code = await publicClient.getCode({ address: counter.address })
  assert.ok(code && code.length > 2, 'getCode is empty')
  assert.equal(code.toLowerCase(), deployedBytecode.toLowerCase())
})

test('count() via writeContract emits Counted, found by getContractEvents and getLogs', async () => {
  const value = 7n
  const hash = await wallet.writeContract({
    address: counter.address,
    abi,
    functionName: 'count',
    value,
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  assert.equal(receipt.logs.length, 1)

  const [fromReceipt] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'Counted' })
  assert.deepEqual(fromReceipt.args, { caller: owner.address, counter: 1n, value })

  const events = await publicClient.getContractEvents({
    address: counter.address,
    abi,
    eventName: 'Counted',
    args: { caller: owner.address },
    fromBlock: receipt.blockNumber,
    toBlock: receipt.blockNumber,
  })
  assert.equal(events.length, 1)
  const [event] = events
  assert.deepEqual(event.args, { caller: owner.address, counter: 1n, value })
  assert.equal(event.address, counter.address.toLowerCase())
  assert.equal(event.blockNumber, receipt.blockNumber)
  assert.equal(event.blockHash, receipt.blockHash)
  assert.equal(event.transactionHash, hash)
  assert.equal(event.transactionIndex, 0)
  assert.equal(event.logIndex, 0)
  assert.equal(event.removed, false)

  // The same through eth_getLogs with an event filter, over the whole chain.
  const logs = await publicClient.getLogs({
    address: counter.address,
    event: abi.find((item) => item.type === 'event' && item.name === 'Counted'),
    fromBlock: 0n,
    toBlock: 'latest',
  })
  assert.equal(logs.length, 1)
  assert.equal(logs[0].transactionHash, hash)
  assert.equal(logs[0].args.counter, 1n)

  // A topic filter on another caller matches nothing.
  const none = await publicClient.getContractEvents({
    address: counter.address,
    abi,
    eventName: 'Counted',
    args: { caller: devAccounts[1].address },
    fromBlock: 0n,
  })
  assert.deepEqual(none, [])

  // State changed accordingly.
  const read = (functionName, args) =>
    publicClient.readContract({ address: counter.address, abi, functionName, args })
  assert.equal(await read('counter'), 1n)
  assert.equal(await read('countOf', [owner.address]), 1n)
  assert.equal(await publicClient.getBalance({ address: counter.address }), value)
})

test('eth_getTransactionByHash and eth_getBlockByNumber(full) describe the call', async () => {
  const hash = await wallet.writeContract({ address: counter.address, abi, functionName: 'count' })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })

  const tx = await publicClient.getTransaction({ hash })
  assert.equal(tx.hash, hash)
  assert.equal(tx.type, 'eip1559')
  assert.equal(tx.chainId, CHAIN_ID)
  assert.equal(tx.from, owner.address.toLowerCase())
  assert.equal(tx.to, counter.address.toLowerCase())
  assert.equal(tx.input, encodeFunctionData({ abi, functionName: 'count' }))
  assert.equal(tx.value, 0n)
  assert.equal(tx.blockNumber, receipt.blockNumber)
  assert.equal(tx.blockHash, receipt.blockHash)
  assert.equal(tx.transactionIndex, 0)
  assert.ok(tx.gas >= receipt.gasUsed)
  assert.ok(tx.r && tx.s && (tx.yParity === 0 || tx.yParity === 1))

  const block = await publicClient.getBlock({
    blockNumber: receipt.blockNumber,
    includeTransactions: true,
  })
  assert.equal(block.number, receipt.blockNumber)
  assert.equal(block.hash, receipt.blockHash)
  assert.equal(block.transactions.length, 1, 'one block per transaction')
  const [included] = block.transactions
  assert.equal(typeof included, 'object')
  assert.equal(included.hash, hash)
  assert.equal(included.from, tx.from)
  assert.equal(included.input, tx.input)
  assert.equal(included.nonce, tx.nonce)
  assert.equal(block.gasUsed, receipt.gasUsed)
  assert.ok(block.baseFeePerGas > 0n)

  const parent = await publicClient.getBlock({ blockNumber: receipt.blockNumber - 1n })
  assert.equal(block.parentHash, parent.hash)
  assert.ok(block.timestamp >= parent.timestamp)

  // By hash, without transaction bodies: the same block with only the hashes.
  const byHash = await publicClient.getBlock({ blockHash: receipt.blockHash })
  assert.equal(byHash.number, block.number)
  assert.deepEqual(byHash.transactions, [hash])
})
