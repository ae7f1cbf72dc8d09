//! What a bundle transaction pays: the next block's base fee and the tip recent blocks paid,
//! read from `eth_feeHistory` (every node has it; `eth_maxPriorityFeePerGas` is a geth
//! extension some providers answer with a constant), with the latest block and the node's
//! suggested tip as the fallback.

use alloy::eips::BlockNumberOrTag;
use alloy::rpc::types::FeeHistory;
use keyward_chain::{Chain, ChainError, ChainResult};

use crate::submit::BundleFees;

/// Blocks of history read.
pub const HISTORY_BLOCKS: u64 = 10;
/// Percentile of the tips paid in each block that a bundle matches.
pub const TIP_PERCENTILE: f64 = 50.0;

/// Fees from a fee history: the next block's base fee doubled (room for six full blocks in a
/// row) plus the median of the blocks' `TIP_PERCENTILE` tips, ignoring empty blocks. `None` when
/// the history has no base fee, or no block paid a tip (the caller asks the node instead).
pub fn fees_from_history(history: &FeeHistory) -> Option<BundleFees> {
    let next_base = *history.base_fee_per_gas.last()?;
    let mut tips: Vec<u128> = history
        .reward
        .as_ref()?
        .iter()
        .zip(&history.gas_used_ratio)
        .filter(|(_, used)| **used > 0.0)
        .filter_map(|(r, _)| r.first().copied())
        .collect();
    if tips.is_empty() {
        return None;
    }
    tips.sort_unstable();
    let tip = tips[tips.len() / 2];
    Some(BundleFees { max_fee_per_gas: next_base.saturating_mul(2).saturating_add(tip), max_priority_fee_per_gas: tip })
}

/// The fees a bundle sent now pays.
pub async fn current_fees(chain: &dyn Chain) -> ChainResult<BundleFees> {
    match chain.fee_history(HISTORY_BLOCKS, BlockNumberOrTag::Latest, vec![TIP_PERCENTILE]).await {
        Ok(history) => {
            if let Some(fees) = fees_from_history(&history) {
                return Ok(fees);
            }
            let base = history.base_fee_per_gas.last().copied();
            let tip = chain.max_priority_fee_per_gas().await?;
            match base {
                Some(base) => Ok(BundleFees {
                    max_fee_per_gas: base.saturating_mul(2).saturating_add(tip),
                    max_priority_fee_per_gas: tip,
                }),
                None => latest_block_fees(chain, tip).await,
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "eth_feeHistory failed; using the latest block");
            let tip = chain.max_priority_fee_per_gas().await?;
            latest_block_fees(chain, tip).await
        }
    }
}

/// Twice the latest block's base fee plus `tip`.
async fn latest_block_fees(chain: &dyn Chain, tip: u128) -> ChainResult<BundleFees> {
    let latest = chain
        .block_by_number(BlockNumberOrTag::Latest, false)
        .await?
        .ok_or_else(|| ChainError::BlockNotAvailable("latest".into()))?;
    let base = u128::from(latest.header.base_fee_per_gas.unwrap_or_default());
    Ok(BundleFees { max_fee_per_gas: base * 2 + tip, max_priority_fee_per_gas: tip })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(base: Vec<u128>, used: Vec<f64>, tips: Vec<u128>) -> FeeHistory {
        FeeHistory {
            base_fee_per_gas: base,
            gas_used_ratio: used,
            reward: Some(tips.into_iter().map(|t| vec![t]).collect()),
            oldest_block: 1,
            ..Default::default()
        }
    }

    #[test]
    fn next_base_fee_doubled_plus_the_median_tip_of_busy_blocks() {
        let h = history(vec![10, 11, 12, 13], vec![0.5, 0.0, 0.9], vec![3, 1000, 7]);
        // The empty block's "tip" (1000) is ignored; median of [3, 7] (upper) = 7.
        assert_eq!(
            fees_from_history(&h),
            Some(BundleFees { max_fee_per_gas: 13 * 2 + 7, max_priority_fee_per_gas: 7 })
        );
    }

    #[test]
    fn no_paid_tip_means_ask_the_node() {
        assert_eq!(fees_from_history(&history(vec![10, 11], vec![0.0], vec![0])), None);
        assert_eq!(fees_from_history(&history(vec![], vec![], vec![])), None);
    }
}
