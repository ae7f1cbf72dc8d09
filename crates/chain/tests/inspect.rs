//! Calls run under a revm inspector on the embedded chain: any inspector (revm's own opcode
//! counter) and the validation tracer, whose storage accesses and KECCAK256 preimages are checked
//! against the EntryPoint's nonce mapping computed independently from the Solidity layout rules.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256, aliases::U192, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolValue};
use keyward_chain::embedded::trace::{FrameKind, StorageOp, opcode};
use keyward_chain::{Chain, EmbeddedChain, EmbeddedConfig};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_primitives::entry_point::IEntryPoint;

fn get_nonce(sender: Address, key: u64) -> TransactionRequest {
    let data = IEntryPoint::getNonceCall { sender, key: U192::from(key) }.abi_encode();
    TransactionRequest::default().with_to(ENTRY_POINT_V07).with_input(Bytes::from(data))
}

#[tokio::test]
async fn any_revm_inspector_watches_an_eth_call() {
    let chain = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
    let mut counter = revm::inspector::CountInspector::new();
    let result = chain.inspect_call(get_nonce(Address::repeat_byte(7), 3), None, &mut counter).unwrap();
    assert!(result.is_success());
    assert_eq!(counter.get_count(opcode::SLOAD), 1, "getNonce reads one slot");
    assert!(counter.get_count(opcode::KECCAK256) >= 2, "a nested mapping hashes twice");
    assert!(counter.total_opcodes() > 50);
    // Inspection changes nothing: the plain call answers the same.
    let plain = chain.call(get_nonce(Address::repeat_byte(7), 3), None).await.unwrap();
    assert_eq!(plain, Bytes::from((U256::from(3u64) << 64usize).to_be_bytes::<32>().to_vec()));
}

#[tokio::test]
async fn validation_tracer_records_frames_storage_and_preimages() {
    let chain = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
    let sender = Address::repeat_byte(9);
    let key = 5u64;
    let (out, trace) = chain.trace_call(get_nonce(sender, key), None).unwrap();
    assert_eq!(out.unwrap(), Bytes::from((U256::from(key) << 64usize).to_be_bytes::<32>().to_vec()));
    // One top-level frame into the EntryPoint carrying getNonce's calldata.
    assert_eq!(trace.frames.len(), 1);
    let f = &trace.frames[0];
    assert_eq!((f.depth, f.kind, f.address, f.parent), (0, FrameKind::Call, ENTRY_POINT_V07, None));
    assert_eq!(f.selector(), Some(IEntryPoint::getNonceCall::SELECTOR));
    assert!(f.success);
    // nonceSequenceNumber is `mapping(address => mapping(uint192 => uint256))` at slot 1.
    let inner_pre = (sender, U256::from(1)).abi_encode();
    let outer_pre = (U256::from(key), keccak256(&inner_pre)).abi_encode();
    let slot = U256::from_be_bytes(keccak256(&outer_pre).0);
    assert_eq!(trace.storage.len(), 1);
    let s = trace.storage[0];
    assert_eq!((s.frame, s.address, s.slot, s.op), (0, ENTRY_POINT_V07, slot, StorageOp::Load));
    assert!(trace.keccak_preimages.iter().any(|p| p.as_ref() == inner_pre.as_slice()));
    assert!(trace.keccak_preimages.iter().any(|p| p.as_ref() == outer_pre.as_slice()));
    // A revert is returned as the call's output, with the trace up to it.
    let bad =
        TransactionRequest::default().with_to(ENTRY_POINT_V07).with_input(Bytes::from(vec![0xde, 0xad, 0xbe, 0xef]));
    let (out, trace) = chain.trace_call(bad, None).unwrap();
    assert!(out.is_err());
    assert!(!trace.frames[0].success);
}
