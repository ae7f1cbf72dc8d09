// Compiles every src/**/*.sol with the pinned solc-js (npm `solc`, exact version in package.json)
// through standard JSON and writes artifacts/<ContractName>.json for every contract that has bytecode
// (interfaces and abstract contracts are skipped).
//
// Reproducibility: settings are pinned below, metadata is neither hashed nor appended (no CBOR), the
// source list is sorted, artifacts are pretty-printed with a fixed key order, and artifacts that are
// no longer produced are deleted. Two runs must give byte-identical files.
//
// Usage: node contracts/build.mjs   (from the repo root)   or   cd contracts && node build.mjs
// Exit status is non-zero on any compiler error; warnings are printed.
import { readFileSync, writeFileSync, readdirSync, mkdirSync, unlinkSync, statSync, existsSync } from "node:fs";
import { join, relative, sep, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const ROOT = dirname(fileURLToPath(import.meta.url));
const SRC = join(ROOT, "src");
// Third-party-style templates (templates/*/src/**/*.sol, e.g. the permission-module template): compiled
// in a run of their own (they carry their own copies of the interfaces they implement), artifacts
// written next to the others. Source unit names are relative to the repository root.
const REPO = dirname(ROOT);
const TEMPLATES = join(REPO, "templates");
const ARTIFACTS = join(ROOT, "artifacts");
const require = createRequire(import.meta.url);

export const SOLC_VERSION = "0.8.30";

export const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  metadata: { bytecodeHash: "none", appendCBOR: false },
  remappings: [],
};

function listSol(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listSol(p));
    else if (name.endsWith(".sol")) out.push(p);
  }
  return out;
}

// Source unit names are POSIX paths relative to contracts/ ("src/core/EntryPoint.sol"), so relative
// imports resolve among the provided sources and nothing depends on where the repo is checked out.
function sourceUnitName(absPath) {
  return relative(ROOT, absPath).split(sep).join("/");
}

function templateSources() {
  const out = [];
  if (!existsSync(TEMPLATES)) return out;
  for (const name of readdirSync(TEMPLATES).sort()) {
    const src = join(TEMPLATES, name, "src");
    if (existsSync(src) && statSync(src).isDirectory()) out.push(...listSol(src));
  }
  return out;
}

function loadSolc() {
  const solc = require("solc");
  const v = solc.version();
  if (!v.startsWith(SOLC_VERSION + "+")) {
    throw new Error(`solc ${SOLC_VERSION} required, found ${v} (run npm ci in contracts/)`);
  }
  return solc;
}

/// Compiles all sources. `extraOutputs` adds standard-JSON output selections (used by check.mjs).
export function compileAll(extraOutputs = []) {
  const sources = {};
  for (const f of listSol(SRC)) sources[sourceUnitName(f)] = { content: readFileSync(f, "utf8") };
  return compileSources(sources, extraOutputs, "src/**/*.sol");
}

/// Compiles the templates (templates/*/src/**/*.sol) in a run of their own; null when there are none.
export function compileTemplates(extraOutputs = []) {
  const sources = {};
  for (const f of templateSources()) sources[relative(REPO, f).split(sep).join("/")] = { content: readFileSync(f, "utf8") };
  if (Object.keys(sources).length === 0) return null;
  return compileSources(sources, extraOutputs, "the template's own sources");
}

function compileSources(sources, extraOutputs, where) {
  const solc = loadSolc();
  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        "*": {
          "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", ...extraOutputs],
          "": extraOutputs.includes("ast") ? ["ast"] : [],
        },
      },
    },
  };
  // Imports must all be among the provided sources; anything else is an error (no filesystem access).
  const findImports = (path) => ({ error: `import not found among ${where}: ${path}` });
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((e) => e.severity === "error");
  for (const d of diagnostics) {
    const stream = d.severity === "error" ? process.stderr : process.stdout;
    stream.write((d.formattedMessage ?? d.message) + "\n");
  }
  if (errors.length > 0) {
    const err = new Error(`solc reported ${errors.length} error(s)`);
    err.solcErrors = errors;
    throw err;
  }
  return { solc, input, output };
}

function hex(obj) {
  return "0x" + (obj ?? "");
}

export function collectContracts(output) {
  const contracts = new Map();
  for (const file of Object.keys(output.contracts ?? {}).sort()) {
    for (const [name, c] of Object.entries(output.contracts[file]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!c.evm?.bytecode?.object) continue; // interface or abstract contract
      if (contracts.has(name)) {
        throw new Error(`duplicate contract name ${name} in ${file} and ${contracts.get(name).file}`);
      }
      contracts.set(name, { file, name, c });
    }
  }
  return contracts;
}

function main() {
  let result;
  try {
    result = compileAll();
  } catch (e) {
    process.stderr.write(`build failed: ${e.message}\n`);
    process.exit(1);
  }
  let templates;
  try {
    templates = compileTemplates();
  } catch (e) {
    process.stderr.write(`build failed (templates): ${e.message}\n`);
    process.exit(1);
  }
  const contracts = collectContracts(result.output);
  if (templates) {
    for (const [name, entry] of collectContracts(templates.output)) {
      if (contracts.has(name)) {
        process.stderr.write(`build failed: duplicate contract name ${name} in ${entry.file} and ${contracts.get(name).file}\n`);
        process.exit(1);
      }
      contracts.set(name, entry);
    }
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const written = new Set();
  for (const { name, c } of contracts.values()) {
    const artifact = {
      contractName: name,
      abi: c.abi,
      bytecode: hex(c.evm.bytecode.object),
      deployedBytecode: hex(c.evm.deployedBytecode.object),
    };
    const file = `${name}.json`;
    writeFileSync(join(ARTIFACTS, file), JSON.stringify(artifact, null, 2) + "\n");
    written.add(file);
  }
  for (const f of readdirSync(ARTIFACTS)) {
    if (f.endsWith(".json") && !written.has(f)) {
      unlinkSync(join(ARTIFACTS, f));
      console.log(`removed stale artifact ${f}`);
    }
  }
  console.log(`solc ${result.solc.version()}: wrote ${written.size} artifacts to ${relative(process.cwd(), ARTIFACTS) || "."}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main();
