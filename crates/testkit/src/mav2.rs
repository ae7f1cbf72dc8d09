//! Keyward's modular accounts (MAv2 formats) on a test chain: deploy the factory and modules, create
//! Semi-Modular Accounts, build and sign owner and session-key user operations with the
//! `keyward_primitives::mav2` encoders, install sessions from Wallet-API permission JSON (directly or
//! as a deferred action), and classify what the EntryPoint did with an operation.

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, aliases::U192};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use keyward_contracts::artifacts;
use keyward_contracts::bindings::{AccountFactory, SingleSignerValidationModule};
use keyward_primitives::entry_point::IEntryPoint::{self, IEntryPointEvents};
use keyward_primitives::mav2::abi::{Call, encode_execute, encode_execute_batch, user_op_call_data};
use keyward_primitives::mav2::factory::SemiModularAccountInit;
use keyward_primitives::mav2::permissions::PermissionCompiler;
use keyward_primitives::mav2::signature::{eoa_user_op_signature, eoa_validation_data, user_op_signing_hash};
use keyward_primitives::mav2::{
    CompiledSession, DeferredActionPrefix, HookInstall, ModuleAddresses, NonceKey, ValidationLocator,
};
#[cfg(feature = "wallet-api")]
use keyward_primitives::mav2::{Permission, SessionRequest};
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation};

use crate::entry_point::{EpError, ep_events};
use crate::harness::Harness;

/// One ether in wei.
pub const ETH: u128 = 1_000_000_000_000_000_000;
/// Verification gas of account ops (hooks, and deferred installs, need more than a plain account).
pub const VERIFICATION_GAS: u128 = 600_000;
/// Verification gas of ops carrying `initCode` or a deferred install.
pub const VERIFICATION_GAS_HEAVY: u128 = 1_500_000;
/// Call gas of account ops.
pub const CALL_GAS: u128 = 300_000;
/// Call gas of owner ops that install a session (every hook writes several slots).
pub const INSTALL_CALL_GAS: u128 = 1_500_000;
/// Pre-verification gas.
pub const PRE_VERIFICATION_GAS: u64 = 60_000;
/// Fee cap (wei).
pub const MAX_FEE: u128 = 3_000_000_000;
/// Priority fee (wei).
pub const PRIORITY_FEE: u128 = 1_000_000_000;

/// Keyward's account contracts and modules deployed on a harness chain.
pub struct Mav2 {
    /// The chain.
    pub h: Harness,
    /// The AccountFactory (staked in the EntryPoint).
    pub factory: Address,
    /// SemiModularAccountBytecode implementation.
    pub sma_impl: Address,
    /// ModularAccount implementation.
    pub ma_impl: Address,
    /// Module addresses (WebAuthn is not deployed: a fixed placeholder address).
    pub modules: ModuleAddresses,
    /// The chain id.
    pub chain_id: u64,
    /// Receives bundle fees.
    pub beneficiary: Address,
}

/// A Semi-Modular Account and its owner key.
#[derive(Clone, Debug)]
pub struct SmaAccount {
    /// The (possibly counterfactual) account address.
    pub address: Address,
    /// The owner (fallback signer).
    pub owner: PrivateKeySigner,
    /// Factory call that deploys it.
    pub init: SemiModularAccountInit,
}

/// A session key and its compiled validation.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session key.
    pub key: PrivateKeySigner,
    /// What `installValidation` installs for it.
    pub compiled: CompiledSession,
}

impl Session {
    /// The session's entity id.
    pub fn entity_id(&self) -> u32 {
        self.compiled.entity_id()
    }

    /// Regular nonce key (parallel key 0) of this session.
    pub fn nonce_key(&self, deferred: bool) -> NonceKey {
        self.compiled.nonce_key(U256::ZERO, deferred).expect("nonce key")
    }
}

/// What the EntryPoint did with a single-op bundle.
#[derive(Debug)]
pub enum Outcome {
    /// Validated and executed successfully.
    Success(TransactionReceipt),
    /// Validated, but the execution reverted (`UserOperationEvent.success = false`); the data is the
    /// `UserOperationRevertReason.revertReason` (empty if none was emitted).
    Reverted(TransactionReceipt, Bytes),
    /// Rejected in validation (`handleOps` reverted with FailedOp...).
    Rejected(EpError),
}

impl Outcome {
    /// Panics unless the op executed successfully; returns the receipt.
    #[track_caller]
    pub fn success(self) -> TransactionReceipt {
        match self {
            Self::Success(r) => r,
            other => panic!("expected success, got {}", other.describe()),
        }
    }

    /// Panics unless the execution reverted; returns the revert data.
    #[track_caller]
    pub fn reverted(self) -> Bytes {
        match self {
            Self::Reverted(_, data) => data,
            other => panic!("expected an execution revert, got {}", other.describe()),
        }
    }

    /// Panics unless the op was rejected in validation; returns the EntryPoint error.
    #[track_caller]
    pub fn rejected(self) -> EpError {
        match self {
            Self::Rejected(e) => e,
            other => panic!("expected a validation failure, got {}", other.describe()),
        }
    }

    /// Panics unless the execution reverted with data containing `selector` (e.g. a module error
    /// nested in `PreExecHookReverted`).
    #[track_caller]
    pub fn reverted_with(self, selector: [u8; 4]) {
        let data = self.reverted();
        assert!(contains(&data, &selector), "revert data {data} lacks error 0x{}", alloy::hex::encode(selector));
    }

    /// Panics unless validation failed with `reason` (AAxx prefix) and, when given, an inner revert
    /// containing `selector`.
    #[track_caller]
    pub fn rejected_with(self, reason: &str, selector: Option<[u8; 4]>) {
        let e = self.rejected();
        let r = e.reason().unwrap_or_else(|| panic!("not a FailedOp: {e:?}"));
        assert!(r.starts_with(reason), "expected {reason}, got {r} ({e:?})");
        if let Some(sel) = selector {
            match &e {
                EpError::FailedOpWithRevert { inner, .. } => {
                    assert!(contains(inner, &sel), "inner revert {inner} lacks error 0x{}", alloy::hex::encode(sel))
                }
                other => panic!("expected FailedOpWithRevert with 0x{}, got {other:?}", alloy::hex::encode(sel)),
            }
        }
    }

    /// Whether the op executed successfully.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success(_))
    }

    fn describe(&self) -> String {
        match self {
            Self::Success(_) => "success".into(),
            Self::Reverted(_, d) => format!("execution revert {d}"),
            Self::Rejected(e) => format!("validation failure {e:?}"),
        }
    }
}

/// `n` ether in wei.
pub fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

/// `n` thousandths of an ether in wei.
pub fn milli(n: u128) -> U256 {
    U256::from(n * ETH / 1000)
}

/// Wallet-API permissions: calls to `to` only, sending at most `allowance` wei in all.
pub fn native_to(allowance: U256, to: Address) -> serde_json::Value {
    serde_json::json!([{"type": "native-token-transfer", "data": {"allowance": format!("{allowance:#x}")}},
           {"type": "contract-access", "data": {"address": format!("{to:#x}")}}])
}

/// Whether `haystack` contains `needle` anywhere (nested revert data).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `execute(target, value, data)` calldata.
pub fn execute(target: Address, value: U256, data: impl Into<Bytes>) -> Bytes {
    encode_execute(target, value, data.into())
}

/// `executeBatch(calls)` calldata from `(target, value, data)` triples.
pub fn execute_batch(calls: Vec<(Address, U256, Bytes)>) -> Bytes {
    encode_execute_batch(calls.into_iter().map(|(target, value, data)| Call { target, value, data }).collect())
}

/// Parses Wallet-API permission JSON (`[{"type": …, "data": …}, …]`, keyward-api's wire type).
#[cfg(feature = "wallet-api")]
pub fn permissions(json: serde_json::Value) -> Vec<Permission> {
    let wire: Vec<keyward_api::wallet::Permission> = serde_json::from_value(json).expect("Wallet-API permission JSON");
    keyward_api::wallet::Permission::to_domain_list(&wire)
}

impl Mav2 {
    /// The signer SingleSignerValidation holds for `entity` of `account` (zero when none).
    pub async fn signer_of(&self, entity: u32, account: Address) -> Address {
        self.h
            .read(
                self.modules.single_signer_validation,
                SingleSignerValidationModule::signersCall { entityId: entity, account },
            )
            .await
            .unwrap()
    }

    /// A fresh embedded chain with everything deployed.
    pub async fn embedded() -> Self {
        Self::deploy(Harness::embedded()).await
    }

    /// Deploys the account implementations, the modules and a staked factory (normal transactions
    /// from dev key 0).
    pub async fn deploy(h: Harness) -> Self {
        let ep_arg = h.ep.abi_encode();
        let sma_impl = h.deploy(artifacts::semi_modular_account_bytecode(), &ep_arg).await;
        let ma_impl = h.deploy(artifacts::modular_account(), &ep_arg).await;
        let single_signer = h.deploy(artifacts::single_signer_validation_module(), &[]).await;
        let time_range = h.deploy(artifacts::time_range_module(), &[]).await;
        let native_token_limit = h.deploy(artifacts::native_token_limit_module(), &[]).await;
        let allowlist = h.deploy(artifacts::allowlist_module(), &[]).await;
        let paymaster_guard = h.deploy(artifacts::paymaster_guard_module(), &[]).await;
        let owner = h.keys[0].address();
        let factory = h
            .deploy(artifacts::account_factory(), &(h.ep, ma_impl, sma_impl, single_signer, owner).abi_encode_params())
            .await;
        let r = h.transact(factory, AccountFactory::addStakeCall { unstakeDelay: 86_400 }, U256::from(ETH)).await;
        assert!(r.status(), "factory stake");
        // Deployed last: the other contracts keep the addresses (and the gas) they always had.
        let session_rules = h.deploy(artifacts::session_rules_module(), &[]).await;
        let p256_validation = h.deploy(artifacts::p256_validation_module(), &[]).await;
        let chain_id = h.chain_id().await;
        Self {
            h,
            factory,
            sma_impl,
            ma_impl,
            modules: ModuleAddresses {
                single_signer_validation: single_signer,
                time_range,
                native_token_limit,
                allowlist,
                paymaster_guard,
                webauthn_validation: Address::with_last_byte(0xa7),
                session_rules,
                p256_validation,
            },
            chain_id,
            beneficiary: Address::with_last_byte(0xbe),
        }
    }

    /// The permission compiler for these modules and the harness's EntryPoint.
    pub fn compiler(&self) -> PermissionCompiler {
        PermissionCompiler { modules: self.modules, entry_point: self.h.ep }
    }

    /// Timestamp of the latest block.
    pub async fn now(&self) -> u64 {
        let b = self.h.chain.block_by_number(BlockNumberOrTag::Latest, false).await.unwrap().unwrap();
        b.header.timestamp
    }

    /// Advances the chain clock by `seconds` and mines a block.
    pub async fn advance(&self, seconds: u64) {
        self.h.chain.increase_time(seconds).await.unwrap();
        self.h.chain.mine().await.unwrap();
    }

    /// A counterfactual SMA of a fresh owner (salt 0), funded with `fund` wei, not deployed.
    pub async fn counterfactual_account(&self, fund: U256) -> SmaAccount {
        self.counterfactual_account_of(PrivateKeySigner::random(), U256::ZERO, fund).await
    }

    /// A counterfactual SMA of `owner` with `salt`, funded with `fund` wei, not deployed.
    pub async fn counterfactual_account_of(&self, owner: PrivateKeySigner, salt: U256, fund: U256) -> SmaAccount {
        let init = SemiModularAccountInit { factory: self.factory, owner: owner.address(), salt };
        let address = self
            .h
            .read(self.factory, AccountFactory::getAddressSemiModularCall { owner_: owner.address(), salt })
            .await
            .unwrap();
        if fund > U256::ZERO {
            self.fund(address, fund).await;
        }
        SmaAccount { address, owner, init }
    }

    /// A deployed SMA (factory called by a normal transaction), funded with `fund` wei.
    pub async fn account(&self, fund: U256) -> SmaAccount {
        self.account_of(PrivateKeySigner::random(), U256::ZERO, fund).await
    }

    /// A deployed SMA of `owner` with `salt`, funded with `fund` wei.
    pub async fn account_of(&self, owner: PrivateKeySigner, salt: U256, fund: U256) -> SmaAccount {
        let a = self.counterfactual_account_of(owner, salt, fund).await;
        let r = self
            .h
            .transact(
                self.factory,
                AccountFactory::createSemiModularAccountCall { owner_: a.owner.address(), salt: a.init.salt },
                U256::ZERO,
            )
            .await;
        assert!(r.status(), "createSemiModularAccount");
        assert!(!self.h.chain.code(a.address).await.unwrap().is_empty(), "account deployed at the predicted address");
        a
    }

    /// Sends `value` wei from dev key 0.
    pub async fn fund(&self, to: Address, value: U256) {
        let tx = TransactionRequest::default().with_to(to).with_value(value);
        assert!(self.h.send_tx(&self.h.keys[0], tx).await.unwrap().status());
    }

    /// `EntryPoint.getNonce(sender, key)` for a 192-bit key.
    pub async fn ep_nonce(&self, sender: Address, key: U192) -> U256 {
        self.h.read(self.h.ep, IEntryPoint::getNonceCall { sender, key }).await.unwrap()
    }

    /// An unsigned op with this module's gas values (modular accounts need more than `ops::op`).
    pub fn op(&self, sender: Address, nonce: U256, call_data: Bytes) -> UserOperation {
        UserOperation {
            call_gas_limit: CALL_GAS,
            verification_gas_limit: VERIFICATION_GAS,
            pre_verification_gas: U256::from(PRE_VERIFICATION_GAS),
            max_fee_per_gas: MAX_FEE,
            max_priority_fee_per_gas: PRIORITY_FEE,
            ..crate::ops::op(sender, nonce, call_data)
        }
    }

    /// `TestPaymaster` mode-0 paymaster fields for `paymaster`.
    pub fn paymaster(&self, paymaster: Address) -> PaymasterInit {
        PaymasterInit { paymaster, verification_gas_limit: 100_000, post_op_gas_limit: 100_000, data: Bytes::new() }
    }

    /// Whether `account` has code.
    pub async fn deployed(&self, account: Address) -> bool {
        !self.h.chain.code(account).await.unwrap().is_empty()
    }

    // ------------------------------------------------------------------ owner ops

    /// An owner op (entity 0, global) running `call` on the account; carries `initCode` while the
    /// account is not deployed. Unsigned.
    pub async fn owner_op(&self, a: &SmaAccount, call: Bytes) -> UserOperation {
        let key = NonceKey::owner();
        let seq = self.ep_nonce(a.address, key.full_key()).await;
        let mut op = self.op(a.address, seq, call);
        if !self.deployed(a.address).await {
            op.factory = Some(FactoryInit { factory: a.init.factory, factory_data: a.init.factory_data() });
            op.verification_gas_limit = VERIFICATION_GAS_HEAVY;
        }
        op
    }

    /// The owner's signature `0xFF 0x00 r s v` over EIP-191(userOpHash).
    pub fn sign_owner(&self, a: &SmaAccount, op: &mut UserOperation) {
        op.signature = self.ecdsa_user_op_signature(&a.owner, op);
    }

    /// `0xFF 0x00 ‖ r s v` of `key` over EIP-191(userOpHash) (no hook segments: no hook takes data).
    pub fn ecdsa_user_op_signature(&self, key: &PrivateKeySigner, op: &UserOperation) -> Bytes {
        let hash = op.hash(self.h.ep, self.chain_id);
        let sig = key.sign_hash_sync(&user_op_signing_hash(hash)).expect("sign");
        eoa_user_op_signature(&sig)
    }

    /// Builds, signs and sends an owner op running `call`.
    pub async fn owner_call(&self, a: &SmaAccount, call: Bytes) -> Outcome {
        self.owner_call_with_gas(a, call, CALL_GAS).await
    }

    /// [`Self::owner_call`] with another call gas limit (installs write many slots).
    pub async fn owner_call_with_gas(&self, a: &SmaAccount, call: Bytes, call_gas: u128) -> Outcome {
        let mut op = self.owner_op(a, call).await;
        op.call_gas_limit = call_gas;
        self.sign_owner(a, &mut op);
        self.send(op).await
    }

    /// Sends a bundle of one op and classifies the result.
    pub async fn send(&self, op: UserOperation) -> Outcome {
        match self.h.handle_ops(vec![op], self.beneficiary).await {
            Err(e) => Outcome::Rejected(e),
            Ok(receipt) => {
                let events = ep_events(&receipt, self.h.ep);
                let mut success = None;
                let mut reason = Bytes::new();
                for e in events {
                    match e {
                        IEntryPointEvents::UserOperationEvent(u) => success = Some(u.success),
                        IEntryPointEvents::UserOperationRevertReason(r) => reason = r.revertReason,
                        _ => {}
                    }
                }
                match success.expect("UserOperationEvent") {
                    true => Outcome::Success(receipt),
                    false => Outcome::Reverted(receipt, reason),
                }
            }
        }
    }

    /// `actualGasUsed` of the op in `receipt` and the transaction's gasUsed.
    pub fn gas_of(&self, receipt: &TransactionReceipt) -> (U256, u64) {
        let used = ep_events(receipt, self.h.ep)
            .into_iter()
            .find_map(|e| match e {
                IEntryPointEvents::UserOperationEvent(u) => Some(u.actualGasUsed),
                _ => None,
            })
            .expect("UserOperationEvent");
        (used, receipt.gas_used)
    }

    // ------------------------------------------------------------------ sessions

    /// Compiles a session for `a` from Wallet-API permission JSON; `entity_id` chosen by the caller
    /// (never reused), `expiry` 0 = none.
    #[cfg(feature = "wallet-api")]
    pub async fn compile(&self, a: &SmaAccount, entity_id: u32, perms: serde_json::Value, expiry: u64) -> Session {
        let key = PrivateKeySigner::random();
        let request = SessionRequest {
            account: a.address,
            session_key: key.address(),
            entity_id,
            permissions: permissions(perms),
            expiry_sec: expiry,
        };
        let compiled = self.compiler().compile(&request, self.now().await).expect("permission compiler");
        Session { key, compiled }
    }

    /// Adds a paymaster-guard validation hook (not a Wallet-API permission type) to a session.
    pub fn with_paymaster_guard(&self, mut s: Session, paymaster: Address) -> Session {
        let hook = HookInstall::paymaster_guard(&self.modules, s.entity_id(), paymaster).unwrap();
        s.compiled.install.hooks.push(hook);
        s
    }

    /// Installs the session with an owner op (`installValidation`); asserts success.
    pub async fn install(&self, a: &SmaAccount, s: &Session) {
        self.owner_call_with_gas(a, s.compiled.calldata(), INSTALL_CALL_GAS).await.success();
    }

    /// Compiles and installs a session.
    #[cfg(feature = "wallet-api")]
    pub async fn session(&self, a: &SmaAccount, entity_id: u32, perms: serde_json::Value, expiry: u64) -> Session {
        let s = self.compile(a, entity_id, perms, expiry).await;
        self.install(a, &s).await;
        s
    }

    /// The session's `userOp.callData` for an account call (`0x8dd7712f` prefix when the session has
    /// execution hooks).
    pub fn session_call_data(&self, s: &Session, inner: &[u8]) -> Bytes {
        user_op_call_data(inner, s.compiled.has_execution_hooks())
    }

    /// An unsigned session op running the account call `inner` (regular nonce key).
    pub async fn session_op(&self, a: &SmaAccount, s: &Session, inner: &[u8]) -> UserOperation {
        let key = s.nonce_key(false);
        let seq = self.ep_nonce(a.address, key.full_key()).await;
        self.op(a.address, seq, self.session_call_data(s, inner))
    }

    /// The session key's signature over `op`.
    pub fn sign_session(&self, s: &Session, op: &mut UserOperation) {
        op.signature = self.ecdsa_user_op_signature(&s.key, op);
    }

    /// Builds, signs and sends a session op running the account call `inner`.
    pub async fn session_call(&self, a: &SmaAccount, s: &Session, inner: &[u8]) -> Outcome {
        let mut op = self.session_op(a, s, inner).await;
        self.sign_session(s, &mut op);
        self.send(op).await
    }

    /// The owner's deferred-action grant of `call` for the op nonce `nonce` on `account`/`chain_id`:
    /// the prefix of §8.2 (EIP-712 digest signed directly by the SMA owner).
    pub fn deferred_prefix(
        &self,
        owner: &PrivateKeySigner,
        account: Address,
        chain_id: u64,
        nonce: U256,
        deadline: u64,
        call: Bytes,
    ) -> DeferredActionPrefix {
        let action = keyward_primitives::mav2::DeferredAction::build(nonce, deadline, call.clone()).unwrap();
        let digest: B256 = action.digest(chain_id, account);
        let sig = owner.sign_hash_sync(&digest).expect("sign");
        DeferredActionPrefix {
            inner_locator: ValidationLocator::owner(),
            deadline,
            call,
            deferred_signature: eoa_validation_data(&sig),
        }
    }

    /// The session's first op: deferred-bit nonce, carrying the owner-signed install of the session
    /// (and `initCode` if the account is counterfactual), running `inner`. Signed.
    pub async fn deferred_session_op(&self, a: &SmaAccount, s: &Session, inner: &[u8]) -> UserOperation {
        let key = s.nonce_key(true);
        let nonce = self.ep_nonce(a.address, key.full_key()).await;
        let prefix =
            self.deferred_prefix(&a.owner, a.address, self.chain_id, nonce, s.compiled.deadline, s.compiled.calldata());
        self.deferred_op_with(a, s, inner, nonce, &prefix).await
    }

    /// A session op with the given nonce and deferred prefix. Signed by the session key.
    pub async fn deferred_op_with(
        &self,
        a: &SmaAccount,
        s: &Session,
        inner: &[u8],
        nonce: U256,
        prefix: &DeferredActionPrefix,
    ) -> UserOperation {
        let mut op = self.op(a.address, nonce, self.session_call_data(s, inner));
        op.verification_gas_limit = VERIFICATION_GAS_HEAVY;
        if !self.deployed(a.address).await {
            op.factory = Some(FactoryInit { factory: a.init.factory, factory_data: a.init.factory_data() });
        }
        let outer = self.ecdsa_user_op_signature(&s.key, &op);
        op.signature = prefix.user_op_signature(&outer).unwrap();
        op
    }

    /// Native balance of `a`.
    pub async fn balance(&self, a: Address) -> U256 {
        self.h.balance(a).await
    }

    /// Deploys a `TestToken` and mints `amount` to `to`.
    pub async fn token(&self, to: Address, amount: U256) -> Address {
        use keyward_contracts::bindings::TestToken;
        let t = self.h.deploy(artifacts::test_token(), &[]).await;
        assert!(self.h.transact(t, TestToken::mintCall { to, amount }, U256::ZERO).await.status());
        t
    }

    /// `TestToken.balanceOf(who)`.
    pub async fn token_balance(&self, token: Address, who: Address) -> U256 {
        use keyward_contracts::bindings::TestToken;
        self.h.read(token, TestToken::balanceOfCall(who)).await.unwrap()
    }

    /// Deploys a `TestPaymaster` with a 10 ETH deposit.
    pub async fn test_paymaster(&self) -> Address {
        use keyward_contracts::bindings::TestPaymaster;
        let pm = self.h.deploy(artifacts::test_paymaster(), &self.h.ep.abi_encode()).await;
        assert!(self.h.transact(pm, TestPaymaster::depositCall {}, U256::from(10 * ETH)).await.status());
        pm
    }

    /// Raw `eth_call` result of `call` on `to` from `from` (e.g. view probes).
    pub async fn call_from<C: SolCall>(
        &self,
        from: Address,
        to: Address,
        call: C,
    ) -> Result<Bytes, keyward_chain::ChainError> {
        let tx = TransactionRequest::default().with_from(from).with_to(to).with_input(call.abi_encode());
        self.h.chain.call(tx, None).await
    }

    /// `eth_call` of raw `data` on `to` from `from`: its output, or the revert data (panics when the
    /// call fails outside the EVM).
    pub async fn eth_call_from(&self, from: Address, to: Address, data: Bytes) -> Result<Bytes, Bytes> {
        let tx = TransactionRequest::default().with_from(from).with_to(to).with_input(data);
        match self.h.chain.call(tx, None).await {
            Ok(out) => Ok(out),
            Err(keyward_chain::ChainError::Reverted { data, .. }) => Err(data),
            Err(e) => panic!("eth_call failed outside the EVM: {e}"),
        }
    }
}
