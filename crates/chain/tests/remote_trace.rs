//! `RpcChain::traced_call` on anvil: the validation tracer runs locally in revm over the node's
//! state and records what the embedded chain records for the same call; state overrides apply,
//! reads are pinned to the latest block and cached until the head moves, and a node that fails is
//! a transport error, never a revert.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, aliases::U192, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::sol_types::{SolCall, SolValue};
use keyward_chain::anvil::Anvil;
use keyward_chain::deploy::place_dev_contracts;
use keyward_chain::{Chain, ChainError, DevChain, EmbeddedChain, EmbeddedConfig, RpcChain};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_primitives::entry_point::IEntryPoint;

fn get_nonce(sender: Address, key: u64) -> TransactionRequest {
    let data = IEntryPoint::getNonceCall { sender, key: U192::from(key) }.abi_encode();
    TransactionRequest::default().with_to(ENTRY_POINT_V07).with_input(Bytes::from(data))
}

/// The EntryPoint slot of `nonceSequenceNumber[sender][key]` (mapping at slot 1).
fn nonce_slot(sender: Address, key: u64) -> U256 {
    let inner = keccak256((sender, U256::from(1)).abi_encode());
    U256::from_be_bytes(keccak256((U256::from(key), inner).abi_encode()).0)
}

fn nonce_word(key: u64, seq: u64) -> Bytes {
    Bytes::from(((U256::from(key) << 64usize) | U256::from(seq)).to_be_bytes::<32>().to_vec())
}

async fn node() -> (Anvil, RpcChain) {
    let anvil = Anvil::start(31337).await.expect("anvil must be installed: npm ci --prefix tools");
    let chain = anvil.chain().unwrap();
    place_dev_contracts(&chain).await.unwrap();
    (anvil, chain)
}

async fn traced(
    chain: &dyn Chain,
    tx: TransactionRequest,
    o: Option<StateOverride>,
) -> (Result<Bytes, ChainError>, keyward_chain::embedded::trace::ExecutionTrace) {
    chain.traced_call(tx, o).await.unwrap().expect("this chain traces")
}

#[tokio::test]
async fn anvil_traces_record_what_the_embedded_chain_records() {
    let (_anvil, remote) = node().await;
    let embedded = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
    let (sender, key) = (Address::repeat_byte(9), 5u64);
    let (out, trace) = traced(&remote, get_nonce(sender, key), None).await;
    assert_eq!(out.unwrap(), nonce_word(key, 0));
    assert_eq!(trace.storage.len(), 1);
    assert_eq!(trace.storage[0].slot, nonce_slot(sender, key));
    let (embedded_out, embedded_trace) = traced(embedded.as_ref(), get_nonce(sender, key), None).await;
    assert_eq!(embedded_out.unwrap(), nonce_word(key, 0));
    assert_eq!(trace, embedded_trace, "the same tracer over the same code and state");
    // A revert is the call's output, with the trace up to it, on both.
    let bad =
        TransactionRequest::default().with_to(ENTRY_POINT_V07).with_input(Bytes::from(vec![0xde, 0xad, 0xbe, 0xef]));
    let (out, trace) = traced(&remote, bad.clone(), None).await;
    assert!(matches!(out, Err(ChainError::Reverted { .. })), "{out:?}");
    assert!(!trace.frames[0].success);
    let (embedded_out, embedded_trace) = traced(embedded.as_ref(), bad, None).await;
    assert_eq!(out, embedded_out);
    assert_eq!(trace, embedded_trace);
}

#[tokio::test]
async fn state_overrides_apply_as_on_the_embedded_chain() {
    let (_anvil, remote) = node().await;
    let embedded = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
    let (sender, key) = (Address::repeat_byte(3), 7u64);
    let slot = B256::from(nonce_slot(sender, key));
    let mut overrides = StateOverride::default();
    overrides.insert(ENTRY_POINT_V07, AccountOverride::default().with_state_diff([(slot, B256::from(U256::from(42)))]));
    for chain in [&remote as &dyn Chain, embedded.as_ref()] {
        let (out, _) = traced(chain, get_nonce(sender, key), Some(overrides.clone())).await;
        assert_eq!(out.unwrap(), nonce_word(key, 42));
    }
    // The override lived in the call only: the cache holds the node's value.
    let (out, _) = traced(&remote, get_nonce(sender, key), None).await;
    assert_eq!(out.unwrap(), nonce_word(key, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_cached_per_block_and_read_again_when_the_state_moves() {
    let (_anvil, remote) = node().await;
    let (sender, key) = (Address::repeat_byte(4), 1u64);
    let slot = nonce_slot(sender, key);
    let before = remote.remote_stats();
    let (out, _) = traced(&remote, get_nonce(sender, key), None).await;
    assert_eq!(out.unwrap(), nonce_word(key, 0));
    let cold = remote.remote_stats().since(&before);
    assert_eq!((cold.heads, cold.slots), (1, 1), "{cold:?}");
    assert!(cold.accounts >= 1, "{cold:?}");
    // Same block: the head is all that is asked for.
    let before = remote.remote_stats();
    let (out, _) = traced(&remote, get_nonce(sender, key), None).await;
    assert_eq!(out.unwrap(), nonce_word(key, 0));
    assert_eq!(remote.remote_stats().since(&before).requests(), 1);
    // A dev control changes state without a block: it drops the cache.
    remote.set_storage_at(ENTRY_POINT_V07, slot, B256::from(U256::from(5))).await.unwrap();
    let (out, _) = traced(&remote, get_nonce(sender, key), None).await;
    assert_eq!(out.unwrap(), nonce_word(key, 5));
    // So does a new block made by another client of the node.
    let other = RpcChain::connect(remote.url()).unwrap();
    other.set_storage_at(ENTRY_POINT_V07, slot, B256::from(U256::from(6))).await.unwrap();
    other.mine().await.unwrap();
    let before = remote.remote_stats();
    let (out, _) = traced(&remote, get_nonce(sender, key), None).await;
    assert_eq!(out.unwrap(), nonce_word(key, 6));
    assert_eq!(remote.remote_stats().since(&before).slots, 1, "read again at the new block");
    // Concurrent calls at one block share the cache and agree.
    let calls = (0..8).map(|_| {
        let chain = remote.clone();
        tokio::spawn(async move { chain.traced_call(get_nonce(sender, key), None).await })
    });
    for call in calls {
        let (out, _) = call.await.unwrap().unwrap().unwrap();
        assert_eq!(out.unwrap(), nonce_word(key, 6));
    }
}

/// A node on loopback that answers `eth_chainId` and `eth_getBlockByNumber` with `canned`
/// results and refuses every state read with `-32000 missing trie node` (a pruned node).
fn node_without_state(canned: serde_json::Value) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        // Bounded: a handful of connections, each closed by the client when the test ends.
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { return };
            let canned = canned.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).unwrap();
                    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let method = request["method"].as_str().unwrap_or_default();
                    let mut answer = serde_json::json!({"jsonrpc": "2.0", "id": request["id"]});
                    match canned.get(method) {
                        Some(result) => answer["result"] = result.clone(),
                        None => answer["error"] = serde_json::json!({"code": -32000, "message": "missing trie node"}),
                    }
                    let answer = answer.to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        answer.len()
                    );
                    if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(answer.as_bytes())).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_node_that_fails_a_state_read_is_a_transport_error_not_a_revert() {
    let (anvil, remote) = node().await;
    let provider = remote.provider();
    let chain_id: serde_json::Value = provider.raw_request("eth_chainId".into(), ()).await.unwrap();
    let block: serde_json::Value =
        provider.raw_request("eth_getBlockByNumber".into(), ("latest", false)).await.unwrap();
    let pruned = RpcChain::connect(&node_without_state(
        serde_json::json!({"eth_chainId": chain_id, "eth_getBlockByNumber": block}),
    ))
    .unwrap();
    // The head is served; the first account read inside the EVM is refused.
    let err = pruned.traced_call(get_nonce(Address::repeat_byte(5), 0), None).await.unwrap_err();
    assert!(matches!(&err, ChainError::Transport(m) if m.contains("missing trie node")), "{err:?}");
    // The same for a read made while applying a state override.
    let mut overrides = StateOverride::default();
    overrides.insert(Address::repeat_byte(6), AccountOverride::default().with_balance(U256::from(1)));
    let err = pruned.traced_call(get_nonce(Address::repeat_byte(5), 0), Some(overrides)).await.unwrap_err();
    assert!(matches!(&err, ChainError::Transport(m) if m.contains("missing trie node")), "{err:?}");
    // A node that is gone: a transport error too.
    traced(&remote, get_nonce(Address::repeat_byte(5), 0), None).await.0.unwrap();
    drop(anvil);
    let err = remote.traced_call(get_nonce(Address::repeat_byte(5), 0), None).await.unwrap_err();
    assert!(matches!(err, ChainError::Transport(_)), "{err:?}");
}
