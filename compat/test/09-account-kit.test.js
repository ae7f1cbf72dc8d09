// 9. The low-level session-key path across clients, against `keyward dev`:
//    - our Rust ModularAccount (examples/low_level_session_key) creates an account, installs a
//      session key (entity 1, global) and sends 1 ETH with it;
//    - the MIT @account-kit/smart-contracts 4.88.5 low-level account (createModularAccountV2Client
//      with `accountAddress` + `signerEntity`) uses that session key on that account, and also does
//      the whole owner → install → session flow itself on another account of ours;
//    - viem's bundler client sends a user operation built and signed by our Rust ModularAccount
//      (examples/session_user_op);
//    - the wrong entity id or another account is refused by the bundler's validation.
//    account-kit defaults to Alchemy's MAv2 factory; Keyward's stack lives elsewhere (CREATE2
//    through the deterministic deployer), so the factory and implementation are passed explicitly.
//    The owner's account address is not: our factory deploys MAv2's proxy with MAv2's CREATE2
//    inputs, so account-kit derives it (session keys, which cannot derive one, are given it).

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { before, test } from 'node:test'
import { http, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { LocalAccountSigner } from '@aa-sdk/core'
import { createModularAccountV2Client } from '@account-kit/smart-contracts'
import { SingleSignerValidationModule, installValidationActions } from '@account-kit/smart-contracts/experimental'
import {
  ENTRY_POINT,
  RPC_URL,
  artifact,
  bundlerClientFor,
  devAccounts,
  keywardDev,
  publicClient,
  rpcErrorCodes,
  walletFor,
} from './lib.js'

const factoryAbi = artifact('AccountFactory').abi
const bundlerClient = bundlerClientFor()
const wallet = walletFor(devAccounts[0])
const RECEIPT_TIMEOUT = 20_000

/**
 * A binary of the examples package, built by `cargo build --workspace` (this suite builds nothing),
 * next to the keyward binary run.sh was given (KEYWARD_BIN_DIR), else in target/debug.
 */
function exampleBin(name) {
  const dir = process.env.KEYWARD_BIN_DIR
  const path = dir ? `${dir}/${name}` : fileURLToPath(new URL(`../../target/debug/${name}`, import.meta.url))
  if (!existsSync(path)) throw new Error(`${path} is missing: build it with 'cargo build -p keyward-examples'`)
  return path
}

function runExample(name, args) {
  const out = execFileSync(exampleBin(name), args, {
    env: { ...process.env, KEYWARD_RPC_URL: RPC_URL },
    encoding: 'utf8',
    timeout: 60_000,
  })
  const lines = out.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

/**
 * account-kit's low-level MAv2 client for `signer` on OUR account at `accountAddress`; without it,
 * the owner's account derived from our factory and implementation as MAv2 does.
 */
function accountKitClient(privateKey, accountAddress, signerEntity) {
  return createModularAccountV2Client({
    mode: 'default',
    chain: keywardDev,
    transport: http(RPC_URL),
    signer: LocalAccountSigner.privateKeyToAccountSigner(privateKey),
    ...(accountAddress ? { accountAddress } : {}),
    factoryAddress: rust.factory,
    implementationAddress: rust.semiModularAccountImpl,
    ...(signerEntity ? { signerEntity } : {}),
  })
}

const balance = (address) => publicClient.getBalance({ address })
const freshAddress = () => privateKeyToAccount(generatePrivateKey()).address

let rust // summary printed by the Rust example

before(async () => {
  rust = runExample('low_level_session_key', ['--json'])
})

test('the Rust ModularAccount example created the account, installed the session key and sent 1 ETH', async () => {
  assert.equal(rust.chainId, keywardDev.id)
  assert.equal(rust.entryPoint.toLowerCase(), ENTRY_POINT.toLowerCase())
  assert.notEqual(await publicClient.getCode({ address: rust.account }), undefined, 'account deployed')
  assert.equal(await balance(rust.recipient), parseEther('1'))
  // Its transfer went through the session's validation: nonce key (entity 1 << 8 | global).
  assert.equal(BigInt(rust.transferNonce) >> 64n, 0x101n)
  const receipt = await bundlerClient.getUserOperationReceipt({ hash: rust.transferUserOpHash })
  assert.equal(receipt.success, true)
  assert.equal(receipt.sender.toLowerCase(), rust.account.toLowerCase())
})

test('account-kit uses the session key the Rust owner installed (accountAddress + signerEntity)', async () => {
  const client = await accountKitClient(rust.sessionKey, rust.account, { entityId: 1, isGlobalValidation: true })
  assert.equal(client.account.address.toLowerCase(), rust.account.toLowerCase(), 'no counterfactual derivation')
  const recipient = freshAddress()
  const { hash } = await client.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('0.1') } })
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(receipt.success, true)
  assert.equal(receipt.sender.toLowerCase(), rust.account.toLowerCase())
  assert.equal(receipt.nonce >> 64n, 0x101n, 'entity 1, global')
  assert.equal(await balance(recipient), parseEther('0.1'))
})

test('account-kit does owner → installValidation → session key on one of our accounts', async () => {
  const ownerKey = generatePrivateKey()
  const owner = privateKeyToAccount(ownerKey)
  const accountAddress = await publicClient.readContract({
    address: rust.factory,
    abi: factoryAbi,
    functionName: 'getAddressSemiModular',
    args: [owner.address, 0n],
  })
  const fund = await wallet.sendTransaction({ to: accountAddress, value: parseEther('2') })
  await publicClient.waitForTransactionReceipt({ hash: fund })

  // The owner's client, given only our factory and implementation: it derives the account address
  // and its first op deploys the account with OUR factory's initCode.
  const ownerClient = (await accountKitClient(ownerKey)).extend(installValidationActions)
  assert.equal(ownerClient.account.address.toLowerCase(), accountAddress.toLowerCase(), 'derived = getAddressSemiModular')
  const sessionKey = generatePrivateKey()
  const sessionAddress = privateKeyToAccount(sessionKey).address
  const install = await ownerClient.installValidation({
    validationConfig: {
      moduleAddress: rust.singleSignerValidation,
      entityId: 1,
      isGlobal: true,
      isSignatureValidation: false,
      isUserOpValidation: true,
    },
    selectors: [],
    installData: SingleSignerValidationModule.encodeOnInstallData({ entityId: 1, signer: sessionAddress }),
    hooks: [],
  })
  const installed = await bundlerClient.waitForUserOperationReceipt({ hash: install.hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(installed.success, true)
  assert.notEqual(await publicClient.getCode({ address: accountAddress }), undefined, 'deployed by the first op')

  const sessionClient = await accountKitClient(sessionKey, accountAddress, { entityId: 1, isGlobalValidation: true })
  const recipient = freshAddress()
  const { hash } = await sessionClient.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('1') } })
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(receipt.success, true)
  assert.equal(await balance(recipient), parseEther('1'))
})

test("account-kit's session client sends the first op of our Rust owner's deferred grant: deploys, installs, transfers", async () => {
  const sessionKey = generatePrivateKey()
  const sessionAddress = privateKeyToAccount(sessionKey).address
  const grant = runExample('deferred_grant', ['--session', sessionAddress, '--entity', '3'])
  assert.equal(await publicClient.getCode({ address: grant.account }), undefined, 'counterfactual')
  const fund = await wallet.sendTransaction({ to: grant.account, value: parseEther('2') })
  await publicClient.waitForTransactionReceipt({ hash: fund })

  // The session key's client: our account address, the OWNER's initCode, and the grant blob.
  const client = await createModularAccountV2Client({
    mode: 'default',
    chain: keywardDev,
    transport: http(RPC_URL),
    signer: LocalAccountSigner.privateKeyToAccountSigner(sessionKey),
    accountAddress: grant.account,
    initCode: grant.initCode,
    deferredAction: grant.deferredAction,
  })
  const recipient = freshAddress()
  const { hash } = await client.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('1') } })
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(receipt.success, true)
  assert.equal(receipt.nonce, BigInt(grant.nonce), 'the grant nonce: entity 3, global, deferred option')
  assert.equal((receipt.nonce >> 64n) & 0xffn, 0x03n)
  assert.notEqual(await publicClient.getCode({ address: grant.account }), undefined, 'deployed by the first op')
  assert.equal(await balance(recipient), parseEther('1'))

  // Installed: later ops use the plain key (entity 3, global) without the grant.
  const later = await accountKitClient(sessionKey, grant.account, { entityId: 3, isGlobalValidation: true })
  const second = await later.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('0.5') } })
  const r2 = await bundlerClient.waitForUserOperationReceipt({ hash: second.hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(r2.success, true)
  assert.equal(r2.nonce >> 64n, 0x301n)
  assert.equal(await balance(recipient), parseEther('1.5'))
})

test("viem's bundler client sends a user operation our Rust ModularAccount built and signed", async () => {
  const recipient = freshAddress()
  const op = runExample('session_user_op', [
    '--account', rust.account,
    '--key', rust.sessionKey,
    '--entity', '1',
    '--to', recipient,
    '--value', parseEther('0.25').toString(),
  ])
  assert.equal(op.sender.toLowerCase(), rust.account.toLowerCase())
  assert.equal(BigInt(op.nonce) >> 64n, 0x101n)
  assert.match(op.signature, /^0xff00[0-9a-f]{130}$/, '0xFF ‖ 0x00 ‖ r ‖ s ‖ v')
  const hash = await bundlerClient.request({ method: 'eth_sendUserOperation', params: [op, ENTRY_POINT] })
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(receipt.success, true)
  assert.equal(await balance(recipient), parseEther('0.25'))
})

test('the session key under a wrong entity id, or on another account, is refused by validation', async () => {
  // Entity 2 was never installed on the Rust example's account: the account finds no validation
  // for `execute` (ValidationFunctionMissing 0xcf7b49f6) → AA23, ERC-7769 -32500.
  const wrongEntity = await accountKitClient(rust.sessionKey, rust.account, { entityId: 2, isGlobalValidation: true })
  await assert.rejects(
    wrongEntity.sendUserOperation({ uo: { target: freshAddress(), data: '0x', value: 1n } }),
    (e) => {
      assert.ok(rpcErrorCodes(e).includes(-32500), `bundler error code in ${rpcErrorCodes(e)}`)
      assert.match(String(e.details ?? e.message), /AA23.*0xcf7b49f6/)
      return true
    },
  )
  // Another account (a second Rust example account) has entity 1 bound to ITS session key: the
  // SingleSigner recovers our key, not that one → SIG_VALIDATION_FAILED, ERC-7769 -32507.
  const other = runExample('low_level_session_key', ['--json'])
  const onOther = await accountKitClient(rust.sessionKey, other.account, { entityId: 1, isGlobalValidation: true })
  await assert.rejects(
    onOther.sendUserOperation({ uo: { target: freshAddress(), data: '0x', value: 1n } }),
    (e) => {
      assert.ok(rpcErrorCodes(e).includes(-32507), `bundler error code in ${rpcErrorCodes(e)}`)
      return true
    },
  )
})
