//! `keyward.toml`, the configuration of `keyward serve`: read, checked, and refused at start with
//! the file, the key and the reason. Secrets are never written in it: a key is `env:VAR` (the
//! variable holds the 0x-hex private key) or `file:PATH` (the file holds it).
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:4337"
//! cors_origins = ["https://app.example.com"]   # ["*"] for any; [] for none
//! max_body_bytes = 1048576
//! request_timeout_secs = 60
//! max_connections = 1024            # requests in flight per route; beyond it: HTTP 429
//! require_api_keys = true
//! test_controls = false             # true: serve debug_bundler_* (conformance tests only)
//!
//! [store]
//! url = "postgres://keyward@db.internal/keyward"   # or "sqlite:///var/lib/keyward/keyward.db"
//!
//! [[chain]]
//! id = 11155111
//! rpc_url = "https://node.example.com"
//! stack = "keyward"                 # or "mav2" (Alchemy's deployed Modular Account V2)
//! deployer = "0x…"                  # stack = "keyward": the address `keyward deploy` deployed with
//! bundler_keys = ["env:KEYWARD_BUNDLER_KEY"]
//!
//! [chain.bundler]                   # optional: ERC-7562 stake requirement on this chain
//! min_stake_wei = "100000000000000000"   # MIN_STAKE_VALUE (default 0.1 ETH); integer or decimal string
//! min_unstake_delay_secs = 86400    # MIN_UNSTAKE_DELAY (default one day)
//!
//! [chain.paymaster]                 # optional: gas sponsorship on this chain
//! signer = "file:/etc/keyward/paymaster.key"
//! policies = "policies.toml"        # relative to this file
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_bundler::erc7562::StakeRequirement;
use serde::Deserialize;

/// A configuration refused: which file, which key, why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {reason}")]
pub(crate) struct ConfigError {
    /// The file.
    pub(crate) file: String,
    /// The key (`chain[0].rpc_url`), or `(file)` for the file as a whole.
    pub(crate) key: String,
    /// Why.
    pub(crate) reason: String,
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeConfig {
    /// The HTTP edge.
    #[serde(default)]
    pub(crate) server: ServerSection,
    /// Where state lives.
    pub(crate) store: StoreSection,
    /// The chains served.
    #[serde(default)]
    pub(crate) chain: Vec<ChainSection>,
}

impl ServeConfig {
    /// The store URL to open: a SQLite file is created when missing (`mode=rwc` unless the URL
    /// names a mode).
    pub(crate) fn store_url(&self) -> String {
        let url = &self.store.url;
        if !url.starts_with("sqlite:") || url.contains("mode=") || url.contains(":memory:") {
            return url.clone();
        }
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}mode=rwc")
    }
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub(crate) listen: SocketAddr,
    /// Origins allowed by CORS.
    #[serde(default)]
    pub(crate) cors_origins: Vec<String>,
    /// Largest request body, in bytes.
    #[serde(default = "default_max_body")]
    pub(crate) max_body_bytes: u32,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_timeout")]
    pub(crate) request_timeout_secs: u64,
    /// Most connections (HTTP/1.1: requests in flight) served at once per route.
    #[serde(default = "default_max_connections")]
    pub(crate) max_connections: u32,
    /// Whether every JSON-RPC request needs an API key.
    #[serde(default = "default_true")]
    pub(crate) require_api_keys: bool,
    /// UNSAFE IN PRODUCTION: serve the bundler's ERC-7769 test controls (`debug_bundler_*`: clear
    /// the mempool and reputation, switch to manual bundling, …) on `/chain/ID`, for the ERC-4337
    /// conformance suite. Off by default.
    #[serde(default)]
    pub(crate) test_controls: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            cors_origins: Vec::new(),
            max_body_bytes: default_max_body(),
            request_timeout_secs: default_timeout(),
            max_connections: default_max_connections(),
            require_api_keys: true,
            test_controls: false,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4337))
}
fn default_max_body() -> u32 {
    1 << 20
}
fn default_max_connections() -> u32 {
    keyward_server::http::DEFAULT_MAX_CONNECTIONS
}
fn default_timeout() -> u64 {
    60
}
fn default_true() -> bool {
    true
}

/// `[store]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreSection {
    /// `postgres://…` or `sqlite://…`.
    pub(crate) url: String,
}

/// Which account contracts a chain's accounts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StackKind {
    /// Keyward's own, put there by `keyward deploy`.
    Keyward,
    /// Alchemy's deployed Modular Account V2 at its canonical addresses.
    Mav2,
}

/// One `[[chain]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainSection {
    /// Chain id, checked against the node at start.
    pub(crate) id: u64,
    /// The node's JSON-RPC URL.
    pub(crate) rpc_url: String,
    /// The account stack.
    pub(crate) stack: StackKind,
    /// The deployer address `keyward deploy` used: Keyward's stack and its VerifyingPaymaster
    /// derive from it (needed by `stack = "keyward"`, and by `"mav2"` with a paymaster).
    pub(crate) deployer: Option<Address>,
    /// Addresses that differ from the stack's defaults (e.g. another MAv2 module release).
    #[serde(default)]
    pub(crate) addresses: AddressOverrides,
    /// Bundler signing keys (`env:VAR` or `file:PATH`); each bundles in parallel with its own
    /// transaction nonces, over the chain's one mempool.
    pub(crate) bundler_keys: Vec<String>,
    /// The bundler's policy on this chain (what counts as staked).
    #[serde(default)]
    pub(crate) bundler: BundlerSection,
    /// Gas sponsorship on this chain.
    pub(crate) paymaster: Option<PaymasterSection>,
}

impl ChainSection {
    /// What counts as a staked entity on this chain: `[chain.bundler]`'s values, the production
    /// defaults ([`StakeRequirement::default`]) for those not given.
    pub(crate) fn stake(&self) -> StakeRequirement {
        let defaults = StakeRequirement::default();
        StakeRequirement {
            min_stake: self.bundler.min_stake_wei.map_or(defaults.min_stake, |w| w.0),
            min_unstake_delay: self.bundler.min_unstake_delay_secs.unwrap_or(defaults.min_unstake_delay),
        }
    }
}

/// `[chain.bundler]`: the bundler's policy on one chain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BundlerSection {
    /// ERC-7562 `MIN_STAKE_VALUE` (chain-specific), in wei; 0.1 ETH when absent.
    pub(crate) min_stake_wei: Option<Wei>,
    /// ERC-7562 `MIN_UNSTAKE_DELAY`, in seconds; one day when absent.
    pub(crate) min_unstake_delay_secs: Option<u32>,
}

/// An amount of wei in the file: a TOML integer, or a decimal string for amounts beyond 2^63
/// (`"2000000000000000000000"`); `_` separators are allowed in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wei(pub(crate) U256);

impl<'de> Deserialize<'de> for Wei {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WeiVisitor;
        impl serde::de::Visitor<'_> for WeiVisitor {
            type Value = Wei;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount of wei: an integer, or a decimal string such as \"100000000000000000\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Wei, E> {
                Ok(Wei(U256::from(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Wei, E> {
                u64::try_from(v)
                    .map(|v| Wei(U256::from(v)))
                    .map_err(|_| E::custom("an amount of wei cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Wei, E> {
                let digits: String = v.chars().filter(|c| *c != '_').collect();
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("{v:?} is not a whole number of wei in decimal")));
                }
                U256::from_str_radix(&digits, 10)
                    .map(Wei)
                    .map_err(|_| E::custom(format!("{v:?} is more than 2^256 - 1 wei")))
            }
        }
        deserializer.deserialize_any(WeiVisitor)
    }
}

/// `[chain.addresses]`: per-contract overrides of the stack's addresses.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressOverrides {
    /// The account factory.
    pub(crate) factory: Option<Address>,
    /// SemiModularAccountBytecode implementation.
    pub(crate) semi_modular_account: Option<Address>,
    /// ModularAccount implementation.
    pub(crate) modular_account: Option<Address>,
    /// SemiModularAccount7702 implementation.
    pub(crate) semi_modular_account_7702: Option<Address>,
    /// SingleSignerValidationModule.
    pub(crate) single_signer_validation: Option<Address>,
    /// TimeRangeModule.
    pub(crate) time_range: Option<Address>,
    /// NativeTokenLimitModule.
    pub(crate) native_token_limit: Option<Address>,
    /// AllowlistModule.
    pub(crate) allowlist: Option<Address>,
    /// PaymasterGuardModule.
    pub(crate) paymaster_guard: Option<Address>,
    /// SessionRulesModule (Keyward's periodic limits and argument conditions).
    pub(crate) session_rules: Option<Address>,
    /// P256ValidationModule (Keyward's passkey session keys).
    pub(crate) p256_validation: Option<Address>,
    /// VerifyingPaymaster.
    pub(crate) verifying_paymaster: Option<Address>,
}

/// `[chain.paymaster]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaymasterSection {
    /// The paymaster signer key (`env:VAR` or `file:PATH`).
    pub(crate) signer: String,
    /// A policy file (TOML, see the README), relative to the config file.
    pub(crate) policies: Option<PathBuf>,
}

/// Reads and checks `path`.
pub(crate) fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        key: "(file)".into(),
        reason: e.to_string(),
    })?;
    parse(&text, &file)
}

/// Parses and checks the text of a config file named `file`.
pub(crate) fn parse(text: &str, file: &str) -> Result<ServeConfig, ConfigError> {
    let err = |key: String, reason: String| ConfigError { file: file.to_string(), key, reason };
    let de = toml::Deserializer::parse(text).map_err(|e| err("(file)".into(), e.message().to_string()))?;
    let config: ServeConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { "(file)".to_string() } else { key };
        err(key, e.inner().message().to_string())
    })?;
    check(&config).map_err(|(key, reason)| err(key, reason))?;
    Ok(config)
}

/// The checks serde cannot express; the key and reason of the first failure.
fn check(config: &ServeConfig) -> Result<(), (String, String)> {
    if config.chain.is_empty() {
        return Err(("chain".into(), "no [[chain]] is configured: serve at least one".into()));
    }
    if !(config.store.url.starts_with("postgres://")
        || config.store.url.starts_with("postgresql://")
        || config.store.url.starts_with("sqlite:"))
    {
        return Err(("store.url".into(), "must start with postgres://, postgresql:// or sqlite:".into()));
    }
    if config.server.max_connections == 0 {
        return Err(("server.max_connections".into(), "must be at least 1".into()));
    }
    if config.server.request_timeout_secs == 0 {
        return Err(("server.request_timeout_secs".into(), "must be at least 1".into()));
    }
    if config.server.test_controls && !config.server.require_api_keys && !config.server.listen.ip().is_loopback() {
        return Err((
            "server.test_controls".into(),
            format!(
                "with require_api_keys = false anyone reaching {} could clear the mempool: listen on a loopback \
                 address or require API keys (the suite then sends its key in the URL, /v2/KEY/chain/ID)",
                config.server.listen
            ),
        ));
    }
    let mut ids = BTreeSet::new();
    for (i, chain) in config.chain.iter().enumerate() {
        let at = |k: &str| format!("chain[{i}].{k}");
        if !ids.insert(chain.id) {
            return Err((at("id"), format!("chain {} is configured twice", chain.id)));
        }
        if !(chain.rpc_url.starts_with("http://") || chain.rpc_url.starts_with("https://")) {
            return Err((at("rpc_url"), "must be an http:// or https:// URL".into()));
        }
        if chain.stack == StackKind::Keyward && chain.deployer.is_none() {
            return Err((
                at("deployer"),
                "stack = \"keyward\" needs the deployer address `keyward deploy` printed".into(),
            ));
        }
        if chain.bundler_keys.is_empty() {
            return Err((at("bundler_keys"), "at least one bundler key is needed".into()));
        }
        for (j, key) in chain.bundler_keys.iter().enumerate() {
            check_secret_ref(key).map_err(|r| (format!("chain[{i}].bundler_keys[{j}]"), r))?;
        }
        if config.server.test_controls && chain.bundler_keys.len() > 1 {
            return Err((
                at("bundler_keys"),
                "server.test_controls drives one bundler key per chain (manual bundling, sendBundleNow): give one key"
                    .into(),
            ));
        }
        if chain.bundler.min_stake_wei.is_some_and(|w| w.0.is_zero()) {
            return Err((
                at("bundler.min_stake_wei"),
                "must be at least 1 wei (an entity without stake is never staked)".into(),
            ));
        }
        if chain.bundler.min_unstake_delay_secs == Some(0) {
            return Err((
                at("bundler.min_unstake_delay_secs"),
                "must be at least 1 (the EntryPoint takes no stake without an unstake delay)".into(),
            ));
        }
        if let Some(pm) = &chain.paymaster {
            check_secret_ref(&pm.signer).map_err(|r| (at("paymaster.signer"), r))?;
        }
    }
    Ok(())
}

/// Refuses a secret written in the file instead of referenced.
fn check_secret_ref(s: &str) -> Result<(), String> {
    match s.split_once(':') {
        Some(("env", var)) if !var.is_empty() => Ok(()),
        Some(("file", path)) if !path.is_empty() => Ok(()),
        _ => Err("a key is referenced as env:VAR or file:PATH, never written in the config".into()),
    }
}

/// Loads the private key `reference` names (`env:VAR` or `file:PATH`, relative to `base`).
pub(crate) fn load_secret(reference: &str, base: &Path) -> Result<PrivateKeySigner, String> {
    let text = match reference.split_once(':') {
        Some(("env", var)) => std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?,
        Some(("file", path)) => {
            let path = base.join(path);
            std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?
        }
        _ => return Err("a key is referenced as env:VAR or file:PATH".into()),
    };
    text.trim().parse::<PrivateKeySigner>().map_err(|_| format!("{reference} does not hold a 0x-hex private key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[store]
url = "postgres://k@localhost/k"

[[chain]]
id = 31337
rpc_url = "http://127.0.0.1:8545"
stack = "keyward"
deployer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
bundler_keys = ["env:BUNDLER"]
"#;

    fn refusal(text: &str) -> (String, String) {
        let e = parse(text, "k.toml").unwrap_err();
        assert_eq!(e.file, "k.toml");
        (e.key, e.reason)
    }

    #[test]
    fn a_sqlite_file_is_created_when_missing() {
        let c = parse(&GOOD.replace("postgres://k@localhost/k", "sqlite:///var/lib/k.db"), "k.toml").unwrap();
        assert_eq!(c.store_url(), "sqlite:///var/lib/k.db?mode=rwc");
        let c = parse(&GOOD.replace("postgres://k@localhost/k", "sqlite:///k.db?mode=rw"), "k.toml").unwrap();
        assert_eq!(c.store_url(), "sqlite:///k.db?mode=rw");
        assert_eq!(parse(GOOD, "k.toml").unwrap().store_url(), "postgres://k@localhost/k");
    }

    #[test]
    fn a_good_file_has_defaults() {
        let c = parse(GOOD, "k.toml").unwrap();
        assert_eq!(c.server.listen, default_listen());
        assert!(c.server.require_api_keys);
        assert_eq!(c.chain[0].stack, StackKind::Keyward);
    }

    #[test]
    fn bad_files_name_the_key_and_reason() {
        let (key, reason) = refusal(&GOOD.replace("rpc_url", "rpc_ur1"));
        assert_eq!(key, "chain[0].rpc_ur1");
        assert!(reason.contains("rpc_ur1"), "{reason}");
        let (key, _) = refusal(&GOOD.replace("id = 31337", "id = \"x\""));
        assert_eq!(key, "chain[0].id");
        let (key, reason) =
            refusal(&GOOD.replace("env:BUNDLER", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"));
        assert_eq!(key, "chain[0].bundler_keys[0]");
        assert!(reason.contains("never written"), "{reason}");
        let (key, _) = refusal(&GOOD.replace("postgres://", "mysql://"));
        assert_eq!(key, "store.url");
        let (key, _) = refusal(&GOOD.replace("stack = \"keyward\"", "stack = \"other\""));
        assert_eq!(key, "chain[0].stack");
        let (key, _) =
            refusal(&format!("{GOOD}{}", GOOD.split("[[chain]]").nth(1).map(|c| format!("[[chain]]{c}")).unwrap()));
        assert_eq!(key, "chain[1].id");
        let (key, _) = refusal("[store]\nurl = \"sqlite://x\"\n");
        assert_eq!(key, "chain");
        let (key, _) = refusal("not toml = = 1");
        assert_eq!(key, "(file)");
    }

    /// `GOOD` with `[server]` holding `server` and `[chain.bundler]` holding `bundler`.
    fn with(server: &str, bundler: &str) -> String {
        format!("[server]\n{server}\n{GOOD}\n[chain.bundler]\n{bundler}\n")
    }

    #[test]
    fn connections_default_above_jsonrpsees_hundred_and_are_configurable() {
        assert_eq!(parse(GOOD, "k.toml").unwrap().server.max_connections, 1024);
        assert_eq!(parse(&with("max_connections = 4000", ""), "k.toml").unwrap().server.max_connections, 4000);
        let (key, reason) = refusal(&with("max_connections = 0", ""));
        assert_eq!(key, "server.max_connections");
        assert!(reason.contains("at least 1"), "{reason}");
    }

    #[test]
    fn test_controls_are_off_unless_asked_for() {
        assert!(!parse(GOOD, "k.toml").unwrap().server.test_controls);
        let c = parse(&with("test_controls = true", ""), "k.toml").unwrap();
        assert!(c.server.test_controls);
        assert!(c.server.require_api_keys, "test controls leave API keys required");
        // Open to anyone only on a loopback address.
        let open = "test_controls = true\nrequire_api_keys = false";
        assert!(parse(&with(open, ""), "k.toml").is_ok());
        let e = parse(&with(&format!("{open}\nlisten = \"0.0.0.0:4337\""), ""), "k.toml").unwrap_err();
        assert_eq!(e.key, "server.test_controls");
        assert!(e.to_string().starts_with("k.toml: server.test_controls: with require_api_keys = false"), "{e}");
        // Behind API keys any address is allowed: the suite sends its key in the URL.
        assert!(parse(&with("test_controls = true\nlisten = \"0.0.0.0:4337\"", ""), "k.toml").is_ok());
        let (key, reason) = refusal(&with("test_controls = 1", ""));
        assert_eq!(key, "server.test_controls");
        assert!(reason.contains("bool"), "{reason}");
        // One bundler key per chain: the controls drive that key's bundling.
        let two = with("test_controls = true", "").replace("[\"env:BUNDLER\"]", "[\"env:B1\", \"env:B2\"]");
        let (key, reason) = refusal(&two);
        assert_eq!(key, "chain[0].bundler_keys");
        assert!(reason.contains("one key"), "{reason}");
        assert!(parse(&two.replace("test_controls = true", ""), "k.toml").is_ok());
    }

    #[test]
    fn the_stake_requirement_is_per_chain_with_production_defaults() {
        assert_eq!(parse(GOOD, "k.toml").unwrap().chain[0].stake(), StakeRequirement::default());
        let stake = |bundler: &str| parse(&with("", bundler), "k.toml").map(|c| c.chain[0].stake());
        let s = stake("min_stake_wei = 1_000_000_000_000_000_000\nmin_unstake_delay_secs = 2").unwrap();
        assert_eq!(s.min_stake, U256::from(10u64.pow(18)));
        assert_eq!(s.min_unstake_delay, 2);
        // Beyond a TOML integer (2^63 - 1): a decimal string.
        let s = stake("min_stake_wei = \"2_000_000000000000000000\"").unwrap();
        assert_eq!(s.min_stake, U256::from(2000u64) * U256::from(10u64.pow(18)));
        assert_eq!(s.min_unstake_delay, StakeRequirement::default().min_unstake_delay);
        assert_eq!(stake("min_unstake_delay_secs = 600").unwrap().min_stake, StakeRequirement::default().min_stake);

        let refused = |bundler: &str| refusal(&with("", bundler));
        let (key, reason) = refused("min_stake_wei = 0");
        assert_eq!((key.as_str(), reason.contains("at least 1 wei")), ("chain[0].bundler.min_stake_wei", true));
        let (key, reason) = refused("min_stake_wei = -5");
        assert_eq!((key.as_str(), reason.contains("negative")), ("chain[0].bundler.min_stake_wei", true));
        let (key, reason) = refused("min_stake_wei = \"0.1\"");
        assert_eq!((key.as_str(), reason.contains("whole number of wei")), ("chain[0].bundler.min_stake_wei", true));
        let (key, reason) = refused(&format!("min_stake_wei = \"{}0\"", U256::MAX));
        assert_eq!((key.as_str(), reason.contains("2^256")), ("chain[0].bundler.min_stake_wei", true));
        let (key, reason) = refused("min_stake_wei = true");
        assert_eq!((key.as_str(), reason.contains("amount of wei")), ("chain[0].bundler.min_stake_wei", true));
        let (key, reason) = refused("min_unstake_delay_secs = 0");
        assert_eq!((key.as_str(), reason.contains("at least 1")), ("chain[0].bundler.min_unstake_delay_secs", true));
        let (key, _) = refused("min_unstake_delay_secs = 4294967296");
        assert_eq!(key, "chain[0].bundler.min_unstake_delay_secs");
        let (key, reason) = refused("min_stake = 1");
        assert_eq!(key, "chain[0].bundler.min_stake");
        assert!(reason.contains("unknown field"), "{reason}");
        let e = parse(&with("", "min_stake_wei = 0"), "k.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.toml: chain[0].bundler.min_stake_wei: must be at least 1 wei (an entity without stake is never staked)"
        );
    }

    #[test]
    fn secrets_come_from_env_or_file() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("kw-secret-{}", std::process::id()));
        std::fs::write(&path, "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n").unwrap();
        let signer = load_secret(&format!("file:{}", path.display()), &dir).unwrap();
        assert_eq!(signer.address(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<Address>().unwrap());
        assert!(load_secret("env:KEYWARD_TEST_UNSET_VAR", &dir).unwrap_err().contains("not set"));
        std::fs::remove_file(path).unwrap();
    }
}
