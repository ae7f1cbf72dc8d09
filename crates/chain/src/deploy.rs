//! Puts Keyward's contracts on a development chain by state injection (`anvil_setCode`), at the
//! same addresses the embedded chain has them at genesis.

use keyward_contracts::dev_placements;

use crate::error::ChainResult;
use crate::traits::DevChain;

/// Writes every dev placement (EntryPoint at its canonical address, SenderCreator, …) into `chain`.
pub async fn place_dev_contracts(chain: &dyn DevChain) -> ChainResult<()> {
    for p in dev_placements() {
        chain.set_code(p.address, p.code).await?;
        chain.set_nonce(p.address, p.nonce).await?;
    }
    Ok(())
}
