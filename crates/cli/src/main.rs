//! `keyward`: the command-line entry point.

mod dev;

use clap::{Parser, Subcommand};

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,jsonrpsee=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Dev(args) => dev::run(args).await,
    }
}
