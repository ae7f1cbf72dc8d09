#!/usr/bin/env bash
# Runs the viem compatibility tests against a fresh `keyward dev`.
#   usage: bash compat/run.sh [path/to/keyward]   (default: target/debug/keyward; builds nothing)
#   env:   KEYWARD_COMPAT_PORT (default 4401)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../target/debug/keyward}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
  echo "compat: no keyward binary at $bin (build it with 'cargo build -p keyward')" >&2
  exit 2
fi

# A free port: the requested one (default 4401) or the next free one above it.
port="${KEYWARD_COMPAT_PORT:-4401}"
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while port_in_use "$port"; do port=$((port + 1)); done
url="http://127.0.0.1:$port"

log="$(mktemp "${TMPDIR:-/tmp}/keyward-compat.XXXXXX")"
"$bin" dev --port "$port" </dev/null >"$log" 2>&1 &
keyward_pid=$!
cleanup() {
  kill "$keyward_pid" 2>/dev/null || true
  wait "$keyward_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "compat: keyward dev on $url (pid $keyward_pid)"
ready=0
for _ in $(seq 1 60); do
  if ! kill -0 "$keyward_pid" 2>/dev/null; then break; fi
  if curl -sf -X POST "$url" -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' | grep -q '"result"'; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ "$ready" != 1 ]; then
  if kill -0 "$keyward_pid" 2>/dev/null; then
    echo "compat: keyward dev did not answer eth_chainId within 30 s; its output:" >&2
  else
    echo "compat: keyward dev exited before answering; its output:" >&2
  fi
  cat "$log" >&2
  exit 1
fi

cd "$here"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# One file at a time: the files share dev keys, and the balance checks must see only their own
# transactions.
status=0
KEYWARD_RPC_URL="$url" KEYWARD_BIN_DIR="$(dirname "$bin")" node --test --test-concurrency=1 --test-reporter=spec test/*.test.js || status=$?
# The README's "Quick start: Wallet API" as written: the curl sequence, then the Rust SDK example.
bash "$here/../scripts/wallet-curl-quickstart.sh" "$url" || status=$?
example="$(dirname "$bin")/wallet_session_key"
if [ -x "$example" ]; then
  "$example" "$url" || status=$?
else
  echo "compat: no $example (build it with 'cargo build -p keyward-examples')" >&2
  status=2
fi
# README "Write your own permission module": the template module deployed, installed for a session
# key with the low-level SDK, a call allowed, one refused onchain (bundler and straight to the
# EntryPoint), uninstalled.
example="$(dirname "$bin")/custom_permission_module"
if [ -x "$example" ]; then
  "$example" "$url" || status=$?
else
  echo "compat: no $example (build it with 'cargo build -p keyward-examples')" >&2
  status=2
fi
if [ "$status" != 0 ]; then
  echo "compat: tests failed (exit $status); keyward dev output:" >&2
  tail -n 50 "$log" >&2
fi
exit "$status"
