// Shared setup for the compat tests: a viem chain for `keyward dev`, clients, the dev keys and
// the compiled contract artifacts.
import { readFileSync } from 'node:fs'
import { createPublicClient, createWalletClient, defineChain, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export const RPC_URL = process.env.KEYWARD_RPC_URL
if (!RPC_URL) throw new Error('KEYWARD_RPC_URL is not set (run the tests through compat/run.sh)')

// The chain's own node for reads and plain transactions: `keyward dev` serves both on one URL; with
// `keyward serve` (compat/serve.sh) the Wallet API URL carries only `wallet_*`, so the node is named.
export const CHAIN_URL = process.env.KEYWARD_CHAIN_URL ?? RPC_URL

export const CHAIN_ID = 31337
export const ENTRY_POINT = '0x0000000071727De22E5E9d8BAf0edAc6f37da032'

export const keywardDev = defineChain({
  id: CHAIN_ID,
  name: 'Keyward dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [CHAIN_URL] } },
})

// One block per transaction: poll quickly instead of viem's default 4 s.
const transport = http(CHAIN_URL)
export const publicClient = createPublicClient({ chain: keywardDev, transport, pollingInterval: 50 })

// The first dev keys of the mnemonic "test test test test test test test test test test test junk".
export const devKeys = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
]
export const devAccounts = devKeys.map((key) => privateKeyToAccount(key))

export function walletFor(account) {
  return createWalletClient({ account, chain: keywardDev, transport, pollingInterval: 50 })
}

/** Reads `contracts/artifacts/<name>.json` ({ contractName, abi, bytecode, deployedBytecode }). */
export function artifact(name) {
  const url = new URL(`../../contracts/artifacts/${name}.json`, import.meta.url)
  const json = JSON.parse(readFileSync(url, 'utf8'))
  if (!Array.isArray(json.abi) || json.abi.length === 0) {
    throw new Error(`contracts/artifacts/${name}.json has no ABI (placeholder artifact?)`)
  }
  const hex = (s) => (s.startsWith('0x') ? s : `0x${s}`)
  return { ...json, bytecode: hex(json.bytecode), deployedBytecode: hex(json.deployedBytecode) }
}

/** Deploys `name` from its artifact with `wallet` and returns { address, receipt }. */
export async function deploy(wallet, name, args = []) {
  const { abi, bytecode } = artifact(name)
  const hash = await wallet.deployContract({ abi, bytecode, args })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`deploying ${name} failed: ${hash}`)
  return { address: receipt.contractAddress, receipt }
}

/** Sends a raw JSON-RPC request with fetch and returns { status, body } (body parsed as JSON). */
export async function rawRpc(body) {
  const res = await fetch(RPC_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

// ---------------------------------------------------------------------------------------------
// ERC-4337 bundler (08-bundler*.test.js): a viem SmartAccount for TestAccount and a bundler client.
// (Imports are hoisted: they may sit here, below the code above.)
import { encodeFunctionData, decodeFunctionData } from 'viem'
import {
  createBundlerClient,
  entryPoint07Abi,
  entryPoint07Address,
  estimateUserOperationGas,
  getUserOperationHash,
  toSmartAccount,
} from 'viem/account-abstraction'

/** A bundler client on `keyward dev`'s URL, reading the chain through `publicClient`. */
export function bundlerClientFor(options = {}) {
  return createBundlerClient({ client: publicClient, transport: http(RPC_URL), pollingInterval: 50, ...options })
}

/**
 * 65 bytes that TestAccount checks like a real signature and rejects softly (validateUserOp
 * returns SIG_VALIDATION_FAILED after the same ecrecover a valid signature costs): low s, v = 27.
 * No zero byte: calldata priced from it is an upper bound for any real signature.
 */
export const TEST_ACCOUNT_STUB_SIGNATURE = `0x${'7a'.repeat(64)}1c`

/**
 * The stub shape viem's own accounts use (toSoladySmartAccount, toSimple7702SmartAccount): also
 * rejected softly by TestAccount, but with 16 zero bytes in r, so cheaper calldata than a real one.
 */
export const VIEM_STYLE_STUB_SIGNATURE =
  '0xfffffffffffffffffffffffffffffff0000000000000000000000000000000007aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1c'

/** A nonce key manager that always answers `key`: sequential nonces (key ‖ 0, 1, 2…). */
export function fixedNonceKey(key = 0) {
  return { consume: async () => key, get: async () => key, increment() {}, reset() {} }
}

/**
 * A viem SmartAccount (EntryPoint v0.7) for TestAccount(entryPoint, owner.address), deployed by
 * TestAccountFactory `factory` at getAddress(owner, salt). `signer` signs user operations (default
 * the owner: another key makes signatures the account rejects). `nonceKeyManager` defaults to key 0
 * (sequential nonces); pass `null` for viem's default (a new key per operation, from Date.now()).
 * `stubSignature` is what getStubSignature answers (for gas estimation).

 */
export async function toTestAccount({
  owner,
  factory,
  salt = 0n,
  signer = owner,
  nonceKeyManager = fixedNonceKey(0),
  stubSignature = TEST_ACCOUNT_STUB_SIGNATURE,
}) {
  const accountAbi = artifact('TestAccount').abi
  const factoryAbi = artifact('TestAccountFactory').abi
  const entryPoint = { abi: entryPoint07Abi, address: entryPoint07Address, version: '0.7' }
  let address
  return toSmartAccount({
    client: publicClient,
    entryPoint,
    ...(nonceKeyManager ? { nonceKeyManager } : {}),
    async getAddress() {
      address ??= await publicClient.readContract({
        address: factory,
        abi: factoryAbi,
        functionName: 'getAddress',
        args: [owner.address, salt],
      })
      return address
    },
    async getFactoryArgs() {
      return {
        factory,
        factoryData: encodeFunctionData({ abi: factoryAbi, functionName: 'createAccount', args: [owner.address, salt] }),
      }
    },
    async encodeCalls(calls) {
      if (calls.length === 1) {
        const [{ to, value = 0n, data = '0x' }] = calls
        return encodeFunctionData({ abi: accountAbi, functionName: 'execute', args: [to, value, data] })
      }
      return encodeFunctionData({
        abi: accountAbi,
        functionName: 'executeBatch',
        args: [calls.map(({ to, value = 0n, data = '0x' }) => ({ target: to, value, data }))],
      })
    },
    async decodeCalls(callData) {
      const { functionName, args } = decodeFunctionData({ abi: accountAbi, data: callData })
      if (functionName === 'execute') return [{ to: args[0], value: args[1], data: args[2] }]
      if (functionName === 'executeBatch') return args[0].map((c) => ({ to: c.target, value: c.value, data: c.data }))
      throw new Error(`not a TestAccount call: ${functionName}`)
    },
    async getStubSignature() {
      return stubSignature
    },
    async signUserOperation({ chainId = CHAIN_ID, ...userOperation }) {
      const hash = getUserOperationHash({
        chainId,
        entryPointAddress: entryPoint.address,
        entryPointVersion: entryPoint.version,
        userOperation: { ...userOperation, sender: userOperation.sender ?? address },
      })
      return signer.signMessage({ message: { raw: hash } })
    },
    // TestAccount has no ERC-1271: these sign as the owner, for completeness.
    async signMessage({ message }) {
      return signer.signMessage({ message })
    },
    async signTypedData(typedData) {
      return signer.signTypedData(typedData)
    },
  })
}

/** The JSON-RPC error codes in a viem error's cause chain, outermost first. */
export function rpcErrorCodes(error) {
  const codes = []
  for (let e = error; e; e = e.cause) if (typeof e.code === 'number') codes.push(e.code)
  return codes
}
