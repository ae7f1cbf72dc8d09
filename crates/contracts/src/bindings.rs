//! `sol!` bindings of the test contracts, generated from their committed ABIs.

#![allow(missing_docs)]

alloy::sol!(
    /// Minimal ECDSA account for tests.
    #[sol(rpc)]
    TestAccount,
    "../../contracts/artifacts/TestAccount.json"
);
alloy::sol!(
    /// Factory of `TestAccount`.
    #[sol(rpc)]
    TestAccountFactory,
    "../../contracts/artifacts/TestAccountFactory.json"
);
alloy::sol!(
    /// Configurable paymaster for tests.
    #[sol(rpc)]
    TestPaymaster,
    "../../contracts/artifacts/TestPaymaster.json"
);
alloy::sol!(
    /// Call target for tests.
    #[sol(rpc)]
    TestCounter,
    "../../contracts/artifacts/TestCounter.json"
);
alloy::sol!(
    /// Mintable ERC-20 for tests.
    #[sol(rpc)]
    TestToken,
    "../../contracts/artifacts/TestToken.json"
);
alloy::sol!(
    /// Keyward's modular-account factory.
    #[sol(rpc)]
    AccountFactory,
    "../../contracts/artifacts/AccountFactory.json"
);
alloy::sol!(
    /// Semi-Modular Account (bytecode owner).
    #[sol(rpc)]
    SemiModularAccountBytecode,
    "../../contracts/artifacts/SemiModularAccountBytecode.json"
);
alloy::sol!(
    /// Signer validation module.
    #[sol(rpc)]
    SingleSignerValidationModule,
    "../../contracts/artifacts/SingleSignerValidationModule.json"
);
alloy::sol!(
    /// Time-range validation hook.
    #[sol(rpc)]
    TimeRangeModule,
    "../../contracts/artifacts/TimeRangeModule.json"
);
alloy::sol!(
    /// Native-token budget hook.
    #[sol(rpc)]
    NativeTokenLimitModule,
    "../../contracts/artifacts/NativeTokenLimitModule.json"
);
alloy::sol!(
    /// Paymaster guard hook.
    #[sol(rpc)]
    PaymasterGuardModule,
    "../../contracts/artifacts/PaymasterGuardModule.json"
);
alloy::sol!(
    /// Allowlist and ERC-20 spend-limit hooks.
    #[sol(rpc)]
    AllowlistModule,
    "../../contracts/artifacts/AllowlistModule.json"
);
alloy::sol!(
    /// Periodic spend and call limits and argument conditions hook.
    #[sol(rpc)]
    SessionRulesModule,
    "../../contracts/artifacts/SessionRulesModule.json"
);
alloy::sol!(
    /// P-256 (passkey) validation module.
    #[sol(rpc)]
    P256ValidationModule,
    "../../contracts/artifacts/P256ValidationModule.json"
);
/// The verifying paymaster's binding (own module: its ABI repeats `IPaymaster`'s types).
pub mod verifying_paymaster {
    alloy::sol!(
        /// Verifying paymaster (gas sponsorship).
        #[sol(rpc)]
        VerifyingPaymaster,
        "../../contracts/artifacts/VerifyingPaymaster.json"
    );
}
pub use verifying_paymaster::VerifyingPaymaster;
