// 15. The documented session-key flows exactly as the guides write them, with the official SDK
//     (`@alchemy/wallet-apis` 5.1.0) and only the transport pointed at `keyward dev`:
//     (a) a fresh EIP-7702 owner delegates with `sendCalls({ calls: [] })` → `waitForCallsStatus`
//         → `grantPermissions` (root) → a session-key client with `account` = the owner → `sendCalls`;
//     (b) the raw API sequence (wallet_createSession, then `{ sessionId, signature }` permissions);
//     (c) calls back to back from one session key: 10 `sendCalls` in a row without waiting, then 20
//         at once: all 200, each executed once, the EntryPoint nonces advanced by exactly the count.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { alchemyWalletTransport, createSmartWalletClient } from '@alchemy/wallet-apis'
import { defineChain, encodeFunctionData, parseAbiItem, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { CHAIN_ID, ENTRY_POINT, RPC_URL, artifact, deploy, devAccounts, publicClient, rawRpc, walletFor } from './lib.js'

const chain = defineChain({
  id: CHAIN_ID,
  name: 'Keyward dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL] } },
  blockTime: 1000,
})
const transport = alchemyWalletTransport({ url: RPC_URL })
const WAIT = { timeout: 60_000, pollingInterval: 250 }
const POLICY_ID = '4337e2b0-1a6d-4c3e-9f00-000000004337' // keyward dev's default gas policy
const userOperationEvent = parseAbiItem(
  'event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed)',
)

const funderWallet = walletFor(devAccounts[0])
const counterAbi = artifact('TestCounter').abi
let counter

const count = () => ({ to: counter, data: encodeFunctionData({ abi: counterAbi, functionName: 'count' }) })
const countOf = (who) => publicClient.readContract({ address: counter, abi: counterAbi, functionName: 'countOf', args: [who] })
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600

async function fund(address, value = parseEther('1')) {
  const hash = await funderWallet.sendTransaction({ to: address, value })
  assert.equal((await publicClient.waitForTransactionReceipt({ hash })).status, 'success')
}

async function succeed(client, id) {
  const status = await client.waitForCallsStatus({ id, ...WAIT })
  assert.equal(status.statusCode, 200, `status ${status.statusCode}`)
  assert.equal(status.receipts?.[0]?.status, 'success')
  return status
}

/** The nonces of the account's UserOperationEvents since `fromBlock`. */
async function nonces(sender, fromBlock) {
  const logs = await publicClient.getLogs({ address: ENTRY_POINT, event: userOperationEvent, args: { sender }, fromBlock })
  return logs.map((l) => l.args.nonce)
}

/** A JSON-RPC call that must succeed; its result. */
async function call(method, params) {
  const { body } = await rawRpc({ jsonrpc: '2.0', id: 1, method, params: [params] })
  assert.equal(body.error, undefined, `${method}: ${JSON.stringify(body.error)}`)
  return body.result
}

before(async () => {
  counter = (await deploy(funderWallet, 'TestCounter')).address
})

describe('(a) the 7702 guide: delegate with no calls, grant root, send with the session key', () => {
  for (const sponsored of [false, true]) {
    test(sponsored ? 'gas sponsored by a policy, 0 ETH' : 'gas paid by the EOA', async () => {
      const owner = privateKeyToAccount(generatePrivateKey())
      if (!sponsored) await fund(owner.address, parseEther('0.01'))
      const paymaster = sponsored ? { paymaster: { policyId: POLICY_ID } } : {}
      // ---- the guide, transport aside ----
      const client = createSmartWalletClient({ signer: owner, transport, chain })
      const { id } = await client.sendCalls({ calls: [], capabilities: { ...paymaster } })
      await client.waitForCallsStatus({ id })
      const sessionKey = privateKeyToAccount(generatePrivateKey())
      const { context } = await client.grantPermissions({
        account: owner.address,
        expirySec: inAnHour(),
        key: { publicKey: sessionKey.address, type: 'secp256k1' },
        permissions: [{ type: 'root' }],
      })
      const session = createSmartWalletClient({ signer: sessionKey, transport, chain, account: owner.address })
      const sent = await session.sendCalls({ calls: [count()], capabilities: { permissions: { context }, ...paymaster } })
      // ---- end of the guide ----
      await succeed(session, sent.id)
      const code = await publicClient.getCode({ address: owner.address })
      assert.match(code, /^0xef0100[0-9a-f]{40}$/i, 'delegated by the empty call')
      assert.equal(await countOf(owner.address), 1n)
      if (sponsored) assert.equal(await publicClient.getBalance({ address: owner.address }), 0n, 'never funded')
    })
  }
})

describe('(b) the raw API: createSession, then { sessionId, signature } permissions', () => {
  test('a counterfactual account, a session granted by signing rawPayload, a call by the session key', async () => {
    const owner = privateKeyToAccount(generatePrivateKey())
    const sessionKey = privateKeyToAccount(generatePrivateKey())
    const chainId = `0x${CHAIN_ID.toString(16)}`
    const { accountAddress } = await call('wallet_requestAccount', { signerAddress: owner.address })
    await fund(accountAddress)
    const created = await call('wallet_createSession', {
      account: accountAddress,
      chainId,
      expirySec: inAnHour(),
      key: { publicKey: sessionKey.address, type: 'secp256k1' },
      permissions: [{ type: 'contract-access', data: { address: counter } }],
    })
    assert.match(created.sessionId, /^0x[0-9a-f]{32}$/i)
    const signature = await owner.sign({ hash: created.signatureRequest.rawPayload })
    const permissions = { sessionId: created.sessionId, signature }
    const prepared = await call('wallet_prepareCalls', {
      calls: [count()],
      from: accountAddress,
      chainId,
      capabilities: { permissions },
    })
    assert.equal(prepared.type, 'user-operation-v070')
    const opSignature = await sessionKey.signMessage({ message: { raw: prepared.signatureRequest.data.raw } })
    const { id } = await call('wallet_sendPreparedCalls', {
      type: prepared.type,
      data: prepared.data,
      chainId: prepared.chainId,
      signature: { type: 'secp256k1', data: opSignature },
      capabilities: { permissions },
    })
    let status
    for (let i = 0; i < 200; i++) {
      status = await call('wallet_getCallsStatus', id)
      if (status.status >= 200) break
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(status.status, 200, JSON.stringify(status))
    assert.equal(await countOf(accountAddress), 1n)
  })
})

describe('(c) calls back to back from one session key', () => {
  let account
  let session
  let context

  before(async () => {
    const owner = privateKeyToAccount(generatePrivateKey())
    const ownerClient = createSmartWalletClient({ signer: owner, transport, chain })
    account = (await ownerClient.requestAccount()).address
    await fund(account, parseEther('2'))
    const sessionKey = privateKeyToAccount(generatePrivateKey())
    ;({ context } = await createSmartWalletClient({ signer: owner, transport, chain, account }).grantPermissions({
      account,
      expirySec: inAnHour(),
      key: { publicKey: sessionKey.address, type: 'secp256k1' },
      permissions: [{ type: 'root' }],
    }))
    session = createSmartWalletClient({ signer: sessionKey, transport, chain, account })
  })

  test('10 sendCalls in a row without waiting (the first deploys the account and installs the key)', async () => {
    const from = (await publicClient.getBlockNumber()) + 1n
    const ids = []
    for (let i = 0; i < 10; i++) {
      ids.push((await session.sendCalls({ calls: [count()], capabilities: { permissions: { context } } })).id)
    }
    for (const id of ids) await succeed(session, id)
    assert.equal(new Set(ids).size, 10)
    assert.equal(await countOf(account), 10n, 'each executed once')
    const used = await nonces(account, from)
    assert.equal(used.length, 10, 'ten operations')
    assert.equal(new Set(used).size, 10, 'ten distinct nonces')
  })

  test('20 sendCalls at once: all 200, each executed once', async () => {
    const from = (await publicClient.getBlockNumber()) + 1n
    const before = await countOf(account)
    const ids = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const { id } = await session.sendCalls({ calls: [count()], capabilities: { permissions: { context } } })
        await succeed(session, id)
        return id
      }),
    )
    assert.equal(new Set(ids).size, 20)
    assert.equal(await countOf(account), before + 20n, 'each executed once')
    const used = await nonces(account, from)
    assert.equal(used.length, 20, 'twenty operations')
    assert.equal(new Set(used).size, 20, 'twenty distinct nonces')
  })
})
