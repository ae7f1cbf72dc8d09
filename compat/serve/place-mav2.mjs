// Places Alchemy's Modular Account V2 release runtime bytecode at its canonical addresses on an
// anvil (from the aa-benchmarks copy vendored in vendor/shared/oracles/mav2-gas), and stakes its
// factory in the EntryPoint as it is on the chains MAv2 is deployed on (ERC-7562 STO-022: an
// undeployed account's validation may touch its storage in modules only under a staked factory).
//   usage: node place-mav2.mjs ANVIL_URL
import { readFileSync } from 'node:fs'
import vm from 'node:vm'
import { nodeRpc } from './node-rpc.mjs'

/** The `{ Name: { address, abi, bytecode } }` object of an aa-benchmarks `export const X = {…} as const;` file. */
export function readArtifacts(path) {
  const src = readFileSync(new URL(path, import.meta.url), 'utf8')
  const body = src.slice(src.indexOf('=') + 1, src.lastIndexOf('as const'))
  return vm.runInNewContext(`(${body})`)
}

export const mav2 = readArtifacts('../../vendor/shared/oracles/mav2-gas/vendor/aa-benchmarks/modularAccountV2.ts')

const url = process.argv[2]
if (url && import.meta.url === `file://${process.argv[1]}`) {
  const rpc = nodeRpc(url)
  for (const a of Object.values(mav2)) await rpc('anvil_setCode', [a.address, a.bytecode])
  // Staked from the factory's own address (its Ownable owner is not set by anvil_setCode).
  const factory = mav2.AccountFactory.address
  await rpc('anvil_setBalance', [factory, '0x8ac7230489e80000'])
  await rpc('anvil_impersonateAccount', [factory])
  // EntryPoint.addStake(uint32 unstakeDelaySec = 86400), 1 ETH.
  const data = '0x0396cb60' + (86400).toString(16).padStart(64, '0')
  const hash = await rpc('eth_sendTransaction', [
    { from: factory, to: '0x0000000071727De22E5E9d8BAf0edAc6f37da032', data, value: '0xde0b6b3a7640000' },
  ])
  await rpc('anvil_stopImpersonatingAccount', [factory])
  for (let i = 0; i < 100; i++) {
    const receipt = await rpc('eth_getTransactionReceipt', [hash])
    if (receipt) {
      if (receipt.status !== '0x1') throw new Error(`staking the MAv2 factory reverted: ${hash}`)
      break
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  console.log(`place-mav2: ${Object.keys(mav2).length} MAv2 contracts placed on ${url}; factory staked`)
}
