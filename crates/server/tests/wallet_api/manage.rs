//! Session management, Keyward's extensions: `wallet_listSessions` and `wallet_getSession` with
//! each budget read from the chain, `wallet_revokeSessions` for installed and never-used sessions
//! (one owner operation, idempotent), precise errors for unknown ids and another account's
//! session, an expired session listed as such and still revocable, and a revoked session refused
//! at prepare and in a call's status. (Onchain, an
//! uninstalled session key and a burnt grant are refused by the EntryPoint itself:
//! crates/contracts-tests/tests/account_sessions.rs.)

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_api::wallet::{
    GetSessionParams, ListSessionsParams, RevokeSessionsParams, SessionId, SessionInfo, SessionKey, SessionStateName,
    StatusCode, WalletApiClient,
};

use crate::env::{Env, rpc_error, sign_prepared};
use crate::sessions::{Owned, call, count, deployed_account, grant, new_key, run};

fn session_id(context: &Bytes) -> SessionId {
    SessionId(alloy::primitives::B128::from_slice(&context[1..17]))
}

async fn list(env: &Env, account: Address) -> Vec<SessionInfo> {
    let p = ListSessionsParams { account, chain_id: u32::try_from(env.chain_id).unwrap().into() };
    env.client.list_sessions(p).await.unwrap().sessions
}

fn get_params(env: &Env, account: Address, id: SessionId) -> GetSessionParams {
    GetSessionParams { account, chain_id: u32::try_from(env.chain_id).unwrap().into(), session_id: id }
}

fn revoke_params(env: &Env, account: Address, ids: Vec<SessionId>) -> RevokeSessionsParams {
    RevokeSessionsParams {
        account,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        session_ids: ids,
        capabilities: None,
    }
}

/// Revokes `ids` with the owner's signature; the final status of the revoking operation.
async fn revoke(env: &Env, o: &Owned, ids: Vec<SessionId>) -> StatusCode {
    let r = env.client.revoke_sessions(revoke_params(env, o.account, ids)).await.unwrap();
    let prepared = r.prepared_calls.expect("an operation to sign");
    let sent = env.client.send_prepared_calls(sign_prepared(&prepared, &o.owner)).await.unwrap();
    env.wait(&sent.id).await.status
}

fn remaining(s: &SessionInfo, ty: &str) -> U256 {
    s.budgets.iter().find(|b| b.ty == ty).map(|b| b.remaining.0).expect(ty)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_with_what_is_left_and_revoked_in_one_owner_operation() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    // Session a: 1000 wei of native value and calls to the counter; used once (installed).
    let permissions = serde_json::json!([
        { "type": "native-token-transfer", "data": { "allowance": "0x3e8" } },
        { "type": "contract-access", "data": { "address": counter } },
    ]);
    let (key_a, ctx_a) = new_key(&env, &o, permissions.clone()).await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 300)], &ctx_a, &key_a).await, StatusCode::Confirmed);
    // Session b: granted, never used (not installed).
    let (key_b, ctx_b) = new_key(&env, &o, permissions).await;

    let sessions = list(&env, o.account).await;
    assert_eq!(sessions.len(), 2);
    let (a, b) = (&sessions[0], &sessions[1]);
    assert_eq!((a.session_id, b.session_id), (session_id(&ctx_a), session_id(&ctx_b)));
    assert_eq!((a.key, b.key), (SessionKey::Secp256k1(key_a.address()), SessionKey::Secp256k1(key_b.address())));
    assert!(a.installed && !b.installed);
    assert_eq!((a.state, b.state), (SessionStateName::Active, SessionStateName::Active));
    // What is left is read from the NativeTokenLimitModule: 1000 - 300.
    assert_eq!(remaining(a, "native-token-transfer"), U256::from(700));
    assert_eq!(remaining(b, "native-token-transfer"), U256::from(1000));
    assert_eq!(env.client.get_session(get_params(&env, o.account, a.session_id)).await.unwrap(), *a);

    // Precise errors: an unknown id, another account's session.
    let unknown = SessionId(alloy::primitives::B128::repeat_byte(0x42));
    let (code, message) = rpc_error(env.client.get_session(get_params(&env, o.account, unknown)).await);
    assert_eq!(code, -32602);
    assert!(message.contains("unknown session"), "{message}");
    let other = deployed_account(&env).await;
    let (code, message) = rpc_error(env.client.get_session(get_params(&env, other.account, a.session_id)).await);
    assert_eq!(code, -32602);
    assert!(message.contains("belongs to another account"), "{message}");
    let (code, message) =
        rpc_error(env.client.revoke_sessions(revoke_params(&env, other.account, vec![a.session_id])).await);
    assert_eq!(code, -32602);
    assert!(message.contains("belongs to another account"), "{message}");
    assert!(list(&env, other.account).await.is_empty());

    // A call of session a prepared (and signed) before the revocation, sent after it.
    let pending = env
        .client
        .prepare_calls(crate::sessions::with_permissions(&env, o.account, vec![call(counter, count(), 0)], &ctx_a))
        .await
        .unwrap();

    // One owner operation revokes both: uninstalls a, burns b's grant (a session named twice is
    // revoked once).
    let twice = vec![a.session_id, b.session_id, a.session_id];
    assert_eq!(revoke(&env, &o, twice).await, StatusCode::Confirmed);
    let sessions = list(&env, o.account).await;
    assert!(sessions.iter().all(|s| s.state == SessionStateName::Revoked && !s.installed), "{sessions:?}");
    assert!(sessions.iter().all(|s| s.budgets.iter().all(|b| b.remaining.0.is_zero())));
    // Idempotent: nothing left to do, nothing to sign.
    let again = env.client.revoke_sessions(revoke_params(&env, o.account, vec![a.session_id, b.session_id])).await;
    let again = again.unwrap();
    assert_eq!(again.already_revoked, vec![a.session_id, b.session_id]);
    assert!(again.prepared_calls.is_none());

    // Revoked sessions are refused at prepare, naming the revocation.
    for ctx in [&ctx_a, &ctx_b] {
        let (code, message) =
            crate::sessions::prepare_error(&env, o.account, vec![call(counter, count(), 0)], ctx).await;
        assert_eq!(code, -32000, "{message}");
        assert!(message.contains("was revoked"), "{message}");
    }
    // The call prepared before the revocation fails, and its status says why.
    let mut send = sign_prepared(&pending, &key_a);
    send.capabilities = Some(keyward_api::wallet::SendCallsCapabilities {
        permissions: Some(keyward_api::wallet::PermissionsCapability::Context { context: ctx_a.clone() }),
        paymaster_service: None,
    });
    // Refused at send, naming the revocation (the account itself no longer has a validation for
    // the session's entity: the bundler's simulation of the real contracts says so).
    let (code, message) = rpc_error(env.client.send_prepared_calls(send).await);
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains("was revoked") && message.contains("AA23"), "{message}");
    drop(key_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_listed_as_expired_and_can_still_be_revoked() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    let key = PrivateKeySigner::random();
    let now = env.h.latest_timestamp().await;
    let permissions = serde_json::json!([{ "type": "contract-access", "data": { "address": counter } }]);
    let ctx = grant(&env, &o, key.address(), permissions, now + 600).await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &ctx, &key).await, StatusCode::Confirmed);
    let id = session_id(&ctx);
    let active = env.client.get_session(get_params(&env, o.account, id)).await.unwrap();
    assert_eq!((active.state, active.installed), (SessionStateName::Active, true));

    // Past its expiry by the chain's clock: listed as expired (still installed onchain).
    env.h.chain.increase_time(1200).await.unwrap();
    env.h.chain.mine().await.unwrap();
    let expired = env.client.get_session(get_params(&env, o.account, id)).await.unwrap();
    assert_eq!((expired.state, expired.installed), (SessionStateName::Expired, true));
    assert_eq!(list(&env, o.account).await, vec![expired]);

    // Revoking it uninstalls it: revoked from then on, and a second revocation has nothing to do.
    assert_eq!(revoke(&env, &o, vec![id]).await, StatusCode::Confirmed);
    let revoked = env.client.get_session(get_params(&env, o.account, id)).await.unwrap();
    assert_eq!((revoked.state, revoked.installed), (SessionStateName::Revoked, false));
    let again = env.client.revoke_sessions(revoke_params(&env, o.account, vec![id])).await.unwrap();
    assert_eq!(again.already_revoked, vec![id]);
    assert!(again.prepared_calls.is_none());
}
