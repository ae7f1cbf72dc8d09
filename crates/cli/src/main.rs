//! `keyward`: the command-line entry point.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod check_module;
mod deploy;
mod dev;
mod keys;
mod serve;
mod status;

use clap::{Parser, Subcommand};

/// mimalloc: the server allocates many short-lived buffers per request (JSON, ABI, EVM state).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keyward: self-hosted smart wallets with onchain session keys.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a local development chain with Keyward's contracts, funded dev keys and the RPC.
    Dev(dev::DevArgs),
    /// Serve the Wallet API, the bundler and gas sponsorship on real chains (production).
    Serve(serve::ServeArgs),
    /// Put Keyward's contracts on a chain (idempotent; --dry-run shows the plan and cost).
    Deploy(deploy::DeployArgs),
    /// Manage the API keys of `keyward serve`.
    Keys(keys::KeysArgs),
    /// Show the replicas, who holds each role, mempool depth and bundler key balances.
    Status(status::StatusArgs),
    /// Check a custom permission module (ERC-7562 rules in validation, no session call to it).
    CheckModule(check_module::CheckModuleArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,jsonrpsee=warn,sqlx=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // Production logs are JSON lines for log collectors; the others are for people.
    if matches!(cli.command, Command::Serve(_)) {
        logs.json().with_current_span(false).init();
    } else {
        logs.init();
    }
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Deploy(args) => deploy::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::CheckModule(args) => check_module::run(args).await,
    }
}
