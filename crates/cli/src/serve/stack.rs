//! The account stack a chain is served with, and the check at start that it is really there.

use alloy::primitives::Address;
use keyward_chain::Chain;
use keyward_contracts::Deployment;

use super::config::{ChainSection, StackKind};

/// The addresses of `section`'s stack.
pub(crate) fn deployment(section: &ChainSection) -> Result<Deployment, String> {
    match (section.stack, section.deployer) {
        (StackKind::Keyward, Some(deployer)) => Ok(Deployment::keyward(deployer)),
        (StackKind::Keyward, None) => Err("stack = \"keyward\" needs `deployer`".into()),
        (StackKind::Mav2, _) => Err("stack = \"mav2\" is not served yet; use stack = \"keyward\"".into()),
    }
}

/// Refuses a chain where the EntryPoint or a contract of the stack has no code.
pub(crate) async fn check_present(chain: &dyn Chain, deployment: &Deployment) -> Result<(), String> {
    let mut expected: Vec<(&str, Address)> = vec![("EntryPoint v0.7", deployment.entry_point)];
    expected.extend(deployment.named());
    let mut missing = Vec::new();
    for (name, address) in expected {
        let code = chain.code(address).await.map_err(|e| format!("reading the code of {name} at {address}: {e}"))?;
        if code.is_empty() {
            missing.push(format!("{name} at {address}"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!("no code for {}: run `keyward deploy` for this chain and deployer", missing.join(", ")))
}
