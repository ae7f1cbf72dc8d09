//! `wallet_requestAccount` and `wallet_listAccounts` as domain values.

use alloy::primitives::{Address, U256};
use keyward_primitives::FactoryInit;
use uuid::Uuid;

/// Which account a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRequest {
    /// An account this server handed out, by its address.
    ByAddress {
        /// The account.
        address: Address,
        /// Whether the answer includes how to deploy it.
        counterfactual_info: bool,
    },
    /// The account of a signer: found, or created as `new_account` says.
    BySigner {
        /// The owner.
        signer: Address,
        /// Selects (or creates) the account with this id.
        id: Option<Uuid>,
        /// What to create when no account fits (ignored for an existing id).
        new_account: NewAccount,
        /// Whether the answer includes how to deploy it.
        counterfactual_info: bool,
    },
}

/// The kind of account a signer's request creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAccount {
    /// A counterfactual semi-modular account owned by the signer.
    Sma {
        /// Its factory salt; `None` picks the signer's first account, or the first unused salt.
        salt: Option<U256>,
        /// Whether a new account is wanted even when the signer has one.
        additional: bool,
    },
    /// The signer's own EOA, delegated with EIP-7702.
    Eip7702,
}

impl Default for NewAccount {
    fn default() -> Self {
        Self::Sma { salt: None, additional: false }
    }
}

/// An account as the wallet answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The (counterfactual) address; for 7702 the signer itself.
    pub address: Address,
    /// Its id.
    pub id: Uuid,
    /// What kind of account it is, and how it is set up.
    pub setup: AccountSetup,
}

/// How an account is set up onchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSetup {
    /// A semi-modular account deployed by the factory.
    Sma {
        /// The factory call that deploys it, when asked for.
        counterfactual: Option<FactoryInit>,
    },
    /// An EOA delegated to the 7702 implementation.
    Eip7702 {
        /// The implementation it delegates to.
        delegation: Address,
    },
}

/// A page of a signer's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAccounts {
    /// The owner.
    pub signer: Address,
    /// Page size (default 100).
    pub limit: Option<u32>,
    /// The cursor of the previous page.
    pub after: Option<String>,
}

/// One page of accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPage {
    /// Address and id of each account of the page.
    pub accounts: Vec<(Address, Uuid)>,
    /// The signer's accounts in total.
    pub total: u64,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}
