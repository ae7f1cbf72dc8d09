#!/usr/bin/env bash
# Scale-out benchmark: the compat/replicas.sh harness (anvil, PostgreSQL, N `keyward serve`
# replicas, session-key calls through the Wallet API to random replicas) run with 1, 2 and 3
# replicas and no kills, then with 3 replicas and two SIGKILLs of a lease holder; prints calls/s,
# CPU per call (user + system of the replicas, from /proc) and the takeover times, one row each.
#   usage: bash bench/replicas.sh [path/to/keyward]   (default: a release build, made here)
#   env:   CALLS (1000), ACCOUNTS (50), SIZES ("1 2 3")
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked -p keyward >&2
  bin=target/release/keyward
fi
[ -x tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] ||
  npm install --prefix tools --no-audit --no-fund --loglevel=error >&2
rows=()
run() { # replicas kills
  local out
  out="$(REPLICAS="$1" KILLS="$2" bash scripts/with-postgres.sh bash compat/replicas.sh "$bin" 2>/dev/null \
    | grep '^{"replicas"' | tail -n 1)"
  [ -n "$out" ] || { echo "bench/replicas.sh: the run with $1 replicas, $2 kills failed (run compat/replicas.sh to see why)" >&2; exit 1; }
  rows+=("$(node -e '
    const r = JSON.parse(process.argv[1]); const kills = process.argv[2]
    const t = r.takeoverSeconds.length ? r.takeoverSeconds.join(", ") + " s" : "-"
    console.log(`| ${r.replicas} | ${kills} | ${r.calls} | ${r.seconds} | ${r.callsPerSecond} | ${r.cpuMsPerCall} | ${t} |`)
  ' "$out" "$2")")
}
for n in ${SIZES:-1 2 3}; do run "$n" 0; done
run 3 2
echo
echo "keyward serve replicas over one PostgreSQL, anvil (automine), $(nproc) cores, $("$bin" --version 2>/dev/null || echo keyward) ($(basename "$(dirname "$bin")") build)"
echo
echo "| replicas | kills | calls | seconds | calls/s | CPU ms/call (replicas) | takeovers |"
echo "|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
