// Puts the canonical EntryPoint v0.7 and its SenderCreator on a fresh anvil (as on every real
// chain: `keyward deploy` checks for them and deploys the rest itself).
//   usage: node setup.mjs ANVIL_URL
import { readFileSync } from 'node:fs'
import { nodeRpc } from './node-rpc.mjs'

const url = process.argv[2]
const ENTRY_POINT = '0x0000000071727De22E5E9d8BAf0edAc6f37da032'
const SENDER_CREATOR = '0xEFC2c1444eBCC4Db75e7613d20C6a62fF67A167C'

const rpc = nodeRpc(url)

const code = (name) => {
  const a = JSON.parse(readFileSync(new URL(`../../contracts/artifacts/${name}.json`, import.meta.url), 'utf8'))
  return a.deployedBytecode.startsWith('0x') ? a.deployedBytecode : `0x${a.deployedBytecode}`
}

await rpc('anvil_setCode', [ENTRY_POINT, code('EntryPoint')])
await rpc('anvil_setNonce', [ENTRY_POINT, '0x2'])
await rpc('anvil_setCode', [SENDER_CREATOR, code('SenderCreator')])
await rpc('anvil_setNonce', [SENDER_CREATOR, '0x1'])
console.log(`setup: EntryPoint v0.7 and SenderCreator placed on ${url}`)
