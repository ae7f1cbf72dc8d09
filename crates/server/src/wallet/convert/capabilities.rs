//! `wallet_getCapabilities`.

use std::collections::BTreeMap;

use keyward_api::wallet::HexNumber;
use keyward_wallet::WalletResult;
use keyward_wallet::types::Capabilities;

/// The capabilities of one chain as the wire keys and shows them.
pub(in crate::wallet) fn capabilities(
    c: Capabilities,
) -> WalletResult<(HexNumber, BTreeMap<String, serde_json::Value>)> {
    let supported = |yes: bool| serde_json::json!({ "supported": yes });
    let atomic = if c.atomic { "supported" } else { "unsupported" };
    let shown = [
        ("atomic".to_string(), serde_json::json!({ "status": atomic })),
        ("paymasterService".to_string(), supported(c.paymaster_service)),
        ("eip7702Auth".to_string(), supported(c.eip7702_auth)),
        ("permissions".to_string(), supported(c.permissions)),
    ]
    .into_iter()
    .collect();
    Ok((super::hex_number(c.chain_id)?, shown))
}
