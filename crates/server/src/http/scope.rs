//! What one JSON-RPC request asks to use — the chains it acts on and the gas policies it names —
//! read from its JSON, so the API key check can refuse a chain or a policy the key does not grant
//! before any handler runs.

use serde_json::Value;

/// The chains and gas policies named by one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    /// Chain ids the request acts on (empty: chain-agnostic, as `wallet_listAccounts`).
    pub chains: Vec<u64>,
    /// Gas-policy ids it asks to be sponsored by.
    pub policies: Vec<String>,
}

/// The chains and policies of `request` (one JSON-RPC request object) sent on `route_chain`'s
/// path (`None` for the Wallet API root, where the chain comes from the request).
pub fn requested(request: &Value, route_chain: Option<u64>) -> Requested {
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = request.get("params");
    let first = params.and_then(|p| p.get(0));
    let mut out = Requested::default();
    match route_chain {
        Some(chain) => out.chains.push(chain),
        None => {
            if method == "wallet_getCallsStatus" {
                out.chains.extend(first.and_then(Value::as_str).and_then(call_id_chain));
            }
            if let Some(first) = first {
                out.chains.extend(first.get("chainId").and_then(hex_u64));
                // `wallet_sendPreparedCalls` of `type: "array"`: each item names its chain.
                if let Some(items) = first.get("data").and_then(Value::as_array) {
                    out.chains.extend(items.iter().filter_map(|i| i.get("chainId").and_then(hex_u64)));
                }
            }
        }
    }
    let wallet_policy = first.and_then(|f| f.pointer("/capabilities/paymasterService/policyId"));
    let pm_policy = if method.starts_with("pm_") { params.and_then(|p| p.pointer("/3/policyId")) } else { None };
    out.policies.extend([wallet_policy, pm_policy].into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
    out
}

/// A `0x`-hex quantity as u64 (absent or malformed: `None`, left to the handler to refuse).
fn hex_u64(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// The chain id of a Wallet API call id (`0x ‖ chainId (32 bytes) ‖ userOpHash`).
fn call_id_chain(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("0x")?;
    if hex.len() != 128 {
        return None;
    }
    u64::from_str_radix(hex.get(48..64)?, 16).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wallet_requests_name_their_chain_and_policy() {
        let prepare = json!({"method": "wallet_prepareCalls", "params": [{
            "chainId": "0xaa36a7", "capabilities": {"paymasterService": {"policyId": "p-1"}}}]});
        assert_eq!(requested(&prepare, None), Requested { chains: vec![11155111], policies: vec!["p-1".into()] });
        let status_id = format!("0x{:064x}{}", 10u64, "ab".repeat(32));
        let status = json!({"method": "wallet_getCallsStatus", "params": [status_id]});
        assert_eq!(requested(&status, None).chains, vec![10]);
        let array = json!({"method": "wallet_sendPreparedCalls", "params": [{"type": "array",
            "data": [{"chainId": "0x1"}, {"chainId": "0x2"}]}]});
        assert_eq!(requested(&array, None).chains, vec![1, 2]);
        let list = json!({"method": "wallet_listAccounts", "params": [{"signerAddress": "0x00"}]});
        assert_eq!(requested(&list, None), Requested::default());
    }

    #[test]
    fn chain_routes_take_the_path_chain_and_the_paymaster_context() {
        let pm = json!({"method": "pm_getPaymasterData", "params": [{}, "0x00", "0x1", {"policyId": "p-2"}]});
        assert_eq!(requested(&pm, Some(5)), Requested { chains: vec![5], policies: vec!["p-2".into()] });
        let send = json!({"method": "eth_sendUserOperation", "params": [{"chainId": "0x9"}]});
        assert_eq!(requested(&send, Some(5)).chains, vec![5]);
    }
}
