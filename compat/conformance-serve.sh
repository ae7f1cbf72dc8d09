#!/usr/bin/env bash
# The ERC-4337 bundler conformance suite (eth-infinitism bundler-spec-tests v0.7, the offline kit
# in ../shared/conformance/bundler-spec-tests) against `keyward serve` on anvil: production mode's
# remote-node path, where ERC-7562 validation is traced locally in revm over the node's state
# (crates/chain/src/remote_state.rs), the mempool and reputation live in PostgreSQL, and every
# request passes the API-key gate.
#
#   usage: bash scripts/with-postgres.sh bash compat/conformance-serve.sh [path/to/keyward] [pytest args]
#
# It writes a keyward.toml with `[server] test_controls = true` (debug_bundler_* on /chain/31337),
# one bundler key, and the suite's stake settings (`[chain.bundler]`: 1 ETH, 2 s: the suite stakes
# its entities with 1 ETH and a 2 s unstake delay), creates an API key, then runs the kit's run.sh
# (its venv, solc-js and compiled test contracts, shared with the `keyward dev` run in the same work
# directory) with three pytest options that override run.sh's own:
#   --url            http://127.0.0.1:PORT/v2/KEY/chain/31337   (keyward serve, key in the URL)
#   --ethereum-node  http://127.0.0.1:ANVIL_PORT                (anvil: the suite's deployments)
#   --launcher-script compat/serve/conformance-launcher.sh      (anvil + deploy + keyward serve)
# Exit status: pytest's, through run.sh (0: all passed).
#
# Environment: KEYWARD_SPEC_KIT (default ../shared/conformance/bundler-spec-tests from the repo
# root), KEYWARD_SPEC_WORK (default target/bundler-spec-tests, relative to the repo root; the venv
# and compiled contracts are reused from there; its pytest.log is this run's), KEYWARD_SPEC_VERBOSE=1
# (stream pytest's output), RUST_LOG (keyward serve's log filter, default info).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin_arg="$here/../target/debug/keyward"
case "${1:-}" in ""|-*|tests/*) ;; *) bin_arg="$1"; shift ;; esac
# shellcheck source=serve/common.sh
source "$here/serve/common.sh" "$bin_arg"

kit="${KEYWARD_SPEC_KIT:-$root/../shared/conformance/bundler-spec-tests}"
[ -f "$kit/run.sh" ] || { echo "conformance-serve: no conformance kit at $kit" >&2; exit 2; }
spec_work="${KEYWARD_SPEC_WORK:-$root/target/bundler-spec-tests}"
case "$spec_work" in /*) ;; *) spec_work="$root/$spec_work" ;; esac
mkdir -p "$spec_work"
launcher="$here/serve/conformance-launcher.sh"

anvil_port="$(free_port)"
port="$(free_port)"
write_keys

cat >"$work/keyward.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
# UNSAFE IN PRODUCTION: debug_bundler_* on /chain/ID, for the conformance suite. API keys stay
# required (the default): the suite sends its key in the URL.
test_controls = true

[store]
url = "$KEYWARD_TEST_POSTGRES_URL"

[[chain]]
id = 31337
rpc_url = "http://127.0.0.1:$anvil_port"
stack = "keyward"
deployer = "$deployer"
bundler_keys = ["file:bundler.key"]

# ERC-7562's MIN_STAKE_VALUE and MIN_UNSTAKE_DELAY for this test chain: the suite stakes its
# paymasters, factories and accounts with 1 ETH and a 2 s unstake delay. (Production: 0.1 ETH, 1 day.)
[chain.bundler]
min_stake_wei = "1000000000000000000"
min_unstake_delay_secs = 2
TOML

key="$("$bin" keys create --config "$work/keyward.toml" --name conformance --rate 0 | awk '/^secret/ {print $2}')"
[ -n "$key" ] || { echo "conformance-serve: keyward keys create printed no secret" >&2; exit 1; }

export KEYWARD_BIN="$bin" KW_CONF_WORK="$work" KW_CONF_CONFIG="$work/keyward.toml" KW_CONF_ANVIL="$anvil" \
  KW_CONF_ANVIL_PORT="$anvil_port" KW_CONF_SERVE_URL="http://127.0.0.1:$port" KW_CONF_STAKE_ETH=1 \
  KEYWARD_LOG="$spec_work/keyward-serve.log" KEYWARD_SPEC_WORK="$spec_work"
# The launcher's processes are not children of this shell: stop them whatever happens to pytest.
trap 'bash "$launcher" stop 2>/dev/null; cleanup' EXIT

echo "==> bundler-spec-tests against keyward serve (anvil $KW_CONF_ANVIL_PORT, serve $port, PostgreSQL store)"
t0=$(date +%s)
status=0
bash "$kit/run.sh" --url "http://127.0.0.1:$port/v2/$key/chain/31337" --ethereum-node "http://127.0.0.1:$anvil_port" \
  --launcher-script "$launcher" "$@" || status=$?
echo "conformance-serve: pytest exit code $status after $(( $(date +%s) - t0 ))s; keyward serve's log: $KEYWARD_LOG"
if [ "$status" -ne 0 ]; then
  echo "--- last lines of keyward serve's log" >&2
  tail -n 30 "$KEYWARD_LOG" >&2 || true
  echo "--- last lines of the launcher's anvil and keyward deploy log" >&2
  tail -n 20 "$work/anvil.log" >&2 || true
fi
exit "$status"
