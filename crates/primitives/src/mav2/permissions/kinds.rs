//! The permission kinds of a session (wallet-api.md §6.2) as domain values: what each grants,
//! without its wire form (the Wallet API's `{type, data}` JSON lives in `keyward-api`).

use alloy::primitives::{Address, U256};

use crate::mav2::install::Selector;

/// ERC-20 `approve(address,uint256)`.
pub const ERC20_APPROVE_SELECTOR: Selector = Selector::new([0x09, 0x5e, 0xa7, 0xb3]);
/// ERC-20 `transfer(address,uint256)`.
pub const ERC20_TRANSFER_SELECTOR: Selector = Selector::new([0xa9, 0x05, 0x9c, 0xbb]);

/// One permission of a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Full access: the validation is global.
    Root,
    /// Cumulative native value the key may send.
    NativeTokenTransfer {
        /// Budget in wei.
        allowance: U256,
    },
    /// Cumulative `transfer` + `approve` amount of one ERC-20 token.
    Erc20TokenTransfer {
        /// The token.
        address: Address,
        /// Budget in token units.
        allowance: U256,
    },
    /// Wei budget for user-operation gas (`gas × maxFeePerGas`).
    GasLimit {
        /// Budget in wei.
        limit: U256,
    },
    /// Any function of one contract.
    ContractAccess {
        /// The contract.
        address: Address,
    },
    /// Listed selectors on the account itself.
    AccountFunctions {
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Listed selectors on any target.
    FunctionsOnAllContracts {
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Listed selectors on one contract.
    FunctionsOnContract {
        /// The contract.
        address: Address,
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
}

impl Permission {
    /// The Wallet API's name of the kind (its `type`), used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::NativeTokenTransfer { .. } => "native-token-transfer",
            Self::Erc20TokenTransfer { .. } => "erc20-token-transfer",
            Self::GasLimit { .. } => "gas-limit",
            Self::ContractAccess { .. } => "contract-access",
            Self::AccountFunctions { .. } => "account-functions",
            Self::FunctionsOnAllContracts { .. } => "functions-on-all-contracts",
            Self::FunctionsOnContract { .. } => "functions-on-contract",
        }
    }
}
