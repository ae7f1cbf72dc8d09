//! The contracts an account call reaches: `execute(target, value, data)` and `executeBatch(calls)`
//! (Modular Account V2 and Keyward's test account share these selectors), optionally wrapped in
//! `executeUserOp` (`0x8dd7712f ‖ call`).

use alloy::primitives::Address;
use alloy::sol_types::SolCall;
use keyward_primitives::mav2::abi::{EXECUTE_USER_OP_SELECTOR, IModularAccount};

/// The targets of the account call in `call_data`, in order; an error says why it cannot be read.
pub fn call_targets(call_data: &[u8]) -> Result<Vec<Address>, String> {
    let inner = call_data.strip_prefix(&EXECUTE_USER_OP_SELECTOR[..]).unwrap_or(call_data);
    let selector = inner.get(..4).ok_or_else(|| format!("call data of {} bytes has no selector", inner.len()))?;
    if selector == IModularAccount::executeCall::SELECTOR {
        let call = IModularAccount::executeCall::abi_decode(inner).map_err(|e| format!("execute: {e}"))?;
        return Ok(vec![call.target]);
    }
    if selector == IModularAccount::executeBatchCall::SELECTOR {
        let call = IModularAccount::executeBatchCall::abi_decode(inner).map_err(|e| format!("executeBatch: {e}"))?;
        return Ok(call.calls.into_iter().map(|c| c.target).collect());
    }
    Err(format!("selector 0x{} is neither execute nor executeBatch", alloy::hex::encode(selector)))
}
