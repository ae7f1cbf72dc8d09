#!/usr/bin/env bash
# Scale-out end to end: anvil, a real PostgreSQL, `keyward deploy`, then REPLICAS (3) `keyward
# serve` processes over that one database with the same two bundler keys, driven by
# compat/replicas/run.mjs: CALLS (1000) session-key calls across ACCOUNTS (50) accounts, each
# request to a random replica, KILLS (2) SIGKILLs of a bundling-lease holder during the load, and
# the exactly-once, ledger and takeover checks. Prints one JSON line of figures.
#   usage: bash scripts/with-postgres.sh bash compat/replicas.sh [path/to/keyward]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=serve/common.sh
source "$here/serve/common.sh"

replicas="${REPLICAS:-3}"
start_anvil 31337
anvil_url="$anvil_started"
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
node serve/setup.mjs "$anvil_url" >/dev/null
write_keys
"$bin" deploy --rpc-url "$anvil_url" --private-key-env DEPLOYER_KEY --paymaster-signer "$pm_signer" \
  --paymaster-deposit 1000 >"$work/deploy.txt"

# A fresh database for this run (the ledger check reads its totals).
db="keyward_replicas_$$"
psql "$KEYWARD_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
export KEYWARD_TEST_POSTGRES_URL="${KEYWARD_TEST_POSTGRES_URL%/*}/$db"

policy=5ca1e0a7-0000-4000-8000-000000000014
cat >"$work/policies.toml" <<TOML
[[policy]]
id = "$policy"
name = "replicas: anything"
TOML
ports=()
for i in $(seq 0 $((replicas - 1))); do
  ports+=("$(free_port)")
  cat >"$work/replica-$i.toml" <<TOML
[server]
listen = "127.0.0.1:${ports[$i]}"

[store]
url = "$KEYWARD_TEST_POSTGRES_URL"

[[chain]]
id = 31337
rpc_url = "$anvil_url"
stack = "keyward"
deployer = "$deployer"
bundler_keys = ["file:bundler.key", "file:bundler2.key"]

[chain.paymaster]
signer = "file:paymaster.key"
policies = "policies.toml"
TOML
done
ports_json="[$(IFS=,; echo "${ports[*]}")]"
api_key="$("$bin" keys create --config "$work/replica-0.toml" --name load --rate 0 | awk '/^secret/ {print $2}')"

status=0
KEYWARD_BIN="$bin" KEYWARD_WORK="$work" KEYWARD_CHAIN_URL="$anvil_url" REPLICA_PORTS="$ports_json" \
  POLICY_ID="$policy" KEYWARD_API_KEY="$api_key" node replicas/run.mjs || status=$?
if [ "$status" != 0 ]; then
  for f in "$work"/replica-*.log; do
    echo "---- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
fi
"$bin" status --config "$work/replica-0.toml" || true
exit "$status"
