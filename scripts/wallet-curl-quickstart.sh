#!/usr/bin/env bash
# The README's "Quick start: Wallet API" with curl, as written: against a running `keyward dev`,
# an owner gets a smart account, grants a session key a scoped permission, and the session key
# makes a call from the account with its gas sponsored by the default policy of `keyward dev` — no
# funding step: the script then checks onchain that the account was deployed and still holds 0 ETH.
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
OWNER_KEY=$(new_key)   # a fresh owner: a new account, never funded (and reruns start afresh)
OWNER=$(address_of "$OWNER_KEY")
SESSION_KEY=$(new_key)
SESSION=$(address_of "$SESSION_KEY")
RECIPIENT=$(address_of "$(new_key)")
POLICY=4337e2b0-1a6d-4c3e-9f00-000000004337                              # keyward dev's default policy

# 1. The owner's smart account (counterfactual: deployed by its first operation).
ACCOUNT=$(rpc wallet_requestAccount "{\"signerAddress\":\"$OWNER\"}" | jq -r .accountAddress)
echo "account  $ACCOUNT (owner $OWNER)"
# No funding: the account holds 0 ETH, the policy pays its gas.

# 2. A session: the key may call only RECIPIENT, for one hour.
EXPIRY=$(( $(date +%s) + 3600 ))
SESSION_ANSWER=$(rpc wallet_createSession "{
  \"account\": \"$ACCOUNT\", \"chainId\": \"$CHAIN\", \"expirySec\": $EXPIRY,
  \"key\": {\"type\": \"secp256k1\", \"publicKey\": \"$SESSION\"},
  \"permissions\": [{\"type\": \"contract-access\", \"data\": {\"address\": \"$RECIPIENT\"}}]}")
SESSION_ID=$(jq -r .sessionId <<<"$SESSION_ANSWER")
# The owner signs the session's typed data (rawPayload is its EIP-712 digest).
OWNER_SIG=$(sign "$OWNER_KEY" "$(jq -r .signatureRequest.rawPayload <<<"$SESSION_ANSWER")")
CONTEXT="0x00${SESSION_ID#0x}${OWNER_SIG#0x}"
echo "session  $SESSION_ID (key $SESSION)"

# 3. The session key prepares a call to RECIPIENT (no ETH moved), sponsored by the policy.
PREPARED=$(rpc wallet_prepareCalls "{
  \"from\": \"$ACCOUNT\", \"chainId\": \"$CHAIN\",
  \"calls\": [{\"to\": \"$RECIPIENT\", \"value\": \"0x0\"}],
  \"capabilities\": {\"permissions\": {\"context\": \"$CONTEXT\"},
                     \"paymasterService\": {\"policyId\": \"$POLICY\"}}}")
[ "$(jq .feePayment.sponsored <<<"$PREPARED")" = true ] || { echo "quickstart: not sponsored: $PREPARED" >&2; exit 1; }
# 4. …signs the user operation (rawPayload = EIP-191 digest of the userOpHash)…
SESSION_SIG=$(sign "$SESSION_KEY" "$(jq -r .signatureRequest.rawPayload <<<"$PREPARED")")
# 5. …and sends it (with the same capabilities).
SIGNED=$(jq -c --arg sig "$SESSION_SIG" --arg ctx "$CONTEXT" --arg policy "$POLICY" \
  '{type, data, chainId, signature: {type: "secp256k1", data: $sig},
    capabilities: {permissions: {context: $ctx}, paymasterService: {policyId: $policy}}}' \
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

# The effect, onchain: the account is deployed (it has code) and still holds 0 ETH (the paymaster
# paid the gas).
eth() {
  curl -sS -X POST "$URL" -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":[\"$2\",\"latest\"]}" | jq -r .result
}
CODE_HEX=$(eth eth_getCode "$ACCOUNT")
BALANCE=$(eth eth_getBalance "$ACCOUNT")
echo "onchain  $ACCOUNT: $(( (${#CODE_HEX} - 2) / 2 )) bytes of code, balance $BALANCE wei"
[ "${#CODE_HEX}" -gt 2 ] || { echo "quickstart: the account has no code" >&2; exit 1; }
[ "$BALANCE" = 0x0 ] || { echo "quickstart: expected the account to hold 0 wei (gas sponsored)" >&2; exit 1; }
echo "quickstart: ok"
