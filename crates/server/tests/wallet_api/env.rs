//! A Wallet API on the embedded chain: the account stack deployed through the deterministic
//! deployer, a bundler in auto mode over a SQLite store, the `wallet_*` module served over HTTP,
//! and helpers that sign prepared calls the way the official SDK does.

use std::sync::Arc;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use jsonrpsee::RpcModule;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use keyward_api::wallet::{
    Call, CallsStatus, CreateSessionParams, PermissionsCapability, PrepareCallsParams, PrepareCallsResult,
    PreparedCallItem, PreparedCalls, RequestAccountParams, RequestAccountResult, SessionKey, SessionSignatureRequest,
    WalletApiClient,
};
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::deploy::deploy_account_stack;
use keyward_contracts::Deployment;
use keyward_contracts::bindings::TestCounter;
use keyward_server::wallet::WalletRpc;
use keyward_store::Store;
use keyward_store::wallet::WalletCounts;
use keyward_testkit::Harness;
use keyward_testkit::sponsorship::{Backend, TestDb};
use keyward_wallet::{Wallet, WalletConfig};

/// One ether.
pub(crate) const ETH: u128 = 1_000_000_000_000_000_000;

/// Everything a Wallet API test needs.
pub(crate) struct Env {
    pub h: Harness,
    pub deployment: Deployment,
    pub wallet: Arc<Wallet>,
    pub bundler: Arc<Bundler>,
    pub client: HttpClient,
    pub chain_id: u64,
    bundling: tokio::task::JoinHandle<()>,
    _server: jsonrpsee::server::ServerHandle,
    _keep: Keep,
}

/// What must outlive the test's store (its SQLite directory), or nothing.
pub(crate) enum Keep {
    /// A SQLite directory.
    Dir(tempfile::TempDir),
    /// Nothing (PostgreSQL).
    Nothing,
}

impl Env {
    /// A fresh embedded chain with the stack, a bundler and the Wallet API over a SQLite file.
    pub(crate) async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(dir.path()).await.unwrap();
        Env::with(Harness::embedded(), store, Keep::Dir(dir)).await
    }

    /// The same on any chain and store.
    pub(crate) async fn with(h: Harness, store: Store, keep: Keep) -> Env {
        Env::configured(h, store, keep, |_| {}).await
    }

    /// A fresh embedded chain over a SQLite file, the wallet's configuration changed by `adjust`.
    pub(crate) async fn adjusted(adjust: impl FnOnce(&mut WalletConfig)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(dir.path()).await.unwrap();
        Env::configured(Harness::embedded(), store, Keep::Dir(dir), adjust).await
    }

    /// [`Env::with`], the wallet's configuration changed by `adjust`.
    async fn configured(h: Harness, store: Store, keep: Keep, adjust: impl FnOnce(&mut WalletConfig)) -> Env {
        let deployment = deploy_account_stack(h.chain.as_ref(), &h.keys[0], U256::from(ETH)).await.unwrap();
        let bundler = Bundler::new(h.chain.clone(), store, h.keys[9].clone(), BundlerConfig::default()).await.unwrap();
        let bundling = bundler.spawn();
        let mut config = WalletConfig::new(deployment);
        adjust(&mut config);
        let wallet = Wallet::new(h.chain.clone(), bundler.store().clone(), bundler.clone(), config).await.unwrap();
        let wallet_store = bundler.store().clone();
        let mut module = RpcModule::new(());
        module.merge(WalletRpc::single(wallet.clone()).into_module()).unwrap();
        let (bound, server) =
            keyward_server::serve("127.0.0.1:0".parse().unwrap(), module, Some(wallet_store)).await.unwrap();
        let url = format!("http://{bound}");
        let client = HttpClientBuilder::default().request_timeout(Duration::from_secs(30)).build(&url).unwrap();
        let chain_id = h.chain_id().await;
        Env { h, deployment, wallet, bundler, client, chain_id, bundling, _server: server, _keep: keep }
    }

    /// Stops this service's bundling loop (a process that went away), so another can take over.
    pub(crate) fn stop_bundling(&self) {
        self.bundling.abort();
    }

    /// The SQLite directory of the store, when there is one.
    pub(crate) fn dir(&self) -> Option<&std::path::Path> {
        match &self._keep {
            Keep::Dir(d) => Some(d.path()),
            Keep::Nothing => None,
        }
    }

    /// Row counts of the wallet tables.
    pub(crate) async fn counts(&self) -> WalletCounts {
        self.wallet.store().wallet_counts().await.unwrap()
    }

    /// The first account of `owner` (`wallet_requestAccount` by signer, with counterfactual info).
    pub(crate) async fn request_account(&self, owner: Address) -> RequestAccountResult {
        self.client.request_account(by_signer(owner)).await.unwrap()
    }

    /// The first account of `owner`, funded with one ether (still counterfactual).
    pub(crate) async fn new_account(&self, owner: &PrivateKeySigner) -> Address {
        let account = self.request_account(owner.address()).await.account_address;
        self.fund(account, ETH).await;
        account
    }

    /// `wallet_createSession` params: a root session of `key` on `account`, without expiry.
    pub(crate) fn root_session(&self, account: Address, key: Address) -> CreateSessionParams {
        CreateSessionParams {
            account,
            chain_id: u32::try_from(self.chain_id).unwrap().into(),
            expiry_sec: None,
            key: SessionKey::Secp256k1(key),
            permissions: serde_json::from_value(serde_json::json!([{ "type": "root" }])).unwrap(),
        }
    }

    /// A root session of `key` on `owner`'s `account`, granted by the owner's signature of the
    /// typed data's digest: the `{sessionId, signature}` permissions capability.
    pub(crate) async fn grant_root(
        &self,
        owner: &PrivateKeySigner,
        account: Address,
        key: Address,
    ) -> PermissionsCapability {
        let session = self.client.create_session(self.root_session(account, key)).await.unwrap();
        let SessionSignatureRequest::TypedData { data, raw_payload } = session.signature_request;
        assert_eq!(data.signing_hash().unwrap(), raw_payload);
        let grant = owner.sign_hash_sync(&raw_payload).unwrap();
        PermissionsCapability::Session { session_id: session.session_id, signature: grant.as_bytes().to_vec().into() }
    }

    /// `wallet_prepareCalls` params for one `count()` call on `counter` from `from`, no capabilities.
    pub(crate) fn prepare_count(&self, from: Address, counter: Address) -> PrepareCallsParams {
        PrepareCallsParams {
            calls: Some(vec![Call {
                to: counter,
                data: Some(TestCounter::countCall {}.abi_encode().into()),
                value: None,
            }]),
            from,
            chain_id: u32::try_from(self.chain_id).unwrap().into(),
            capabilities: None,
            paymaster_permit_signature: None,
        }
    }

    /// Sends `value` wei from dev key 0.
    pub(crate) async fn fund(&self, to: Address, value: u128) {
        let tx = TransactionRequest::default().with_to(to).with_value(U256::from(value));
        assert!(self.h.send_tx(&self.h.keys[0], tx).await.unwrap().status());
    }

    /// Polls `wallet_getCallsStatus` until the status is final (200 or ≥ 300).
    pub(crate) async fn wait(&self, id: &Bytes) -> CallsStatus {
        for _ in 0..200 {
            let s = self.client.get_calls_status(id.clone()).await.unwrap();
            if s.status.is_final() {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("call {id} did not reach a final status");
    }

    /// The chain-id hex string of requests.
    pub(crate) fn chain_hex(&self) -> String {
        format!("{:#x}", self.chain_id)
    }
}

/// `wallet_requestAccount` params for the first account of `signer`, with its counterfactual info.
pub(crate) fn by_signer(signer: Address) -> RequestAccountParams {
    RequestAccountParams::BySigner {
        signer_address: signer,
        id: None,
        creation_hint: None,
        include_counterfactual_info: Some(true),
    }
}

pub(crate) use keyward_testkit::wallet::sign_prepared;

/// The userOpHash in a prepare answer's details.
pub(crate) fn prepared_hash(prepared: &PrepareCallsResult) -> B256 {
    match &prepared.details {
        Some(keyward_api::wallet::PrepareDetails::UserOperation { data }) => data.hash,
        None => panic!("no details"),
    }
}

/// The user operation of a prepare answer (single or inside an array).
pub(crate) fn prepared_op(prepared: &PrepareCallsResult) -> &keyward_api::wallet::PreparedUserOpV07 {
    match &prepared.prepared {
        PreparedCalls::UserOperationV070(op) => op,
        PreparedCalls::Array { data } => data
            .iter()
            .find_map(|i| match i {
                PreparedCallItem::UserOperationV070(op) => Some(op),
                _ => None,
            })
            .unwrap(),
        other => panic!("unexpected prepared calls {other:?}"),
    }
}

/// A JSON-RPC error's code and text (message, then `data` when jsonrpsee put the parse error there).
pub(crate) fn rpc_error<T: std::fmt::Debug>(r: Result<T, jsonrpsee::core::ClientError>) -> (i32, String) {
    match r {
        Err(jsonrpsee::core::ClientError::Call(e)) => {
            let data = e.data().map(|d| format!(" {}", d.get())).unwrap_or_default();
            (e.code(), format!("{}{data}", e.message()))
        }
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// An [`Env`] over a throwaway PostgreSQL database (testkit's [`TestDb`], dropped by
/// [`PostgresEnv::drop_database`]), on the embedded chain. `None` when PostgreSQL tests are skipped
/// (`KEYWARD_SKIP_POSTGRES=1`); without that, a missing `KEYWARD_TEST_POSTGRES_URL` fails.
pub(crate) struct PostgresEnv {
    /// The environment to test with.
    pub(crate) env: Env,
    db: TestDb,
}

impl PostgresEnv {
    /// A fresh database and the environment over it.
    pub(crate) async fn new() -> Option<PostgresEnv> {
        let db = TestDb::open(Backend::Postgres).await?;
        let env = Env::with(Harness::embedded(), db.store.clone(), Keep::Nothing).await;
        Some(PostgresEnv { env, db })
    }

    /// Stops the environment and drops its database.
    pub(crate) async fn drop_database(self) {
        let PostgresEnv { env, db } = self;
        drop(env);
        db.cleanup().await;
    }
}
