//! Names the custom errors inside a refusal's revert data (`AA23 reverted (revert data 0x…)`), from
//! the ABIs of Keyward's compiled contracts, so a refusal says which hook or module refused and why.

use std::collections::HashMap;
use std::sync::OnceLock;

use alloy::dyn_abi::DynSolValue;
use alloy::dyn_abi::JsonAbiExt;
use alloy::json_abi::Error as AbiError;

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

/// The refusal's message, with the custom error inside its revert data named after the data
/// (`… (revert data 0x…: Name(args))`).
pub fn explain(reason: &keyward_bundler::RejectReason) -> String {
    let message = reason.to_string();
    let Some(data) = reason.revert_data() else { return message };
    match describe_revert(data) {
        Some(named) => {
            let hex = data.to_string();
            message.replacen(&hex, &format!("{hex}: {named}"), 1)
        }
        None => message,
    }
}
