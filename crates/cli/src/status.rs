//! `keyward status --config keyward.toml`: the operations view of a deployment from its store and
//! nodes — the replicas up, who holds each role (bundling per key, watching per chain) with its
//! fencing token and expiry, each chain's mempool depth and watcher cursor, and the bundler keys'
//! balances. The same figures are exported by every replica at `/metrics`
//! (`keyward_role_held`, `keyward_mempool_operations`, `keyward_bundler_balance_wei`).

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use anyhow::Context;
use keyward_chain::{Chain, RpcChain};
use keyward_store::{RoleLease, Store};
use serde_json::json;

use crate::serve::config::{ChainSection, ServeConfig};

/// `keyward status …`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The configuration file of the replicas (its `[store]` and `[[chain]]` sections).
    #[arg(long, value_name = "FILE", default_value = "keyward.toml")]
    config: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// How recently a replica must have written its heartbeat to be listed as up.
const UP_WITHIN: Duration = Duration::from_secs(10);

/// Runs `keyward status`.
pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let config = crate::serve::config::load(&args.config)?;
    let store = Store::open(&config.store_url()).await.context("opening the store")?;
    let view = gather(&config, &store).await?;
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view.to_json())?);
    } else {
        print!("{}", view.to_text());
    }
    Ok(())
}

/// Everything `keyward status` shows.
struct View {
    now_ms: u64,
    replicas: Vec<(String, u64, u64)>,
    leases: Vec<RoleLease>,
    chains: Vec<ChainView>,
}

/// One chain's part.
struct ChainView {
    id: u64,
    /// (pending, submitted), or why it could not be read.
    depth: Result<(u64, u64), String>,
    cursor: Option<u64>,
    /// The bundler keys (from the leases) and their balances.
    keys: Vec<(Address, Result<U256, String>)>,
}

async fn gather(config: &ServeConfig, store: &Store) -> anyhow::Result<View> {
    let replicas = store.live_replicas(UP_WITHIN).await.context("reading the replicas")?;
    let leases = store.role_leases().await.context("reading the leases")?;
    let mut chains = Vec::new();
    for section in &config.chain {
        chains.push(chain_view(section, store, &leases).await);
    }
    // The database's clock, which the leases' expiries are measured by.
    let now_ms = store.now_ms().await.context("reading the database's clock")?;
    Ok(View { now_ms, replicas, leases, chains })
}

async fn chain_view(section: &ChainSection, store: &Store, leases: &[RoleLease]) -> ChainView {
    let depth = match crate::serve::stack::deployment(section) {
        Ok(d) => store.count_unfinished(section.id, d.entry_point).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let cursor = store.chain_cursor(&format!("watch:{}", section.id)).await.ok().flatten().map(|(n, _)| n);
    let prefix = format!("bundler:{}:", section.id);
    let addresses: Vec<Address> =
        leases.iter().filter_map(|l| l.role.strip_prefix(&prefix)).filter_map(|a| a.parse().ok()).collect();
    let node = RpcChain::connect(&section.rpc_url);
    let mut keys = Vec::new();
    for address in addresses {
        let balance = match &node {
            Ok(node) => node.balance(address).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        keys.push((address, balance));
    }
    ChainView { id: section.id, depth, cursor, keys }
}

impl View {
    fn to_text(&self) -> String {
        let mut out = format!("Replicas up (heartbeat within {} s): {}\n", UP_WITHIN.as_secs(), self.replicas.len());
        for (id, started, seen) in &self.replicas {
            out.push_str(&format!(
                "  {id:<40} up {:>6}, seen {} ago\n",
                ago(self.now_ms, *started),
                ago(self.now_ms, *seen)
            ));
        }
        out.push_str("\nRoles\n");
        out.push_str(&format!("  {:<62} {:<40} {:>5}  EXPIRES\n", "ROLE", "HOLDER", "TOKEN"));
        for l in &self.leases {
            out.push_str(&format!("  {:<62} {:<40} {:>5}  {}\n", l.role, l.holder, l.token, self.expiry(l)));
        }
        for c in &self.chains {
            out.push_str(&format!("\nChain {}\n", c.id));
            match &c.depth {
                Ok((pending, submitted)) => {
                    out.push_str(&format!("  mempool      {pending} pending, {submitted} in sent bundles\n"))
                }
                Err(e) => out.push_str(&format!("  mempool      unreadable: {e}\n")),
            }
            match c.cursor {
                Some(n) => out.push_str(&format!("  watcher      read up to block {n}\n")),
                None => out.push_str("  watcher      has not read yet\n"),
            }
            for (address, balance) in &c.keys {
                match balance {
                    Ok(b) => out.push_str(&format!("  bundler key  {address}  {} ETH\n", ether(*b))),
                    Err(e) => out.push_str(&format!("  bundler key  {address}  balance unreadable: {e}\n")),
                }
            }
        }
        out
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "replicas": self.replicas.iter().map(|(id, started, seen)| json!({
                "id": id, "startedAtMs": started, "seenAtMs": seen,
            })).collect::<Vec<_>>(),
            "roles": self.leases.iter().map(|l| json!({
                "role": l.role, "holder": l.holder, "token": l.token,
                "expiresAtMs": l.expires_at_ms, "acquiredAtMs": l.acquired_at_ms,
                "live": l.expires_at_ms > self.now_ms,
            })).collect::<Vec<_>>(),
            "chains": self.chains.iter().map(|c| json!({
                "id": c.id,
                "mempool": match &c.depth {
                    Ok((p, s)) => json!({"pending": p, "submitted": s}),
                    Err(e) => json!({"error": e}),
                },
                "watcherBlock": c.cursor,
                "bundlerKeys": c.keys.iter().map(|(a, b)| match b {
                    Ok(b) => json!({"address": a, "balanceWei": b.to_string()}),
                    Err(e) => json!({"address": a, "error": e}),
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    fn expiry(&self, l: &RoleLease) -> String {
        if l.expires_at_ms > self.now_ms {
            format!("in {:.1} s", (l.expires_at_ms - self.now_ms) as f64 / 1000.0)
        } else if l.expires_at_ms == 0 {
            "released".into()
        } else {
            format!("expired {} ago", ago(self.now_ms, l.expires_at_ms))
        }
    }
}

/// `then` (ms) as a duration before `now` (ms): `4.2 s`, `3 m 5 s`, `2 h 1 m`.
fn ago(now: u64, then: u64) -> String {
    let ms = now.saturating_sub(then);
    let s = ms / 1000;
    match s {
        0..60 => format!("{:.1} s", ms as f64 / 1000.0),
        60..3600 => format!("{} m {} s", s / 60, s % 60),
        _ => format!("{} h {} m", s / 3600, (s % 3600) / 60),
    }
}

/// Wei as ether with four decimals.
fn ether(wei: U256) -> String {
    alloy::primitives::utils::format_units(wei, "ether")
        .map(|s| match s.split_once('.') {
            Some((whole, frac)) => format!("{whole}.{}", &frac[..frac.len().min(4)]),
            None => s,
        })
        .unwrap_or_else(|_| wei.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_amounts_read_as_people_write_them() {
        assert_eq!(ago(10_000, 5_800), "4.2 s");
        assert_eq!(ago(1_000_000, 815_000), "3 m 5 s");
        assert_eq!(ago(8_000_000, 500_000), "2 h 5 m");
        assert_eq!(ether(U256::from(1_234_567_000_000_000_000u128)), "1.2345");
        assert_eq!(ether(U256::ZERO), "0.0000");
    }
}
