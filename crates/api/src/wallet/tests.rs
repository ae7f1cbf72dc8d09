//! The captured SDK traffic of wallet-api.md §12 against our types, the SDK's rejection rules, and
//! the digests and signatures of the captures (computed by viem, recovered here with alloy).

use std::path::PathBuf;

use alloy::primitives::{Address, B256, Bytes, U256, address, b256};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;

/// One `#### [N] …` entry of §12.4: method, request body, stub answer (if shown).
struct Capture {
    index: u32,
    method: String,
    request: Value,
    answer: Option<Value>,
}

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/spec/wallet-api.md")
}

/// Reads §12.4; shortened blobs `0x34fcd5be…(260 bytes)` keep their (valid hex) prefix.
fn captures() -> Vec<Capture> {
    let text = std::fs::read_to_string(spec_path()).expect("read vendor/shared/spec/wallet-api.md");
    let section = text.split("### 12.4 Captured traffic").nth(1).expect("§12.4 present");
    let mut out = Vec::new();
    for entry in section.split("\n#### [").skip(1) {
        let index: u32 = entry[..entry.find(']').unwrap()].parse().unwrap();
        let heading = entry.lines().next().unwrap();
        let method = heading.rsplit('`').nth(1).unwrap().to_string();
        let blocks: Vec<Value> = entry
            .split("```json\n")
            .skip(1)
            .map(|b| {
                let body = &b[..b.find("\n```").unwrap()];
                let mut cleaned = String::new();
                let mut rest = body;
                while let Some(pos) = rest.find('…') {
                    cleaned.push_str(&rest[..pos]);
                    let after = &rest[pos + '…'.len_utf8()..];
                    rest = &after[after.find(')').unwrap() + 1..];
                }
                cleaned.push_str(rest);
                serde_json::from_str(&cleaned).unwrap_or_else(|e| panic!("[{index}] bad JSON: {e}"))
            })
            .collect();
        let request = blocks[0].clone();
        let answer = blocks.get(1).cloned();
        assert_eq!(request["method"], json!(method), "[{index}] heading names the method");
        out.push(Capture { index, method, request, answer });
    }
    assert!(out.len() >= 25, "expected the whole §12.4 listing, found {}", out.len());
    out
}

fn capture(index: u32) -> Capture {
    captures().into_iter().find(|c| c.index == index).unwrap()
}

/// Lower-cases every `0x…` string (addresses may come back checksummed) for comparisons.
fn normalize(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with("0x") => Value::String(s.to_ascii_lowercase()),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        other => other.clone(),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(what: &str, v: &Value) -> T {
    let parsed: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what}: {e}\n{v:#}"));
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(normalize(&back), normalize(v), "{what}: re-serialization differs");
    parsed
}

#[test]
fn every_captured_request_deserializes_and_reserializes_equal() {
    let caps = captures();
    for c in &caps {
        let params = c.request["params"].as_array().unwrap();
        let what = format!("[{}] {} request", c.index, c.method);
        match c.method.as_str() {
            "wallet_requestAccount" => drop(round_trip::<RequestAccountParams>(&what, &params[0])),
            "wallet_listAccounts" => drop(round_trip::<ListAccountsParams>(&what, &params[0])),
            "wallet_createSession" => drop(round_trip::<CreateSessionParams>(&what, &params[0])),
            "wallet_prepareCalls" => drop(round_trip::<PrepareCallsParams>(&what, &params[0])),
            "wallet_sendPreparedCalls" => drop(round_trip::<SendPreparedCallsParams>(&what, &params[0])),
            "wallet_getCallsStatus" => drop(round_trip::<Bytes>(&what, &params[0])),
            "wallet_prepareSign" => drop(round_trip::<PrepareSignParams>(&what, &params[0])),
            "wallet_formatSign" => drop(round_trip::<FormatSignParams>(&what, &params[0])),
            "wallet_getCapabilities" => drop(round_trip::<Address>(&what, &params[0])),
            other => panic!("{what}: method {other} not covered"),
        }
        assert_eq!(params.len(), 1, "{what}: the SDK sends one param");
    }
    let methods: std::collections::BTreeSet<_> = caps.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods.len(), 9, "all nine observed methods are in the listing: {methods:?}");
}

#[test]
fn every_captured_answer_deserializes_and_reserializes_equal() {
    let mut seen = 0;
    for c in captures() {
        let Some(answer) = &c.answer else { continue };
        let result = &answer["result"];
        let what = format!("[{}] {} answer", c.index, c.method);
        match c.method.as_str() {
            "wallet_requestAccount" => drop(round_trip::<RequestAccountResult>(&what, result)),
            "wallet_listAccounts" => drop(round_trip::<ListAccountsResult>(&what, result)),
            "wallet_createSession" => drop(round_trip::<CreateSessionResult>(&what, result)),
            "wallet_prepareCalls" => drop(round_trip::<PrepareCallsResult>(&what, result)),
            "wallet_sendPreparedCalls" => drop(round_trip::<SendPreparedCallsResult>(&what, result)),
            "wallet_getCallsStatus" => drop(round_trip::<CallsStatus>(&what, result)),
            "wallet_prepareSign" => drop(round_trip::<PrepareSignResult>(&what, result)),
            "wallet_formatSign" => drop(round_trip::<FormatSignResult>(&what, result)),
            "wallet_getCapabilities" => {
                let caps: WalletCapabilities = round_trip(&what, result);
                assert!(caps[&HexNumber(31337)]["permissions"]["supported"].as_bool().unwrap());
            }
            other => panic!("{what}: method {other} not covered"),
        }
        seen += 1;
    }
    assert!(seen >= 14, "only {seen} answers checked");
}

#[test]
fn responses_serialize_addresses_checksummed_and_optional_fields_omitted() {
    let c = capture(0);
    let mut result = c.answer.unwrap()["result"].clone();
    // A lowercase sender is accepted and answered checksummed (the SDK accepts both).
    result["data"][1]["data"]["sender"] = json!("0xe147cc763efca84a2eb43f1a2103b40ade0ae15b");
    let parsed: PrepareCallsResult = serde_json::from_value(result).unwrap();
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(back["data"][1]["data"]["sender"], json!("0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b"));
    for absent in ["factory", "factoryData", "paymaster", "paymasterData", "paymasterVerificationGasLimit"] {
        assert!(back["data"][1]["data"].get(absent).is_none(), "{absent} must be omitted, not null");
    }
    // listAccounts: meta.after is required and serialized as null.
    let page = ListAccountsResult { accounts: vec![], meta: ListAccountsMeta { total_count: 0, after: None } };
    assert_eq!(serde_json::to_value(&page).unwrap(), json!({"accounts": [], "meta": {"totalCount": 0, "after": null}}));
    let missing = serde_json::from_value::<ListAccountsResult>(json!({"accounts": [], "meta": {"totalCount": 0}}));
    assert!(missing.unwrap_err().to_string().contains("after"));
}

fn rejects<T: DeserializeOwned + std::fmt::Debug>(v: Value, needle: &str) {
    let err = serde_json::from_value::<T>(v.clone()).expect_err(&format!("accepted {v}"));
    assert!(err.to_string().contains(needle), "error {err:?} should mention {needle:?} for {v}");
}

#[test]
fn the_sdk_rejection_rules_are_ours_too() {
    let prepared = capture(7).answer.unwrap()["result"].clone();
    // null for an optional field.
    let mut v = prepared.clone();
    v["data"]["factory"] = Value::Null;
    rejects::<PrepareCallsResult>(v, "null");
    // HexBigInt "0x".
    let mut v = prepared.clone();
    v["data"]["nonce"] = json!("0x");
    rejects::<PrepareCallsResult>(v, "at least one hex digit");
    // HexBigInt without its lowercase prefix.
    let mut v = prepared.clone();
    v["data"]["nonce"] = json!("0X1");
    rejects::<PrepareCallsResult>(v, "lowercase 0x");
    // chainId as a JSON number.
    let mut v = prepared.clone();
    v["chainId"] = json!(31337);
    rejects::<PrepareCallsResult>(v, "invalid type");
    // HexNumber above uint32.
    let mut v = prepared.clone();
    v["chainId"] = json!("0x100000000");
    rejects::<PrepareCallsResult>(v, "exceeds uint32");
    // Missing feePayment.
    let mut v = prepared.clone();
    v.as_object_mut().unwrap().remove("feePayment");
    rejects::<PrepareCallsResult>(v, "feePayment");
    // Unknown prepared-call type.
    let mut v = prepared;
    v["type"] = json!("user-operation-v080");
    rejects::<PrepareCallsResult>(v, "user-operation-v080");

    // requestAccount ids must be UUID v4 (v1 and v7 refused, v4 accepted in any case).
    let account = capture(6).answer.unwrap()["result"].clone();
    for bad in [
        "15b24988-0bb0-1d8e-b229-7c6ae5c5265f",
        "0190a3b2-7c3d-7def-8abc-0123456789ab",
        "15b249880bb04d8eb2297c6ae5c5265f",
    ] {
        let mut v = account.clone();
        v["id"] = json!(bad);
        rejects::<RequestAccountResult>(v, "UUID v4");
    }
    let mut v = account;
    v["id"] = json!("15B24988-0BB0-4D8E-B229-7C6AE5C5265F");
    serde_json::from_value::<RequestAccountResult>(v).unwrap();

    // Policy ids are UUID v4 too.
    let mut v = capture(7).request["params"][0].clone();
    v["capabilities"]["paymasterService"]["policyId"] = json!("6b5c1bd4-1d6b-1a5f-9c1e-2f4f1b1a2c3d");
    rejects::<PrepareCallsParams>(v, "UUID v4");

    // createSession: empty permissions, expirySec too large, root with data, unknown type,
    // empty functions.
    let session = capture(15).request["params"][0].clone();
    let mut v = session.clone();
    v["permissions"] = json!([]);
    rejects::<CreateSessionParams>(v, "at least one permission");
    let mut v = session.clone();
    v["expirySec"] = json!(10_000_000_000u64);
    rejects::<CreateSessionParams>(v, "expirySec must be at most 9999999999");
    let mut v = session.clone();
    v["expirySec"] = json!(9_999_999_999u64);
    serde_json::from_value::<CreateSessionParams>(v).unwrap();
    let mut v = session.clone();
    v["permissions"] = json!([{"type": "root", "data": {}}]);
    assert!(serde_json::from_value::<CreateSessionParams>(v).is_err(), "root takes no data");
    let mut v = session.clone();
    v["permissions"] = json!([{"type": "everything"}]);
    rejects::<CreateSessionParams>(v, "everything");
    let mut v = session.clone();
    v["permissions"] = json!([{"type": "account-functions", "data": {"functions": []}}]);
    rejects::<CreateSessionParams>(v, "at least one selector");
    let mut v = session;
    v["permissions"] = json!([{"type": "gas-limit", "data": {"limit": "0x"}}]);
    assert!(serde_json::from_value::<CreateSessionParams>(v).is_err(), "HexBigInt 0x in a permission");

    // createSession answer: sessionId must be 16 bytes; the request must be typed data.
    let answer = capture(10).answer.unwrap()["result"].clone();
    let mut v = answer.clone();
    v["sessionId"] = json!("0x62ecc0a9e8ceed4c02603344b6e144");
    rejects::<CreateSessionResult>(v, "sessionId must be exactly 16 bytes, got 15");
    let mut v = answer.clone();
    v["signatureRequest"]["type"] = json!("personal_sign");
    assert!(serde_json::from_value::<CreateSessionResult>(v).is_err());
    let mut v = answer;
    v["signatureRequest"].as_object_mut().unwrap().remove("rawPayload");
    rejects::<CreateSessionResult>(v, "rawPayload");

    // Remote-mode permissions capability with a short session id.
    rejects::<PermissionsCapability>(json!({"sessionId": "0x0102", "signature": "0x01"}), "got 2");
    rejects::<PermissionsCapability>(json!({}), "needs context");

    // Strict objects: stateOverride entries and erc20 settings.
    let strict = json!({"0x1234567890123456789012345678901234567890": {"balance": "0x1", "extra": true}});
    assert!(serde_json::from_value::<std::collections::BTreeMap<Address, AccountOverride>>(strict).is_err());
    let both = json!({"0x1234567890123456789012345678901234567890": {"state": {}, "stateDiff": {}}});
    rejects::<std::collections::BTreeMap<Address, AccountOverride>>(both, "mutually exclusive");
    let erc20 = json!({"tokenAddress": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "foo": 1});
    assert!(serde_json::from_value::<Erc20Settings>(erc20).is_err());

    // Empty personal_sign message; listAccounts limit out of range; bad cursors.
    rejects::<SignableRequest>(json!({"type": "personal_sign", "data": ""}), "empty");
    let signer = "0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b";
    rejects::<ListAccountsParams>(json!({"signerAddress": signer, "limit": 101}), "between 1 and 100");
    rejects::<ListAccountsParams>(json!({"signerAddress": signer, "after": "abcde"}), "base64url");
    rejects::<ListAccountsParams>(json!({"signerAddress": signer, "after": "ab+c"}), "base64url");
    serde_json::from_value::<ListAccountsParams>(json!({"signerAddress": signer, "after": "ab-_", "limit": 1}))
        .unwrap();

    // 7702 delegation names.
    rejects::<Eip7702AuthCapability>(json!(false), "true or");
    rejects::<Eip7702AuthCapability>(json!({"delegation": "0x1234567890123456789012345678901234567890"}), "not");
    let zero = serde_json::from_value::<Eip7702AuthCapability>(json!({"delegation": Address::ZERO})).unwrap();
    assert_eq!(zero, Eip7702AuthCapability::Explicit { account: None, delegation: Delegation::Undelegate });
}

#[test]
fn requests_are_read_leniently_where_the_spec_says_so() {
    // Addresses in any case, HexBigInt with leading zeros and upper-case digits.
    let v = json!({"calls": [{"to": "0x1234567890ABCDEF1234567890abcdef12345678", "value": "0x00FF"}],
                   "from": "0xe147cc763efca84a2eb43f1a2103b40ade0ae15b", "chainId": "0x00007a69"});
    let p: PrepareCallsParams = serde_json::from_value(v).unwrap();
    assert_eq!(p.chain_id, HexNumber(31337));
    assert_eq!(p.calls.unwrap()[0].value, Some(HexBigInt(U256::from(255))));
    assert_eq!(p.from, address!("0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b"));
    // HexNumber at exactly u32::MAX is fine.
    assert_eq!("0xffffffff".parse::<HexNumber>().unwrap(), HexNumber(u32::MAX));
    assert_eq!(serde_json::to_value(HexNumber(31337)).unwrap(), json!("0x7a69"));
    assert_eq!(serde_json::to_value(HexBigInt(U256::ZERO)).unwrap(), json!("0x0"));

    // The four ECDSA forms and v ∈ {0,1,27,28} give the same signature; 29 is refused.
    let sig_hex = capture(1).request["params"][0]["data"][0]["signature"]["data"].clone();
    let hex_form: EcdsaSigData = serde_json::from_value(sig_hex.clone()).unwrap();
    let sig = hex_form.signature().unwrap();
    let raw = alloy::hex::decode(sig_hex.as_str().unwrap()).unwrap();
    let (r, s) = (format!("0x{}", alloy::hex::encode(&raw[..32])), format!("0x{}", alloy::hex::encode(&raw[32..64])));
    let v27 = raw[64];
    for form in [
        json!({"r": r, "s": s, "yParity": format!("{:#x}", v27 - 27)}),
        json!({"r": r, "s": s, "v": format!("{:#x}", v27)}),
        json!({"r": r, "s": s, "v": format!("{:#x}", v27 - 27)}),
        json!(format!("0x{}{:02x}", alloy::hex::encode(&raw[..64]), v27 - 27)),
    ] {
        let parsed: EcdsaSigData = serde_json::from_value(form.clone()).unwrap();
        assert_eq!(parsed.signature().unwrap(), sig, "{form}");
    }
    let bad_v: EcdsaSigData = serde_json::from_value(json!({"r": r, "s": s, "v": "0x1d"})).unwrap();
    assert!(matches!(bad_v.signature(), Err(SignatureError::BadV(_))));
    let short: EcdsaSigData = serde_json::from_value(json!("0x1234")).unwrap();
    assert_eq!(short.signature(), Err(SignatureError::Length(2)));
    // `ecdsa` is an alias of `secp256k1`.
    let env: SigEnvelope = serde_json::from_value(json!({"type": "ecdsa", "data": sig_hex})).unwrap();
    assert_eq!(env.ty, SigType::Ecdsa);
}

#[test]
fn raw_payloads_of_the_captures_are_what_our_helpers_compute() {
    // [0]: the user op's personal_sign request over the raw userOpHash, and the authorization digest.
    let answer: PrepareCallsResult = serde_json::from_value(capture(0).answer.unwrap()["result"].clone()).unwrap();
    let PreparedCalls::Array { data } = &answer.prepared else { panic!("[0] is an array") };
    let PreparedCallItem::Authorization(auth) = &data[0] else { panic!("authorization first") };
    let PreparedCallItem::UserOperationV070(op) = &data[1] else { panic!("user op second") };
    let SignatureRequest::Eip7702Auth { raw_payload } = auth.signature_request else { panic!("eip7702Auth") };
    assert_eq!(auth.data.authorization(auth.chain_id).signature_hash(), raw_payload);
    let hash = b256!("0x4a594f8ad5efde735008efe98272462045733d828115351f43215f7d3b07a4c0");
    assert_eq!(op.signature_request.as_ref().unwrap(), &SignatureRequest::personal_sign_raw(hash));
    let Some(PrepareDetails::UserOperation { data: details }) = &answer.details else { panic!("details") };
    assert_eq!(details.hash, hash);

    // [10]: the session typed data's rawPayload is its EIP-712 digest.
    let session: CreateSessionResult = serde_json::from_value(capture(10).answer.unwrap()["result"].clone()).unwrap();
    let SessionSignatureRequest::TypedData { data, raw_payload } = &session.signature_request;
    assert_eq!(data.signing_hash().unwrap(), *raw_payload);
    assert_eq!(SignatureRequest::typed_data(data.clone()).unwrap().digest().unwrap(), *raw_payload);

    // [16]: the permit typed data's rawPayload (typed data with hex-string integers).
    let permit: PrepareCallsResult = serde_json::from_value(capture(16).answer.unwrap()["result"].clone()).unwrap();
    let PreparedCalls::PaymasterPermit(p) = &permit.prepared else { panic!("paymaster-permit") };
    let SignatureRequest::TypedData { data, raw_payload } = &p.signature_request else { panic!("typed data") };
    assert_eq!(data.signing_hash().unwrap(), raw_payload.unwrap());
    assert_eq!(&p.data, data);
}

#[test]
fn signatures_of_the_captures_recover_to_the_right_keys() {
    let owner = address!("0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b");
    // [1]: the 7702 authorization (v = 27/28) and the user-op signature over EIP-191(userOpHash).
    let send: SendPreparedCallsParams = serde_json::from_value(capture(1).request["params"][0].clone()).unwrap();
    let SignedCalls::Array { data } = &send.calls else { panic!("array") };
    let SignedCallItem::Authorization(auth) = &data[0] else { panic!("authorization") };
    let sig = auth.signature.data.signature().unwrap();
    let digest = auth.data.authorization(auth.chain_id).signature_hash();
    assert_eq!(sig.recover_address_from_prehash(&digest).unwrap(), owner);
    let SignedCallItem::UserOperationV070(op) = &data[1] else { panic!("user op") };
    let request = SignatureRequest::personal_sign_raw(b256!(
        "0x4a594f8ad5efde735008efe98272462045733d828115351f43215f7d3b07a4c0"
    ));
    let sig = op.signature.data.signature().unwrap();
    assert_eq!(sig.recover_address_from_prehash(&request.digest().unwrap()).unwrap(), owner);

    // [11]: the context's owner signature is over the [10] session typed data.
    let prepare: PrepareCallsParams = serde_json::from_value(capture(11).request["params"][0].clone()).unwrap();
    let context = prepare.capabilities.unwrap().permissions.unwrap().context();
    assert_eq!(context.len(), 82);
    assert_eq!(context[0], 0);
    let session: CreateSessionResult = serde_json::from_value(capture(10).answer.unwrap()["result"].clone()).unwrap();
    assert_eq!(&context[1..17], session.session_id.0.as_slice());
    let SessionSignatureRequest::TypedData { raw_payload, .. } = session.signature_request;
    let sig = EcdsaSigData::Hex(Bytes::copy_from_slice(&context[17..])).signature().unwrap();
    assert_eq!(sig.recover_address_from_prehash(&raw_payload).unwrap(), owner);

    // [17]: the permit signature over [16]'s typed data.
    let second: PrepareCallsParams = serde_json::from_value(capture(17).request["params"][0].clone()).unwrap();
    let permit: PrepareCallsResult = serde_json::from_value(capture(16).answer.unwrap()["result"].clone()).unwrap();
    let PreparedCalls::PaymasterPermit(p) = permit.prepared else { panic!("permit") };
    let sig = second.paymaster_permit_signature.unwrap().data.signature().unwrap();
    assert_eq!(sig.recover_address_from_prehash(&p.data.signing_hash().unwrap()).unwrap(), owner);
    assert_eq!(*p.modified_request, {
        let mut first: PrepareCallsParams = serde_json::from_value(capture(16).request["params"][0].clone()).unwrap();
        first.paymaster_permit_signature = None;
        first
    });

    // [20]: the formatSign input is the owner's signature over [19]'s ReplaySafeHash typed data.
    let prepared: PrepareSignResult = serde_json::from_value(capture(19).answer.unwrap()["result"].clone()).unwrap();
    let format: FormatSignParams = serde_json::from_value(capture(20).request["params"][0].clone()).unwrap();
    let sig = format.signature.data.signature().unwrap();
    assert_eq!(sig.recover_address_from_prehash(&prepared.signature_request.digest().unwrap()).unwrap(), owner);
    // …and [19]'s ReplaySafeHash wraps the EIP-191 hash of the message.
    let input: PrepareSignParams = serde_json::from_value(capture(19).request["params"][0].clone()).unwrap();
    let SignableRequest::TypedData { data } = &prepared.signature_request else { panic!("typed data") };
    let wrapped: B256 = serde_json::from_value(data.message["hash"].clone()).unwrap();
    assert_eq!(wrapped, input.signature_request.digest().unwrap());
}

#[test]
fn status_codes_are_numbers_and_unknown_codes_are_refused() {
    let answer = capture(3).answer.unwrap()["result"].clone();
    let status: CallsStatus = serde_json::from_value(answer.clone()).unwrap();
    assert_eq!(status.status, StatusCode::Confirmed);
    assert!(status.status.is_final() && status.status.is_success());
    for code in StatusCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.code()));
        assert_eq!(serde_json::from_value::<StatusCode>(json!(code.code())).unwrap(), code);
    }
    assert!(!StatusCode::PreConfirmationReverted.is_final(), "115 does not stop viem's polling");
    assert!(StatusCode::Reverted.is_final() && !StatusCode::Reverted.is_success());
    let mut v = answer;
    v["status"] = json!(201);
    rejects::<CallsStatus>(v, "unknown call status code 201");
}

#[test]
fn call_ids_follow_the_recommended_layout() {
    let hash = b256!("0x4a594f8ad5efde735008efe98272462045733d828115351f43215f7d3b07a4c0");
    let send = capture(1).answer.unwrap()["result"]["id"].clone();
    let expected: Bytes = serde_json::from_value(send).unwrap();
    assert_eq!(call_id(31337, hash), expected);
    assert_eq!(parse_call_id(&expected), Some((31337, hash)));
    assert_eq!(parse_call_id(&expected[1..]), None);
}

#[test]
fn user_operations_convert_to_and_from_the_entry_point_form() {
    let prepared = capture(7).answer.unwrap()["result"]["data"].clone();
    let op: UserOpV07 = serde_json::from_value(prepared).unwrap();
    let full = op.to_user_operation(Bytes::from_static(&[1, 2, 3])).unwrap();
    assert_eq!(full.paymaster.as_ref().unwrap().verification_gas_limit, 0x74d3);
    assert_eq!(UserOpV07::from_user_operation(&full), op);
    let mut big = op.clone();
    big.call_gas_limit = HexBigInt(U256::from(1) << 128);
    assert_eq!(big.to_user_operation(Bytes::new()), Err(UserOpFieldError::TooLarge("callGasLimit")));
}

#[test]
fn uuid_v4_from_random_bytes_is_valid_v4() {
    let id = UuidV4::from_random_bytes([0xff; 16]);
    assert_eq!(id.as_str().parse::<UuidV4>().unwrap(), id);
    assert_eq!(&id.as_str()[14..15], "4");
}

/// `params` with the `0x` of the string at `pointer` (JSON pointer) removed, and that string.
fn unprefixed(params: &Value, pointer: &str) -> (Value, String) {
    let mut v = params.clone();
    let slot = v.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} in {params}"));
    let bare = slot.as_str().and_then(|s| s.strip_prefix("0x")).unwrap_or_else(|| panic!("{pointer}")).to_string();
    *slot = json!(bare);
    (v, bare)
}

/// The refusal of a `Hex`/`Address` value without `0x`, as the client reads it.
fn missing_prefix(path: &str, kind: &str, bare: &str) -> String {
    let shown: String = bare.chars().take(80).collect();
    format!("{path}: {kind} {shown:?} must start with lowercase 0x")
}

/// Asserts `T` refuses `params` with `pointer` unprefixed, naming `path` and the spec type `kind`.
fn refuses_unprefixed<T: DeserializeOwned + std::fmt::Debug>(params: &Value, pointer: &str, path: &str, kind: &str) {
    let (v, bare) = unprefixed(params, pointer);
    let err = serde_json::from_value::<T>(v).expect_err(&format!("accepted {pointer} without 0x"));
    assert_eq!(err.to_string(), missing_prefix(path, kind, &bare), "{pointer}");
}

#[test]
fn hex_and_address_fields_without_0x_are_refused_naming_the_field() {
    let params = |i: u32| capture(i).request["params"][0].clone();

    // wallet_prepareCalls: calls, from, and every capability holding Hex or Address values.
    let prepare = params(0);
    refuses_unprefixed::<PrepareCallsParams>(&prepare, "/calls/0/to", "calls[0].to", "Address");
    refuses_unprefixed::<PrepareCallsParams>(&prepare, "/calls/0/data", "calls[0].data", "Hex");
    refuses_unprefixed::<PrepareCallsParams>(&prepare, "/from", "from", "Address");
    let erc20 = params(16);
    let token = "/capabilities/paymasterService/erc20/tokenAddress";
    refuses_unprefixed::<PrepareCallsParams>(
        &erc20,
        token,
        "capabilities.paymasterService.erc20.tokenAddress",
        "Address",
    );
    let session = params(11);
    let context = "capabilities.permissions.context";
    refuses_unprefixed::<PrepareCallsParams>(&session, "/capabilities/permissions/context", context, "Hex");
    let mut remote = prepare.clone();
    remote["capabilities"] = json!({
        "permissions": {"sessionId": "0x62ecc0a9e8ceed4c02603344b6e14463", "signature": "0x0102"},
        "eip7702Auth": {"account": "0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b", "delegation": "ModularAccountV2"},
        "stateOverride": {"0x1234567890123456789012345678901234567890": {
            "code": "0x6000",
            "stateDiff": {"0x0000000000000000000000000000000000000000000000000000000000000001":
                          "0x0000000000000000000000000000000000000000000000000000000000000002"}}},
        "experimental_dataSuffix": {"value": "0x0a0b"},
        "nonceOverride": {"nonceKey": "0x7"}
    });
    serde_json::from_value::<PrepareCallsParams>(remote.clone()).unwrap();
    let signature = "capabilities.permissions.signature";
    refuses_unprefixed::<PrepareCallsParams>(&remote, "/capabilities/permissions/signature", signature, "Hex");
    let account = "capabilities.eip7702Auth.account";
    refuses_unprefixed::<PrepareCallsParams>(&remote, "/capabilities/eip7702Auth/account", account, "Address");
    let suffix = "capabilities.experimental_dataSuffix.value";
    refuses_unprefixed::<PrepareCallsParams>(&remote, "/capabilities/experimental_dataSuffix/value", suffix, "Hex");
    let overridden = "/capabilities/stateOverride/0x1234567890123456789012345678901234567890";
    let code = "capabilities.stateOverride.0x1234567890123456789012345678901234567890.code";
    refuses_unprefixed::<PrepareCallsParams>(&remote, &format!("{overridden}/code"), code, "Hex");
    let (v, _) = unprefixed(&remote, "/capabilities/permissions/sessionId");
    let err = serde_json::from_value::<PrepareCallsParams>(v).unwrap_err();
    assert_eq!(err.to_string(), "capabilities.permissions.sessionId: sessionId must be 0x-prefixed hex");
    let (v, _) = unprefixed(&remote, "/capabilities/nonceOverride/nonceKey");
    let err = serde_json::from_value::<PrepareCallsParams>(v).unwrap_err();
    assert_eq!(err.to_string(), "capabilities.nonceOverride.nonceKey: HexBigInt must start with lowercase 0x");
    // Map keys: an address key of stateOverride, a slot of stateDiff.
    let mut v = remote.clone();
    let entry = v["capabilities"]["stateOverride"].as_object_mut().unwrap().remove(&overridden[28..]).unwrap();
    v["capabilities"]["stateOverride"][&overridden[30..]] = entry;
    let err = serde_json::from_value::<PrepareCallsParams>(v).unwrap_err();
    assert_eq!(err.to_string(), missing_prefix("capabilities.stateOverride key", "Address", &overridden[30..]));
    // An unprefixed delegation address is named as such, not as an unknown delegation.
    let mut v = remote;
    v["capabilities"]["eip7702Auth"]["delegation"] = json!("69007702764179f14F51cdce752f4f775d74E139");
    let err = serde_json::from_value::<PrepareCallsParams>(v).unwrap_err();
    assert_eq!(
        err.to_string(),
        missing_prefix("capabilities.eip7702Auth.delegation", "Address", "69007702764179f14F51cdce752f4f775d74E139")
    );

    // wallet_sendPreparedCalls: authorization and user operation items, signatures, callId.
    let send = params(1);
    refuses_unprefixed::<SendPreparedCallsParams>(&send, "/data/0/data/address", "data[0].data.address", "Address");
    refuses_unprefixed::<SendPreparedCallsParams>(&send, "/data/0/signature/data", "data[0].signature.data", "Hex");
    refuses_unprefixed::<SendPreparedCallsParams>(&send, "/data/1/data/sender", "data[1].data.sender", "Address");
    refuses_unprefixed::<SendPreparedCallsParams>(&send, "/data/1/data/callData", "data[1].data.callData", "Hex");
    let mut with_call_id = send.clone();
    with_call_id["callId"] = json!("0xabcdef");
    refuses_unprefixed::<SendPreparedCallsParams>(&with_call_id, "/callId", "callId", "Hex");
    let sponsored = params(8);
    let paymaster = "data.paymaster";
    refuses_unprefixed::<SendPreparedCallsParams>(&sponsored, "/data/paymaster", paymaster, "Address");

    // wallet_createSession: account, key, and the permissions' addresses and selectors.
    let create = params(15);
    refuses_unprefixed::<CreateSessionParams>(&create, "/account", "account", "Address");
    refuses_unprefixed::<CreateSessionParams>(&create, "/key/publicKey", "key.publicKey", "Address");
    let erc20 = "permissions[1].data.address";
    refuses_unprefixed::<CreateSessionParams>(&create, "/permissions/1/data/address", erc20, "Address");
    let selector = "permissions[4].data.functions[0]";
    refuses_unprefixed::<CreateSessionParams>(
        &create,
        "/permissions/4/data/functions/0",
        selector,
        "Hex (4-byte selector)",
    );

    // wallet_prepareSign / wallet_formatSign.
    let raw = params(21);
    refuses_unprefixed::<PrepareSignParams>(&raw, "/from", "from", "Address");
    refuses_unprefixed::<PrepareSignParams>(&raw, "/signatureRequest/data/raw", "signatureRequest.data.raw", "Hex");
    let typed = params(23);
    let contract = "signatureRequest.data.domain.verifyingContract";
    refuses_unprefixed::<PrepareSignParams>(
        &typed,
        "/signatureRequest/data/domain/verifyingContract",
        contract,
        "Address",
    );
    let format = params(24);
    refuses_unprefixed::<FormatSignParams>(&format, "/from", "from", "Address");
    refuses_unprefixed::<FormatSignParams>(&format, "/signature/data", "signature.data", "Hex");

    // wallet_requestAccount (both forms, and multi-owner hints) and wallet_listAccounts.
    refuses_unprefixed::<RequestAccountParams>(&params(6), "/signerAddress", "signerAddress", "Address");
    refuses_unprefixed::<RequestAccountParams>(&params(28), "/accountAddress", "accountAddress", "Address");
    let mut owners = params(6);
    owners["creationHint"] = json!({"accountType": "la-v2-multi-owner",
                                    "initialOwners": ["0x1234567890123456789012345678901234567890"]});
    let owner = "creationHint.initialOwners[0]";
    refuses_unprefixed::<RequestAccountParams>(&owners, "/creationHint/initialOwners/0", owner, "Address");
    refuses_unprefixed::<ListAccountsParams>(&params(25), "/signerAddress", "signerAddress", "Address");

    // Positional parameters: wallet_getCallsStatus's id, wallet_getCapabilities's address.
    assert_eq!(
        positional_hex_refusal("wallet_getCallsStatus", Some(r#"["00ab"]"#)),
        Some(r#"id: Hex "00ab" must start with lowercase 0x"#.to_string())
    );
    assert_eq!(positional_hex_refusal("wallet_getCallsStatus", Some(r#"["0x00ab"]"#)), None);
    assert_eq!(
        positional_hex_refusal("wallet_getCapabilities", Some(r#"["1234567890123456789012345678901234567890"]"#)),
        Some(r#"address: Address "1234567890123456789012345678901234567890" must start with lowercase 0x"#.into())
    );
    assert_eq!(positional_hex_refusal("eth_chainId", Some(r#"["00"]"#)), None);
}

#[test]
fn strict_hex_refuses_an_upper_case_prefix_and_invalid_digits() {
    let v = capture(0).request["params"][0].clone();
    let mut upper = v.clone();
    upper["calls"][0]["to"] = json!("0X1234567890123456789012345678901234567890");
    let err = serde_json::from_value::<PrepareCallsParams>(upper).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"calls[0].to: Address "0X1234567890123456789012345678901234567890" must start with lowercase 0x"#
    );
    let mut short = v;
    short["calls"][0]["data"] = json!("0xdeadbee");
    let err = serde_json::from_value::<PrepareCallsParams>(short).unwrap_err();
    assert_eq!(err.to_string(), r#"calls[0].data: Hex "0xdeadbee" is not valid: odd number of digits"#);
}

#[test]
fn field_paths_name_fields_items_and_keys() {
    let v = json!({"a": {"b": [{"c": "x"}, "y"]}, "k": {"z": 1}});
    assert_eq!(field_path(&v, "x").as_deref(), Some("a.b[0].c"));
    assert_eq!(field_path(&v, "y").as_deref(), Some("a.b[1]"));
    assert_eq!(field_path(&v, "z").as_deref(), Some("k key"));
    assert_eq!(field_path(&v, "w"), None);
    // A refusal that is not the cause of the error (another field failed later) is not named.
    let err = serde_json::from_value::<Call>(json!({"to": "0x1234567890123456789012345678901234567890", "value": 1}))
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid type: integer `1`"), "{err}");
}

/// `key.type` `p256` (Keyward extension): 65-byte `0x04 ‖ x ‖ y` or 64-byte `x ‖ y` in, always the
/// 65-byte form out; a point off the curve, a compressed point or a bad length is refused while
/// reading; the secp256k1 form is unchanged.
#[test]
fn p256_session_keys_on_the_wire() {
    // The P-256 generator: a point of the curve.
    let x = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    let y = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    let long: SessionKey = serde_json::from_value(json!({"type": "p256", "publicKey": format!("0x04{x}{y}")})).unwrap();
    let short: SessionKey = serde_json::from_value(json!({"type": "p256", "publicKey": format!("0x{x}{y}")})).unwrap();
    assert_eq!(long, short);
    assert_eq!(long.ty(), KeyType::P256);
    assert_eq!(serde_json::to_value(long).unwrap(), json!({"type": "p256", "publicKey": format!("0x04{x}{y}")}));
    let off = format!("0x04{x}{}", "00".repeat(32));
    for (bad, why) in [
        (off, "not a point of the P-256 curve"),
        (format!("0x02{x}"), "33 bytes"),
        (format!("0x05{x}{y}"), "must start with 0x04"),
        (format!("{x}{y}"), "must start with lowercase 0x"),
    ] {
        let err = serde_json::from_value::<SessionKey>(json!({"type": "p256", "publicKey": bad})).unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    let k1 = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    let sk: SessionKey = serde_json::from_value(json!({"type": "secp256k1", "publicKey": k1})).unwrap();
    assert_eq!(sk, SessionKey::Secp256k1(k1));
    assert_eq!(serde_json::to_value(sk).unwrap(), json!({"type": "secp256k1", "publicKey": k1.to_checksum(None)}));
    let alias: SessionKey = serde_json::from_value(json!({"type": "ecdsa", "publicKey": k1})).unwrap();
    assert_eq!(alias, SessionKey::Ecdsa(k1));
}

/// The `p256` signature request names the message (the userOpHash) and SHA-256; `rawPayload` is
/// sha256(message); the `p256` signature envelope carries raw bytes.
#[test]
fn p256_signature_requests_and_envelopes() {
    let hash = B256::repeat_byte(0x42);
    let request = SignatureRequest::p256(hash);
    let value = serde_json::to_value(&request).unwrap();
    assert_eq!(value["type"], "p256");
    assert_eq!(value["data"], json!({"message": hash, "hash": "SHA-256"}));
    // sha256 of 32 bytes 0x42, computed independently.
    let expected = keyward_primitives::mav2::session_key::p256_signing_digest(hash);
    assert_eq!(value["rawPayload"], json!(expected));
    assert_eq!(serde_json::from_value::<SignatureRequest>(value).unwrap(), request);
    assert_eq!(request.digest().unwrap(), expected);
    let env: SigEnvelope =
        serde_json::from_value(json!({"type": "p256", "data": format!("0x{}", "11".repeat(64))})).unwrap();
    assert_eq!(env.p256_bytes().unwrap().len(), 64);
    assert_eq!(env, SigEnvelope::p256(&[0x11; 64]));
    let secp: SigEnvelope =
        serde_json::from_value(json!({"type": "secp256k1", "data": format!("0x{}", "11".repeat(65))})).unwrap();
    assert_eq!(secp.p256_bytes(), Err(SignatureError::NotP256));
}
