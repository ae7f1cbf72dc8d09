//! The Wallet API's records: accounts, sessions, prepared calls and sent calls. Every insert is
//! idempotent (the same input finds the row already there and returns it), so client retries never
//! create duplicates.

use alloy::primitives::{Address, B256, Bytes, U256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{
    address_bin, address_from_bin, address_text, b256_bin, b256_from_bin, b256_text, parse_address, parse_b256,
    parse_u256, u64_from_db, u64_to_db, u256_text,
};
use crate::db::{Store, lock_key};
use crate::error::{CodecError, StoreError};
use crate::packed::{Doc, packed, unpacked};
use crate::script::Statement;

/// A statement text built at run time from the constant column lists above (never from input).
macro_rules! sql {
    ($($t:tt)*) => {
        sqlx::AssertSqlSafe(format!($($t)*))
    };
}

/// What kind of account a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Semi-modular account (owner in the proxy bytecode), counterfactual through the factory.
    SmaB,
    /// The signer's own EOA, delegated with EIP-7702.
    Eip7702,
}

impl AccountKind {
    /// The stored text (also the Wallet API's `accountType`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::SmaB => "sma-b",
            AccountKind::Eip7702 => "7702",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "sma-b" => Ok(AccountKind::SmaB),
            "7702" => Ok(AccountKind::Eip7702),
            other => Err(StoreError::Corrupt(format!("wallet_accounts.kind: unknown value {other:?}"))),
        }
    }
}

/// One account handed out by `wallet_requestAccount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    /// UUID v4 (lowercase, hyphenated).
    pub id: String,
    /// The owner.
    pub signer: Address,
    /// The account address (counterfactual or the EOA itself).
    pub address: Address,
    /// The factory salt (0 for 7702).
    pub salt: U256,
    /// Account kind.
    pub kind: AccountKind,
    /// When it was created (unix seconds).
    pub created_at: u64,
}

/// One session key registered by `wallet_createSession`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// 16-byte session id.
    pub id: [u8; 16],
    /// Chain the session is for.
    pub chain_id: u64,
    /// The smart account.
    pub account: Address,
    /// The session key.
    pub key: SessionKeyRecord,
    /// The Wallet-API permissions as JSON (request order).
    pub permissions_json: String,
    /// The session's entity id (never reused for the account).
    pub entity_id: u32,
    /// Whether the validation is global (root permission).
    pub is_global: bool,
    /// Whether the session's ops need the `executeUserOp` prefix.
    pub has_execution_hooks: bool,
    /// Expiry, unix seconds (0 = never).
    pub expiry: u64,
    /// Full nonce of the user operation that carries the deferred install.
    pub deferred_nonce: U256,
    /// The `installValidation` calldata (the deferred action's `call`).
    pub install_call: Bytes,
    /// EIP-712 digest of the DeferredAction the owner signs.
    pub digest: B256,
    /// Hash of the canonical request, for idempotent retries.
    pub request_hash: B256,
    /// userOpHash of the op that carried (or carries) the install.
    pub first_op: Option<B256>,
    /// When it was created (unix seconds).
    pub created_at: u64,
}

/// A session's key as stored: `key_type` and `session_key` (an address, or `x ‖ y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKeyRecord {
    /// `secp256k1`: the key's address.
    Secp256k1(Address),
    /// `p256`: the public key's coordinates, `x ‖ y` (64 bytes).
    P256([u8; 64]),
}

impl SessionKeyRecord {
    /// The `key_type` column.
    pub const fn key_type(&self) -> &'static str {
        match self {
            Self::Secp256k1(_) => "secp256k1",
            Self::P256(_) => "p256",
        }
    }

    /// The `session_key` column: `0x` + 40 hex digits, or `0x` + 128 for `x ‖ y`.
    fn text(&self) -> String {
        match self {
            Self::Secp256k1(a) => address_text(a),
            Self::P256(xy) => alloy::hex::encode_prefixed(xy),
        }
    }

    fn parse(key_type: &str, text: &str) -> Result<Self, StoreError> {
        match key_type {
            "secp256k1" => Ok(Self::Secp256k1(parse_address("session_key", text)?)),
            "p256" => {
                let bytes = text
                    .strip_prefix("0x")
                    .filter(|b| b.len() == 128)
                    .and_then(|b| alloy::hex::decode(b).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("session_key: expected 64-byte x ‖ y, got {text:?}")))?;
                let mut xy = [0u8; 64];
                xy.copy_from_slice(&bytes);
                Ok(Self::P256(xy))
            }
            other => Err(StoreError::Corrupt(format!("key_type: {other:?} is not a key type this server stores"))),
        }
    }
}

/// One prepared user operation, as `wallet_prepareCalls` answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedRecord {
    /// Chain id.
    pub chain_id: u64,
    /// userOpHash.
    pub hash: B256,
    /// The sender.
    pub account: Address,
    /// The unsigned user operation (RPC JSON).
    pub op_json: String,
    /// The acting session, if any.
    pub session_id: Option<[u8; 16]>,
    /// The key that must sign the userOpHash.
    pub signer: Address,
    /// 7702 authorization to attach (`{address, nonce}` JSON), if the EOA must (re)delegate.
    pub authorization_json: Option<String>,
    /// Whether the op carries the session's deferred install.
    pub deferred: bool,
    /// The owner's raw signature of the session grant, for the deferred-action prefix.
    pub owner_signature: Option<Bytes>,
    /// The calls (Wallet-API JSON).
    pub calls_json: String,
    /// When it was prepared (unix seconds).
    pub created_at: u64,
}

/// One call bundle accepted by `wallet_sendPreparedCalls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Chain id (with `hash`, the call's key; its id `0x ‖ chainId ‖ userOpHash` derives from the two).
    pub chain_id: u64,
    /// userOpHash.
    pub hash: B256,
    /// The sender.
    pub account: Address,
    /// The calls (Wallet-API JSON).
    pub calls_json: String,
    /// The session the call acted for, if any.
    pub session_id: Option<[u8; 16]>,
    /// When it was accepted (unix seconds).
    pub created_at: u64,
}

/// What [`Store::insert_session`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionInsert {
    /// The session was stored.
    Inserted,
    /// A session with the same request hash exists: that one is returned (idempotent retry).
    Existing(Box<SessionRecord>),
    /// The entity id was taken meanwhile (concurrent create): allocate the next one and retry.
    EntityTaken,
}

/// Row counts of the wallet tables (tests assert that refused requests leave nothing behind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalletCounts {
    /// `wallet_accounts` rows.
    pub accounts: u64,
    /// `wallet_sessions` rows.
    pub sessions: u64,
    /// `wallet_prepared` rows.
    pub prepared: u64,
    /// `wallet_calls` rows.
    pub calls: u64,
}

/// 16-byte session id as stored: `0x` + 32 lowercase hex digits.
pub fn session_id_text(id: &[u8; 16]) -> String {
    alloy::hex::encode_prefixed(id)
}

/// Parses a [`session_id_text`] value.
pub(crate) fn parse_session_id(column: &str, s: &str) -> Result<[u8; 16], StoreError> {
    let bytes = s
        .strip_prefix("0x")
        .filter(|b| b.len() == 32)
        .and_then(|b| alloy::hex::decode(b).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{column}: expected a 16-byte hex id, got {s:?}")))?;
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes);
    Ok(id)
}

/// A session id as stored in a binary column (`wallet_calls.session_id`): its 16 bytes.
pub(crate) fn session_id_from_bin(column: &str, bytes: &[u8]) -> Result<[u8; 16], StoreError> {
    <[u8; 16]>::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("{column}: expected a 16-byte id, got {} bytes", bytes.len())))
}

fn parse_bytes(column: &str, s: &str) -> Result<Bytes, StoreError> {
    alloy::hex::decode(s).map(Bytes::from).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn flag(column: &str, v: i64) -> Result<bool, StoreError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(StoreError::Corrupt(format!("{column}: expected 0 or 1, got {other}"))),
    }
}

fn entity_from_db(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("entity_id: {v} is not a uint32")))
}

const ACCOUNT_COLUMNS: &str = "id, signer, address, salt, kind, created_at";

fn account_from_row(row: &AnyRow) -> Result<AccountRecord, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c);
    Ok(AccountRecord {
        id: text("id")?,
        signer: parse_address("signer", &text("signer")?)?,
        address: parse_address("address", &text("address")?)?,
        salt: parse_u256("salt", &text("salt")?)?,
        kind: AccountKind::parse(&text("kind")?)?,
        created_at: u64_from_db("created_at", row.try_get("created_at")?)?,
    })
}

const SESSION_COLUMNS: &str = "id, chain_id, account, key_type, session_key, permissions_json, entity_id, is_global, \
     has_execution_hooks, expiry, deferred_nonce, install_call, digest, request_hash, first_op, created_at";

fn session_from_row(row: &AnyRow) -> Result<SessionRecord, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c);
    Ok(SessionRecord {
        id: parse_session_id("id", &text("id")?)?,
        chain_id: u64_from_db("chain_id", row.try_get("chain_id")?)?,
        account: parse_address("account", &text("account")?)?,
        key: SessionKeyRecord::parse(&text("key_type")?, &text("session_key")?)?,
        permissions_json: text("permissions_json")?,
        entity_id: entity_from_db(row.try_get("entity_id")?)?,
        is_global: flag("is_global", row.try_get("is_global")?)?,
        has_execution_hooks: flag("has_execution_hooks", row.try_get("has_execution_hooks")?)?,
        expiry: u64_from_db("expiry", row.try_get("expiry")?)?,
        deferred_nonce: parse_u256("deferred_nonce", &text("deferred_nonce")?)?,
        install_call: parse_bytes("install_call", &text("install_call")?)?,
        digest: parse_b256("digest", &text("digest")?)?,
        request_hash: parse_b256("request_hash", &text("request_hash")?)?,
        first_op: row.try_get::<Option<String>, _>("first_op")?.map(|s| parse_b256("first_op", &s)).transpose()?,
        created_at: u64_from_db("created_at", row.try_get("created_at")?)?,
    })
}

const PREPARED_COLUMNS: &str = "chain_id, hash, account, op_json, session_id, signer, authorization_json, deferred, owner_signature, calls_json, \
     created_at";

pub(crate) fn prepared_from_row(row: &AnyRow) -> Result<PreparedRecord, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c);
    Ok(PreparedRecord {
        chain_id: u64_from_db("chain_id", row.try_get("chain_id")?)?,
        hash: parse_b256("hash", &text("hash")?)?,
        account: parse_address("account", &text("account")?)?,
        op_json: text("op_json")?,
        session_id: row
            .try_get::<Option<String>, _>("session_id")?
            .map(|s| parse_session_id("session_id", &s))
            .transpose()?,
        signer: parse_address("signer", &text("signer")?)?,
        authorization_json: row.try_get::<Option<String>, _>("authorization_json")?,
        deferred: flag("deferred", row.try_get("deferred")?)?,
        owner_signature: row
            .try_get::<Option<String>, _>("owner_signature")?
            .map(|s| parse_bytes("owner_signature", &s))
            .transpose()?,
        calls_json: text("calls_json")?,
        created_at: u64_from_db("created_at", row.try_get("created_at")?)?,
    })
}

const CALL_COLUMNS: &str = "chain_id, hash, account, calls_z, session_id, created_at";

fn call_from_row(row: &AnyRow) -> Result<CallRecord, StoreError> {
    let bin = |c: &str| row.try_get::<Vec<u8>, _>(c);
    Ok(CallRecord {
        chain_id: u64_from_db("chain_id", row.try_get("chain_id")?)?,
        hash: b256_from_bin("hash", &bin("hash")?)?,
        account: address_from_bin("account", &bin("account")?)?,
        calls_json: unpacked("calls_z", Doc::Calls, &bin("calls_z")?)?,
        session_id: row
            .try_get::<Option<Vec<u8>>, _>("session_id")?
            .map(|b| session_id_from_bin("session_id", &b))
            .transpose()?,
        created_at: u64_from_db("created_at", row.try_get("created_at")?)?,
    })
}

/// A transaction-scoped PostgreSQL advisory lock key for one wallet object.
/// The session stored for this request hash, read through `ex` (the pool or a transaction).
async fn session_by_request_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    request_hash: &B256,
) -> Result<Option<SessionRecord>, StoreError> {
    let row = sqlx::query(sql!("SELECT {SESSION_COLUMNS} FROM wallet_sessions WHERE request_hash = $1"))
        .bind(b256_text(request_hash))
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(session_from_row).transpose()
}

/// The highest entity id of the account's sessions (`account` as stored), read through `ex`.
async fn max_entity_id_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    account: &str,
) -> Result<Option<i64>, StoreError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(entity_id) FROM wallet_sessions WHERE account = $1")
        .bind(account)
        .fetch_one(ex)
        .await?;
    Ok(max)
}

/// The prepared op with this hash on this chain, read through `ex`.
async fn prepared_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    chain_id: u64,
    hash: &B256,
) -> Result<Option<PreparedRecord>, StoreError> {
    let row = sqlx::query(sql!("SELECT {PREPARED_COLUMNS} FROM wallet_prepared WHERE chain_id = $1 AND hash = $2"))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(b256_text(hash))
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(prepared_from_row).transpose()
}

/// The sent call of `hash` on `chain_id`, read through `ex`.
async fn call_on<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    chain_id: u64,
    hash: &B256,
) -> Result<Option<CallRecord>, StoreError> {
    let row = sqlx::query(sql!("SELECT {CALL_COLUMNS} FROM wallet_calls WHERE chain_id = $1 AND hash = $2"))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(b256_bin(hash))
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(call_from_row).transpose()
}

impl Store {
    /// Stores `rec` unless an account with its id or its address exists; returns the stored row
    /// (the existing one when there was one), so a retried request gets the same account.
    pub async fn insert_account(&self, rec: &AccountRecord) -> Result<AccountRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        self.advisory_lock(&mut tx, lock_key("account", rec.address.as_slice())).await?;
        let existing = sqlx::query(sql!(
            "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE id = $1 OR address = $2 ORDER BY created_at LIMIT 1"
        ))
        .bind(&rec.id)
        .bind(address_text(&rec.address))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            return account_from_row(&row);
        }
        sqlx::query(
            "INSERT INTO wallet_accounts (id, signer, address, salt, kind, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&rec.id)
        .bind(address_text(&rec.signer))
        .bind(address_text(&rec.address))
        .bind(u256_text(&rec.salt))
        .bind(rec.kind.as_str())
        .bind(u64_to_db("created_at", rec.created_at)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rec.clone())
    }

    /// The account with this UUID.
    pub async fn account_by_id(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(sql!("SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// The account at this address.
    pub async fn account_by_address(&self, address: Address) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(sql!("SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE address = $1"))
            .bind(address_text(&address))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Accounts of `signer` in creation order, after the `(created_at, id)` cursor, at most `limit`.
    pub async fn accounts_of_signer(
        &self,
        signer: Address,
        after: Option<(u64, &str)>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let (after_ts, after_id) = match after {
            Some((ts, id)) => (u64_to_db("created_at", ts)?, id.to_string()),
            None => (-1, String::new()),
        };
        let rows = sqlx::query(sql!(
            "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE signer = $1 \
             AND (created_at > $2 OR (created_at = $2 AND id > $3)) ORDER BY created_at, id LIMIT $4"
        ))
        .bind(address_text(&signer))
        .bind(after_ts)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// How many accounts `signer` has.
    pub async fn count_accounts_of_signer(&self, signer: Address) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wallet_accounts WHERE signer = $1")
            .bind(address_text(&signer))
            .fetch_one(self.pool())
            .await?;
        Ok(u64_from_db("count", n)?)
    }

    /// The first entity id never given to a session of `account` (1 when it has none).
    pub async fn next_entity_id(&self, account: Address) -> Result<u32, StoreError> {
        let max = max_entity_id_on(self.pool(), &address_text(&account)).await?;
        let next = max.map(|m| m + 1).unwrap_or(1);
        u32::try_from(next).map_err(|_| StoreError::InvalidInput(format!("entity ids of {account} are exhausted")))
    }

    /// The session stored for this request hash, if any.
    pub async fn session_by_request(&self, request_hash: B256) -> Result<Option<SessionRecord>, StoreError> {
        session_by_request_on(self.pool(), &request_hash).await
    }

    /// Stores a session: an existing session with the same request hash wins (idempotent retry);
    /// an entity id no longer the account's next free one is refused with [`SessionInsert::EntityTaken`].
    pub async fn insert_session(&self, rec: &SessionRecord) -> Result<SessionInsert, StoreError> {
        let account = address_text(&rec.account);
        let mut tx = self.begin_write().await?;
        self.advisory_lock(&mut tx, lock_key("sessions", rec.account.as_slice())).await?;
        if let Some(existing) = session_by_request_on(&mut *tx, &rec.request_hash).await? {
            return Ok(SessionInsert::Existing(Box::new(existing)));
        }
        let max = max_entity_id_on(&mut *tx, &account).await?;
        if max.is_some_and(|m| m >= i64::from(rec.entity_id)) {
            return Ok(SessionInsert::EntityTaken);
        }
        sqlx::query(
            "INSERT INTO wallet_sessions (id, chain_id, account, key_type, session_key, permissions_json, entity_id, \
             is_global, has_execution_hooks, expiry, deferred_nonce, install_call, digest, request_hash, first_op, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, $15)",
        )
        .bind(session_id_text(&rec.id))
        .bind(u64_to_db("chain_id", rec.chain_id)?)
        .bind(&account)
        .bind(rec.key.key_type())
        .bind(rec.key.text())
        .bind(&rec.permissions_json)
        .bind(i64::from(rec.entity_id))
        .bind(i64::from(rec.is_global))
        .bind(i64::from(rec.has_execution_hooks))
        .bind(u64_to_db("expiry", rec.expiry)?)
        .bind(u256_text(&rec.deferred_nonce))
        .bind(alloy::hex::encode_prefixed(&rec.install_call))
        .bind(b256_text(&rec.digest))
        .bind(b256_text(&rec.request_hash))
        .bind(u64_to_db("created_at", rec.created_at)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SessionInsert::Inserted)
    }

    /// The session with this id.
    pub async fn session(&self, id: &[u8; 16]) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(sql!("SELECT {SESSION_COLUMNS} FROM wallet_sessions WHERE id = $1"))
            .bind(session_id_text(id))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// The session of `account` with this entity id.
    pub async fn session_by_entity(
        &self,
        account: Address,
        entity_id: u32,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row =
            sqlx::query(sql!("SELECT {SESSION_COLUMNS} FROM wallet_sessions WHERE account = $1 AND entity_id = $2"))
                .bind(address_text(&account))
                .bind(i64::from(entity_id))
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// The sessions of `account` on `chain_id`, in the order they were granted (entity ids are
    /// handed out in order and never reused).
    pub async fn sessions_of(&self, account: Address, chain_id: u64) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(sql!(
            "SELECT {SESSION_COLUMNS} FROM wallet_sessions WHERE account = $1 AND chain_id = $2 ORDER BY entity_id"
        ))
        .bind(address_text(&account))
        .bind(u64_to_db("chain_id", chain_id)?)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Stores a prepared op unless one with the same (chain, hash) exists, with the token its
    /// prepare's nonce leases were taken under (its send ends them; a retried prepare's token
    /// replaces the first one's); returns the stored row. One statement.
    pub async fn insert_prepared(
        &self,
        rec: &PreparedRecord,
        lease_token: Option<&str>,
    ) -> Result<PreparedRecord, StoreError> {
        insert_prepared_in(self.writer(), rec, lease_token).await
    }

    /// The prepared op with this hash on this chain.
    pub async fn prepared(&self, chain_id: u64, hash: B256) -> Result<Option<PreparedRecord>, StoreError> {
        prepared_on(self.pool(), chain_id, &hash).await
    }

    /// Records an accepted call in one transaction ([`record_call_in`]); returns the stored row
    /// (the existing one when a retry or a concurrent twin recorded it first).
    pub async fn insert_call(&self, rec: &CallRecord, installs_session: bool) -> Result<CallRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        if !record_call_in::<StoreError>(&mut tx, rec, installs_session).await? {
            return call_on(&mut *tx, rec.chain_id, &rec.hash)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("call {} vanished", rec.hash)));
        }
        tx.commit().await?;
        Ok(rec.clone())
    }

    /// The sent call of `hash` on `chain_id`.
    pub async fn call(&self, chain_id: u64, hash: B256) -> Result<Option<CallRecord>, StoreError> {
        call_on(self.pool(), chain_id, &hash).await
    }

    /// Row counts of the wallet tables.
    pub async fn wallet_counts(&self) -> Result<WalletCounts, StoreError> {
        let mut out = WalletCounts::default();
        for (table, slot) in [
            ("wallet_accounts", &mut out.accounts),
            ("wallet_sessions", &mut out.sessions),
            ("wallet_prepared", &mut out.prepared),
            ("wallet_calls", &mut out.calls),
        ] {
            let n: i64 = sqlx::query_scalar(sql!("SELECT COUNT(*) FROM {table}")).fetch_one(self.pool()).await?;
            *slot = u64_from_db("count", n)?;
        }
        Ok(out)
    }
}

/// [`Store::insert_prepared`] through `executor`.
async fn insert_prepared_in<'e, X>(
    executor: X,
    rec: &PreparedRecord,
    lease_token: Option<&str>,
) -> Result<PreparedRecord, StoreError>
where
    X: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = prepared_insert(rec, lease_token)?.query().fetch_one(executor).await?;
    prepared_from_row(&row)
}

/// The statement of [`Store::insert_prepared`]; it returns the stored row ([`prepared_from_row`]).
pub(crate) fn prepared_insert(rec: &PreparedRecord, lease_token: Option<&str>) -> Result<Statement, CodecError> {
    Ok(Statement::new(format!(
        "INSERT INTO wallet_prepared (chain_id, hash, account, op_json, session_id, signer, authorization_json, \
         deferred, owner_signature, calls_json, created_at, lease_token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (chain_id, hash) DO UPDATE SET lease_token = excluded.lease_token \
         RETURNING {PREPARED_COLUMNS}"
    ))
    .bind(u64_to_db("chain_id", rec.chain_id)?)
    .bind(b256_text(&rec.hash))
    .bind(address_text(&rec.account))
    .bind(rec.op_json.clone())
    .bind(rec.session_id.as_ref().map(session_id_text))
    .bind(address_text(&rec.signer))
    .bind(rec.authorization_json.clone())
    .bind(i64::from(rec.deferred))
    .bind(rec.owner_signature.as_ref().map(alloy::hex::encode_prefixed))
    .bind(rec.calls_json.clone())
    .bind(u64_to_db("created_at", rec.created_at)?)
    .bind(lease_token))
}

/// Records an accepted call inside `tx`: the call (unless it exists: then nothing else changes),
/// its prepared operation forgotten (from now on the call answers retries and status), the nonce
/// leases of its prepare ended (the mempool orders its key now) and, when `installs_session`, the
/// call's session's first operation set to it (the first one recorded wins). Whether it was new.
pub(crate) async fn record_call_in<E: From<sqlx::Error> + From<CodecError>>(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rec: &CallRecord,
    installs_session: bool,
) -> Result<bool, E> {
    let (insert, rest) = call_statements(rec, installs_session)?;
    if insert.query().execute(&mut **tx).await?.rows_affected() != 1 {
        // A retry (or a concurrent twin) recorded it first: that write did the rest.
        return Ok(false);
    }
    for statement in rest {
        statement.query().execute(&mut **tx).await?;
    }
    Ok(true)
}

/// The statements of [`record_call_in`]: the call's insert (nothing where it is stored), then
/// what a new call also changes.
pub(crate) fn call_statements(
    rec: &CallRecord,
    installs_session: bool,
) -> Result<(Statement, Vec<Statement>), CodecError> {
    let chain_id = u64_to_db("chain_id", rec.chain_id)?;
    let insert = Statement::new(
        "INSERT INTO wallet_calls (chain_id, hash, account, calls_z, session_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain_id, hash) DO NOTHING",
    )
    .bind(chain_id)
    .bind(b256_bin(&rec.hash))
    .bind(address_bin(&rec.account))
    .bind(packed("calls_z", Doc::Calls, &rec.calls_json)?)
    .bind(rec.session_id.map(|id| id.to_vec()))
    .bind(u64_to_db("created_at", rec.created_at)?);
    // The call's own table keeps bytes; the prepared row, leases and session it ends keep hex text.
    let hash = b256_text(&rec.hash);
    let mut rest = vec![
        // The prepare's leases first (by the token its prepared row keeps), then that row.
        Statement::new(
            "DELETE FROM wallet_nonce_leases WHERE chain_id = $1 AND account = $3 AND token = \
             (SELECT lease_token FROM wallet_prepared WHERE chain_id = $1 AND hash = $2)",
        )
        .bind(chain_id)
        .bind(hash.clone())
        .bind(address_text(&rec.account)),
        Statement::new("DELETE FROM wallet_prepared WHERE chain_id = $1 AND hash = $2")
            .bind(chain_id)
            .bind(hash.clone()),
    ];
    if let Some(session) = rec.session_id.as_ref().filter(|_| installs_session) {
        rest.push(
            Statement::new("UPDATE wallet_sessions SET first_op = $2 WHERE id = $1 AND first_op IS NULL")
                .bind(session_id_text(session))
                .bind(hash),
        );
    }
    Ok((insert, rest))
}
