//! `keyward keys create|list|revoke --config keyward.toml`: the API keys `keyward serve` accepts,
//! in the store the config names. A key's secret is printed once, at creation; only its hash is
//! stored.

use std::path::PathBuf;

use anyhow::Context;
use keyward_server::http::auth::{generate_id, generate_secret, secret_hash};
use keyward_store::{ApiKeyRecord, Store};

/// `keyward keys …`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeysArgs {
    /// The configuration file (its `[store]` holds the keys).
    #[arg(long, value_name = "FILE", default_value = "keyward.toml", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Create a key and print its secret (once).
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Chain ids the key may use (comma-separated); every chain when absent.
        #[arg(long, value_delimiter = ',')]
        chains: Vec<u64>,
        /// Gas-policy ids the key may name (comma-separated); every policy when absent.
        #[arg(long, value_delimiter = ',')]
        policies: Vec<String>,
        /// Requests per minute allowed (per replica); 0 for no limit.
        #[arg(long, default_value_t = 600)]
        rate: u64,
    },
    /// List the keys (never their secrets).
    List,
    /// Revoke a key by id; requests with it are refused (within seconds on every replica).
    Revoke {
        /// The key's id (`key_…`).
        id: String,
    },
}

/// Runs a `keyward keys` command.
pub(crate) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let config = crate::serve::config::load(&args.config)?;
    let store = Store::open(&config.store_url()).await.context("opening the store")?;
    let now = keyward_primitives::unix_now();
    match args.command {
        KeysCommand::Create { name, chains, policies, rate } => {
            let secret = generate_secret();
            let record = ApiKeyRecord {
                id: generate_id(),
                name,
                secret_hash: secret_hash(&secret),
                chains,
                policies,
                rate_per_minute: rate,
                created_at: now,
                revoked_at: None,
            };
            store.insert_api_key(&record).await.context("storing the key")?;
            store.durable().await.context("syncing the store")?;
            println!(
                "id      {}\nsecret  {secret}\n\nThe secret is shown once. Use it as `Authorization: Bearer SECRET` or in the URL: /v2/SECRET",
                record.id
            );
        }
        KeysCommand::List => {
            println!("{:<18} {:<20} {:<16} {:<24} {:>8}  status", "id", "name", "chains", "policies", "rate/min");
            for k in store.api_keys().await.context("reading the keys")? {
                let list = |v: Vec<String>| if v.is_empty() { "all".to_string() } else { v.join(",") };
                println!(
                    "{:<18} {:<20} {:<16} {:<24} {:>8}  {}",
                    k.id,
                    k.name,
                    list(k.chains.iter().map(u64::to_string).collect()),
                    list(k.policies.clone()),
                    if k.rate_per_minute == 0 { "none".to_string() } else { k.rate_per_minute.to_string() },
                    match k.revoked_at {
                        Some(t) => format!("revoked at {t}"),
                        None => "active".to_string(),
                    }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_api_key(&id, now).await.context("revoking the key")? {
                anyhow::bail!("no API key with id {id}");
            }
            store.durable().await.context("syncing the store")?;
            println!("revoked {id}");
        }
    }
    store.close().await;
    Ok(())
}
