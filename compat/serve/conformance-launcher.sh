#!/usr/bin/env bash
# --launcher-script of the ERC-4337 conformance suite (bundler-spec-tests) against `keyward serve`:
# `conformance-launcher.sh {start|stop|restart}`. Modelled on the kit's launcher.sh, which starts
# `keyward dev`; here the chain and the bundler are two processes, as in production:
#
#   start    anvil (prague, chain 31337) on $KW_CONF_ANVIL_PORT, the canonical EntryPoint v0.7 put
#            in place (serve/setup.mjs), the suite's account funded, `keyward deploy` (Keyward's
#            stack, staked with --stake $KW_CONF_STAKE_ETH), then `keyward serve --config
#            $KW_CONF_CONFIG`, waited for until /ready answers 200
#   stop     keyward serve (SIGTERM: graceful; SIGKILL after 30 s), then anvil
#   restart  keyward serve only: the chain goes on, as a node does when a service restarts
#
# It signals only the processes it started, named in $KW_CONF_WORK/launcher.pid with their start
# times. compat/conformance-serve.sh writes the config and sets the environment:
#   KEYWARD_BIN        the keyward binary
#   KW_CONF_WORK       directory for the PID file and anvil's log
#   KW_CONF_CONFIG     keyward.toml for `keyward serve` (its [[chain]] rpc_url is the anvil URL)
#   KW_CONF_ANVIL      the anvil binary;  KW_CONF_ANVIL_PORT  its port
#   KW_CONF_SERVE_URL  http://HOST:PORT of `keyward serve` (its [server] listen)
#   KW_CONF_STAKE_ETH  the stake of Keyward's factory and paymaster (default 0.1)
#   DEPLOYER_KEY       the deployer's private key (`keyward deploy --private-key-env DEPLOYER_KEY`)
#   KEYWARD_LOG        where serve's output goes (default $KW_CONF_WORK/serve.log)
#   KEYWARD_START_TIMEOUT  seconds to wait for anvil, then for serve (default 60)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "launcher: $*" >&2; }
for v in KEYWARD_BIN KW_CONF_WORK KW_CONF_CONFIG KW_CONF_ANVIL KW_CONF_ANVIL_PORT KW_CONF_SERVE_URL DEPLOYER_KEY; do
  [ -n "${!v:-}" ] || { say "error: $v is not set (run compat/conformance-serve.sh)"; exit 1; }
done
WORK=$KW_CONF_WORK
PIDFILE=$WORK/launcher.pid
LOG=${KEYWARD_LOG:-$WORK/serve.log}
ANVIL_URL="http://127.0.0.1:$KW_CONF_ANVIL_PORT"
TIMEOUT=${KEYWARD_START_TIMEOUT:-60}
# The suite's `w3` fixture sends every set-up transaction (contracts, deposits, 1 ETH stakes) from
# eth_accounts[0] of --ethereum-node: anvil's first dev account, given 100,000 ETH here as the
# kit's launcher gives its account.
SUITE_BALANCE=0x152d02c7e14af6800000

rpc() { # URL JSON: the response body, empty when there is no answer
  curl -s -m 5 -X POST "$1" -H 'content-type: application/json' -d "$2" 2>/dev/null
}

# Start time of a process (field 22 of /proc/PID/stat): tells our process from a later one with
# the same PID.
proc_start() { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# ours NAME: the PID of NAME (anvil | serve) if it is still the process we started.
ours() {
  [ -f "$PIDFILE" ] || return 1
  local name pid started
  while read -r name pid started; do
    [ "$name" = "$1" ] || continue
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(proc_start "$pid")" = "$started" ] || return 1
    echo "$pid"
    return 0
  done <"$PIDFILE"
  return 1
}

remember() { # NAME PID
  local kept=""
  [ -f "$PIDFILE" ] && kept="$(grep -v "^$1 " "$PIDFILE")"
  { [ -n "$kept" ] && echo "$kept"; echo "$1 $2 $(proc_start "$2")"; } >"$PIDFILE"
}

forget() { [ -f "$PIDFILE" ] && { grep -v "^$1 " "$PIDFILE" >"$PIDFILE.new"; mv "$PIDFILE.new" "$PIDFILE"; }; }

# Runs a process in its own session (a Ctrl-C on the terminal reaches pytest, not it).
spawn() { # LOGFILE CMD...
  local log=$1 setsid=()
  shift
  command -v setsid >/dev/null 2>&1 && setsid=(setsid)
  ${setsid[@]+"${setsid[@]}"} "$@" >>"$log" 2>&1 </dev/null &
  spawned=$!
}

start_anvil() {
  if ours anvil >/dev/null; then return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$KW_CONF_ANVIL_PORT") 2>/dev/null; then
    say "error: port $KW_CONF_ANVIL_PORT (anvil) is already in use"; return 1
  fi
  spawn "$WORK/anvil.log" "$KW_CONF_ANVIL" --hardfork prague --port "$KW_CONF_ANVIL_PORT" --chain-id 31337 --silent
  remember anvil "$spawned"
  local i
  for i in $(seq 1 $((TIMEOUT * 10))); do
    rpc "$ANVIL_URL" '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' | grep -q '"result"' && break
    kill -0 "$spawned" 2>/dev/null || { say "error: anvil exited, see $WORK/anvil.log"; return 1; }
    [ "$i" -lt $((TIMEOUT * 10)) ] || { say "error: anvil did not answer on $ANVIL_URL"; return 1; }
    sleep 0.1
  done
  # The canonical EntryPoint v0.7 at its address, as on every real chain.
  node "$here/setup.mjs" "$ANVIL_URL" >>"$WORK/anvil.log" 2>&1 || { say "error: placing the EntryPoint failed"; return 1; }
  local account
  account="$(rpc "$ANVIL_URL" '{"jsonrpc":"2.0","id":1,"method":"eth_accounts","params":[]}' | grep -o '0x[0-9a-fA-F]\{40\}' | head -n 1)"
  [ -n "$account" ] || { say "error: anvil has no eth_accounts"; return 1; }
  rpc "$ANVIL_URL" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"anvil_setBalance\",\"params\":[\"$account\",\"$SUITE_BALANCE\"]}" \
    | grep -q '"result"' || { say "error: funding the suite's account $account failed"; return 1; }
  # Keyward's stack (factory, implementations, modules, paymaster), staked as configured.
  "$KEYWARD_BIN" deploy --rpc-url "$ANVIL_URL" --private-key-env DEPLOYER_KEY \
    --stake "${KW_CONF_STAKE_ETH:-0.1}" >>"$WORK/anvil.log" 2>&1 \
    || { say "error: keyward deploy failed, see $WORK/anvil.log"; return 1; }
  say "anvil pid $spawned on $ANVIL_URL (EntryPoint v0.7, Keyward's stack; suite account $account)"
}

start_serve() {
  echo "=== $(date '+%Y-%m-%dT%H:%M:%S%z') $KEYWARD_BIN serve --config $KW_CONF_CONFIG" >>"$LOG"
  spawn "$LOG" env RUST_LOG="${RUST_LOG:-info}" "$KEYWARD_BIN" serve --config "$KW_CONF_CONFIG"
  remember serve "$spawned"
  local i
  for i in $(seq 1 $((TIMEOUT * 5))); do
    curl -sf -m 5 "$KW_CONF_SERVE_URL/ready" >/dev/null && { say "keyward serve pid $spawned ready on $KW_CONF_SERVE_URL"; return 0; }
    kill -0 "$spawned" 2>/dev/null || { say "error: keyward serve exited during start-up, see $LOG"; tail -n 20 "$LOG" >&2; return 1; }
    [ "$i" -lt $((TIMEOUT * 5)) ] || break
    sleep 0.2
  done
  say "error: keyward serve not ready on $KW_CONF_SERVE_URL after ${TIMEOUT}s, see $LOG"
  return 1
}

stop_one() { # NAME SECONDS: SIGTERM, then SIGKILL after SECONDS
  local pid i
  if pid=$(ours "$1"); then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "warning: $1 (pid $pid) did not stop within $2 s of SIGTERM; SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    else
      say "$1 pid $pid stopped"
    fi
  fi
  forget "$1"
}

# A failed start stops what it started; one refused because serve is running stops nothing.
start() {
  local pid
  if pid=$(ours serve); then say "error: keyward serve already running (pid $pid)"; return 1; fi
  start_anvil && start_serve || { stop; return 1; }
}
stop() { stop_one serve 30; stop_one anvil 5; rm -f "$PIDFILE"; }

mkdir -p "$WORK" || exit 1
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop_one serve 30; start ;;
  *) echo "usage: $0 {start|stop|restart}" >&2; exit 2 ;;
esac
