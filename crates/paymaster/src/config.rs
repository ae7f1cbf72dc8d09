//! Policies from a TOML file:
//!
//! ```toml
//! [[policy]]
//! id = "6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d"   # UUID v4
//! name = "my app"
//! enabled = true
//! owner = "app:my-app"
//! valid_after = 1767225600                      # unix seconds, optional
//! valid_until = 1798761600                      # unix seconds, optional
//! max_gas_cost_per_op = "10000000000000000"     # wei (decimal or 0x hex), optional
//! max_total_spend = "5000000000000000000"
//! max_spend_per_sender = "100000000000000000"
//! allowed_senders = ["0x…"]                     # optional: any sender when absent
//! allowed_targets = ["0x…"]                     # optional: any target when absent
//! ```

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::policy::Policy;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read policy file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The TOML does not describe policies.
    #[error("invalid policy file: {0}")]
    Parse(String),
    /// A policy id is not a version-4 UUID (clients only send v4 ids).
    #[error("policy {0} is not a version-4 UUID")]
    NotV4(uuid::Uuid),
    /// Two policies share an id.
    #[error("policy id {0} appears twice")]
    Duplicate(uuid::Uuid),
    /// A policy's window ends before it starts.
    #[error("policy {0}: valid_until is before valid_after")]
    EmptyWindow(uuid::Uuid),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    policy: Vec<Policy>,
}

/// Parses and checks the policies of a TOML document.
pub fn parse_policies(text: &str) -> Result<Vec<Policy>, ConfigError> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
    let mut seen = HashSet::new();
    for p in &file.policy {
        check_policy(p)?;
        if !seen.insert(p.id) {
            return Err(ConfigError::Duplicate(p.id));
        }
    }
    Ok(file.policy)
}

/// Checks one policy: v4 id, a non-empty window.
pub fn check_policy(p: &Policy) -> Result<(), ConfigError> {
    if p.id.get_version_num() != 4 {
        return Err(ConfigError::NotV4(p.id));
    }
    if let (Some(after), Some(until)) = (p.valid_after, p.valid_until)
        && until < after
    {
        return Err(ConfigError::EmptyWindow(p.id));
    }
    Ok(())
}

/// Reads and parses a policy file.
pub async fn load_policies(path: &Path) -> Result<Vec<Policy>, ConfigError> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| ConfigError::Read { path: path.display().to_string(), reason: e.to_string() })?;
    parse_policies(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, U256};

    #[test]
    fn a_full_policy_parses() {
        let text = r#"
            [[policy]]
            id = "6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d"
            name = "app"
            owner = "app:demo"
            enabled = false
            valid_after = 10
            valid_until = 20
            max_gas_cost_per_op = "0x10"
            max_total_spend = "1000000000000000000000"
            max_spend_per_sender = 5
            allowed_senders = ["0x0000000000000000000000000000000000000001"]
            allowed_targets = []
        "#;
        let p = &parse_policies(text).unwrap()[0];
        assert_eq!(p.id.to_string(), "6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d");
        assert!(!p.enabled);
        assert_eq!(p.max_gas_cost_per_op.unwrap().0, U256::from(16));
        assert_eq!(p.max_total_spend.unwrap().0, U256::from(10).pow(U256::from(21)));
        assert_eq!(p.max_spend_per_sender.unwrap().0, U256::from(5));
        assert_eq!(p.allowed_senders.as_deref(), Some(&[Address::with_last_byte(1)][..]));
        assert_eq!(p.allowed_targets.as_deref(), Some(&[][..]));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let v1 = "[[policy]]\nid = \"c232ab00-9414-11ec-b3c8-9f6bdeced846\"\n";
        assert!(matches!(parse_policies(v1), Err(ConfigError::NotV4(_))));
        let dup = "[[policy]]\nid = \"6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d\"\n[[policy]]\nid = \"6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d\"\n";
        assert!(matches!(parse_policies(dup), Err(ConfigError::Duplicate(_))));
        let window = "[[policy]]\nid = \"6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d\"\nvalid_after = 5\nvalid_until = 4\n";
        assert!(matches!(parse_policies(window), Err(ConfigError::EmptyWindow(_))));
        let unknown = "[[policy]]\nid = \"6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d\"\nmax_spend = \"1\"\n";
        let e = parse_policies(unknown).unwrap_err().to_string();
        assert!(e.contains("max_spend"), "{e}");
        let amount = "[[policy]]\nid = \"6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d\"\nmax_total_spend = \"1 ether\"\n";
        assert!(parse_policies(amount).unwrap_err().to_string().contains("1 ether"));
    }
}
