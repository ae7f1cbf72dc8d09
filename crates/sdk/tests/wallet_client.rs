//! `SmartWalletClient` against an in-process `keyward dev` (embedded chain, account stack at its
//! deterministic addresses, bundler in auto mode, the Wallet API and `eth_*` on one URL): the flows
//! the official SDK's compat suite runs — 7702 owner calls, a smart account with session keys
//! (root and scoped), out-of-scope and beyond-limit calls, ERC-1271 signing — checked onchain.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, eip191_hash_message};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    Call, HexBigInt, Permission, PermissionsCapability, PersonalSignData, PrepareCallsCapabilities, PreparedCallItem,
    PreparedCalls, SignatureRequest, StatusCode, TypedData,
};
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::deploy::deploy_account_stack;
use keyward_chain::{Chain, DevChain, EmbeddedChain, EmbeddedConfig};
use keyward_contracts::artifacts;
use keyward_contracts::bindings::{SemiModularAccountBytecode, TestCounter};
use keyward_sdk::wallet::{DEFAULT_STATUS_POLL, GrantPermissions, SmartWalletClient, WalletClientError};
use keyward_store::Store;
use keyward_testkit::harness::Harness;
use keyward_wallet::{Wallet, WalletConfig};

const ETH: u128 = 1_000_000_000_000_000_000;
const WAIT: Duration = Duration::from_secs(30);
const ERC1271_MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// An in-process `keyward dev`.
struct Dev {
    h: Harness,
    url: String,
    chain_id: u64,
    counter: Address,
    _server: jsonrpsee::server::ServerHandle,
    _bundling: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Dev {
    async fn start(name: &str) -> Dev {
        let chain = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
        chain.spawn_miner();
        let h = Harness::on(chain.clone());
        let deployment = deploy_account_stack(h.chain.as_ref(), &h.keys[0], U256::from(ETH)).await.unwrap();
        let dir = std::env::temp_dir().join(format!("keyward-sdk-wallet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open_sqlite_file(&dir).await.unwrap();
        let bundler = Bundler::new(chain.clone() as Arc<dyn Chain>, store, h.keys[9].clone(), BundlerConfig::default())
            .await
            .unwrap();
        let bundling = bundler.spawn();
        let config = WalletConfig::new(deployment);
        let wallet = Wallet::new(chain.clone() as Arc<dyn Chain>, bundler.store().clone(), bundler.clone(), config)
            .await
            .unwrap();
        let dev: Arc<dyn DevChain> = chain.clone();
        let module = keyward_server::services::Services {
            chain: Some(chain.clone() as Arc<dyn Chain>),
            dev: Some(dev),
            bundler: Some(bundler),
            wallets: vec![wallet],
            ..Default::default()
        }
        .into_module()
        .unwrap();
        let (bound, server) = keyward_server::serve(SocketAddr::from(([127, 0, 0, 1], 0)), module, None).await.unwrap();
        let counter = h.deploy(artifacts::test_counter(), &[]).await;
        let chain_id = h.chain_id().await;
        Dev {
            h,
            url: format!("http://{bound}"),
            chain_id,
            counter,
            _server: server,
            _bundling: bundling,
            _dir: TempDir(dir),
        }
    }

    fn client(&self, signer: PrivateKeySigner) -> SmartWalletClient<PrivateKeySigner> {
        SmartWalletClient::new(&self.url, signer, self.chain_id).unwrap()
    }

    async fn fund(&self, to: Address, value: u128) {
        let tx = TransactionRequest::default().with_to(to).with_value(U256::from(value));
        assert!(self.h.send_tx(&self.h.keys[1], tx).await.unwrap().status());
    }

    async fn counter(&self) -> U256 {
        self.h.read(self.counter, TestCounter::counterCall {}).await.unwrap()
    }

    fn count(&self) -> Call {
        Call { to: self.counter, data: Some(TestCounter::countCall {}.abi_encode().into()), value: None }
    }

    async fn is_valid_signature(&self, account: Address, hash: B256, signature: Bytes) -> bool {
        let call = SemiModularAccountBytecode::isValidSignatureCall { hash, signature };
        self.h.read(account, call).await.map(|m| m.0 == ERC1271_MAGIC).unwrap_or(false)
    }
}

fn transfer(to: Address, wei: u64) -> Call {
    Call { to, data: None, value: Some(HexBigInt::from(wei)) }
}

fn with_context(context: &Bytes) -> Option<PrepareCallsCapabilities> {
    Some(PrepareCallsCapabilities {
        permissions: Some(PermissionsCapability::Context { context: context.clone() }),
        ..Default::default()
    })
}

async fn send_and_wait(
    client: &SmartWalletClient<PrivateKeySigner>,
    calls: Vec<Call>,
    capabilities: Option<PrepareCallsCapabilities>,
) -> Result<StatusCode, WalletClientError> {
    let sent = client.send_calls(calls, capabilities).await?;
    assert_eq!(sent.prepared_call_ids, vec![sent.id.clone()]);
    let status = client.wait_for_calls_status(&sent.id, WAIT, DEFAULT_STATUS_POLL).await?;
    if status.status == StatusCode::Confirmed {
        let receipts = status.receipts.as_ref().expect("receipts once confirmed");
        assert_eq!(receipts.len(), 1);
        assert_eq!(receipts[0].status.to::<u64>(), 1);
    }
    Ok(status.status)
}

fn array_items(p: &mut keyward_api::wallet::PrepareCallsResult) -> &mut Vec<PreparedCallItem> {
    match &mut p.prepared {
        PreparedCalls::Array { data } => data,
        other => panic!("not an array: {other:?}"),
    }
}

/// A `rawPayload` that is not the digest of the request's data.
fn tamper_user_op_raw_payload(p: &mut keyward_api::wallet::PrepareCallsResult) {
    let PreparedCallItem::UserOperationV070(op) = &mut array_items(p)[1] else { panic!("user op") };
    let Some(SignatureRequest::PersonalSign { raw_payload, .. }) = &mut op.signature_request else {
        panic!("personal_sign")
    };
    *raw_payload = Some(B256::with_last_byte(1));
}

/// A personal_sign of 32 bytes that are not the operation's hash (digest consistent with them).
fn tamper_user_op_hash(p: &mut keyward_api::wallet::PrepareCallsResult) {
    let PreparedCallItem::UserOperationV070(op) = &mut array_items(p)[1] else { panic!("user op") };
    op.signature_request = Some(SignatureRequest::personal_sign_raw(B256::with_last_byte(2)));
}

/// An authorization whose `rawPayload` is not the tuple's hash.
fn tamper_authorization(p: &mut keyward_api::wallet::PrepareCallsResult) {
    let PreparedCallItem::Authorization(auth) = &mut array_items(p)[0] else { panic!("authorization") };
    auth.signature_request = SignatureRequest::Eip7702Auth { raw_payload: B256::with_last_byte(3) };
}

fn in_an_hour() -> u64 {
    keyward_primitives::unix_now() + 3600
}

#[tokio::test]
async fn eip7702_owner_sends_calls_then_signs_as_the_account() {
    let dev = Dev::start("7702").await;
    let owner = PrivateKeySigner::random();
    dev.fund(owner.address(), ETH).await;
    let client = dev.client(owner.clone());
    assert_eq!(client.account(), owner.address(), "no account given: the signer's EOA (EIP-7702)");

    // First use: [authorization, user operation], signed and sent by send_calls.
    let prepared = client.prepare_calls(vec![transfer(Address::with_last_byte(0x71), 1)], None).await.unwrap();
    let PreparedCalls::Array { data } = &prepared.prepared else { panic!("a fresh EOA needs an authorization") };
    assert_eq!(data.len(), 2);
    client.sign_prepared_calls(&prepared).await.expect("an honest answer is signed");
    for tamper in [tamper_user_op_raw_payload, tamper_user_op_hash, tamper_authorization] {
        let mut bad = prepared.clone();
        tamper(&mut bad);
        let err = client.sign_prepared_calls(&bad).await.unwrap_err();
        assert!(matches!(err, WalletClientError::Mismatch(_)), "{err}");
    }
    let recipient = Address::with_last_byte(0x72);
    assert_eq!(send_and_wait(&client, vec![transfer(recipient, 12_345)], None).await.unwrap(), StatusCode::Confirmed);
    assert_eq!(dev.h.balance(recipient).await, U256::from(12_345));
    let code = dev.h.chain.code(owner.address()).await.unwrap();
    assert!(keyward_primitives::eip7702::is_designator(&code), "delegated");

    // Delegated: a plain user operation.
    let prepared = client.prepare_calls(vec![dev.count()], None).await.unwrap();
    assert!(matches!(prepared.prepared, PreparedCalls::UserOperationV070(_)));
    let before = dev.counter().await;
    assert_eq!(send_and_wait(&client, vec![dev.count(), dev.count()], None).await.unwrap(), StatusCode::Confirmed);
    assert_eq!(dev.counter().await, before + U256::from(2));

    // ERC-1271 of the 7702 account.
    let message = PersonalSignData::Text("hello from keyward".into());
    let signature = client.sign_message(message.clone()).await.unwrap();
    assert!(dev.is_valid_signature(owner.address(), message.eip191_hash(), signature.clone()).await);
    assert!(!dev.is_valid_signature(owner.address(), eip191_hash_message("other"), signature).await);
}

#[tokio::test]
async fn smart_account_with_root_and_scoped_session_keys() {
    let dev = Dev::start("sessions").await;
    let owner = PrivateKeySigner::random();
    let requested = dev.client(owner.clone()).request_account().await.unwrap();
    let account = requested.account_address;
    assert_ne!(account, owner.address());
    assert!(requested.counterfactual_info.is_some(), "the SDK-style request asks for counterfactual info");
    assert_eq!(dev.client(owner.clone()).request_account().await.unwrap().account_address, account, "stable");
    dev.fund(account, 2 * ETH).await;
    let owner_client = dev.client(owner.clone()).with_account(account);

    // Root session: the first call deploys the account and installs the key.
    let root_key = PrivateKeySigner::random();
    let context = owner_client
        .grant_permissions(GrantPermissions {
            account: None,
            expiry_sec: in_an_hour(),
            session_key: root_key.address(),
            permissions: vec![Permission::Root],
        })
        .await
        .unwrap();
    assert_eq!(context.len(), 82);
    assert_eq!(context[0], 0);
    let session = dev.client(root_key).with_account(account);
    let before = dev.counter().await;
    assert_eq!(
        send_and_wait(&session, vec![dev.count()], with_context(&context)).await.unwrap(),
        StatusCode::Confirmed
    );
    assert!(!dev.h.chain.code(account).await.unwrap().is_empty(), "deployed by the first operation");
    assert_eq!(
        send_and_wait(&session, vec![dev.count()], with_context(&context)).await.unwrap(),
        StatusCode::Confirmed
    );
    assert_eq!(dev.counter().await, before + U256::from(2));

    // Scoped: at most 1000 wei, only to `recipient`.
    let recipient = Address::with_last_byte(0x73);
    let scoped_key = PrivateKeySigner::random();
    let context = owner_client
        .grant_permissions(GrantPermissions {
            account: Some(account),
            expiry_sec: in_an_hour(),
            session_key: scoped_key.address(),
            permissions: vec![
                Permission::NativeTokenTransfer { allowance: U256::from(1000) },
                Permission::ContractAccess { address: recipient },
            ],
        })
        .await
        .unwrap();
    let scoped = dev.client(scoped_key).with_account(account);
    assert_eq!(
        send_and_wait(&scoped, vec![transfer(recipient, 600)], with_context(&context)).await.unwrap(),
        StatusCode::Confirmed
    );
    assert_eq!(dev.h.balance(recipient).await, U256::from(600));
    // Out of scope: refused before anything is sent, naming the permission.
    let err = scoped.send_calls(vec![dev.count()], with_context(&context)).await.unwrap_err();
    assert!(err.to_string().contains("contract-access"), "{err}");
    assert!(err.code().is_some(), "a JSON-RPC error: {err}");
    // Beyond what is left of the onchain budget: refused, or sent and failed onchain.
    match send_and_wait(&scoped, vec![transfer(recipient, 600)], with_context(&context)).await {
        Ok(status) => assert!(status.is_final() && !status.is_success(), "{status:?}"),
        Err(e) => assert!(e.code().is_some(), "{e}"),
    }
    assert_eq!(dev.h.balance(recipient).await, U256::from(600), "nothing beyond the budget was sent");

    // ERC-1271 of the deployed smart account: a message and typed data.
    let message = PersonalSignData::Raw { raw: Bytes::from_static(b"Hello") };
    let signature = owner_client.sign_message(message.clone()).await.unwrap();
    assert!(dev.is_valid_signature(account, message.eip191_hash(), signature).await);
    let typed: TypedData = serde_json::from_value(serde_json::json!({
        "domain": {"name": "Keyward", "version": "1", "chainId": dev.chain_id, "verifyingContract": dev.counter},
        "types": {"Mail": [{"name": "contents", "type": "string"}, {"name": "amount", "type": "uint256"}]},
        "primaryType": "Mail",
        "message": {"contents": "hi", "amount": "0x7b"}
    }))
    .unwrap();
    let signature = owner_client.sign_typed_data(typed.clone()).await.unwrap();
    assert!(dev.is_valid_signature(account, typed.signing_hash().unwrap(), signature.clone()).await);
    assert!(!dev.is_valid_signature(account, B256::with_last_byte(1), signature).await);

    // Session management (Keyward extensions): both sessions listed, what is left of the scoped
    // one's budget read from the chain (1000 - 600); one owner operation revokes both; again is a
    // no-op.
    let sessions = owner_client.list_sessions().await.unwrap();
    assert_eq!(sessions.len(), 2);
    let left = sessions[1].budgets.iter().find(|b| b.ty == "native-token-transfer").unwrap();
    assert_eq!(left.remaining.0, U256::from(400));
    assert_eq!(owner_client.get_session(sessions[1].session_id).await.unwrap(), sessions[1]);
    let ids: Vec<_> = sessions.iter().map(|s| s.session_id).collect();
    let revoking = owner_client.revoke_sessions(ids.clone()).await.unwrap().expect("a revoking call");
    let status = owner_client
        .wait_for_calls_status(&revoking, std::time::Duration::from_secs(30), std::time::Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(status.status, StatusCode::Confirmed);
    let states: Vec<_> = owner_client.list_sessions().await.unwrap().into_iter().map(|s| s.state).collect();
    assert_eq!(states, vec![keyward_api::wallet::SessionStateName::Revoked; 2]);
    assert_eq!(owner_client.revoke_sessions(ids).await.unwrap(), None);
    let err = scoped.send_calls(vec![transfer(recipient, 1)], with_context(&context)).await.unwrap_err();
    assert!(err.to_string().contains("was revoked"), "{err}");
}

#[tokio::test]
async fn reads_and_server_errors_with_their_codes() {
    let dev = Dev::start("errors").await;
    let client = dev.client(PrivateKeySigner::random());
    // wallet_getCapabilities with [address, [chainId]]; wallet_listAccounts of a signer.
    let capabilities = client.get_capabilities().await.unwrap();
    let ours = &capabilities[&keyward_api::wallet::HexNumber(dev.chain_id as u32)];
    assert_eq!(ours["permissions"]["supported"], serde_json::json!(true));
    assert!(client.list_accounts().await.unwrap().accounts.is_empty());
    let account = client.request_account().await.unwrap().account_address;
    let listed = client.list_accounts().await.unwrap();
    assert_eq!(listed.accounts.iter().map(|a| a.account_address).collect::<Vec<_>>(), vec![account]);
    assert_eq!((listed.meta.total_count, listed.meta.after), (1, None));
    let err = client.get_calls_status(&Bytes::from(vec![0u8; 64])).await.unwrap_err();
    assert_eq!(err.code(), Some(keyward_api::wallet::codes::UNKNOWN_BUNDLE_ID), "{err}");
    let other_chain = SmartWalletClient::new(&dev.url, PrivateKeySigner::random(), 424_242).unwrap();
    let err = other_chain.prepare_calls(vec![dev.count()], None).await.unwrap_err();
    assert_eq!(err.code(), Some(keyward_api::wallet::codes::UNSUPPORTED_CHAIN), "{err}");
    assert!(matches!(
        SmartWalletClient::new("not a url", PrivateKeySigner::random(), 1),
        Err(WalletClientError::InvalidUrl { .. })
    ));
}

/// One scoped session: its permissions, a call in scope with its expected effect, and a call out of
/// scope whose refusal must name `broken`.
struct ScopedCase {
    permissions: Vec<Permission>,
    in_scope: Call,
    out_of_scope: Call,
    broken: &'static str,
}

#[tokio::test]
async fn every_scoped_permission_type_in_and_out_of_scope() {
    use keyward_contracts::bindings::TestToken;
    let dev = Dev::start("scoped").await;
    let owner = PrivateKeySigner::random();
    let account = dev.client(owner.clone()).request_account().await.unwrap().account_address;
    dev.fund(account, 2 * ETH).await;
    let owner_client = dev.client(owner).with_account(account);
    let token = dev.h.deploy(artifacts::test_token(), &[]).await;
    dev.h.transact(token, TestToken::mintCall { to: account, amount: U256::from(1000) }, U256::ZERO).await;
    let recipient = Address::with_last_byte(0x74);
    let count_selector = TestCounter::countCall::SELECTOR.into();
    let token_transfer = |amount: u64| Call {
        to: token,
        data: Some(TestToken::transferCall { to: recipient, amount: U256::from(amount) }.abi_encode().into()),
        value: None,
    };
    let account_id =
        Call { to: account, data: Some(SemiModularAccountBytecode::accountIdCall {}.abi_encode().into()), value: None };
    let fallback_signer = Call {
        to: account,
        data: Some(SemiModularAccountBytecode::getFallbackSignerDataCall {}.abi_encode().into()),
        value: None,
    };
    let cases = vec![
        ScopedCase {
            permissions: vec![Permission::Erc20TokenTransfer { address: token, allowance: U256::from(100) }],
            in_scope: token_transfer(60),
            out_of_scope: Call {
                to: token,
                data: Some(TestToken::mintCall { to: account, amount: U256::from(1) }.abi_encode().into()),
                value: None,
            },
            broken: "erc20-token-transfer",
        },
        ScopedCase {
            permissions: vec![
                Permission::GasLimit { limit: U256::from(ETH / 2) },
                Permission::ContractAccess { address: dev.counter },
            ],
            in_scope: dev.count(),
            out_of_scope: token_transfer(1),
            broken: "contract-access",
        },
        ScopedCase {
            permissions: vec![Permission::AccountFunctions {
                functions: vec![SemiModularAccountBytecode::accountIdCall::SELECTOR.into()],
            }],
            in_scope: account_id,
            out_of_scope: fallback_signer,
            broken: "account-functions",
        },
        ScopedCase {
            permissions: vec![Permission::FunctionsOnAllContracts { functions: vec![count_selector] }],
            in_scope: dev.count(),
            out_of_scope: token_transfer(1),
            broken: "functions-on-all-contracts",
        },
        ScopedCase {
            permissions: vec![Permission::FunctionsOnContract {
                address: dev.counter,
                functions: vec![count_selector],
            }],
            in_scope: dev.count(),
            out_of_scope: Call {
                to: dev.counter,
                data: Some(TestCounter::failCall {}.abi_encode().into()),
                value: None,
            },
            broken: "functions-on-contract",
        },
    ];
    for case in cases {
        let key = PrivateKeySigner::random();
        let context = owner_client
            .grant_permissions(GrantPermissions {
                account: None,
                expiry_sec: in_an_hour(),
                session_key: key.address(),
                permissions: case.permissions.clone(),
            })
            .await
            .unwrap();
        let session = dev.client(key).with_account(account);
        let (counter, tokens) =
            (dev.counter().await, dev.h.read(token, TestToken::balanceOfCall(recipient)).await.unwrap());
        let status = send_and_wait(&session, vec![case.in_scope.clone()], with_context(&context)).await.unwrap();
        assert_eq!(status, StatusCode::Confirmed, "{}", case.broken);
        let (counter_after, tokens_after) =
            (dev.counter().await, dev.h.read(token, TestToken::balanceOfCall(recipient)).await.unwrap());
        match case.in_scope.to {
            to if to == dev.counter => assert_eq!(counter_after, counter + U256::from(1), "{}", case.broken),
            to if to == token => assert_eq!(tokens_after, tokens + U256::from(60), "{}", case.broken),
            _ => assert_eq!((counter_after, tokens_after), (counter, tokens), "{}: a read-only call", case.broken),
        }
        let err = session.send_calls(vec![case.out_of_scope.clone()], with_context(&context)).await.unwrap_err();
        assert!(err.to_string().contains(case.broken), "{}: {err}", case.broken);
    }
}

/// A passkey (P-256) session through the SDK (Keyward extension): the owner grants it with
/// `grant_passkey_permissions`, a `PasskeySessionClient` over a RustCrypto `SigningKey` sends its
/// calls (the first deploys the account and installs the session), the session is listed with its
/// public key, and a call out of its scope is refused.
#[tokio::test]
async fn passkey_session_sends_calls_signed_by_a_p256_key() {
    use keyward_api::wallet::SessionKey;
    use keyward_sdk::wallet::{GrantPasskeyPermissions, P256Signer, PasskeySessionClient};

    let dev = Dev::start("passkey").await;
    let owner = PrivateKeySigner::random();
    let account = dev.client(owner.clone()).request_account().await.unwrap().account_address;
    dev.fund(account, ETH).await;
    let owner_client = dev.client(owner).with_account(account);
    let key = loop {
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(PrivateKeySigner::random().to_bytes().as_slice()) {
            break k;
        }
    };
    let recipient = Address::with_last_byte(0x74);
    let context = owner_client
        .grant_passkey_permissions(GrantPasskeyPermissions {
            account: None,
            expiry_sec: in_an_hour(),
            public_key: key.public_key().unwrap(),
            permissions: vec![
                Permission::NativeTokenTransfer { allowance: U256::from(1000) },
                Permission::ContractAccess { address: recipient },
            ],
        })
        .await
        .unwrap();
    let session = PasskeySessionClient::new(&dev.url, key.clone(), dev.chain_id, account).unwrap();
    for _ in 0..2 {
        let sent = session.send_calls(vec![transfer(recipient, 300)], with_context(&context)).await.unwrap();
        let status = session.wait_for_calls_status(&sent.id, WAIT, DEFAULT_STATUS_POLL).await.unwrap();
        assert_eq!(status.status, StatusCode::Confirmed);
    }
    assert_eq!(dev.h.chain.balance(recipient).await.unwrap(), U256::from(600));
    let sessions = owner_client.list_sessions().await.unwrap();
    assert_eq!(sessions[0].key, SessionKey::P256(key.public_key().unwrap()));
    assert_eq!(sessions[0].budgets[0].remaining.0, U256::from(400));
    // 500 wei is more than is left: refused (the module, in the simulation).
    let err = session.send_calls(vec![transfer(recipient, 500)], with_context(&context)).await.unwrap_err();
    assert_eq!(err.code(), Some(-32000), "{err}");
}
