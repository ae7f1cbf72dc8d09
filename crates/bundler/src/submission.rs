//! What the bundler is handed and keeps: a user operation and, for the first operation of an
//! EIP-7702 account, the signed authorization that delegates its sender.

use alloy::eips::eip7702::SignedAuthorization;
use keyward_primitives::UserOperation;
use serde::{Deserialize, Serialize};

/// An operation submitted to the bundler. Its serde form is what the mempool stores: the user
/// operation's fields and `eip7702Auth` (the same JSON as the ERC-7769 request, so stored rows
/// read back whatever wrote them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The user operation.
    #[serde(flatten)]
    pub op: UserOperation,
    /// The signed EIP-7702 authorization delegating the sender, for its first operation.
    #[serde(rename = "eip7702Auth", default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<SignedAuthorization>,
}

impl Submission {
    /// An operation without authorization.
    pub fn new(op: UserOperation) -> Self {
        Self { op, authorization: None }
    }
}

/// How the bundler builds bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BundlingMode {
    /// As operations arrive.
    #[default]
    Auto,
    /// Only when asked (`bundle_now`).
    Manual,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::eips::eip7702::Authorization;
    use alloy::primitives::{Address, Signature, U256};

    #[test]
    fn stored_form_is_the_request_form() {
        let auth = Authorization { chain_id: U256::from(31337), address: Address::repeat_byte(7), nonce: 3 }
            .into_signed(Signature::new(U256::from(1), U256::from(2), true));
        let s = Submission { op: UserOperation::default(), authorization: Some(auth) };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["eip7702Auth"]["chainId"], "0x7a69");
        assert_eq!(json["eip7702Auth"]["nonce"], "0x3");
        assert_eq!(json["eip7702Auth"]["yParity"], "0x1");
        assert_eq!(json["sender"], format!("{:#x}", Address::ZERO));
        assert_eq!(serde_json::from_value::<Submission>(json).unwrap(), s);
    }
}
