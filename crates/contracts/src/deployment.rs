//! Where Keyward's account stack lives on any chain: every contract is created through the standard
//! deterministic deployer (`CREATE2`), so its address depends only on its creation code, its
//! constructor arguments and its salt — the same on `keyward dev`, on anvil and on a public chain.
//! Each salt is mined ([`mine_salt`]: the first from 0 up) so the address starts with
//! [`ZERO_BYTES`] zero bytes, which makes it cheaper wherever it travels in calldata (the factory
//! in every account-creation `initCode`, the paymaster in every sponsored operation, the modules in
//! every session install: 12 gas less per zero byte than a non-zero one, EIP-2028).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use alloy::primitives::{Address, B256, Bytes, address, bytes, keccak256};
use alloy::sol_types::SolValue;
use keyward_primitives::ENTRY_POINT_V07;
use keyward_primitives::mav2::modules::ModuleAddresses;

use crate::artifacts::{self, Artifact};

/// The deterministic deployment proxy (Arachnid's), present on anvil and most public chains.
/// Calldata `salt(32) ‖ initCode` creates `initCode` with CREATE2 and returns the 20-byte address.
pub const DETERMINISTIC_DEPLOYER: Address = address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");

/// Runtime code of [`DETERMINISTIC_DEPLOYER`], for chains that do not have it (the embedded chain).
pub const DETERMINISTIC_DEPLOYER_CODE: Bytes = bytes!(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3"
);

/// Leading zero bytes every stack address is mined for. Two take 65,536 tries on average (a few
/// milliseconds, done once per process and factory owner); each further byte would multiply that
/// by 256 for 12 gas more per appearance in calldata.
pub const ZERO_BYTES: usize = 2;

/// The first salt (counting up from 0) whose `CREATE2` address through the deterministic deployer
/// starts with [`ZERO_BYTES`] zero bytes, and that address.
pub fn mine_salt(init_code_hash: B256) -> (B256, Address) {
    let mut n: u64 = 0;
    loop {
        let salt = B256::left_padding_from(&n.to_be_bytes());
        let address = DETERMINISTIC_DEPLOYER.create2(salt, init_code_hash);
        if address.as_slice()[..ZERO_BYTES].iter().all(|b| *b == 0) {
            return (salt, address);
        }
        n += 1;
    }
}

/// One contract of the stack: its name, creation code (with constructor arguments), salt and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Create2Step {
    /// Human name, printed by `keyward dev`.
    pub name: &'static str,
    /// Creation code followed by the ABI-encoded constructor arguments.
    pub init_code: Bytes,
    /// The mined salt ([`mine_salt`]).
    pub salt: B256,
    /// `CREATE2(DETERMINISTIC_DEPLOYER, salt, keccak256(init_code))`.
    pub address: Address,
}

impl Create2Step {
    fn new(name: &'static str, artifact: &Artifact, args: &[u8]) -> Self {
        let mut code = artifact.bytecode.to_vec();
        code.extend_from_slice(args);
        let init_code = Bytes::from(code);
        let (salt, address) = mine_salt(keccak256(&init_code));
        Self { name, init_code, salt, address }
    }

    /// Calldata for the deterministic deployer: `salt ‖ init_code`.
    pub fn deployer_calldata(&self) -> Bytes {
        let mut data = self.salt.to_vec();
        data.extend_from_slice(&self.init_code);
        data.into()
    }
}

/// Addresses of Keyward's account stack on one chain: what the bundler, the wallet and the SDK are
/// configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deployment {
    /// The EntryPoint v0.7.
    pub entry_point: Address,
    /// AccountFactory (creates semi-modular and modular accounts).
    pub factory: Address,
    /// The factory's owner (manages its EntryPoint stake); part of its constructor arguments.
    pub factory_owner: Address,
    /// SemiModularAccountBytecode implementation (owner in the proxy's bytecode; the default).
    pub sma_impl: Address,
    /// ModularAccount implementation (validations only, no fallback owner).
    pub ma_impl: Address,
    /// SemiModularAccount7702: the implementation an EOA delegates to with EIP-7702.
    pub sma_7702_impl: Address,
    /// The modules.
    pub modules: ModuleAddresses,
    /// The VerifyingPaymaster of gas sponsorship (owned by `factory_owner`, which also sets its
    /// first signer; the service's paymaster signer is installed with `setSigner`).
    pub verifying_paymaster: Address,
}

/// MAv2's AccountFactory (canonical address).
pub const MAV2_FACTORY: Address = address!("0x00000000000017c61b5bEe81050EC8eFc9c6fecd");
/// MAv2's ModularAccount implementation (canonical address).
pub const MAV2_MODULAR_ACCOUNT: Address = address!("0x00000000000002377B26b1EdA7b0BC371C60DD4f");
/// MAv2's SemiModularAccountBytecode implementation (canonical address).
pub const MAV2_SEMI_MODULAR_ACCOUNT_BYTECODE: Address = address!("0x000000000000c5A9089039570Dd36455b5C07383");
/// MAv2's SemiModularAccount7702 implementation (canonical address, account-kit's default).
pub const MAV2_SEMI_MODULAR_ACCOUNT_7702: Address = address!("0x69007702764179f14F51cdce752f4f775d74E139");

/// Placeholder for the WebAuthn module, which Keyward does not deploy (no code at this address).
const NO_WEBAUTHN: Address = Address::ZERO;

impl Deployment {
    /// Keyward's stack over the canonical EntryPoint, with a factory owned by `factory_owner`.
    pub fn keyward(factory_owner: Address) -> Self {
        Self::from_steps(&steps(factory_owner), factory_owner)
    }

    /// Alchemy's deployed Modular Account V2 v2.0.x at its canonical addresses (the same on every
    /// chain, as account-kit's defaults), over the canonical EntryPoint; `modules` as
    /// [`ModuleAddresses::mav2`] unless configured otherwise. Gas sponsorship uses Keyward's
    /// VerifyingPaymaster of `paymaster_owner` (MAv2 ships none). `factory_owner` is MAv2's own
    /// factory owner, which Keyward never acts as.
    pub fn mav2(mut modules: ModuleAddresses, paymaster_owner: Address) -> Self {
        let keyward = Self::keyward(paymaster_owner);
        // MAv2 has no SessionRulesModule: Keyward's (deployed by `keyward deploy`) serves.
        if modules.session_rules.is_zero() {
            modules.session_rules = keyward.modules.session_rules;
        }
        if modules.p256_validation.is_zero() {
            modules.p256_validation = keyward.modules.p256_validation;
        }
        Self {
            entry_point: ENTRY_POINT_V07,
            factory: MAV2_FACTORY,
            factory_owner: Address::ZERO,
            sma_impl: MAV2_SEMI_MODULAR_ACCOUNT_BYTECODE,
            ma_impl: MAV2_MODULAR_ACCOUNT,
            sma_7702_impl: MAV2_SEMI_MODULAR_ACCOUNT_7702,
            modules,
            verifying_paymaster: keyward.verifying_paymaster,
        }
    }

    /// `(name, address)` of the contracts a chain needs for this stack (no paymaster: it is
    /// optional; no 7702 implementation: 7702 accounts are refused where it has no code).
    pub fn required(&self) -> Vec<(&'static str, Address)> {
        vec![
            ("account factory", self.factory),
            ("SemiModularAccountBytecode implementation", self.sma_impl),
            ("ModularAccount implementation", self.ma_impl),
            ("SingleSignerValidationModule", self.modules.single_signer_validation),
            ("TimeRangeModule", self.modules.time_range),
            ("NativeTokenLimitModule", self.modules.native_token_limit),
            ("AllowlistModule", self.modules.allowlist),
        ]
    }

    fn from_steps(steps: &[Create2Step], factory_owner: Address) -> Self {
        let at = |name: &str| steps.iter().find(|s| s.name == name).map(|s| s.address).unwrap_or_default();
        Self {
            entry_point: ENTRY_POINT_V07,
            factory: at(FACTORY),
            factory_owner,
            sma_impl: at(SMA),
            ma_impl: at(MA),
            sma_7702_impl: at(SMA_7702),
            modules: ModuleAddresses {
                single_signer_validation: at(SINGLE_SIGNER),
                time_range: at(TIME_RANGE),
                native_token_limit: at(NATIVE_TOKEN_LIMIT),
                allowlist: at(ALLOWLIST),
                paymaster_guard: at(PAYMASTER_GUARD),
                webauthn_validation: NO_WEBAUTHN,
                session_rules: at(SESSION_RULES),
                p256_validation: at(P256_VALIDATION),
            },
            verifying_paymaster: at(VERIFYING_PAYMASTER),
        }
    }

    /// `(name, address)` of every deployed contract, in deployment order, for banners and logs.
    pub fn named(&self) -> Vec<(&'static str, Address)> {
        steps(self.factory_owner).into_iter().map(|s| (s.name, s.address)).collect()
    }
}

const SMA: &str = "SemiModularAccountBytecode";
const MA: &str = "ModularAccount";
const SMA_7702: &str = "SemiModularAccount7702";
const SINGLE_SIGNER: &str = "SingleSignerValidation";
const TIME_RANGE: &str = "TimeRangeModule";
const NATIVE_TOKEN_LIMIT: &str = "NativeTokenLimitModule";
const ALLOWLIST: &str = "AllowlistModule";
const PAYMASTER_GUARD: &str = "PaymasterGuardModule";
const SESSION_RULES: &str = "SessionRulesModule";
const P256_VALIDATION: &str = "P256ValidationModule";
const FACTORY: &str = "AccountFactory";
const VERIFYING_PAYMASTER: &str = "VerifyingPaymaster";

/// The stack's contracts in deployment order (the factory's constructor takes the others'
/// addresses, so it comes last). The contracts that do not depend on the factory owner are mined
/// once per process, the factory and the paymaster once per owner.
pub fn steps(factory_owner: Address) -> Vec<Create2Step> {
    static OWNED: OnceLock<Mutex<HashMap<Address, Vec<Create2Step>>>> = OnceLock::new();
    let shared = shared_steps();
    let cache = OWNED.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked while mining: the map is still sound.
    let mut owned = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let owned = owned.entry(factory_owner).or_insert_with(|| owned_steps(shared, factory_owner));
    shared.iter().chain(owned.iter()).cloned().collect()
}

/// The implementations and modules: the same for every factory owner.
fn shared_steps() -> &'static [Create2Step] {
    static SHARED: OnceLock<Vec<Create2Step>> = OnceLock::new();
    SHARED.get_or_init(|| {
        let ep = ENTRY_POINT_V07.abi_encode();
        vec![
            Create2Step::new(SMA, artifacts::semi_modular_account_bytecode(), &ep),
            Create2Step::new(MA, artifacts::modular_account(), &ep),
            Create2Step::new(SMA_7702, artifacts::semi_modular_account_7702(), &ep),
            Create2Step::new(SINGLE_SIGNER, artifacts::single_signer_validation_module(), &[]),
            Create2Step::new(TIME_RANGE, artifacts::time_range_module(), &[]),
            Create2Step::new(NATIVE_TOKEN_LIMIT, artifacts::native_token_limit_module(), &[]),
            Create2Step::new(ALLOWLIST, artifacts::allowlist_module(), &[]),
            Create2Step::new(PAYMASTER_GUARD, artifacts::paymaster_guard_module(), &[]),
            Create2Step::new(SESSION_RULES, artifacts::session_rules_module(), &[]),
            Create2Step::new(P256_VALIDATION, artifacts::p256_validation_module(), &[]),
        ]
    })
}

/// The factory (over `shared`'s implementations and signer module) and the paymaster, both owned
/// by `factory_owner`.
fn owned_steps(shared: &[Create2Step], factory_owner: Address) -> Vec<Create2Step> {
    let at = |name: &str| shared.iter().find(|s| s.name == name).map(|s| s.address).unwrap_or_default();
    let factory_args = (ENTRY_POINT_V07, at(MA), at(SMA), at(SINGLE_SIGNER), factory_owner).abi_encode_params();
    vec![
        Create2Step::new(FACTORY, artifacts::account_factory(), &factory_args),
        Create2Step::new(
            VERIFYING_PAYMASTER,
            artifacts::verifying_paymaster(),
            &(ENTRY_POINT_V07, factory_owner, factory_owner).abi_encode_params(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_depend_on_the_factory_owner() {
        let a = Deployment::keyward(Address::with_last_byte(1));
        let b = Deployment::keyward(Address::with_last_byte(2));
        let named = a.named();
        let mut addrs: Vec<_> = named.iter().map(|(_, a)| *a).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), named.len());
        assert_ne!(a.factory, b.factory);
        assert_eq!(a.sma_impl, b.sma_impl);
        assert!(!addrs.contains(&Address::ZERO));
    }

    #[test]
    fn every_address_has_its_leading_zero_bytes_and_is_the_deployers_create2() {
        let owner = Address::with_last_byte(7);
        for step in steps(owner) {
            assert_eq!(&step.address.as_slice()[..ZERO_BYTES], &[0u8; ZERO_BYTES][..], "{}", step.name);
            // The address the deterministic deployer will create from the calldata we send it.
            let calldata = step.deployer_calldata();
            let (salt, init_code) = calldata.split_at(32);
            assert_eq!(DETERMINISTIC_DEPLOYER.create2_from_code(B256::from_slice(salt), init_code), step.address);
        }
        assert_eq!(steps(owner), steps(owner), "deterministic");
    }
}
