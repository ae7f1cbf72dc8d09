//! Persistence of the embedded chain: an append-only journal of everything that changed state.
//!
//! Each line is one JSON [`Entry`], written and synced before the change is acknowledged. On
//! start the chain replays the journal through the same execution path, so the restored state is
//! exactly what was acknowledged. A torn last line (a crash mid-write) is cut off.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::error::{ChainError, ChainResult};

/// One state change, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Entry {
    /// The chain's identity; always the first entry.
    Genesis {
        /// Chain id.
        chain_id: u64,
        /// Timestamp of block 0.
        timestamp: u64,
    },
    /// A mined block: its timestamp and the raw transactions it included, in order.
    Block {
        /// Block timestamp.
        timestamp: u64,
        /// EIP-2718 encoded transactions.
        txs: Vec<Bytes>,
    },
    /// `anvil_setCode`.
    SetCode { address: Address, code: Bytes },
    /// `anvil_setBalance`.
    SetBalance { address: Address, balance: U256 },
    /// `anvil_setNonce`.
    SetNonce { address: Address, nonce: u64 },
    /// `anvil_setStorageAt`.
    SetStorage { address: Address, slot: U256, value: B256 },
    /// `evm_increaseTime`.
    IncreaseTime { seconds: u64 },
}

/// The open journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
}

fn io_err(path: &Path, what: &str, e: impl std::fmt::Display) -> ChainError {
    ChainError::Storage(format!("{what} {}: {e}", path.display()))
}

impl Journal {
    /// Opens (or creates) `dir/chain.jsonl` and returns the entries already in it.
    pub(crate) fn open(dir: &Path) -> ChainResult<(Self, Vec<Entry>)> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, "creating", e))?;
        let path = dir.join("chain.jsonl");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io_err(&path, "opening", e))?;
        let mut entries = Vec::new();
        let mut good_len = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| io_err(&path, "reading", e))?;
            if n == 0 {
                break;
            }
            if !line.ends_with('\n') {
                // Torn final write: the change was never acknowledged, drop it.
                break;
            }
            let entry: Entry = serde_json::from_str(line.trim_end())
                .map_err(|e| io_err(&path, &format!("parsing entry {} of", entries.len() + 1), e))?;
            entries.push(entry);
            good_len += n as u64;
        }
        drop(reader);
        let len = file.metadata().map_err(|e| io_err(&path, "inspecting", e))?.len();
        if len != good_len {
            tracing::warn!(path = %path.display(), dropped = len - good_len, "cutting a torn last journal entry");
            file.set_len(good_len).map_err(|e| io_err(&path, "truncating", e))?;
            file.seek(SeekFrom::End(0)).map_err(|e| io_err(&path, "seeking", e))?;
        }
        Ok((Self { file, path }, entries))
    }

    /// Appends one entry and syncs it to disk before returning.
    pub(crate) fn append(&mut self, entry: &Entry) -> ChainResult<()> {
        let mut line = serde_json::to_vec(entry).map_err(|e| ChainError::Internal(e.to_string()))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| io_err(&self.path, "writing", e))?;
        self.file.sync_data().map_err(|e| io_err(&self.path, "syncing", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_torn_line_is_cut() {
        let dir = std::env::temp_dir().join(format!("keyward-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut j, entries) = Journal::open(&dir).unwrap();
        assert!(entries.is_empty());
        let a = Entry::Genesis { chain_id: 7, timestamp: 100 };
        let b = Entry::Block { timestamp: 101, txs: vec![Bytes::from_static(b"\x02\x01")] };
        j.append(&a).unwrap();
        j.append(&b).unwrap();
        drop(j);
        let path = dir.join("chain.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"blo").unwrap();
        drop(f);
        let (mut j, entries) = Journal::open(&dir).unwrap();
        assert_eq!(entries, vec![a.clone(), b.clone()]);
        let c = Entry::IncreaseTime { seconds: 5 };
        j.append(&c).unwrap();
        drop(j);
        let (_, entries) = Journal::open(&dir).unwrap();
        assert_eq!(entries, vec![a, b, c]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
