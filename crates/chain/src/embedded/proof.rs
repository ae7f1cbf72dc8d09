//! `eth_getProof` (EIP-1186) on the embedded chain. The chain keeps its accounts in a flat map,
//! not a trie, so the proof is computed on demand: the storage trie of the account and the
//! account trie of the whole state are rebuilt with alloy's `HashBuilder`, which retains the nodes
//! on the path to the requested keys. A dev chain holds few accounts, so this stays cheap.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy::trie::proof::ProofRetainer;
use alloy::trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount};
use revm::database::AccountState;

use super::state::Db;

/// The root of a trie of `leaves` (hashed keys, RLP values) and the proof of each of `targets`.
fn trie_with_proofs(leaves: &BTreeMap<B256, Vec<u8>>, targets: &[B256]) -> (B256, Vec<Vec<Bytes>>) {
    let paths: Vec<Nibbles> = targets.iter().map(|t| Nibbles::unpack(t)).collect();
    let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(paths.clone()));
    for (key, value) in leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    let root = if leaves.is_empty() { EMPTY_ROOT_HASH } else { builder.root() };
    let nodes = builder.take_proof_nodes();
    let proofs = paths.iter().map(|p| nodes.matching_nodes_sorted(p).into_iter().map(|(_, n)| n).collect()).collect();
    (root, proofs)
}

/// The storage trie leaves of an account's slots (zero values are absent from the trie).
fn storage_leaves(storage: impl Iterator<Item = (U256, U256)>) -> BTreeMap<B256, Vec<u8>> {
    storage.filter(|(_, v)| !v.is_zero()).map(|(k, v)| (keccak256(B256::from(k)), alloy::rlp::encode(v))).collect()
}

/// The EIP-1186 proof of `address` and its `keys` in `db`.
pub(crate) fn account_proof(db: &Db, address: Address, keys: &[B256]) -> EIP1186AccountProofResponse {
    let live = |state: &AccountState| !matches!(state, AccountState::NotExisting);
    let mut accounts = BTreeMap::new();
    let mut target = None;
    for (a, acc) in &db.cache.accounts {
        if !live(&acc.account_state) {
            continue;
        }
        let storage = storage_leaves(acc.storage.iter().map(|(k, v)| (*k, *v)));
        let (storage_root, _) = trie_with_proofs(&storage, &[]);
        let trie = TrieAccount {
            nonce: acc.info.nonce,
            balance: acc.info.balance,
            storage_root,
            code_hash: acc.info.code_hash,
        };
        let empty = trie.nonce == 0 && trie.balance.is_zero() && trie.code_hash == alloy::primitives::KECCAK256_EMPTY;
        if !empty {
            accounts.insert(keccak256(a), alloy::rlp::encode(trie));
        }
        if *a == address {
            target = Some((trie, storage, acc.storage.clone()));
        }
    }
    let (_, mut account_proofs) = trie_with_proofs(&accounts, &[keccak256(address)]);
    let account_proof = account_proofs.pop().unwrap_or_default();
    let (trie, storage, slots) = target.unwrap_or_default();
    let hashed: Vec<B256> = keys.iter().map(keccak256).collect();
    let (_, storage_proofs) = trie_with_proofs(&storage, &hashed);
    let storage_proof = keys
        .iter()
        .zip(storage_proofs)
        .map(|(key, proof)| EIP1186StorageProof {
            key: (*key).into(),
            value: slots.get(&U256::from_be_bytes(key.0)).copied().unwrap_or_default(),
            proof,
        })
        .collect();
    EIP1186AccountProofResponse {
        address,
        balance: trie.balance,
        code_hash: trie.code_hash,
        nonce: trie.nonce,
        storage_hash: trie.storage_root,
        account_proof,
        storage_proof,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::trie::proof::verify_proof;

    #[test]
    fn proofs_verify_against_the_root() {
        let leaves: BTreeMap<B256, Vec<u8>> =
            (1u64..40).map(|i| (keccak256(B256::from(U256::from(i))), alloy::rlp::encode(U256::from(i * 7)))).collect();
        let key = keccak256(B256::from(U256::from(5)));
        let (root, proofs) = trie_with_proofs(&leaves, &[key]);
        let value = leaves.get(&key).cloned();
        verify_proof(root, Nibbles::unpack(key), value, &proofs[0]).unwrap();
        let absent = keccak256(B256::from(U256::from(1000)));
        let (_, proofs) = trie_with_proofs(&leaves, &[absent]);
        verify_proof(root, Nibbles::unpack(absent), None, &proofs[0]).unwrap();
    }
}
