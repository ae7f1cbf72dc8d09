//! Code given in state overrides, analysed once: every validation and estimation overrides the
//! EntryPoint with its ~20 KB simulation contract, and revm's jump-table analysis plus the code's
//! Keccak hash were redone on each call. A small process-wide cache keyed by the code's content
//! keeps the analysed [`Bytecode`] and its hash.

use std::hash::BuildHasher;
use std::sync::{LazyLock, Mutex};

use alloy::primitives::map::{DefaultHashBuilder, HashMap};
use alloy::primitives::{B256, Bytes};
use revm::state::Bytecode;

/// Distinct override codes kept at most; past it the cache starts again (callers of `eth_call`
/// may send any code, the server's own overrides are a handful).
const CAPACITY: usize = 64;

/// The content hash the cache is keyed by (fast; a hit is confirmed by comparing the code).
static HASHER: LazyLock<DefaultHashBuilder> = LazyLock::new(DefaultHashBuilder::default);

/// One cached code: the code itself, its Keccak hash, its analysed bytecode.
type Entry = (Bytes, B256, Bytecode);

/// Content hash → entry.
static CACHE: LazyLock<Mutex<HashMap<u64, Entry>>> = LazyLock::new(Mutex::default);

/// `code` analysed (as `Bytecode::new_raw_checked` does) with its Keccak hash, from the cache
/// when the same code was seen before.
pub(crate) fn analysed(code: Bytes) -> Result<(B256, Bytecode), String> {
    let key = HASHER.hash_one(&code[..]);
    if let Ok(cache) = CACHE.lock()
        && let Some((seen, hash, bytecode)) = cache.get(&key)
        && *seen == code
    {
        return Ok((*hash, bytecode.clone()));
    }
    let hash = alloy::primitives::keccak256(&code);
    let bytecode = Bytecode::new_raw_checked(code.clone()).map_err(|e| e.to_string())?;
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(key, (code, hash, bytecode.clone()));
    }
    Ok((hash, bytecode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_code_same_analysis_and_hash() {
        // PUSH1 4 JUMP INVALID JUMPDEST STOP: one valid jump destination at 4.
        let code = Bytes::from_static(&[0x60, 0x04, 0x56, 0xfe, 0x5b, 0x00]);
        let (hash, first) = analysed(code.clone()).unwrap();
        let (again_hash, again) = analysed(code.clone()).unwrap();
        let fresh = Bytecode::new_raw_checked(code.clone()).unwrap();
        assert_eq!(hash, alloy::primitives::keccak256(&code));
        assert_eq!((again_hash, &again), (hash, &first));
        assert_eq!(first, fresh);
        assert!(first.legacy_jump_table().unwrap().is_valid(4));
        // Other code is not answered from the entry of this one.
        let other = Bytes::from_static(&[0x00]);
        assert_eq!(analysed(other.clone()).unwrap().0, alloy::primitives::keccak256(&other));
    }
}
