// 14. A new user on the low-level path with account-kit 4.88.5, as its guide writes it: given ONLY
//     our factory and implementation addresses (no `accountAddress`), `createModularAccountV2`
//     derives the owner's account the way MAv2 does (CREATE2 of MAv2's ERC-1967 proxy with the
//     owner as immutable arg). Our factory deploys that same proxy with the same CREATE2 inputs, so
//     the prediction equals `getAddressSemiModular(owner, 0)` and the first user operation deploys
//     the account there (no `AA14 initCode must return sender`).
//
//     Where `keyward dev` put the stack is computed here as it deploys it: CREATE2 through the
//     deterministic deployer, artifact creation code ‖ constructor arguments, each salt the first
//     from 0 up that gives the address two leading zero bytes, the factory owned by dev key 11.
//     The implementation is then read from the factory itself.

import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { concatHex, encodeAbiParameters, getContractAddress, http, isAddressEqual, keccak256, numberToHex, parseEther } from 'viem'
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { LocalAccountSigner } from '@aa-sdk/core'
import {
  createModularAccountV2,
  createModularAccountV2Client,
  predictModularAccountV2Address,
} from '@account-kit/smart-contracts'
import { ENTRY_POINT, RPC_URL, artifact, bundlerClientFor, devAccounts, keywardDev, publicClient, walletFor } from './lib.js'

const DETERMINISTIC_DEPLOYER = '0x4e59b44847b379578588920cA78FbF26c0B4956C'
const MNEMONIC = 'test test test test test test test test test test test junk'
const DEPLOYER_KEY_INDEX = 11
const RECEIPT_TIMEOUT = 20_000

const factoryAbi = artifact('AccountFactory').abi
const bundlerClient = bundlerClientFor()
const wallet = walletFor(devAccounts[0])

/** CREATE2 address of `name` (creation code ‖ `args`) through the deterministic deployer, with
 *  the first salt from 0 up whose address starts with two zero bytes. */
function create2(name, args = '0x') {
  const bytecodeHash = keccak256(concatHex([artifact(name).bytecode, args]))
  for (let n = 0; ; n++) {
    const salt = numberToHex(n, { size: 32 })
    const address = getContractAddress({ opcode: 'CREATE2', from: DETERMINISTIC_DEPLOYER, salt, bytecodeHash })
    if (address.startsWith('0x0000')) return address
  }
}

let factory
let implementation

before(async () => {
  const address = (types, values) => encodeAbiParameters(types.map((type) => ({ type })), values)
  const ep = address(['address'], [ENTRY_POINT])
  const sma = create2('SemiModularAccountBytecode', ep)
  const ma = create2('ModularAccount', ep)
  const singleSigner = create2('SingleSignerValidationModule')
  const owner = mnemonicToAccount(MNEMONIC, { addressIndex: DEPLOYER_KEY_INDEX }).address
  factory = create2(
    'AccountFactory',
    address(['address', 'address', 'address', 'address', 'address'], [ENTRY_POINT, ma, sma, singleSigner, owner]),
  )
  assert.notEqual(await publicClient.getCode({ address: factory }), undefined, `keyward dev's factory at ${factory}`)
  implementation = await publicClient.readContract({
    address: factory,
    abi: factoryAbi,
    functionName: 'SEMI_MODULAR_ACCOUNT_IMPL',
  })
  assert.ok(isAddressEqual(implementation, sma))
})

test("account-kit's createModularAccountV2 predicts our factory's getAddressSemiModular from factory + implementation", async () => {
  for (const salt of [0n, 1n, 2n ** 255n + 7n]) {
    const ownerKey = generatePrivateKey()
    const account = await createModularAccountV2({
      mode: 'default',
      chain: keywardDev,
      transport: http(RPC_URL),
      signer: LocalAccountSigner.privateKeyToAccountSigner(ownerKey),
      factoryAddress: factory,
      implementationAddress: implementation,
      salt,
    })
    const owner = privateKeyToAccount(ownerKey).address
    const fromFactory = await publicClient.readContract({
      address: factory,
      abi: factoryAbi,
      functionName: 'getAddressSemiModular',
      args: [owner, salt],
    })
    assert.ok(isAddressEqual(account.address, fromFactory), `salt ${salt}: ${account.address} vs ${fromFactory}`)
  }
})

test("the non-semi-modular ModularAccount: account-kit's MA prediction equals our factory's getAddress", async () => {
  const owner = privateKeyToAccount(generatePrivateKey()).address
  const accountImpl = await publicClient.readContract({ address: factory, abi: factoryAbi, functionName: 'ACCOUNT_IMPL' })
  for (const entityId of [0, 1, 0xfffffffe]) {
    const predicted = predictModularAccountV2Address({
      factoryAddress: factory,
      implementationAddress: accountImpl,
      salt: 5n,
      type: 'MA',
      ownerAddress: owner,
      entityId,
    })
    const fromFactory = await publicClient.readContract({
      address: factory,
      abi: factoryAbi,
      functionName: 'getAddress',
      args: [owner, 5n, entityId],
    })
    assert.ok(isAddressEqual(predicted, fromFactory), `entity ${entityId}`)
  }
})

test("the owner's first user operation, from factory + implementation alone, deploys the account there", async () => {
  const ownerKey = generatePrivateKey()
  const client = await createModularAccountV2Client({
    mode: 'default',
    chain: keywardDev,
    transport: http(RPC_URL),
    signer: LocalAccountSigner.privateKeyToAccountSigner(ownerKey),
    factoryAddress: factory,
    implementationAddress: implementation,
  })
  const accountAddress = client.account.address
  const fromFactory = await publicClient.readContract({
    address: factory,
    abi: factoryAbi,
    functionName: 'getAddressSemiModular',
    args: [privateKeyToAccount(ownerKey).address, 0n],
  })
  assert.ok(isAddressEqual(accountAddress, fromFactory))
  assert.equal(await publicClient.getCode({ address: accountAddress }), undefined, 'counterfactual')
  const fund = await wallet.sendTransaction({ to: accountAddress, value: parseEther('1') })
  await publicClient.waitForTransactionReceipt({ hash: fund })

  const recipient = privateKeyToAccount(generatePrivateKey()).address
  const { hash } = await client.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('0.3') } })
  const receipt = await bundlerClient.waitForUserOperationReceipt({ hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(receipt.success, true)
  assert.ok(isAddressEqual(receipt.sender, accountAddress))
  assert.notEqual(await publicClient.getCode({ address: accountAddress }), undefined, 'deployed by the first op')
  assert.equal(await publicClient.getBalance({ address: recipient }), parseEther('0.3'))

  // Deployed: the next operation carries no initCode and still lands.
  const second = await client.sendUserOperation({ uo: { target: recipient, data: '0x', value: parseEther('0.1') } })
  const r2 = await bundlerClient.waitForUserOperationReceipt({ hash: second.hash, timeout: RECEIPT_TIMEOUT })
  assert.equal(r2.success, true)
  assert.equal(await publicClient.getBalance({ address: recipient }), parseEther('0.4'))
})
