#!/usr/bin/env bash
# Production mode end to end, the way it runs: anvil as the chain, a real PostgreSQL, `keyward
# deploy` (twice: the second run must send nothing), API keys made with `keyward keys`, `keyward
# serve` over PostgreSQL, then the official SDK's seed flows and the Wallet API tests through the
# Wallet API URL with the key in its path, the edge's refusals (401, 403, 429), health, readiness
# and metrics, and a kill -9 of the server right after it accepted calls (nothing may be lost).
#   usage: bash scripts/with-postgres.sh bash compat/serve.sh [path/to/keyward]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=serve/common.sh
source "$here/serve/common.sh"

start_anvil 31337
anvil_url="$anvil_started"
# A second chain (id 31338) served by the same process: the Wallet API routes by chainId.
start_anvil 31338
anvil2_url="$anvil_started"
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
node serve/setup.mjs "$anvil2_url"
node serve/setup.mjs "$anvil_url"
node serve/place-mav2.mjs "$anvil_url"
write_keys

echo "==> keyward deploy --dry-run, deploy, deploy again"
"$bin" deploy --rpc-url "$anvil_url" --private-key-env DEPLOYER_KEY --paymaster-signer "$pm_signer" \
  --paymaster-deposit 100 --dry-run | tee "$work/dry.txt"
grep -q "dry run: nothing sent" "$work/dry.txt"
[ "$(curl -s -X POST "$anvil_url" -H 'content-type: application/json' \
  -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getTransactionCount\",\"params\":[\"$deployer\",\"latest\"]}" \
  | grep -o '"result":"[^"]*"')" = '"result":"0x0"' ] || { echo "the dry run sent a transaction" >&2; exit 1; }
"$bin" deploy --rpc-url "$anvil_url" --private-key-env DEPLOYER_KEY --paymaster-signer "$pm_signer" \
  --paymaster-deposit 100 | tee "$work/deploy.txt"
"$bin" deploy --rpc-url "$anvil_url" --private-key-env DEPLOYER_KEY --paymaster-signer "$pm_signer" \
  --paymaster-deposit 100 | tee "$work/again.txt"
grep -q "nothing to do" "$work/again.txt" || { echo "a second deploy planned transactions" >&2; exit 1; }
"$bin" deploy --rpc-url "$anvil2_url" --private-key-env DEPLOYER_KEY >"$work/deploy2.txt"

port="$(free_port)"
cat >"$work/policies.toml" <<TOML
[[policy]]
id = "4337e2b0-1a6d-4c3e-9f00-000000004337"
name = "e2e: anything"
TOML
cat >"$work/keyward.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
cors_origins = ["*"]

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

[[chain]]
id = 31338
rpc_url = "$anvil2_url"
stack = "keyward"
deployer = "$deployer"
bundler_keys = ["file:bundler.key"]
TOML

echo "==> keyward keys"
key_of() { "$bin" keys create --config "$work/keyward.toml" "$@" | awk '/^secret/ {print $2}'; }
sdk_key="$(key_of --name sdk --rate 0)"
limited_key="$(key_of --name limited --rate 3)"
other_chain_key="$(key_of --name other-chain --chains 1 --rate 0)"
revoked_key="$(key_of --name revoked --rate 0)"
revoked_id="$("$bin" keys list --config "$work/keyward.toml" | awk '$2 == "revoked" {print $1}')"
"$bin" keys revoke --config "$work/keyward.toml" "$revoked_id"
"$bin" keys list --config "$work/keyward.toml"

# Starts `keyward serve --config $1` (default: keyward.toml) and waits for /ready on $port.
start_serve() {
  "$bin" serve --config "${1:-$work/keyward.toml}" >>"$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return 0
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "keyward serve (${1:-keyward.toml}) did not get ready; its log:" >&2
  tail -n 60 "$work/serve.log" >&2
  exit 1
}

status=0
start_serve
base="http://127.0.0.1:$port"
export KEYWARD_CHAIN_URL="$anvil_url" KEYWARD_CHAIN2_URL="$anvil2_url" KEYWARD_SERVE_BASE="$base" KEYWARD_BIN_DIR="$(dirname "$bin")"
export KEYWARD_KEY_SDK="$sdk_key" KEYWARD_KEY_LIMITED="$limited_key" KEYWARD_KEY_REVOKED="$revoked_key" \
  KEYWARD_KEY_OTHER_CHAIN="$other_chain_key"

echo "==> the edge: keys, scopes, rates, probes"
node --test --test-reporter=spec serve/edge.test.js || status=$?

echo "==> Alchemy's real MAv2 release bytecode: account-kit's default client through Keyward's bundler"
KEYWARD_RPC_URL="$base/v2/$sdk_key" node --test --test-reporter=spec serve/mav2.test.js || status=$?

echo "==> the official SDK through keyward serve (key in the URL)"
KEYWARD_RPC_URL="$base/v2/$sdk_key" node --test --test-concurrency=1 --test-reporter=spec \
  test/15-seed-flows.test.js test/11-wallet-api.test.js || status=$?

echo "==> /metrics after the flows: bundles sent and included per key, sponsorship settled"
sleep 2 # a few chain-watcher rounds (every 0.5 s): the ledger settles from them
metrics="$(curl -sf "$base/metrics")"
for series in 'keyward_bundles_total\{.*outcome="sent"' 'keyward_bundles_total\{.*outcome="included"' \
  'keyward_sponsor_settled_total\{' 'keyward_sponsor_spent_gwei_total\{' 'keyward_rpc_requests_total\{method="wallet_sendPreparedCalls"'; do
  if ! grep -Eq "$series" <<<"$metrics"; then echo "no $series in /metrics" >&2; status=1; fi
done
grep -E '^keyward_(bundles|sponsor)_' <<<"$metrics" || true

echo "==> kill -9 right after calls were accepted, restart: nothing lost"
KEYWARD_RPC_URL="$base/v2/$sdk_key" node serve/restart.mjs send "$work/accepted.json" || status=$?
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
start_serve
KEYWARD_RPC_URL="$base/v2/$sdk_key" node serve/restart.mjs check "$work/accepted.json" || status=$?

echo "==> SIGTERM: graceful stop"
kill -TERM "$serve_pid"
for _ in $(seq 1 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$serve_pid" 2>/dev/null; then echo "keyward serve did not stop on SIGTERM" >&2; status=1; fi
grep -q '"stopped"\|stopped' "$work/serve.log" || { echo "no clean stop in the log" >&2; status=1; }

echo "==> stack = \"mav2\": the Wallet API over Alchemy's real MAv2 release bytecode (SQLite store)"
port="$(free_port)"
cat >"$work/mav2.toml" <<TOML
[server]
listen = "127.0.0.1:$port"

[store]
url = "sqlite://$work/mav2.db"

[[chain]]
id = 31337
rpc_url = "$anvil_url"
stack = "mav2"
deployer = "$deployer"                        # for Keyward's VerifyingPaymaster
bundler_keys = ["file:bundler3.key"]

[chain.addresses]
allowlist = "0x0000000000002311EEE9A2B887af1F144dbb4F6e"   # the AllowlistModule release the oracle carries

[chain.paymaster]
signer = "file:paymaster.key"
policies = "policies.toml"
TOML
mav2_key="$("$bin" keys create --config "$work/mav2.toml" --name mav2 --rate 0 | awk '/^secret/ {print $2}')"
start_serve "$work/mav2.toml"
KEYWARD_STACK=mav2 KEYWARD_RPC_URL="http://127.0.0.1:$port/v2/$mav2_key" node --test --test-concurrency=1 \
  --test-reporter=spec test/11-wallet-api.test.js || status=$?
kill -TERM "$serve_pid"

if [ "$status" != 0 ]; then
  echo "serve.sh: failed (exit $status); keyward serve log:" >&2
  tail -n 80 "$work/serve.log" >&2
fi
exit "$status"
