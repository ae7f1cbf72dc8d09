//! Names the custom errors inside revert data (`AA23 reverted (revert data 0x…)`), from the ABIs of
//! Keyward's compiled contracts, so a refusal says which hook or module refused and why.

use std::collections::HashMap;
use std::sync::OnceLock;

use alloy::dyn_abi::DynSolValue;
use alloy::json_abi::Error as AbiError;
use alloy_dyn_abi::JsonAbiExt;

/// Every custom error of the compiled contracts, by selector.
fn errors() -> &'static HashMap<[u8; 4], AbiError> {
    static ERRORS: OnceLock<HashMap<[u8; 4], AbiError>> = OnceLock::new();
    ERRORS.get_or_init(|| {
        keyward_contracts::artifacts::all()
            .into_iter()
            .flat_map(|a| a.abi.errors().cloned().collect::<Vec<_>>())
            .map(|e| (e.selector().0, e))
            .collect()
    })
}

/// `Name(arg, …)` for revert data whose selector is a known error (nested revert data in `bytes`
/// arguments is named too), or `None`.
pub fn describe_revert(data: &[u8]) -> Option<String> {
    describe_depth(data, 0)
}

fn describe_depth(data: &[u8], depth: usize) -> Option<String> {
    if data.len() < 4 || depth > 4 {
        return None;
    }
    let error = errors().get(&[data[0], data[1], data[2], data[3]])?;
    let args = error.abi_decode_input(&data[4..]).ok()?;
    let shown: Vec<String> = args
        .iter()
        .map(|v| match v {
            DynSolValue::Bytes(b) => describe_depth(b, depth + 1).unwrap_or_else(|| alloy::hex::encode_prefixed(b)),
            DynSolValue::Address(a) => a.to_string(),
            DynSolValue::Uint(u, _) => u.to_string(),
            DynSolValue::FixedBytes(w, n) => alloy::hex::encode_prefixed(&w[..*n]),
            other => format!("{other:?}"),
        })
        .collect();
    Some(format!("{}({})", error.name, shown.join(", ")))
}

/// `message` with every `revert data 0x…` it contains followed by the errors' names.
pub fn explain(message: &str) -> String {
    let marker = "revert data 0x";
    let Some(at) = message.find(marker) else { return message.to_string() };
    let start = at + marker.len() - 2;
    let end =
        message[start + 2..].find(|c: char| !c.is_ascii_hexdigit()).map(|i| start + 2 + i).unwrap_or(message.len());
    let Ok(data) = alloy::hex::decode(&message[start..end]) else { return message.to_string() };
    match describe_revert(&data) {
        Some(named) => format!("{}: {named}{}", &message[..end], &message[end..]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;
    use alloy::sol_types::SolValue;

    fn selector(signature: &str) -> Vec<u8> {
        keccak256(signature)[..4].to_vec()
    }

    #[test]
    fn names_nested_errors_and_leaves_unknown_data_alone() {
        let inner = selector("ExceededNativeTokenLimit()");
        let mut outer = selector("PreUserOpValidationHookReverted(bytes24,bytes)");
        outer.extend(
            (alloy::primitives::FixedBytes::<24>::repeat_byte(0xab), alloy::primitives::Bytes::from(inner.clone()))
                .abi_encode_params(),
        );
        let named = describe_revert(&outer).expect("known error");
        assert!(named.starts_with("PreUserOpValidationHookReverted(0xabab"), "{named}");
        assert!(named.ends_with("ExceededNativeTokenLimit())"), "{named}");
        let message = format!("AA23 reverted (revert data {})", alloy::hex::encode_prefixed(&inner));
        assert_eq!(
            explain(&message),
            format!("AA23 reverted (revert data {}: ExceededNativeTokenLimit())", alloy::hex::encode_prefixed(&inner))
        );
        assert_eq!(explain("AA23 reverted (revert data 0xdeadbeef)"), "AA23 reverted (revert data 0xdeadbeef)");
        assert_eq!(explain("no data here"), "no data here");
    }
}
