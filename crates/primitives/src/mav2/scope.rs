//! Scope precheck: do calls fit a session's Wallet-API permissions? A pure mirror of what the
//! session's hooks enforce onchain (AllowlistModule targets and selectors, ERC-20 and native
//! budgets, account functions), so the server can refuse early with an error naming the
//! permission broken. Onchain enforcement stays the guarantee; budgets are checked against the
//! whole allowance (what is already spent is the modules' business).

use alloy::primitives::{Address, Bytes, U256};

use super::install::Selector;
use super::permissions::{ArgumentCondition, ConditionOp, ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR, Permission};

/// One call a session wants to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopedCall {
    /// Target.
    pub to: Address,
    /// Native value (wei).
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
}

/// Why calls fall outside a session's permissions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("call {call_index} is outside the session's {permission} permission: {reason}")]
pub struct ScopeViolation {
    /// Position of the offending call.
    pub call_index: usize,
    /// The Wallet-API permission type that does not allow it.
    pub permission: &'static str,
    /// What exactly is not allowed.
    pub reason: String,
}

/// How one target is allowed (the AllowlistModule entry the permissions install).
struct TargetEntry {
    selectors: Option<Vec<Selector>>,
    erc20_allowance: Option<U256>,
    kind: &'static str,
}

fn selector_of(data: &[u8]) -> Selector {
    let mut s = [0u8; 4];
    let n = data.len().min(4);
    s[..n].copy_from_slice(&data[..n]);
    Selector::new(s)
}

/// Checks `calls` made by a session of `account` holding `permissions`; `Ok` when every call is in
/// scope (always for `root`).
pub fn check_scope(account: Address, permissions: &[Permission], calls: &[ScopedCall]) -> Result<(), ScopeViolation> {
    if permissions.iter().any(|p| matches!(p, Permission::Root)) {
        return Ok(());
    }
    let mut account_functions: Vec<Selector> = Vec::new();
    let mut wildcard: Vec<Selector> = Vec::new();
    let mut native: Option<U256> = None;
    let mut targets: Vec<(Address, TargetEntry)> = Vec::new();
    let mut native_kind = "native-token-transfer";
    let mut max_calls: Option<u32> = None;
    let mut conditions: Vec<(Address, Selector, &ArgumentCondition)> = Vec::new();
    for p in permissions {
        match p {
            Permission::Root | Permission::GasLimit { .. } => {}
            Permission::NativeTokenTransfer { allowance } => native = Some(*allowance),
            Permission::NativeTokenPeriodic { allowance, .. } => {
                // One period's budget bounds what one operation may send.
                if native.is_none_or(|n| *allowance < n) {
                    native = Some(*allowance);
                    native_kind = p.type_name();
                }
            }
            Permission::CallLimit { count, .. } => max_calls = Some(*count),
            Permission::FunctionArguments { address, function, conditions: list } => {
                conditions.extend(list.iter().map(|c| (*address, *function, c)))
            }
            Permission::Erc20TokenPeriodic { address, allowance, .. } => targets.push((
                *address,
                TargetEntry {
                    selectors: Some(vec![ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR]),
                    erc20_allowance: Some(*allowance),
                    kind: p.type_name(),
                },
            )),
            Permission::AccountFunctions { functions } => account_functions.extend(functions.iter().copied()),
            Permission::FunctionsOnAllContracts { functions } => wildcard.extend(functions.iter().copied()),
            Permission::ContractAccess { address } => {
                targets.push((*address, TargetEntry { selectors: None, erc20_allowance: None, kind: p.type_name() }))
            }
            Permission::FunctionsOnContract { address, functions } => targets.push((
                *address,
                TargetEntry { selectors: Some(functions.clone()), erc20_allowance: None, kind: p.type_name() },
            )),
            Permission::Erc20TokenTransfer { address, allowance } => targets.push((
                *address,
                TargetEntry {
                    selectors: Some(vec![ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR]),
                    erc20_allowance: Some(*allowance),
                    kind: p.type_name(),
                },
            )),
        }
    }

    if let Some(max) = max_calls
        && calls.len() > max as usize
    {
        return Err(ScopeViolation {
            call_index: max as usize,
            permission: "call-limit",
            reason: format!("{} calls in one operation exceed the limit of {max} per period", calls.len()),
        });
    }
    let mut native_spent = U256::ZERO;
    let mut erc20_spent: Vec<(Address, U256)> = Vec::new();
    for (call_index, call) in calls.iter().enumerate() {
        let violation = |permission: &'static str, reason: String| ScopeViolation { call_index, permission, reason };
        let selector = selector_of(&call.data);
        for (target, function, c) in &conditions {
            if *target == call.to && *function == selector && call.data.len() >= 4 && !holds(c, &call.data) {
                return Err(violation(
                    "function-arguments",
                    format!("argument {} of {function} on {target} fails its {} condition", c.arg, c.op.name()),
                ));
            }
        }
        if call.to == account {
            if call.data.len() < 4 || !account_functions.contains(&selector) {
                return Err(violation(
                    "account-functions",
                    format!("account function {selector} is not granted to the session"),
                ));
            }
        } else {
            // The last entry for a target wins, as in the AllowlistModule's install.
            match targets.iter().rev().find(|(t, _)| *t == call.to).map(|(_, e)| e) {
                None => {
                    if !wildcard.contains(&selector) {
                        let permission =
                            if wildcard.is_empty() { "contract-access" } else { "functions-on-all-contracts" };
                        return Err(violation(
                            permission,
                            format!("target {} (selector {selector}) is not allowed", call.to),
                        ));
                    }
                }
                Some(entry) => {
                    if let Some(allowed) = &entry.selectors {
                        if call.data.len() < 4 {
                            return Err(violation(
                                entry.kind,
                                format!("a call to {} needs a function selector", call.to),
                            ));
                        }
                        if !allowed.contains(&selector) {
                            return Err(violation(
                                entry.kind,
                                format!("function {selector} of {} is not allowed", call.to),
                            ));
                        }
                    }
                    if let Some(allowance) = entry.erc20_allowance {
                        if call.data.len() < 68 {
                            return Err(violation(
                                entry.kind,
                                format!("malformed {selector} call to token {}", call.to),
                            ));
                        }
                        let amount = U256::from_be_slice(&call.data[36..68]);
                        let index = match erc20_spent.iter().position(|(t, _)| *t == call.to) {
                            Some(i) => i,
                            None => {
                                erc20_spent.push((call.to, U256::ZERO));
                                erc20_spent.len() - 1
                            }
                        };
                        let spent = &mut erc20_spent[index].1;
                        *spent = spent.saturating_add(amount);
                        if *spent > allowance {
                            return Err(violation(
                                entry.kind,
                                format!("{spent} units of token {} exceed the allowance of {allowance}", call.to),
                            ));
                        }
                    }
                }
            }
        }
        if let Some(allowance) = native {
            native_spent = native_spent.saturating_add(call.value);
            if native_spent > allowance {
                return Err(violation(
                    native_kind,
                    format!("{native_spent} wei exceed the allowance of {allowance} wei"),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `data`'s argument word `c.arg` satisfies `c` (as the SessionRulesModule judges it).
fn holds(c: &ArgumentCondition, data: &[u8]) -> bool {
    let from = 4 + 32 * usize::from(c.arg);
    let Some(word) = data.get(from..from + 32) else { return false };
    let arg = alloy::primitives::B256::from_slice(word);
    let first = c.values.first().copied().unwrap_or_default();
    match c.op {
        ConditionOp::Eq => arg == first,
        ConditionOp::OneOf => c.values.contains(&arg),
        ConditionOp::Lte => U256::from_be_bytes(arg.0) <= U256::from_be_bytes(first.0),
        ConditionOp::Gte => U256::from_be_bytes(arg.0) >= U256::from_be_bytes(first.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mav2::permissions::ERC20_TRANSFER_SELECTOR;
    use alloy::sol_types::SolCall;

    alloy::sol! {
        function transfer(address to, uint256 amount) external returns (bool);
        function ping() external;
    }

    const ACCOUNT: Address = Address::repeat_byte(0xac);
    const TOKEN: Address = Address::repeat_byte(0x70);
    const OTHER: Address = Address::repeat_byte(0x0f);

    fn call(to: Address, value: u64, data: Vec<u8>) -> ScopedCall {
        ScopedCall { to, value: U256::from(value), data: data.into() }
    }

    fn transfer_of(amount: u64) -> Vec<u8> {
        transferCall { to: OTHER, amount: U256::from(amount) }.abi_encode()
    }

    #[test]
    fn root_allows_everything() {
        let calls = [call(OTHER, 1, vec![1, 2, 3]), call(ACCOUNT, 0, vec![])];
        assert_eq!(check_scope(ACCOUNT, &[Permission::Root], &calls), Ok(()));
    }

    #[test]
    fn targets_and_selectors() {
        let ping = pingCall {}.abi_encode();
        let perms =
            [Permission::FunctionsOnContract { address: OTHER, functions: vec![Selector::new(pingCall::SELECTOR)] }];
        assert_eq!(check_scope(ACCOUNT, &perms, &[call(OTHER, 0, ping.clone())]), Ok(()));
        let e =
            check_scope(ACCOUNT, &perms, &[call(OTHER, 0, ping.clone()), call(OTHER, 0, transfer_of(1))]).unwrap_err();
        assert_eq!((e.call_index, e.permission), (1, "functions-on-contract"));
        let e = check_scope(ACCOUNT, &perms, &[call(TOKEN, 0, ping.clone())]).unwrap_err();
        assert_eq!(e.permission, "contract-access");
        let wild = [Permission::FunctionsOnAllContracts { functions: vec![Selector::new(pingCall::SELECTOR)] }];
        assert_eq!(check_scope(ACCOUNT, &wild, &[call(TOKEN, 0, ping)]), Ok(()));
        assert_eq!(
            check_scope(ACCOUNT, &wild, &[call(TOKEN, 0, vec![])]).unwrap_err().permission,
            "functions-on-all-contracts"
        );
        let any = [Permission::ContractAccess { address: OTHER }];
        assert_eq!(check_scope(ACCOUNT, &any, &[call(OTHER, 0, vec![])]), Ok(()));
    }

    #[test]
    fn budgets() {
        let perms = [
            Permission::Erc20TokenTransfer { address: TOKEN, allowance: U256::from(100) },
            Permission::NativeTokenTransfer { allowance: U256::from(10) },
            Permission::ContractAccess { address: OTHER },
        ];
        assert_eq!(check_scope(ACCOUNT, &perms, &[call(TOKEN, 0, transfer_of(60)), call(OTHER, 10, vec![])]), Ok(()));
        let e = check_scope(ACCOUNT, &perms, &[call(TOKEN, 0, transfer_of(60)), call(TOKEN, 0, transfer_of(41))])
            .unwrap_err();
        assert_eq!((e.call_index, e.permission), (1, "erc20-token-transfer"));
        let e = check_scope(ACCOUNT, &perms, &[call(OTHER, 6, vec![]), call(OTHER, 5, vec![])]).unwrap_err();
        assert_eq!((e.call_index, e.permission), (1, "native-token-transfer"));
        let e = check_scope(ACCOUNT, &perms, &[call(TOKEN, 0, vec![0xde, 0xad, 0xbe, 0xef])]).unwrap_err();
        assert_eq!(e.permission, "erc20-token-transfer");
        assert!(ERC20_TRANSFER_SELECTOR == Selector::new(transferCall::SELECTOR));
    }

    #[test]
    fn account_functions() {
        let sel = Selector::new([0x12, 0x34, 0x56, 0x78]);
        let perms = [Permission::AccountFunctions { functions: vec![sel] }];
        assert_eq!(check_scope(ACCOUNT, &perms, &[call(ACCOUNT, 0, vec![0x12, 0x34, 0x56, 0x78, 0])]), Ok(()));
        let e = check_scope(ACCOUNT, &perms, &[call(ACCOUNT, 0, vec![0x12, 0x34, 0x56, 0x79])]).unwrap_err();
        assert_eq!(e.permission, "account-functions");
    }
}
