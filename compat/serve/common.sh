# Shared by compat/serve.sh and compat/replicas.sh (sourced): the binary and anvil, a scratch
# directory removed on exit with every process started, free ports, and anvil nodes.
#   needs: $here (compat/), $1 (optional path to keyward)

bin="${1:-$here/../target/debug/keyward}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "$(basename "$0"): no keyward binary at $bin" >&2; exit 2; }
[ -n "${KEYWARD_TEST_POSTGRES_URL:-}" ] || { echo "$(basename "$0"): run through scripts/with-postgres.sh" >&2; exit 2; }
anvil="${KEYWARD_ANVIL:-$here/../tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
[ -x "$anvil" ] || { echo "$(basename "$0"): no anvil at $anvil (npm install --prefix tools)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/keyward-$(basename "$0" .sh).XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts anvil (prague) on a free port with chain id $1 (default 31337), waits for it, and prints
# its URL; its log goes to $work/anvil-<id>.log.
start_anvil() {
  local id="${1:-31337}" port url
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  "$anvil" --hardfork prague --port "$port" --chain-id "$id" --silent >"$work/anvil-$id.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf -X POST "$url" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' >/dev/null && break
    sleep 0.1
  done
  anvil_started="$url"
}

# anvil's dev accounts 5, 6 + 8, 7, 4 (mnemonic "test … junk"): deployer, two bundler keys,
# paymaster signer, a third bundler key.
export DEPLOYER_KEY=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
deployer=0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
pm_signer=0x14dC79964da2C08b23698B3D3cc7Ca32193d9955
write_keys() {
  echo 0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e >"$work/bundler.key"
  echo 0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97 >"$work/bundler2.key"
  echo 0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a >"$work/bundler3.key"
  echo 0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356 >"$work/paymaster.key"
  chmod 600 "$work"/*.key
}
