#!/usr/bin/env bash
# The README's "Quick start: Wallet API" with curl, as written: against a running `keyward dev`,
# an owner gets a smart account, grants a session key a scoped permission, and the session key
# sends ETH from the account — then the script checks the recipient's balance onchain.
#
#   usage: bash scripts/wallet-curl-quickstart.sh [URL]     (default http://127.0.0.1:4337)
#   needs: curl, jq, node with viem (compat/node_modules: `cd compat && npm ci`), only to sign.
set -euo pipefail

URL="${1:-${KEYWARD_URL:-http://127.0.0.1:4337}}"
COMPAT="$(cd "$(dirname "$0")/../compat" && pwd)"
for tool in curl jq node; do
  command -v "$tool" >/dev/null || { echo "quickstart: $tool is required" >&2; exit 2; }
done
[ -d "$COMPAT/node_modules/viem" ] || { echo "quickstart: run 'cd compat && npm ci' first (viem signs)" >&2; exit 2; }

# rpc METHOD PARAM_JSON → the result (exits with the JSON-RPC error if there is one).
rpc() {
  local body answer
  body=$(jq -nc --arg m "$1" --argjson p "$2" '{jsonrpc: "2.0", id: 1, method: $m, params: [$p]}')
  answer=$(curl -sS -X POST "$URL" -H 'content-type: application/json' -d "$body")
  if [ "$(jq 'has("error")' <<<"$answer")" = true ]; then
    echo "quickstart: $1 failed: $(jq -c .error <<<"$answer")" >&2
    exit 1
  fi
  jq -c .result <<<"$answer"
}
# sign KEY DIGEST → the raw 65-byte ECDSA signature of a 32-byte digest (viem, v = 27/28).
sign() {
  (cd "$COMPAT" && node --input-type=module -e \
    "import { privateKeyToAccount } from 'viem/accounts'
     console.log(await privateKeyToAccount(process.argv[1]).sign({ hash: process.argv[2] }))" "$1" "$2")
}
# A fresh private key (the session key).
new_key() {
  (cd "$COMPAT" && node --input-type=module -e \
    "import { generatePrivateKey } from 'viem/accounts'; console.log(generatePrivateKey())")
}
address_of() {
  (cd "$COMPAT" && node --input-type=module -e \
    "import { privateKeyToAccount } from 'viem/accounts'; console.log(privateKeyToAccount(process.argv[1]).address)" "$1")
}

CHAIN=0x7a69                                                             # 31337
OWNER_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d  # dev key #1
OWNER=$(address_of "$OWNER_KEY")
SESSION_KEY=$(new_key)
SESSION=$(address_of "$SESSION_KEY")
RECIPIENT=$(address_of "$(new_key)")

# 1. The owner's smart account (counterfactual: deployed by its first operation).
ACCOUNT=$(rpc wallet_requestAccount "{\"signerAddress\":\"$OWNER\"}" | jq -r .accountAddress)
echo "account  $ACCOUNT (owner $OWNER)"
# It pays its own gas here: give it 1 ETH (a dev-chain method).
curl -sS -X POST "$URL" -H 'content-type: application/json' \
  -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"anvil_setBalance\",\"params\":[\"$ACCOUNT\",\"0xde0b6b3a7640000\"]}" >/dev/null

# 2. A session: the key may send at most 0.01 ETH, only to RECIPIENT, for one hour.
EXPIRY=$(( $(date +%s) + 3600 ))
SESSION_ANSWER=$(rpc wallet_createSession "{
  \"account\": \"$ACCOUNT\", \"chainId\": \"$CHAIN\", \"expirySec\": $EXPIRY,
  \"key\": {\"type\": \"secp256k1\", \"publicKey\": \"$SESSION\"},
  \"permissions\": [
    {\"type\": \"native-token-transfer\", \"data\": {\"allowance\": \"0x2386f26fc10000\"}},
    {\"type\": \"contract-access\", \"data\": {\"address\": \"$RECIPIENT\"}}]}")
SESSION_ID=$(jq -r .sessionId <<<"$SESSION_ANSWER")
# The owner signs the session's typed data (rawPayload is its EIP-712 digest).
OWNER_SIG=$(sign "$OWNER_KEY" "$(jq -r .signatureRequest.rawPayload <<<"$SESSION_ANSWER")")
CONTEXT="0x00${SESSION_ID#0x}${OWNER_SIG#0x}"
echo "session  $SESSION_ID (key $SESSION)"

# 3. The session key prepares a call: 0.001 ETH to RECIPIENT.
PREPARED=$(rpc wallet_prepareCalls "{
  \"from\": \"$ACCOUNT\", \"chainId\": \"$CHAIN\",
  \"calls\": [{\"to\": \"$RECIPIENT\", \"value\": \"0x38d7ea4c68000\"}],
  \"capabilities\": {\"permissions\": {\"context\": \"$CONTEXT\"}}}")
# 4. …signs the user operation (rawPayload = EIP-191 digest of the userOpHash)…
SESSION_SIG=$(sign "$SESSION_KEY" "$(jq -r .signatureRequest.rawPayload <<<"$PREPARED")")
# 5. …and sends it.
SIGNED=$(jq -c --arg sig "$SESSION_SIG" --arg ctx "$CONTEXT" \
  '{type, data, chainId, signature: {type: "secp256k1", data: $sig}, capabilities: {permissions: {context: $ctx}}}' \
  <<<"$PREPARED")
CALL_ID=$(rpc wallet_sendPreparedCalls "$SIGNED" | jq -r .id)
echo "call     $CALL_ID"

# 6. Wait for the status: 100 pending, 200 confirmed, ≥ 300 failed.
for _ in $(seq 1 100); do
  STATUS=$(rpc wallet_getCallsStatus "\"$CALL_ID\"")
  CODE=$(jq .status <<<"$STATUS")
  [ "$CODE" -ge 200 ] && break
  sleep 0.2
done
echo "status   $CODE, tx $(jq -r '.receipts[0].transactionHash // "none"' <<<"$STATUS")"
[ "$CODE" = 200 ] || { echo "quickstart: the call did not succeed: $STATUS" >&2; exit 1; }

# The effect, onchain: RECIPIENT holds exactly 0.001 ETH.
BALANCE=$(curl -sS -X POST "$URL" -H 'content-type: application/json' \
  -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getBalance\",\"params\":[\"$RECIPIENT\",\"latest\"]}" | jq -r .result)
echo "balance  $RECIPIENT = $BALANCE wei"
[ "$BALANCE" = 0x38d7ea4c68000 ] || { echo "quickstart: expected 0x38d7ea4c68000 wei" >&2; exit 1; }
echo "quickstart: ok"
