//! `keyward deploy --rpc-url URL`: puts Keyward's account stack (implementations, modules,
//! factory, VerifyingPaymaster) on any chain through the deterministic deployer, at the CREATE2
//! addresses `keyward dev` uses for the same deployer; stakes the factory and the paymaster in
//! the EntryPoint (ERC-7562 wants both staked: they read their own storage), sets the paymaster's
//! signer and funds its deposit when asked. Idempotent: what is in place is not sent again, and a
//! second run sends nothing. `--dry-run` prints the plan and its cost without sending.

use std::path::PathBuf;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256, utils::format_ether, utils::parse_ether};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anyhow::Context;
use keyward_chain::deploy::{GAS_AFTER_CREATION, PlannedTx, plan_account_stack, send_plan};
use keyward_chain::{Chain, RpcChain};
use keyward_contracts::bindings::VerifyingPaymaster;
use keyward_contracts::deployment::{DETERMINISTIC_DEPLOYER, Deployment};
use keyward_paymaster::deposit::{UNSTAKE_DELAY, deposit_of, is_staked, signer_of};
use keyward_primitives::ENTRY_POINT_V07;

/// Options of `keyward deploy`.
#[derive(Debug, clap::Args)]
pub(crate) struct DeployArgs {
    /// The node's JSON-RPC URL.
    #[arg(long)]
    rpc_url: String,
    /// Environment variable holding the deployer's private key (0x-hex).
    #[arg(long, value_name = "VAR", conflicts_with = "key_file")]
    private_key_env: Option<String>,
    /// File holding the deployer's private key (0x-hex).
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Make this address the paymaster's signer (the key `[chain.paymaster] signer` names).
    #[arg(long, value_name = "ADDRESS")]
    paymaster_signer: Option<Address>,
    /// Bring the paymaster's EntryPoint deposit up to this many ETH.
    #[arg(long, value_name = "ETH")]
    paymaster_deposit: Option<String>,
    /// Stake of the factory and of the paymaster in the EntryPoint, in ETH, each.
    #[arg(long, value_name = "ETH", default_value = "0.1")]
    stake: String,
    /// Print what would be sent and what it would cost; send nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `keyward deploy`.
pub(crate) async fn run(args: DeployArgs) -> anyhow::Result<()> {
    let deployer = deployer_key(&args)?;
    let chain = RpcChain::connect(&args.rpc_url).context("connecting to the node")?;
    let chain_id = chain.chain_id().await.context("asking the node its chain id")?;
    for (name, address) in [("EntryPoint v0.7", ENTRY_POINT_V07), ("deterministic deployer", DETERMINISTIC_DEPLOYER)] {
        if chain.code(address).await?.is_empty() {
            anyhow::bail!("chain {chain_id} has no {name} at {address}: Keyward needs the canonical one");
        }
    }
    let stake = parse_ether(&args.stake).with_context(|| format!("--stake {:?}", args.stake))?;
    let deposit = args
        .paymaster_deposit
        .as_deref()
        .map(|d| parse_ether(d).with_context(|| format!("--paymaster-deposit {d:?}")))
        .transpose()?;
    let deployment = Deployment::keyward(deployer.address());
    let plan = plan(&chain, &deployer, &deployment, stake, args.paymaster_signer, deposit).await?;

    println!("chain {chain_id} at {}; deployer {}", args.rpc_url, deployer.address());
    if plan.is_empty() {
        println!("nothing to do: the stack is in place, staked and configured; no transaction sent");
    } else {
        let price = chain.gas_price().await.context("reading the gas price")?;
        let gas: u64 = plan.iter().map(|a| a.gas).sum();
        let value: U256 = plan.iter().filter_map(|a| a.tx.value).sum();
        println!("plan ({} transactions):", plan.len());
        for a in &plan {
            println!("  - {} (~{} gas)", a.what, a.gas);
        }
        let fees = U256::from(gas) * U256::from(price);
        println!(
            "cost: ~{gas} gas at {price} wei/gas = ~{} ETH in fees, plus {} ETH staked or deposited",
            format_ether(fees),
            format_ether(value)
        );
        let balance = chain.balance(deployer.address()).await?;
        if balance < fees + value {
            println!("warning: the deployer holds {} ETH, less than that", format_ether(balance));
        }
        if args.dry_run {
            println!("dry run: nothing sent");
        } else {
            let what: Vec<String> = plan.iter().map(|a| a.what.clone()).collect();
            let receipts = send_plan(&chain, &deployer, plan).await.context("sending the plan")?;
            for (what, receipt) in what.iter().zip(receipts) {
                println!("  done: {what} (tx {}, {} gas)", receipt.transaction_hash, receipt.gas_used);
            }
        }
    }
    println!("\ncontracts:");
    for (name, address) in deployment.named() {
        println!("  {name:<28} {address}");
    }
    println!(
        "\nin keyward.toml, for this chain:\n  id = {chain_id}\n  stack = \"keyward\"\n  deployer = \"{}\"",
        deployer.address()
    );
    Ok(())
}

/// The deployer's key: from `--private-key-env` or `--key-file`, never from the command line.
fn deployer_key(args: &DeployArgs) -> anyhow::Result<PrivateKeySigner> {
    let text = match (&args.private_key_env, &args.key_file) {
        (Some(var), _) => std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?,
        (None, Some(path)) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        (None, None) => anyhow::bail!("give the deployer key with --private-key-env VAR or --key-file PATH"),
    };
    text.trim().parse().map_err(|_| anyhow::anyhow!("the deployer key is not a 0x-hex private key"))
}

/// What is missing, in order: contracts, the factory's stake, the paymaster's signer, stake and
/// deposit.
async fn plan(
    chain: &RpcChain,
    deployer: &PrivateKeySigner,
    deployment: &Deployment,
    stake: U256,
    paymaster_signer: Option<Address>,
    deposit: Option<U256>,
) -> anyhow::Result<Vec<PlannedTx>> {
    let from = deployer.address();
    let mut actions = plan_account_stack(chain, from, stake).await.context("planning the account stack")?;
    let created: Vec<Address> = actions.iter().filter_map(|a| a.creates).collect();
    let estimate = |tx: TransactionRequest, to: Address| {
        let fresh = created.contains(&to);
        async move {
            if fresh {
                return Ok(GAS_AFTER_CREATION);
            }
            chain.estimate_gas(tx, None).await
        }
    };
    let paymaster = deployment.verifying_paymaster;
    let fresh_paymaster = created.contains(&paymaster);
    if let Some(signer) = paymaster_signer {
        let current = if fresh_paymaster { None } else { Some(signer_of(chain, paymaster).await?) };
        if current != Some(signer) {
            let tx = call_tx(
                from,
                paymaster,
                VerifyingPaymaster::setSignerCall { newSigner: signer }.abi_encode(),
                U256::ZERO,
            );
            let gas = estimate(tx.clone(), paymaster).await?;
            actions.push(PlannedTx { what: format!("make {signer} the paymaster's signer"), tx, gas, creates: None });
        }
    }
    let paymaster_staked = !fresh_paymaster && is_staked(chain, deployment.entry_point, paymaster).await?;
    if !paymaster_staked && !stake.is_zero() {
        let tx = call_tx(
            from,
            paymaster,
            VerifyingPaymaster::addStakeCall { unstakeDelaySec: UNSTAKE_DELAY }.abi_encode(),
            stake,
        );
        let gas = estimate(tx.clone(), paymaster).await?;
        actions.push(PlannedTx {
            what: format!("stake the paymaster ({} ETH)", format_ether(stake)),
            tx,
            gas,
            creates: None,
        });
    }
    if let Some(target) = deposit {
        let current = if fresh_paymaster { U256::ZERO } else { deposit_of(chain, paymaster).await? };
        if current < target {
            let tx = call_tx(from, paymaster, VerifyingPaymaster::depositCall {}.abi_encode(), target - current);
            let gas = estimate(tx.clone(), paymaster).await?;
            actions.push(PlannedTx {
                what: format!(
                    "deposit {} ETH for the paymaster (to {} ETH)",
                    format_ether(target - current),
                    format_ether(target)
                ),
                tx,
                gas,
                creates: None,
            });
        }
    }
    Ok(actions)
}

/// A call from `from` to `to` with `data` and `value`.
fn call_tx(from: Address, to: Address, data: Vec<u8>, value: U256) -> TransactionRequest {
    TransactionRequest::default().with_from(from).with_to(to).with_input(data).with_value(value)
}
