//! Shared helpers of the MAv2 vector tests: loading `shared/vectors/*.json` and reading fields.
#![allow(dead_code)]

use std::path::PathBuf;

use alloy::primitives::{Address, B256, Bytes, U256};
use serde_json::Value;

/// Loads a vector file and returns its cases, asserting the count the README lists.
pub(crate) fn cases(file: &str, expected_count: usize) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    let cases = v["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), expected_count, "{file}: expected {expected_count} cases, found {}", cases.len());
    cases
}

/// Loads the whole vector file.
pub(crate) fn file(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k} missing in {v}"))
}

pub(crate) fn dec_u256(v: &Value, k: &str) -> U256 {
    U256::from_str_radix(s(v, k), 10).unwrap()
}

pub(crate) fn dec_u64(v: &Value, k: &str) -> u64 {
    s(v, k).parse().unwrap()
}

pub(crate) fn dec_u32(v: &Value, k: &str) -> u32 {
    s(v, k).parse().unwrap()
}

pub(crate) fn addr(v: &Value, k: &str) -> Address {
    s(v, k).parse().unwrap()
}

pub(crate) fn bytes(v: &Value, k: &str) -> Bytes {
    s(v, k).parse().unwrap()
}

pub(crate) fn b256(v: &Value, k: &str) -> B256 {
    s(v, k).parse().unwrap()
}

pub(crate) fn boolean(v: &Value, k: &str) -> bool {
    v[k].as_bool().unwrap_or_else(|| panic!("bool field {k} missing in {v}"))
}

/// Lowercase 0x-hex of bytes.
pub(crate) fn hex(b: &[u8]) -> String {
    format!("0x{}", alloy::primitives::hex::encode(b))
}
