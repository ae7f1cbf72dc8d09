//! Passkey (P-256) session keys through the Wallet API (Keyward extension), signed by a real P-256
//! key (RustCrypto's `p256`, as WebCrypto signs: ECDSA with SHA-256 of the userOpHash): a session
//! with a native-value limit and an allowlist, its first call installing the P256ValidationModule
//! by deferred action, a high-s signature made low and accepted, a DER signature accepted, a wrong
//! key / secp256k1 signature refused with nothing written, a call out of scope refused (by the
//! precheck, and onchain by the simulation of the real contracts), an invalid point refused,
//! listing, revocation, and a call accepted before its session was revoked failing with
//! `details.data.failure` naming the revocation. On SQLite and PostgreSQL.

use alloy::primitives::{B256, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use keyward_api::wallet::{
    CreateSessionParams, ListSessionsParams, Permission, PermissionsCapability, PrepareCallsResult,
    RevokeSessionsParams, SendCallsCapabilities, SendPreparedCallsParams, SessionId, SessionKey,
    SessionSignatureRequest, SessionStateName, SigEnvelope, SignatureRequest, SignedCalls, SignedUserOpV07, StatusCode,
    StatusDetails, WalletApiClient,
};
use keyward_bundler::BundlingMode;
use keyward_primitives::mav2::P256PublicKey;
use keyward_primitives::mav2::signature::eoa_user_op_signature;
use keyward_testkit::Harness;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

use crate::env::{Env, PostgresEnv, prepared_hash, prepared_op, rpc_error, sign_prepared};
use crate::sessions::{Owned, call, deployed_account, prepare_error, with_permissions};

/// The order of P-256.
const N: U256 = alloy::primitives::uint!(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551_U256);

/// A random P-256 key.
fn passkey() -> SigningKey {
    loop {
        if let Ok(k) = SigningKey::from_slice(PrivateKeySigner::random().to_bytes().as_slice()) {
            return k;
        }
    }
}

fn public(key: &SigningKey) -> P256PublicKey {
    P256PublicKey::from_verifying_key(key.verifying_key()).unwrap()
}

/// WebCrypto's `sign({name: "ECDSA", hash: "SHA-256"}, key, userOpHash)`, s low.
fn webcrypto_sign(key: &SigningKey, message: B256) -> Signature {
    let sig: Signature = key.sign(message.as_slice());
    sig.normalize_s().unwrap_or(sig)
}

/// The same signature with its s high (`n − s`): what WebCrypto gives half the time.
fn high_s(sig: &Signature) -> Vec<u8> {
    let s = N - U256::from_be_slice(&sig.s().to_bytes());
    [&sig.r().to_bytes()[..], &s.to_be_bytes::<32>()].concat()
}

/// The passkey's signature request of a prepared call: the message (its userOpHash), SHA-256,
/// and `rawPayload` = sha256(message).
fn message_to_sign(prepared: &PrepareCallsResult) -> B256 {
    let hash = prepared_hash(prepared);
    match &prepared_op(prepared).signature_request {
        Some(SignatureRequest::P256 { data, raw_payload }) => {
            assert_eq!(data.message, hash);
            assert_eq!(serde_json::to_value(data.hash).unwrap(), "SHA-256");
            use sha2::Digest;
            assert_eq!(raw_payload.as_slice(), &sha2::Sha256::digest(hash.as_slice())[..]);
            data.message
        }
        other => panic!("expected a p256 signature request, got {other:?}"),
    }
}

/// The send of `prepared` with `signature` and the permissions `context`.
fn signed(prepared: &PrepareCallsResult, signature: SigEnvelope, context: &Bytes) -> SendPreparedCallsParams {
    let op = prepared_op(prepared);
    SendPreparedCallsParams {
        calls: SignedCalls::UserOperationV070(SignedUserOpV07 {
            data: op.data.clone(),
            chain_id: op.chain_id,
            signature,
        }),
        capabilities: Some(SendCallsCapabilities {
            permissions: Some(PermissionsCapability::Context { context: context.clone() }),
            paymaster_service: None,
        }),
        call_id: None,
    }
}

/// `wallet_createSession` for the passkey and the owner's grant: the permissions context.
async fn grant(env: &Env, o: &Owned, key: &SigningKey, permissions: serde_json::Value) -> Bytes {
    let params = CreateSessionParams {
        account: o.account,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        expiry_sec: None,
        key: SessionKey::P256(public(key)),
        permissions: serde_json::from_value::<Vec<Permission>>(permissions).unwrap(),
    };
    let r = env.client.create_session(params).await.unwrap();
    let SessionSignatureRequest::TypedData { data, raw_payload } = r.signature_request;
    assert_eq!(data.signing_hash().unwrap(), raw_payload);
    let sig = o.owner.sign_hash_sync(&raw_payload).unwrap();
    [&[0u8][..], r.session_id.0.as_slice(), &sig.as_bytes()].concat().into()
}

async fn passkey_sessions(env: &Env) {
    let o = deployed_account(env).await;
    let (recipient, other) = (PrivateKeySigner::random().address(), PrivateKeySigner::random().address());
    let chain = env.chain_hex();

    // An invalid point is refused, naming why, and nothing is written.
    let before = env.counts().await;
    let off_curve = format!("0x04{}{}", "11".repeat(32), "22".repeat(32));
    let r: Result<serde_json::Value, _> = env
        .client
        .request(
            "wallet_createSession",
            rpc_params![serde_json::json!({
                "account": o.account, "chainId": chain,
                "key": { "type": "p256", "publicKey": off_curve },
                "permissions": [{ "type": "root" }] })],
        )
        .await;
    let (code, message) = rpc_error(r);
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("not a point of the P-256 curve"), "{message}");
    assert_eq!(env.counts().await, before);

    // A session: at most 1000 wei of native value, only to `recipient`.
    let key = passkey();
    let permissions = serde_json::json!([
        { "type": "native-token-transfer", "data": { "allowance": "0x3e8" } },
        { "type": "contract-access", "data": { "address": recipient } },
    ]);
    let context = grant(env, &o, &key, permissions).await;

    // First call (installs the session by deferred action), signed with a high s: made low, accepted.
    let prepared = env
        .client
        .prepare_calls(with_permissions(env, o.account, vec![call(recipient, vec![], 300)], &context))
        .await
        .unwrap();
    let message = message_to_sign(&prepared);
    let sig = webcrypto_sign(&key, message);
    let sent = env.client.send_prepared_calls(signed(&prepared, SigEnvelope::p256(&high_s(&sig)), &context)).await;
    let sent = sent.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    assert_eq!(env.h.chain.balance(recipient).await.unwrap(), U256::from(300));

    // Refused before anything is written: another key's signature, a secp256k1 signature, garbage.
    let prepared = env
        .client
        .prepare_calls(with_permissions(env, o.account, vec![call(recipient, vec![], 200)], &context))
        .await
        .unwrap();
    let message = message_to_sign(&prepared);
    let before = env.counts().await;
    let wrong = webcrypto_sign(&passkey(), message);
    let (code, text) = rpc_error(
        env.client.send_prepared_calls(signed(&prepared, SigEnvelope::p256(&wrong.to_bytes()), &context)).await,
    );
    assert_eq!(code, -32602, "{text}");
    assert!(text.contains("does not verify"), "{text}");
    let (code, text) = rpc_error(env.client.send_prepared_calls(sign_prepared(&prepared, &o.owner)).await);
    assert_eq!(code, -32602, "{text}");
    assert!(text.contains("acts through a p256 session"), "{text}");
    let (code, text) =
        rpc_error(env.client.send_prepared_calls(signed(&prepared, SigEnvelope::p256(&[7u8; 63]), &context)).await);
    assert_eq!(code, -32602, "{text}");
    assert!(text.contains("64 bytes r ‖ s"), "{text}");
    assert_eq!(env.counts().await, before, "a refused send writes nothing");
    // The right key's DER signature is accepted.
    let der = webcrypto_sign(&key, message).to_der();
    let sent = env.client.send_prepared_calls(signed(&prepared, SigEnvelope::p256(der.as_bytes()), &context)).await;
    assert_eq!(env.wait(&sent.unwrap().id).await.status, StatusCode::Confirmed);
    assert_eq!(env.h.chain.balance(recipient).await.unwrap(), U256::from(500));

    // Out of scope: another target (the precheck), 501 wei more than is left (the module onchain,
    // in the simulation of the real contracts).
    let (code, text) = prepare_error(env, o.account, vec![call(other, vec![], 1)], &context).await;
    assert_eq!(code, -32000, "{text}");
    assert!(text.contains("contract-access"), "{text}");
    let (code, text) = prepare_error(env, o.account, vec![call(recipient, vec![], 501)], &context).await;
    assert_eq!(code, -32000, "{text}");
    // A secp256k1 owner signature cannot stand in for the passkey's on an owner op either way:
    // a p256 signature of an owner operation is refused.
    let owner_op = env.client.prepare_calls(env.prepare_count(o.account, recipient)).await.unwrap();
    assert!(matches!(prepared_op(&owner_op).signature_request, Some(SignatureRequest::PersonalSign { .. })));
    let mut p256_owner = sign_prepared(&owner_op, &o.owner);
    if let SignedCalls::UserOperationV070(op) = &mut p256_owner.calls {
        op.signature = SigEnvelope::p256(&[7u8; 64]);
    }
    let (code, text) = rpc_error(env.client.send_prepared_calls(p256_owner).await);
    assert_eq!(code, -32602, "{text}");
    assert!(text.contains("only accepted for a p256 session"), "{text}");

    // Listed with its key type and public key, and what is left of its budget.
    let list = ListSessionsParams { account: o.account, chain_id: u32::try_from(env.chain_id).unwrap().into() };
    let sessions = env.client.list_sessions(list.clone()).await.unwrap().sessions;
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.key, SessionKey::P256(public(&key)));
    let wire = serde_json::to_value(s).unwrap();
    assert_eq!(wire["key"]["type"], "p256");
    assert_eq!(wire["key"]["publicKey"], serde_json::json!(public(&key).uncompressed()));
    assert!(s.installed);
    assert_eq!(s.state, SessionStateName::Active);
    assert_eq!(s.budgets[0].remaining.0, U256::from(500));

    // A call accepted, then the session revoked before the call is bundled: the call fails, and
    // its status names the revocation (details.data.failure).
    env.bundler.set_mode(BundlingMode::Manual);
    let late = env
        .client
        .prepare_calls(with_permissions(env, o.account, vec![call(recipient, vec![], 1)], &context))
        .await
        .unwrap();
    let revoke = RevokeSessionsParams {
        account: o.account,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        session_ids: vec![s.session_id],
        capabilities: None,
    };
    let late_sig = webcrypto_sign(&key, message_to_sign(&late));
    let late = env.client.send_prepared_calls(signed(&late, SigEnvelope::p256(&late_sig.to_bytes()), &context)).await;
    let late = late.unwrap();
    assert_eq!(env.client.get_calls_status(late.id.clone()).await.unwrap().status, StatusCode::Pending);
    // The owner's revocation lands first, sent straight to the EntryPoint by another bundler.
    let revocation = env.client.revoke_sessions(revoke.clone()).await.unwrap().prepared_calls.unwrap();
    let request = prepared_op(&revocation).signature_request.clone().unwrap();
    let owner_sig = o.owner.sign_hash_sync(&request.digest().unwrap()).unwrap();
    let revoking = prepared_op(&revocation).data.to_user_operation(eoa_user_op_signature(&owner_sig)).unwrap();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(env.deployment.entry_point)
        .input(Harness::handle_ops_data(vec![revoking.pack()], env.h.keys[1].address()).into());
    assert!(env.h.send_tx(&env.h.keys[1], tx).await.unwrap().status());
    // Bundling now re-validates the accepted call: its validation is gone.
    env.bundler.bundle_now().await.unwrap();
    env.bundler.set_mode(BundlingMode::Auto);
    let status = env.wait(&late.id).await;
    assert_eq!(status.status, StatusCode::OffchainFailure, "{status:?}");
    let StatusDetails::UserOperation { data } = &status.details else { panic!("{status:?}") };
    let failure = data.failure.clone().unwrap_or_default();
    let id = Bytes::from(s.session_id.0.to_vec());
    assert!(failure.contains(&format!("session {id} was revoked")), "{failure}");
    assert_eq!(env.h.chain.balance(recipient).await.unwrap(), U256::from(500));

    // Revoked: listed so, refused at prepare, nothing left to revoke.
    let s = &env.client.list_sessions(list).await.unwrap().sessions[0];
    assert_eq!((s.state, s.installed), (SessionStateName::Revoked, false));
    let (code, text) = prepare_error(env, o.account, vec![call(recipient, vec![], 1)], &context).await;
    assert_eq!(code, -32000, "{text}");
    assert!(text.contains("was revoked"), "{text}");
    let again = env.client.revoke_sessions(revoke).await.unwrap();
    assert_eq!(again.already_revoked, vec![SessionId(s.session_id.0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_sessions_on_sqlite() {
    passkey_sessions(&Env::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_sessions_on_postgres() {
    let Some(pg) = PostgresEnv::new().await else { return };
    passkey_sessions(&pg.env).await;
    pg.drop_database().await;
}
