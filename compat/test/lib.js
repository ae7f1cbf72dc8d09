// Shared setup for the compat tests: a viem chain for `keyward dev`, clients, the dev keys and
// the compiled contract artifacts.
import { readFileSync } from 'node:fs'
import { createPublicClient, createWalletClient, defineChain, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export const RPC_URL = process.env.KEYWARD_RPC_URL
if (!RPC_URL) throw new Error('KEYWARD_RPC_URL is not set (run the tests through compat/run.sh)')

export const CHAIN_ID = 31337
export const ENTRY_POINT = '0x0000000071727De22E5E9d8BAf0edAc6f37da032'

export const keywardDev = defineChain({
  id: CHAIN_ID,
  name: 'Keyward dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL] } },
})

// One block per transaction: poll quickly instead of viem's default 4 s.
const transport = http(RPC_URL)
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
