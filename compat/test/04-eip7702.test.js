// 4. EIP-7702 type-4 transactions: self-executed and sponsored delegation, then calls through it.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { concat, encodeFunctionData, parseEventLogs, zeroAddress } from 'viem'
import { recoverAuthorizationAddress } from 'viem/utils'
import { CHAIN_ID, artifact, deploy, devAccounts, publicClient, walletFor } from './lib.js'

const { abi } = artifact('TestCounter')
const countData = encodeFunctionData({ abi, functionName: 'count' })
const [sponsor, selfAuthority, sponsoredAuthority] = devAccounts
let delegate // TestCounter address

before(async () => {
  ;({ address: delegate } = await deploy(walletFor(sponsor), 'TestCounter'))
})

const delegationCode = (address) => concat(['0xef0100', address]).toLowerCase()

async function countedEvents(receipt) {
  return parseEventLogs({ abi, logs: receipt.logs, eventName: 'Counted' })
}

/** TestCounter's `counter` (slot 0) in an account's storage, readable before any delegation. */
async function storedCounter(address) {
  return BigInt((await publicClient.getStorageAt({ address, slot: '0x0' })) ?? 0)
}

test('self-executed: key 1 delegates to TestCounter and calls count() on itself', async () => {
  const wallet = walletFor(selfAuthority)
  const nonceBefore = await publicClient.getTransactionCount({ address: selfAuthority.address })
  const counterBefore = await storedCounter(selfAuthority.address)

  const authorization = await wallet.signAuthorization({ contractAddress: delegate, executor: 'self' })
  assert.equal(authorization.chainId, CHAIN_ID)
  assert.equal(authorization.nonce, nonceBefore + 1) // the tx itself uses nonceBefore

  const hash = await wallet.sendTransaction({
    authorizationList: [authorization],
    to: selfAuthority.address,
    data: countData,
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  assert.equal(receipt.type, 'eip7702')

  const code = await publicClient.getCode({ address: selfAuthority.address })
  assert.equal(code?.toLowerCase(), delegationCode(delegate))

  // The delegate code ran in the authority's context, in the same transaction.
  const [event] = await countedEvents(receipt)
  assert.ok(event, 'no Counted event in the type-4 receipt')
  assert.equal(event.address, selfAuthority.address.toLowerCase())
  assert.deepEqual(event.args, {
    caller: selfAuthority.address,
    counter: counterBefore + 1n,
    value: 0n,
  })

  // The tx nonce and the authorization nonce were both consumed.
  assert.equal(
    await publicClient.getTransactionCount({ address: selfAuthority.address }),
    nonceBefore + 2,
  )

  // eth_getTransactionByHash returns the authorization list, and it recovers to key 1.
  const tx = await publicClient.getTransaction({ hash })
  assert.equal(tx.type, 'eip7702')
  assert.equal(tx.authorizationList.length, 1)
  const [signed] = tx.authorizationList
  assert.equal(signed.address.toLowerCase(), delegate.toLowerCase())
  assert.equal(signed.chainId, CHAIN_ID)
  assert.equal(signed.nonce, nonceBefore + 1)
  assert.equal(await recoverAuthorizationAddress({ authorization: signed }), selfAuthority.address)
})

test('a later ordinary call to the delegated EOA executes the delegate code', async () => {
  const counterBefore = await storedCounter(selfAuthority.address)
  assert.ok(counterBefore > 0n, 'the type-4 transaction should have counted')
  const hash = await walletFor(sponsor).writeContract({
    address: selfAuthority.address,
    abi,
    functionName: 'count',
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.type, 'eip1559')
  const [event] = await countedEvents(receipt)
  assert.equal(event.address, selfAuthority.address.toLowerCase())
  // Storage is the authority's: its counter continues from the type-4 transaction's count().
  assert.deepEqual(event.args, { caller: sponsor.address, counter: counterBefore + 1n, value: 0n })
  const read = (address) => publicClient.readContract({ address, abi, functionName: 'counter' })
  assert.equal(await read(selfAuthority.address), counterBefore + 1n)
  assert.equal(await read(delegate), 0n)
})

test('sponsored: key 0 sends a type-4 transaction carrying key 2\'s authorization', async () => {
  const authorityNonce = await publicClient.getTransactionCount({
    address: sponsoredAuthority.address,
  })
  const authorityBalance = await publicClient.getBalance({ address: sponsoredAuthority.address })
  const counterBefore = await storedCounter(sponsoredAuthority.address)
  const authorization = await walletFor(sponsoredAuthority).signAuthorization({
    contractAddress: delegate,
  })
  assert.equal(authorization.nonce, authorityNonce)

  const hash = await walletFor(sponsor).sendTransaction({
    authorizationList: [authorization],
    to: sponsoredAuthority.address,
    data: countData,
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  assert.equal(receipt.type, 'eip7702')
  assert.equal(receipt.from, sponsor.address.toLowerCase())

  const code = await publicClient.getCode({ address: sponsoredAuthority.address })
  assert.equal(code?.toLowerCase(), delegationCode(delegate))

  const [event] = await countedEvents(receipt)
  assert.ok(event, 'no Counted event in the type-4 receipt')
  assert.equal(event.address, sponsoredAuthority.address.toLowerCase())
  assert.deepEqual(event.args, { caller: sponsor.address, counter: counterBefore + 1n, value: 0n })

  // The authority's nonce moved by one (its authorization); the sponsor paid the gas.
  assert.equal(
    await publicClient.getTransactionCount({ address: sponsoredAuthority.address }),
    authorityNonce + 1,
  )
  assert.equal(
    await publicClient.getBalance({ address: sponsoredAuthority.address }),
    authorityBalance,
  )
})

test('delegating to the zero address clears the delegation', async () => {
  const wallet = walletFor(selfAuthority)
  const authorization = await wallet.signAuthorization({
    contractAddress: zeroAddress,
    executor: 'self',
  })
  const hash = await wallet.sendTransaction({
    authorizationList: [authorization],
    to: selfAuthority.address,
    data: '0x',
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.equal(receipt.status, 'success')
  assert.equal(receipt.type, 'eip7702')
  const code = await publicClient.getCode({ address: selfAuthority.address })
  assert.ok(code === undefined || code === '0x', `code is still ${code}`)
})
