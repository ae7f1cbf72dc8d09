// 16. A passkey session key through the Wallet API (Keyward extension) with Node's real WebCrypto,
//     as a browser holds a passkey: a non-extractable ECDSA P-256 key from crypto.subtle.generateKey,
//     its public key exported raw (0x04 ‖ x ‖ y) into wallet_createSession's `key: {type: "p256"}`,
//     the prepare answer's `p256` signature request (message = the userOpHash, hash SHA-256) signed
//     with crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}) — r ‖ s, high s half the time — and
//     sent; the call lands (status 200) and moves the value onchain. A signature of another message
//     and a point off the curve are refused -32602.

import assert from 'node:assert/strict'
import { webcrypto } from 'node:crypto'
import { before, describe, test } from 'node:test'
import { bytesToHex, concatHex, hexToBytes, parseEther, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { CHAIN_ID, devAccounts, publicClient, rawRpc, walletFor } from './lib.js'

const subtle = webcrypto.subtle
const chainId = toHex(CHAIN_ID)

/** A Wallet API call: its result, or throws with the JSON-RPC error's code and message. */
async function rpc(method, params) {
  const { body } = await rawRpc({ jsonrpc: '2.0', id: 1, method, params: [params] })
  if (body.error) {
    const e = new Error(`${method}: ${body.error.code} ${body.error.message}`)
    e.code = body.error.code
    throw e
  }
  return body.result
}

describe('passkey (P-256) session through the Wallet API, signed by WebCrypto', () => {
  let account
  let owner
  let passkey
  let context
  const recipient = privateKeyToAccount(generatePrivateKey()).address

  before(async () => {
    owner = privateKeyToAccount(generatePrivateKey())
    ;({ accountAddress: account } = await rpc('wallet_requestAccount', { signerAddress: owner.address }))
    const hash = await walletFor(devAccounts[0]).sendTransaction({ to: account, value: parseEther('0.1') })
    assert.equal((await publicClient.waitForTransactionReceipt({ hash })).status, 'success')
    // The passkey: its private key never leaves WebCrypto.
    passkey = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
    assert.equal(passkey.privateKey.extractable, false)
  })

  test('a point off the curve is refused', async () => {
    const offCurve = `0x04${'11'.repeat(32)}${'22'.repeat(32)}`
    await assert.rejects(
      rpc('wallet_createSession', {
        account,
        chainId,
        key: { type: 'p256', publicKey: offCurve },
        permissions: [{ type: 'root' }],
      }),
      (e) => e.code === -32602 && /not a point of the P-256 curve/.test(e.message),
    )
  })

  test('createSession with the raw public key; the owner grants it', async () => {
    const publicKey = bytesToHex(new Uint8Array(await subtle.exportKey('raw', passkey.publicKey)))
    assert.equal(publicKey.length, 2 + 130) // 0x04 ‖ x ‖ y
    const session = await rpc('wallet_createSession', {
      account,
      chainId,
      expirySec: Math.floor(Date.now() / 1000) + 3600,
      key: { type: 'p256', publicKey },
      permissions: [
        { type: 'native-token-transfer', data: { allowance: '0x3e8' } },
        { type: 'contract-access', data: { address: recipient } },
      ],
    })
    const grant = await owner.sign({ hash: session.signatureRequest.rawPayload })
    context = concatHex(['0x00', session.sessionId, grant])
    const { key } = await rpc('wallet_getSession', { account, chainId, sessionId: session.sessionId })
    assert.deepEqual(key, { type: 'p256', publicKey })
  })

  test('the passkey signs the userOpHash with ECDSA / SHA-256 and the call lands', async () => {
    for (const value of [7n, 8n]) {
      const prepared = await rpc('wallet_prepareCalls', {
        from: account,
        chainId,
        calls: [{ to: recipient, value: toHex(value) }],
        capabilities: { permissions: { context } },
      })
      const request = prepared.signatureRequest
      assert.equal(request.type, 'p256')
      assert.equal(request.data.hash, 'SHA-256')
      assert.equal(request.data.message, prepared.details.data.hash)
      const digest = bytesToHex(new Uint8Array(await subtle.digest('SHA-256', hexToBytes(request.data.message))))
      assert.equal(request.rawPayload, digest)

      const send = (signature) =>
        rpc('wallet_sendPreparedCalls', {
          type: prepared.type,
          data: prepared.data,
          chainId: prepared.chainId,
          signature: { type: 'p256', data: signature },
          capabilities: { permissions: { context } },
        })
      // A signature of another message is refused before anything is sent.
      const wrong = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, passkey.privateKey, hexToBytes(digest))
      await assert.rejects(send(bytesToHex(new Uint8Array(wrong))), (e) => e.code === -32602)

      const signature = await subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        passkey.privateKey,
        hexToBytes(request.data.message),
      )
      assert.equal(signature.byteLength, 64) // r ‖ s (IEEE P1363), s high or low
      const { id } = await send(bytesToHex(new Uint8Array(signature)))
      let status
      for (let i = 0; i < 240; i++) {
        status = await rpc('wallet_getCallsStatus', id)
        if (status.status >= 200) break
        await new Promise((r) => setTimeout(r, 250))
      }
      assert.equal(status.status, 200, JSON.stringify(status))
    }
    assert.equal(await publicClient.getBalance({ address: recipient }), 15n)
  })
})
