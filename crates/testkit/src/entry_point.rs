//! Decoding what the EntryPoint says: its errors (the product's decoder) and its events.

use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEventInterface;
use keyward_primitives::EntryPointRevert;
use keyward_primitives::entry_point::IEntryPoint::IEntryPointEvents;

/// An EntryPoint revert, decoded (the product's [`EntryPointRevert`]).
pub type EpError = EntryPointRevert;

/// Decodes revert data returned by an EntryPoint call.
pub fn decode_ep_error(data: &[u8]) -> EpError {
    EntryPointRevert::decode(data)
}

/// Every EntryPoint event in `receipt`, in log order (logs of other contracts skipped).
pub fn ep_events(receipt: &TransactionReceipt, ep: alloy::primitives::Address) -> Vec<IEntryPointEvents> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == ep)
        .filter_map(|l| IEntryPointEvents::decode_log(&l.inner).ok().map(|d| d.data))
        .collect()
}
