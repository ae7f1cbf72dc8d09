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
    /// Keyward: native value the key may send per period (the budget refills every period).
    NativeTokenPeriodic {
        /// Budget per period, in wei.
        allowance: U256,
        /// The period, in seconds.
        period: Period,
    },
    /// Keyward: `transfer` + `approve` amount of one ERC-20 token per period.
    Erc20TokenPeriodic {
        /// The token.
        address: Address,
        /// Budget per period, in token units.
        allowance: U256,
        /// The period.
        period: Period,
    },
    /// Keyward: at most `count` calls per period (or in total, with no period).
    CallLimit {
        /// Calls allowed per period.
        count: u32,
        /// The period; `None` for a lifetime count.
        period: Option<Period>,
    },
    /// Keyward: conditions on the arguments of one function of one contract (the contract must be
    /// reachable through another permission).
    FunctionArguments {
        /// The contract.
        address: Address,
        /// The function.
        function: Selector,
        /// Every condition must hold.
        conditions: Vec<ArgumentCondition>,
    },
}

/// A period of a periodic limit: `length` seconds, windows counted from `start` (unix seconds;
/// `None` = the time the session is created).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    /// Length in seconds (at least 1).
    pub length: u64,
    /// Start of the first window.
    pub start: Option<u64>,
}

/// How an argument is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionOp {
    /// Equal to the one value.
    Eq,
    /// Equal to one of the values.
    OneOf,
    /// At most the one value (as uint256).
    Lte,
    /// At least the one value (as uint256).
    Gte,
}

impl ConditionOp {
    /// The SessionRulesModule's code of the operator.
    pub fn code(self) -> u8 {
        match self {
            Self::Eq => 0,
            Self::OneOf => 1,
            Self::Lte => 2,
            Self::Gte => 3,
        }
    }

    /// The Wallet API's name of the operator.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::OneOf => "one-of",
            Self::Lte => "lte",
            Self::Gte => "gte",
        }
    }
}

/// A condition on one static argument (a 32-byte ABI word) of a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArgumentCondition {
    /// Index of the argument (its word after the selector).
    pub arg: u8,
    /// The comparison.
    pub op: ConditionOp,
    /// The value(s), as 32-byte words.
    pub values: Vec<alloy::primitives::B256>,
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
            Self::NativeTokenPeriodic { .. } => "native-token-periodic",
            Self::Erc20TokenPeriodic { .. } => "erc20-token-periodic",
            Self::CallLimit { .. } => "call-limit",
            Self::FunctionArguments { .. } => "function-arguments",
        }
    }
}
