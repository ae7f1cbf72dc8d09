// Checks the compiled ABI surface against the spec (shared/spec/entrypoint-v07.md §1, §10, §12):
// selectors, ERC-165 interface ids, event topic0s, error selectors, the canonical storage layout
// and the absence of immutables in the injected contracts. Exits non-zero on any mismatch.
//
// Optional: CANONICAL_AA=<path to @account-abstraction/contracts@0.7.0> also checks that every
// function, event and error of the canonical EntryPoint / EntryPointSimulations ABI exists in ours
// with the same signature, mutability, outputs and indexed flags. (Install it outside this folder;
// it is GPL and never committed.)
//
// Usage: node contracts/check.mjs
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileAll, collectContracts } from "./build.mjs";

const { output } = compileAll(["evm.methodIdentifiers", "storageLayout", "evm.deployedBytecode.immutableReferences", "ast"]);
const contracts = collectContracts(output);
let failures = 0;
const ok = (cond, msg) => {
  console.log(`${cond ? "ok  " : "FAIL"} ${msg}`);
  if (!cond) failures++;
};

// --- function selectors (§12) ---------------------------------------------------------------
const EP_SELECTORS = {
  handleOps: "765e827f", handleAggregatedOps: "dbed18e0", getUserOpHash: "22cdde4c",
  getSenderAddress: "9b249f69", delegateAndRevert: "850aaf62", innerHandleOp: "0042dc53",
  getNonce: "35567e1a", incrementNonce: "0bd28e3b", nonceSequenceNumber: "1b2e01b8",
  depositTo: "b760faf9", balanceOf: "70a08231", getDepositInfo: "5287ce12", deposits: "fc7e286d",
  addStake: "0396cb60", unlockStake: "bb9fe6bf", withdrawStake: "c23a5cea", withdrawTo: "205c2878",
  supportsInterface: "01ffc9a7",
};
const SIM_SELECTORS = { ...EP_SELECTORS, simulateValidation: "c3bce009", simulateHandleOp: "97b2dcb9", _validateSenderAndPaymaster: "957122ab" };
const byName = (ids) => Object.fromEntries(Object.entries(ids).map(([sig, sel]) => [sig.slice(0, sig.indexOf("(")), sel]));
for (const [name, expected] of [["EntryPoint", EP_SELECTORS], ["EntryPointSimulations", SIM_SELECTORS]]) {
  const c = contracts.get(name).c;
  const ids = byName(c.evm.methodIdentifiers);
  for (const [fn, sel] of Object.entries(expected)) ok(ids[fn] === sel, `${name}.${fn} = 0x${ids[fn]} (want 0x${sel})`);
}
const sc = byName(contracts.get("SenderCreator").c.evm.methodIdentifiers);
ok(sc.createSender === "570e1a36", `SenderCreator.createSender = 0x${sc.createSender}`);

// --- AST walk: interface ids, events, errors ---------------------------------------------------
const defs = new Map(); // contract name -> ContractDefinition node
for (const src of Object.values(output.sources)) {
  for (const node of src.ast.nodes) if (node.nodeType === "ContractDefinition") defs.set(node.name, node);
}
const own = (contract, type) => defs.get(contract).nodes.filter((n) => n.nodeType === type);
const interfaceId = (name) => {
  let x = 0;
  for (const f of own(name, "FunctionDefinition")) if (f.functionSelector) x ^= parseInt(f.functionSelector, 16);
  return (x >>> 0).toString(16).padStart(8, "0");
};
const IDS = { IEntryPoint: "915074d8", IStakeManager: "cf28ef97", INonceManager: "3e84f021" };
let xor = 0;
for (const [name, id] of Object.entries(IDS)) {
  const got = interfaceId(name);
  xor ^= parseInt(got, 16);
  ok(got === id, `interfaceId(${name}) = 0x${got} (want 0x${id})`);
}
ok((xor >>> 0).toString(16) === "60fc6b6e", `XOR of the three = 0x${(xor >>> 0).toString(16)} (want 0x60fc6b6e)`);

const fnSel = (contract, fn) => own(contract, "FunctionDefinition").find((f) => f.name === fn)?.functionSelector;
for (const [c, fn, sel] of [
  ["IAccount", "validateUserOp", "19822f7c"], ["IAccountExecute", "executeUserOp", "8dd7712f"],
  ["IPaymaster", "validatePaymasterUserOp", "52b7512c"], ["IPaymaster", "postOp", "7c627b21"],
  ["IAggregator", "validateSignatures", "2dd81133"], ["IAggregator", "validateUserOpSignature", "062a422b"],
  ["IAggregator", "aggregateSignatures", "ae574a43"],
]) ok(fnSel(c, fn) === sel, `${c}.${fn} = 0x${fnSel(c, fn)}`);

const TOPICS = {
  UserOperationEvent: "49628fd1471006c1482da88028e9ce4dbb080b815c9b0344d39e5a8e6ec1419f",
  AccountDeployed: "d51a9c61267aa6196961883ecf5ff2da6619c37dac0fa92122513fb32c032d2d",
  UserOperationRevertReason: "1c4fada7374c0a9ee8841fc38afe82932dc0f8e69012e927f061a8bae611a201",
  PostOpRevertReason: "f62676f440ff169a3a9afdbf812e89e7f95975ee8e5c31214ffdef631c5f4792",
  UserOperationPrefundTooLow: "67b4fa9642f42120bf031f3051d1824b0fe25627945b27b8a6a65d5761d5482e",
  BeforeExecution: "bb47ee3e183a558b1a2ff0874b079f3fc5478b7454eacf2bfc5af2ff5878f972",
  SignatureAggregatorChanged: "575ff3acadd5ab348fe1855e217e0f3678f8d767d7494c9f9fefbee2e17cca4d",
  Deposited: "2da466a7b24304f47e87fa2e1e5a81b9831ce54fec19055ce277ca2f39ba42c4",
  Withdrawn: "d1c19fbcd4551a5edfb66d43d2e337c04837afda3482b42bdf569a8fccdae5fb",
  StakeLocked: "a5ae833d0bb1dcd632d98a8b70973e8516812898e19bf27b70071ebc8dc52c01",
  StakeUnlocked: "fa9b3c14cc825c412c9ed81b3ba365a5b459439403f18829e572ed53a4180f0a",
  StakeWithdrawn: "b7c918e0e249f999e965cafeb6c664271b3f4317d296461500e71da39f0cbda3",
};
const events = new Map([...own("IEntryPoint", "EventDefinition"), ...own("IStakeManager", "EventDefinition")].map((e) => [e.name, e.eventSelector]));
for (const [ev, topic] of Object.entries(TOPICS)) ok(events.get(ev) === topic, `event ${ev} topic0 0x${events.get(ev)?.slice(0, 16)}…`);

const ERRORS = {
  FailedOp: "220266b6", FailedOpWithRevert: "65c8fd4d", PostOpReverted: "ad7954bc",
  SignatureValidationFailed: "86a9f750", SenderAddressResult: "6ca7b806", DelegateAndRevert: "99410554",
  ReentrancyGuardReentrantCall: "3ee5aeb5",
};
const errors = new Map([...own("IEntryPoint", "ErrorDefinition"), ...own("EntryPoint", "ErrorDefinition")].map((e) => [e.name, e.errorSelector]));
for (const [er, sel] of Object.entries(ERRORS)) ok(errors.get(er) === sel, `error ${er} = 0x${errors.get(er)}`);

// --- storage layout and immutables --------------------------------------------------------------
for (const name of ["EntryPoint", "EntryPointSimulations"]) {
  const layout = contracts.get(name).c.storageLayout.storage.map((s) => `${s.label}@${s.slot}+${s.offset}`);
  ok(JSON.stringify(layout) === JSON.stringify(["deposits@0+0", "nonceSequenceNumber@1+0"]), `${name} storage = ${layout.join(", ")}`);
}
for (const name of ["EntryPoint", "EntryPointSimulations", "SenderCreator"]) {
  const imm = contracts.get(name).c.evm.deployedBytecode.immutableReferences ?? {};
  ok(Object.keys(imm).length === 0, `${name} has no immutables`);
}

// --- code size: every contract deployable on any chain (EIP-170 runtime, EIP-3860 initcode) ------
for (const [name, { c }] of contracts) {
  const runtime = (c.evm.deployedBytecode?.object ?? "").length / 2;
  const init = (c.evm.bytecode?.object ?? "").length / 2;
  if (runtime === 0) continue;
  ok(runtime <= 24576 && init <= 49152, `${name}: runtime ${runtime} B (EIP-170: 24,576), initcode ${init} B (EIP-3860: 49,152)`);
}

// --- optional: canonical ABI inclusion ------------------------------------------------------------
const canonicalDir = process.env.CANONICAL_AA;
if (canonicalDir) {
  const t = (p) => (p.type.startsWith("tuple") ? `(${p.components.map(t).join(",")})${p.type.slice(5)}` : p.type);
  const key = (it) =>
    `${it.type} ${it.name ?? ""}(${(it.inputs ?? []).map((i) => t(i) + (i.indexed ? " indexed" : "")).join(",")})` +
    (it.outputs ? ` -> (${it.outputs.map(t).join(",")})` : "") + (it.stateMutability ? ` ${it.stateMutability}` : "");
  for (const name of ["EntryPoint", "EntryPointSimulations", "SenderCreator"]) {
    const theirs = JSON.parse(readFileSync(join(canonicalDir, "artifacts", `${name}.json`), "utf8")).abi;
    const ours = new Set(contracts.get(name).c.abi.map(key));
    const theirSet = new Set(theirs.map(key));
    for (const it of theirs) ok(ours.has(key(it)), `canonical ${name}: ${key(it)}`);
    for (const k of ours) if (!theirSet.has(k)) console.log(`note ${name}: extra in ours: ${k}`);
  }
}

console.log(failures === 0 ? "all checks passed" : `${failures} check(s) FAILED`);
process.exit(failures === 0 ? 0 : 1);
