#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: installs the third-party tools it needs (anvil, the
# canonical EntryPoint oracle, solc, viem), checks the committed contract artifacts are
# reproducible, checks formatting and clippy, runs every Rust test (embedded chain and anvil),
# then the third-party clients in compat/ and the ERC-4337 bundler conformance suite against a
# live `keyward dev` and against `keyward serve` on anvil, then production mode end to end.
set -euo pipefail
cd "$(dirname "$0")/.."

# A clean clone builds once: incremental caches would only add gigabytes to target/ (CI's disk
# filled once).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n==> %s\n' "$*"; }

step "test tools (anvil, canonical EntryPoint v0.7 oracle)"
# `npm install`, not `npm ci`: anvil's other-platform binaries are optional dependencies the
# registry does not list, which `npm ci` counts as a lock mismatch. Versions are pinned exactly.
npm install --prefix tools --no-audit --no-fund --loglevel=error

step "contract artifacts are reproducible from source"
npm ci --prefix contracts --no-audit --no-fund --loglevel=error
node contracts/build.mjs
if ! git diff --exit-code --stat -- contracts/artifacts; then
  echo "contracts/artifacts differ from a fresh build: run 'node contracts/build.mjs' and commit" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- contracts/artifacts)" ]; then
  git status --porcelain -- contracts/artifacts >&2
  echo "contracts/artifacts has files a fresh build adds or removes" >&2
  exit 1
fi

step "contract ABI surface: selectors, interface ids, topics, storage layout, code size, canonical ABI"
CANONICAL_AA="$PWD/tools/node_modules/@account-abstraction/contracts" node contracts/check.mjs | tail -n 3

step "vendored copies of ../shared (test vectors, spec, MAv2 factory code) are current"
bash scripts/check-vendored.sh

step "Rust formatting and lints (cargo fmt --check, clippy -D warnings)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust workspace: build and tests (embedded chain, anvil, SQLite and a throwaway PostgreSQL)"
cargo build --workspace --all-targets --locked
bash scripts/with-postgres.sh cargo test --workspace --locked

step "load generator smoke test (bench wallet-load --quick: Wallet API session-key calls and aging against keyward dev)"
# Tiny sizes, about 30 s with debug binaries; prints figures, writes no document, asserts only
# that every call reached status 200 (bench/README.md#wallet-load-issue-16). No anvil, no Alto.
target/debug/wallet-load --quick --scenarios wallet,aging --aging-ops 100 --keyward target/debug/keyward >/dev/null

step "third-party clients against keyward dev (compat/)"
bash compat/run.sh target/debug/keyward

step "ERC-4337 bundler conformance suite (eth-infinitism bundler-spec-tests v0.7) against keyward dev"
# The offline kit in ../shared; any failing test fails CI. Its venv, solc-js and compiled test
# contracts stay in target/bundler-spec-tests, so runs after the first take about a minute.
KEYWARD_BIN=target/debug/keyward KEYWARD_SPEC_WORK=target/bundler-spec-tests \
  bash ../shared/conformance/bundler-spec-tests/run.sh

step "ERC-4337 bundler conformance suite against keyward serve on anvil (compat/conformance-serve.sh)"
# The same kit and work directory (venv, solc-js and compiled test contracts reused): anvil,
# keyward deploy, keyward serve with [server] test_controls over PostgreSQL; about 40 s.
KEYWARD_SPEC_WORK=target/bundler-spec-tests \
  bash scripts/with-postgres.sh bash compat/conformance-serve.sh target/debug/keyward

step "production mode: anvil + PostgreSQL + keyward deploy + keyward serve + the official SDK (compat/serve.sh)"
bash scripts/with-postgres.sh bash compat/serve.sh target/debug/keyward

step "scale-out: three keyward serve replicas over one PostgreSQL, 1,000 session-key calls, two SIGKILLs of a lease holder (compat/replicas.sh)"
bash scripts/with-postgres.sh bash compat/replicas.sh target/debug/keyward
