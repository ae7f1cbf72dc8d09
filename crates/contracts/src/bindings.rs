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
