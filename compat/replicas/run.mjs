// Scale-out, the way it runs: N `keyward serve` replicas over one PostgreSQL against anvil, a
// load of session-key calls through the Wallet API with every request sent to a random replica
// (prepare on one, send on another, status on a third; sponsored and unsponsored, across many
// accounts), the holder of a bundling lease killed with SIGKILL and restarted during the load,
// then the checks: every accepted call final and successful, each executed exactly once, no
// operation in two landed bundles, the sponsorship ledger equal to the paymaster's onchain spend
// to the wei, and each takeover under 15 s. Prints the figures (calls/s, CPU per call, takeovers).
//
// Started by compat/replicas.sh (anvil, the stack, the replicas' configs), with:
//   KEYWARD_BIN, KEYWARD_WORK, KEYWARD_CHAIN_URL, KEYWARD_TEST_POSTGRES_URL, REPLICA_PORTS (JSON),
//   KEYWARD_API_KEY, CALLS (1000), ACCOUNTS (50), KILLS (2), POLICY_ID
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'
import { alchemyWalletTransport, createSmartWalletClient } from '@alchemy/wallet-apis'
import { createPublicClient, createWalletClient, defineChain, encodeFunctionData, http, parseAbiItem, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

const env = process.env
const BIN = env.KEYWARD_BIN
const WORK = env.KEYWARD_WORK
const CHAIN_URL = env.KEYWARD_CHAIN_URL
const PORTS = JSON.parse(env.REPLICA_PORTS)
const CALLS = Number(env.CALLS ?? 1000)
const ACCOUNTS = Number(env.ACCOUNTS ?? 50)
const KILLS = Number(env.KILLS ?? 2)
const POLICY_ID = env.POLICY_ID
const TAKEOVER_LIMIT_MS = 15_000
const ENTRY_POINT = '0x0000000071727De22E5E9d8BAf0edAc6f37da032'
const TICKS_PER_SECOND = 100 // Linux USER_HZ, the unit of /proc/<pid>/stat times

const chain = defineChain({
  id: 31337,
  name: 'anvil',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [CHAIN_URL] } },
})
const publicClient = createPublicClient({ chain, transport: http(CHAIN_URL), pollingInterval: 100 })
const counterAbi = JSON.parse(readFileSync(new URL('../../contracts/artifacts/TestCounter.json', import.meta.url), 'utf8'))
const log = (...a) => console.log('replicas:', ...a)

// ---- the replicas -------------------------------------------------------------------------------

class Replica {
  constructor(index) {
    this.index = index
    this.url = `http://127.0.0.1:${PORTS[index]}`
    this.config = `${WORK}/replica-${index}.toml`
    this.cpuTicks = 0 // of processes already gone
  }

  async start() {
    const out = openSync(`${WORK}/replica-${this.index}.log`, 'a')
    this.child = spawn(BIN, ['serve', '--config', this.config], { stdio: ['ignore', out, out] })
    this.exited = new Promise((resolve) => this.child.once('exit', resolve))
    for (let i = 0; i < 200; i++) {
      if (await fetch(`${this.url}/ready`).then((r) => r.ok, () => false)) return
      await sleep(100)
    }
    throw new Error(`replica ${this.index} did not get ready (see ${WORK}/replica-${this.index}.log)`)
  }

  /** CPU time (user + system) of the running process so far, in ticks. */
  liveTicks() {
    try {
      const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1].split(' ')
      return Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of the line)
    } catch {
      return 0
    }
  }

  cpuSeconds() {
    return (this.cpuTicks + this.liveTicks()) / TICKS_PER_SECOND
  }

  async kill9() {
    this.cpuTicks += this.liveTicks()
    this.child.kill('SIGKILL')
    await this.exited
  }

  async stop() {
    this.cpuTicks += this.liveTicks()
    this.child.kill('SIGTERM')
    await this.exited
  }
}

/** `keyward status --json` of the deployment. */
function status() {
  return JSON.parse(execFileSync(BIN, ['status', '--config', `${WORK}/replica-0.toml`, '--json'], { encoding: 'utf8' }))
}

/** The pid in a holder id (`<host>-<pid>-<random>`). */
const pidOf = (holder) => Number(holder.split('-').at(-2))

/** A viem transport sending each request to a random replica, and to another when one is down
 *  (what a load balancer does). */
function anyReplica(replicas) {
  const transports = replicas.map((r) =>
    alchemyWalletTransport({ url: `${r.url}/v2/${env.KEYWARD_API_KEY}`, retryCount: 0, timeout: 60_000 }),
  )
  return (opts) => {
    const made = transports.map((t) => t(opts))
    return {
      ...made[0],
      async request(args) {
        let last
        for (let attempt = 0; attempt < 40; attempt++) {
          const i = Math.floor(Math.random() * made.length)
          try {
            return await made[i].request(args)
          } catch (e) {
            if (!isDown(e)) throw e
            last = e
            await sleep(50)
          }
        }
        throw last
      },
    }
  }
}

/** Whether `e` is a replica being down or going down (not an answer of the API). */
function isDown(e) {
  const text = `${e?.name} ${e?.message} ${e?.details} ${e?.cause?.message} ${e?.cause?.code}`
  return /HttpRequestError|fetch failed|ECONNREFUSED|ECONNRESET|socket|other side closed|TimeoutError|status: 50[234]/i.test(text)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- the run ------------------------------------------------------------------------------------

const replicas = PORTS.map((_, i) => new Replica(i))
for (const r of replicas) await r.start()
log(`${replicas.length} replicas ready: ${replicas.map((r) => r.url).join(' ')}`)
const transport = anyReplica(replicas)

// Accounts, each funded and with a root session key (granted by its owner, installed by its first call).
const funder = createWalletClient({
  account: privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'),
  chain,
  transport: http(CHAIN_URL),
})
const counterHash = await funder.deployContract({ abi: counterAbi.abi, bytecode: `0x${counterAbi.bytecode.replace(/^0x/, '')}` })
const counter = (await publicClient.waitForTransactionReceipt({ hash: counterHash })).contractAddress
const data = encodeFunctionData({ abi: counterAbi.abi, functionName: 'count' })
const startBlock = await publicClient.getBlockNumber()

const accounts = await Promise.all(
  Array.from({ length: ACCOUNTS }, async () => {
    const owner = privateKeyToAccount(generatePrivateKey())
    const address = (await createSmartWalletClient({ signer: owner, transport, chain }).requestAccount()).address
    const sessionKey = privateKeyToAccount(generatePrivateKey())
    const { context } = await createSmartWalletClient({ signer: owner, transport, chain, account: address }).grantPermissions({
      account: address,
      expirySec: Math.floor(Date.now() / 1000) + 3600,
      key: { publicKey: sessionKey.address, type: 'secp256k1' },
      permissions: [{ type: 'root' }],
    })
    return { address, context, session: createSmartWalletClient({ signer: sessionKey, transport, chain, account: address }) }
  }),
)
let nonce = await publicClient.getTransactionCount({ address: funder.account.address })
const funding = []
for (const a of accounts) funding.push(await funder.sendTransaction({ to: a.address, value: parseEther('1'), nonce: nonce++ }))
await Promise.all(funding.map((hash) => publicClient.waitForTransactionReceipt({ hash })))
// Each account's first call deploys it and installs its session key; the wallet makes the account's
// next calls wait for that install (and refuses after 30 s), so the load starts once they are in.
await Promise.all(
  accounts.map(async (a) => {
    const { id } = await a.session.sendCalls({ calls: [{ to: counter, data }], capabilities: { permissions: { context: a.context } } })
    const s = await a.session.waitForCallsStatus({ id, timeout: 180_000, pollingInterval: 500 })
    assert.equal(s.statusCode, 200, `first call of ${a.address}`)
  }),
)
log(`${accounts.length} accounts deployed with a session key installed`)

// The bundler keys are spread over the replicas (each holds at most ⌈keys / replicas⌉).
if (replicas.length > 1) {
  for (let i = 0; ; i++) {
    const holders = status().roles.filter((r) => r.role.startsWith('bundler:') && r.live).map((r) => r.holder)
    if (holders.length === 2 && new Set(holders).size === 2) {
      log(`bundler keys held by ${holders.join(' and ')}`)
      break
    }
    assert.ok(i < 150, `bundler keys not spread over the replicas: ${JSON.stringify(status().roles)}`)
    await sleep(100)
  }
}

// The load: each account sends its calls in a row (every other one sponsored), all accounts at once.
const perAccount = Math.ceil(CALLS / accounts.length)
const accepted = [] // { id, account, sponsored }
const t0 = performance.now()
const cpu0 = replicas.map((r) => r.cpuSeconds()).reduce((a, b) => a + b, 0)
const load = Promise.all(
  accounts.map(async (a, k) => {
    for (let i = 0; i < perAccount; i++) {
      const sponsored = (i + k) % 2 === 1
      const capabilities = { permissions: { context: a.context }, ...(sponsored ? { paymaster: { policyId: POLICY_ID } } : {}) }
      const { id } = await a.session.sendCalls({ calls: [{ to: counter, data }], capabilities })
      accepted.push({ id, account: a.address, sponsored })
    }
  }),
)

// Meanwhile: kill the holder of a bundling lease, restart it, time the takeover; twice.
const takeovers = []
const killer = (async () => {
  for (let k = 1; k <= KILLS; k++) {
    while (accepted.length < (CALLS * k) / (KILLS + 1)) await sleep(100)
    const role = status().roles.find((r) => r.role.startsWith('bundler:') && r.live)
    assert.ok(role, 'a live bundling lease')
    const victim = replicas.find((r) => r.child.pid === pidOf(role.holder))
    assert.ok(victim, `the holder ${role.holder} is one of ours`)
    const killedAt = performance.now()
    await victim.kill9()
    log(`kill -9 replica ${victim.index} (holder of ${role.role}, token ${role.token}) after ${accepted.length} accepted calls`)
    await victim.start()
    for (;;) {
      const now = status().roles.find((r) => r.role === role.role)
      if (now.live && now.token > role.token) {
        takeovers.push(performance.now() - killedAt)
        log(`${role.role} taken over by ${now.holder} (token ${now.token}) ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`)
        break
      }
      assert.ok(performance.now() - killedAt < 60_000, `${role.role} not taken over within 60 s`)
      await sleep(100)
    }
  }
})()
await Promise.all([load, killer])
const acceptedAt = performance.now()
log(`${accepted.length} calls accepted in ${((acceptedAt - t0) / 1000).toFixed(1)} s`)

// Every accepted call reaches a final status, on any replica (25 status requests at a time: a
// poller per call would load the replicas more than the calls themselves).
const checker = createSmartWalletClient({ signer: privateKeyToAccount(generatePrivateKey()), transport, chain })
const finals = new Map()
for (let waited = 0; finals.size < accepted.length; waited++) {
  assert.ok(waited < 600, `${accepted.length - finals.size} calls not final after 5 minutes`)
  const open = accepted.filter((c) => !finals.has(c.id))
  for (let i = 0; i < open.length; i += 25) {
    const statuses = await Promise.all(open.slice(i, i + 25).map((c) => checker.getCallsStatus({ id: c.id })))
    statuses.forEach((s, k) => s.statusCode >= 200 && finals.set(open[i + k].id, s.statusCode))
  }
  if (finals.size < accepted.length) await sleep(500)
}
const doneAt = performance.now()
const cpu = replicas.map((r) => r.cpuSeconds()).reduce((a, b) => a + b, 0) - cpu0
const bad = accepted.map((c) => [finals.get(c.id), c.id]).filter(([code]) => code !== 200)
assert.deepEqual(bad, [], 'every accepted call final and successful')

// Each executed exactly once: one UserOperationEvent per call id, none twice, counters and nonces agree.
const events = await publicClient.getLogs({
  address: ENTRY_POINT,
  event: parseAbiItem(
    'event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed)',
  ),
  fromBlock: startBlock,
})
const byHash = new Map()
for (const e of events) byHash.set(e.args.userOpHash, [...(byHash.get(e.args.userOpHash) ?? []), e])
const twice = [...byHash.entries()].filter(([, es]) => es.length > 1).map(([h]) => h)
assert.deepEqual(twice, [], 'no operation in two landed handleOps transactions')
for (const c of accepted) {
  const hash = `0x${c.id.slice(-64)}`
  assert.equal(byHash.get(hash)?.length, 1, `call ${c.id}: one UserOperationEvent`)
}
for (const a of accounts) {
  const count = await publicClient.readContract({ address: counter, abi: counterAbi.abi, functionName: 'countOf', args: [a.address] })
  assert.equal(count, BigInt(perAccount + 1), `${a.address}: each call executed once (and the first)`)
  // EntryPoint nonces: one per operation, none used twice.
  const nonces = events.filter((e) => e.args.sender.toLowerCase() === a.address.toLowerCase()).map((e) => e.args.nonce)
  assert.equal(nonces.length, perAccount + 1, `${a.address}: one UserOperationEvent per call`)
  assert.equal(new Set(nonces).size, nonces.length, `${a.address}: every EntryPoint nonce used once`)
}

// The sponsorship ledger: settled = the sponsored events' actualGasCost, to the wei.
const paymaster = events.find((e) => e.args.paymaster !== '0x0000000000000000000000000000000000000000')?.args.paymaster
const onchain = events.filter((e) => e.args.paymaster === paymaster).reduce((s, e) => s + e.args.actualGasCost, 0n)
const sponsoredCalls = accepted.filter((c) => c.sponsored).length
assert.equal(events.filter((e) => e.args.paymaster === paymaster).length, sponsoredCalls, 'every sponsored call paid by the paymaster')
// The policy's own totals row (sender ''): each amount is whole gwei and the wei below a gwei.
const spent = () => {
  const [gwei, wei] = sql(`SELECT spent_gwei, spent_wei FROM sponsorship_totals WHERE policy_id = '${POLICY_ID}' AND sender = ''`).split('|')
  return BigInt(gwei) * 1_000_000_000n + BigInt(wei)
}
let ledger
for (let i = 0; i < 100; i++) {
  ledger = spent()
  if (ledger === onchain) break
  await sleep(200)
}
assert.equal(ledger, onchain, 'settled total = the sponsored events actualGasCost, to the wei')
// What is still reserved is only prepared operations never sent (a prepare whose answer a killed
// replica never gave, retried on another): none of them landed; their window ends, then they are released.
const reserved = sql(`SELECT user_op_hash FROM sponsorships WHERE status = 'reserved'`).split('\n').filter(Boolean)
assert.deepEqual(reserved.filter((h) => byHash.has(h)), [], 'no included operation left reserved')
if (reserved.length) log(`${reserved.length} reservation(s) of prepared calls never sent, released when their window ends`)

for (const t of takeovers) assert.ok(t < TAKEOVER_LIMIT_MS, `takeover in ${t} ms`)
for (const r of replicas) await r.stop()

const seconds = (doneAt - t0) / 1000
console.log(
  JSON.stringify({
    replicas: replicas.length,
    calls: accepted.length,
    sponsored: sponsoredCalls,
    accounts: accounts.length,
    seconds: Number(seconds.toFixed(2)),
    callsPerSecond: Number((accepted.length / seconds).toFixed(1)),
    cpuMsPerCall: Number(((cpu * 1000) / accepted.length).toFixed(1)),
    takeoverSeconds: takeovers.map((t) => Number((t / 1000).toFixed(1))),
    settledWei: onchain.toString(),
  }),
)
log('all checks passed')

/** The rows of `query` on the deployment's PostgreSQL (psql: one per line, fields joined by |). */
function sql(query) {
  return execFileSync('psql', [env.KEYWARD_TEST_POSTGRES_URL, '-tAc', query], { encoding: 'utf8' }).trim()
}
