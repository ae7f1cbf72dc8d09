//! The account stack a chain is served with, and the check at start that it is really there.

use alloy::primitives::Address;
use keyward_chain::Chain;
use keyward_contracts::Deployment;
use keyward_primitives::mav2::modules::ModuleAddresses;

use super::config::{ChainSection, StackKind};

/// The addresses of `section`'s stack, with its `[chain.addresses]` overrides.
pub(crate) fn deployment(section: &ChainSection) -> Result<Deployment, String> {
    let mut d = match (section.stack, section.deployer) {
        (StackKind::Keyward, Some(deployer)) => Deployment::keyward(deployer),
        (StackKind::Keyward, None) => return Err("stack = \"keyward\" needs `deployer`".into()),
        (StackKind::Mav2, deployer) => Deployment::mav2(ModuleAddresses::mav2(), deployer.unwrap_or_default()),
    };
    let a = &section.addresses;
    let set = |field: &mut Address, value: Option<Address>| {
        if let Some(v) = value {
            *field = v;
        }
    };
    set(&mut d.factory, a.factory);
    set(&mut d.sma_impl, a.semi_modular_account);
    set(&mut d.ma_impl, a.modular_account);
    set(&mut d.sma_7702_impl, a.semi_modular_account_7702);
    set(&mut d.modules.single_signer_validation, a.single_signer_validation);
    set(&mut d.modules.time_range, a.time_range);
    set(&mut d.modules.native_token_limit, a.native_token_limit);
    set(&mut d.modules.allowlist, a.allowlist);
    set(&mut d.modules.paymaster_guard, a.paymaster_guard);
    set(&mut d.modules.session_rules, a.session_rules);
    set(&mut d.modules.p256_validation, a.p256_validation);
    set(&mut d.verifying_paymaster, a.verifying_paymaster);
    Ok(d)
}

/// Refuses a chain where the EntryPoint or a contract the stack needs has no code (Keyward's
/// stack: everything `keyward deploy` creates; MAv2's: the factory, implementations and modules —
/// its 7702 implementation is optional, 7702 requests are refused precisely where it is absent).
pub(crate) async fn check_present(chain: &dyn Chain, stack: StackKind, deployment: &Deployment) -> Result<(), String> {
    let mut expected: Vec<(&str, Address)> = vec![("EntryPoint v0.7", deployment.entry_point)];
    match stack {
        StackKind::Keyward => expected.extend(deployment.named()),
        StackKind::Mav2 => expected.extend(deployment.required()),
    }
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
    let hint = match stack {
        StackKind::Keyward => "run `keyward deploy` for this chain and deployer",
        StackKind::Mav2 => {
            "Modular Account V2 is not deployed at these addresses on this chain (see [chain.addresses])"
        }
    };
    Err(format!("no code for {}: {hint}", missing.join(", ")))
}
