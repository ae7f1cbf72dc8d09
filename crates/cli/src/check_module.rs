//! `keyward check-module --rpc-url URL --module ADDR [--kind …] [--entity-id N] [--install-data HEX]`:
//! the checks a custom permission module (anyone's ERC-6900 module) must pass before sessions use
//! it, on any chain with Keyward's account stack (on `keyward dev` the dev keys pay for everything):
//!
//! - (a) ERC-7562: the bundler's validation rules ([`keyward_bundler::erc7562`]) on a traced
//!   `simulateValidation` of a throwaway session's operation through the module, and on the first
//!   operation of a session whose deferred grant installs it (its `onInstall` then runs in the
//!   validation phase). A module that touches storage not associated with the account, or uses a
//!   banned opcode, fails with the rule named.
//! - (b) A session may never call the module: an operation of the session whose call targets the
//!   module must be refused (in validation or execution).
//!
//! Setup: two throwaway Semi-Modular Accounts of fresh owners, funded by `--funder-key` (default:
//! dev key 0); one installs the session with the module by an owner operation, the other stays
//! without it for the deferred grant. Both owner operations go straight to the EntryPoint in one
//! `handleOps` sent by the funder (no bundler needed). Exit status: 0 all PASS, 1 a FAIL, 2 setup.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use anyhow::Context;
use keyward_bundler::erc7562::{StakeRequirement, check_on_chain};
use keyward_bundler::simulation::{SimulationError, simulate_validation_with, simulations_override};
use keyward_bundler::validation::{Assumptions, ValidationConfig};
use keyward_bundler::{RejectReason, estimate::estimate_user_op_gas};
use keyward_chain::dev_keys::{DEPLOYER_KEY_INDEX, dev_signer};
use keyward_chain::send::send_and_wait;
use keyward_chain::{Chain, RpcChain};
use keyward_contracts::Deployment;
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::entry_point_revert::EntryPointRevert;
use keyward_primitives::mav2::abi::Call;
use keyward_primitives::mav2::signature::DUMMY_USER_OP_SIGNATURE;
use keyward_primitives::{ENTRY_POINT_V07, UserOperation};
use keyward_sdk::modular_account::{
    CustomValidation, GasOverrides, HookKind, SessionHook, SessionKeyConnection, SessionKeyValidation,
};
use keyward_sdk::{AccountContracts, BundlerClient, ModularAccount, SignerEntity};

/// How the module under check is installed on the throwaway session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ModuleKind {
    /// `IValidationHookModule`, a validation hook of a SingleSigner session key.
    ValidationHook,
    /// `IExecutionHookModule`, a validation-associated execution hook of a session key.
    ExecutionHook,
    /// `IValidationModule`, the session's validation in place of SingleSigner.
    Validation,
}

/// `keyward check-module …`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckModuleArgs {
    /// JSON-RPC URL of the chain (a `keyward dev`, or any node where `keyward deploy` ran).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:4337")]
    rpc_url: String,
    /// The module's address.
    #[arg(long, value_name = "ADDR")]
    module: Address,
    /// How the module is installed.
    #[arg(long, value_enum, default_value = "validation-hook")]
    kind: ModuleKind,
    /// Entity id of the throwaway session, and of the hook (1..=0x7ffffffe).
    #[arg(long, value_name = "N", default_value_t = 1)]
    entity_id: u32,
    /// The module's `onInstall` data, hex (empty: no ERC-165 check and no `onInstall` call).
    #[arg(long, value_name = "HEX", default_value = "0x")]
    install_data: Bytes,
    /// Execution hook: the module also has a post-execution hook (flag 0x02).
    #[arg(long)]
    post: bool,
    /// Validation module: the validation data its user-op signatures carry after `0xFF`, hex
    /// (default: an ECDSA-shaped dummy, `0x00 ‖ r ‖ s ‖ v`).
    #[arg(long, value_name = "HEX")]
    validation_data: Option<Bytes>,
    /// The call the probe operations make (default: a fresh address, no data).
    #[arg(long, value_name = "ADDR")]
    call_target: Option<Address>,
    /// Calldata of the probe call, hex.
    #[arg(long, value_name = "HEX", default_value = "0x")]
    call_data: Bytes,
    /// Private key that funds the throwaway accounts and sends their setup (default: `keyward dev`'s
    /// dev key 0).
    #[arg(long, value_name = "HEX", env = "KEYWARD_FUNDER_KEY", hide_env_values = true)]
    funder_key: Option<String>,
    /// Owner of the account stack's factory (the deployer `keyward deploy` used; default:
    /// `keyward dev`'s).
    #[arg(long, value_name = "ADDR")]
    factory_owner: Option<Address>,
}

/// One check's verdict: what was seen, PASS or FAIL.
struct Verdict {
    name: &'static str,
    result: Result<String, String>,
}

/// Runs `keyward check-module`; exits 1 when a check fails, 2 when the setup fails.
pub(crate) async fn run(args: CheckModuleArgs) -> anyhow::Result<()> {
    let verdicts = match checks(&args).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("check-module: setup failed: {e:#}");
            std::process::exit(2);
        }
    };
    let failed = verdicts.iter().filter(|v| v.result.is_err()).count();
    for v in &verdicts {
        match &v.result {
            Ok(detail) => println!("PASS  {}\n      {}", v.name, detail.replace('\n', "\n      ")),
            Err(detail) => println!("FAIL  {}\n      {}", v.name, detail.replace('\n', "\n      ")),
        }
    }
    if failed > 0 {
        println!("result: FAIL ({failed} of {} checks failed)", verdicts.len());
        std::process::exit(1);
    }
    println!("result: PASS ({} checks)", verdicts.len());
    Ok(())
}

fn setup_gas() -> GasOverrides {
    GasOverrides {
        call_gas_limit: Some(3_000_000),
        verification_gas_limit: Some(1_500_000),
        pre_verification_gas: Some(U256::from(150_000)),
        ..Default::default()
    }
}

fn probe_gas() -> GasOverrides {
    GasOverrides {
        call_gas_limit: Some(1_000_000),
        verification_gas_limit: Some(3_000_000),
        pre_verification_gas: Some(U256::from(150_000)),
        ..Default::default()
    }
}

/// The throwaway session with the module under check.
fn session(args: &CheckModuleArgs, key: Address) -> SessionKeyValidation {
    let e = args.entity_id;
    let hook = |kind, has_pre, has_post| SessionHook::Custom {
        module: args.module,
        entity_id: e,
        kind,
        has_pre,
        has_post,
        install_data: args.install_data.clone(),
        uninstall_data: Bytes::new(),
    };
    match args.kind {
        ModuleKind::ValidationHook => {
            SessionKeyValidation::new(e, key).allow_execute().hook(hook(HookKind::Validation, true, false))
        }
        ModuleKind::ExecutionHook => {
            SessionKeyValidation::new(e, key).allow_execute().hook(hook(HookKind::Execution, true, args.post))
        }
        ModuleKind::Validation => SessionKeyValidation::with_validation_module(
            e,
            CustomValidation {
                module: args.module,
                install_data: args.install_data.clone(),
                uninstall_data: Bytes::new(),
            },
        )
        .allow_execute(),
    }
}

async fn checks(args: &CheckModuleArgs) -> anyhow::Result<Vec<Verdict>> {
    let chain = RpcChain::connect(&args.rpc_url)?;
    let client = BundlerClient::new(&args.rpc_url, ENTRY_POINT_V07)?;
    let chain_id = chain.chain_id().await.with_context(|| format!("is a node running at {}?", args.rpc_url))?;
    let funder: PrivateKeySigner = match &args.funder_key {
        Some(k) => k.trim().parse().context("--funder-key is not a private key")?,
        None => dev_signer(0)?,
    };
    let factory_owner = match args.factory_owner {
        Some(a) => a,
        None => dev_signer(DEPLOYER_KEY_INDEX)?.address(),
    };
    let deployment = Deployment::keyward(factory_owner);
    let contracts = AccountContracts {
        entry_point: deployment.entry_point,
        factory: deployment.factory,
        semi_modular_account_impl: deployment.sma_impl,
        modules: deployment.modules,
    };
    for (name, at) in [("the AccountFactory", contracts.factory), ("the module", args.module)] {
        anyhow::ensure!(!chain.code(at).await?.is_empty(), "{name} at {at} has no code on chain {chain_id}");
    }
    println!(
        "keyward check-module: {} {} (entity {}) on chain {chain_id} at {}",
        match args.kind {
            ModuleKind::ValidationHook => "validation-hook",
            ModuleKind::ExecutionHook => "execution-hook",
            ModuleKind::Validation => "validation",
        },
        args.module,
        args.entity_id,
        args.rpc_url
    );

    // Two throwaway accounts: A gets the session by an owner op, B only exists (deferred grant).
    let owner_a = ModularAccount::owner(PrivateKeySigner::random(), U256::ZERO, chain_id, contracts);
    let owner_b = ModularAccount::owner(PrivateKeySigner::random(), U256::ZERO, chain_id, contracts);
    for account in [owner_a.address(), owner_b.address()] {
        let fund = TransactionRequest::default().with_to(account).with_value(U256::from(10u64).pow(U256::from(17u64)));
        let r = send_and_wait(&chain, &funder, fund).await.context("funding a throwaway account")?;
        anyhow::ensure!(r.status(), "funding {account} reverted");
    }
    let key_a = PrivateKeySigner::random();
    let session_a = session(args, key_a.address());
    let install = owner_a.encode_install_session_key(&session_a)?;
    let op_a = owner_a.build_user_operation(&client, install, setup_gas()).await?;
    // B's op only deploys it (a call of nothing to its owner: an empty callData is not applicable).
    let noop = owner_b.encode_execute(owner_b.signer().address(), U256::ZERO, Bytes::new(), false);
    let op_b = owner_b.build_user_operation(&client, noop, setup_gas()).await?;
    let handle = IEntryPoint::handleOpsCall { ops: vec![op_a.pack(), op_b.pack()], beneficiary: funder.address() };
    let tx = TransactionRequest::default()
        .with_from(funder.address())
        .with_to(contracts.entry_point)
        .with_input(handle.abi_encode());
    if let Err(keyward_chain::ChainError::Reverted { data, .. }) = chain.call(tx.clone(), None).await {
        anyhow::bail!("the setup handleOps would revert: {}", EntryPointRevert::decode(&data).describe());
    }
    let receipt = send_and_wait(&chain, &funder, tx).await.context("handleOps of the setup operations")?;
    anyhow::ensure!(receipt.status(), "the setup handleOps reverted");
    let mut installed = None;
    let mut reason = Bytes::new();
    for log in receipt.inner.logs() {
        if let Ok(e) = IEntryPoint::UserOperationEvent::decode_log_data(log.data())
            && e.sender == owner_a.address()
        {
            installed = Some(e.success);
        }
        if let Ok(e) = IEntryPoint::UserOperationRevertReason::decode_log_data(log.data())
            && e.sender == owner_a.address()
        {
            reason = e.revertReason;
        }
    }
    anyhow::ensure!(
        installed == Some(true),
        "installing the module on a throwaway session failed (onInstall reverted, or the ERC-165 check for \
         its role failed?): revert data {reason}"
    );
    println!(
        "  setup: account {} (session key {} at entity {}, module installed), account {} for the deferred grant",
        owner_a.address(),
        key_a.address(),
        args.entity_id,
        owner_b.address()
    );

    let validation_data = (args.kind == ModuleKind::Validation)
        .then(|| args.validation_data.clone().unwrap_or_else(|| Bytes::copy_from_slice(&DUMMY_USER_OP_SIGNATURE[1..])));
    let probe = Call {
        target: args.call_target.unwrap_or_else(|| PrivateKeySigner::random().address()),
        value: U256::ZERO,
        data: args.call_data.clone(),
    };
    let entity = SignerEntity::new(args.entity_id, false);
    let connect =
        |account| SessionKeyConnection { account_address: account, signer_entity: entity, factory_args: None };
    let sk_a = ModularAccount::session_key(key_a, connect(owner_a.address()), chain_id, contracts)?;
    let mut verdicts = Vec::new();

    // (a) an operation through the installed module.
    let op = session_op(&sk_a, &client, vec![probe.clone()], validation_data.as_ref()).await?;
    verdicts.push(Verdict {
        name: "(a) ERC-7562 validation rules: an operation of a session using the module",
        result: rules(&chain, contracts.entry_point, &op).await,
    });

    // (a) the first op of a session whose deferred grant installs the module (onInstall in validation).
    let key_b = PrivateKeySigner::random();
    let compiled = session(args, key_b.address()).compile(&contracts.modules)?;
    let grant = owner_b.grant_deferred_session(&compiled, U256::ZERO, 0).await?;
    let sk_b = ModularAccount::session_key(key_b, connect(owner_b.address()), chain_id, contracts)?
        .with_deferred_action(grant)?;
    let op = session_op(&sk_b, &client, vec![probe], validation_data.as_ref()).await?;
    verdicts.push(Verdict {
        name: "(a) ERC-7562 validation rules: a deferred grant installing the module (onInstall in validation)",
        result: rules(&chain, contracts.entry_point, &op).await,
    });

    // (b) the session calls the module directly (it could rewrite its own configuration).
    let rewrite = Call { target: args.module, value: U256::ZERO, data: on_install_call(&args.install_data) };
    let op = session_op(&sk_a, &client, vec![rewrite], validation_data.as_ref()).await?;
    verdicts.push(Verdict {
        name: "(b) the account refuses a session's call to the module",
        result: refused(&chain, &op).await,
    });
    Ok(verdicts)
}

fn on_install_call(data: &Bytes) -> Bytes {
    alloy::sol! {
        interface IModuleInstall {
            function onInstall(bytes data) external;
        }
    }
    IModuleInstall::onInstallCall { data: data.clone() }.abi_encode().into()
}

/// A signed (not sent) operation of `sk`: SingleSigner signature, or `0xFF ‖ validation_data`.
async fn session_op(
    sk: &ModularAccount<PrivateKeySigner>,
    client: &BundlerClient,
    calls: Vec<Call>,
    validation_data: Option<&Bytes>,
) -> anyhow::Result<UserOperation> {
    let data = sk.encode_calls(client, calls).await?;
    let mut op = sk.build_user_operation(client, data, probe_gas()).await?;
    if let Some(v) = validation_data {
        op.signature = sk.user_op_signature_with(op.nonce, &[], v)?;
    }
    Ok(op)
}

/// The bundler's ERC-7562 rules on the traced `simulateValidation` of `op`.
async fn rules(chain: &RpcChain, entry_point: Address, op: &UserOperation) -> Result<String, String> {
    let overrides = simulations_override(entry_point);
    let stake = StakeRequirement::default();
    match check_on_chain(chain, entry_point, &op.pack(), overrides.clone(), &stake).await {
        Err(e) => Err(format!("tracing the validation failed: {e}")),
        Ok(Some(j)) if !j.violations.is_empty() => {
            Err(j.violations.iter().map(|v| format!("ERC-7562: {v}")).collect::<Vec<_>>().join("\n"))
        }
        Ok(Some(j)) => Ok(format!(
            "no rule broken; validation ran the code of {} contract(s) and touched the storage of {}",
            j.facts.code_hashes.len(),
            j.facts.storage_contracts.len()
        )),
        Ok(None) => match simulate_validation_with(chain, entry_point, op.pack(), overrides).await {
            Err(SimulationError::Reverted(r)) => Err(format!("the validation reverted: {}", r.describe())),
            Err(SimulationError::Chain(e)) => Err(format!("the simulation failed: {e}")),
            Ok(_) => Err("this chain cannot trace the validation".into()),
        },
    }
}

/// `TargetNotAllowed(address)`: the account's refusal of a session call to a module (R18).
const TARGET_NOT_ALLOWED: [u8; 4] = [0xe3, 0x56, 0xc1, 0xd3];

/// The op must be refused: in validation (FailedOp) or in execution (the call reverts).
async fn refused(chain: &RpcChain, op: &UserOperation) -> Result<String, String> {
    match estimate_user_op_gas(chain, &ValidationConfig::default(), op, Assumptions::default()).await {
        Err(RejectReason::FailedOp(r)) => {
            let named = match &r {
                EntryPointRevert::FailedOpWithRevert { inner, .. } if inner.starts_with(&TARGET_NOT_ALLOWED) => {
                    " = TargetNotAllowed(module)"
                }
                _ => "",
            };
            Ok(format!("refused in validation: {}{named}", r.describe()))
        }
        Err(RejectReason::ExecutionReverted(r)) => Ok(format!("refused in execution: {r}")),
        Err(other) => Err(format!("could not be judged: {other}")),
        Ok(_) => Err("the account let a session call its module (it could rewrite its own limits)".into()),
    }
}
