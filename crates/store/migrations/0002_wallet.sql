-- The Wallet API's records: smart accounts, session keys, prepared and sent calls.
-- Portable SQL (SQLite and PostgreSQL): TEXT and BIGINT only, encodings as in 0001 (lowercase
-- fixed-width 0x-hex TEXT for hashes, addresses and U256; BIGINT for u64 values).

-- One row per account the API handed out. Accounts are the same on every chain (CREATE2 address of
-- (signer, salt)); a 7702 account is the signer's own address.
CREATE TABLE wallet_accounts (
    id          TEXT   NOT NULL PRIMARY KEY,          -- UUID v4, lowercase
    signer      TEXT   NOT NULL,
    address     TEXT   NOT NULL,
    salt        TEXT   NOT NULL,                      -- U256 (0 for 7702)
    kind        TEXT   NOT NULL CHECK (kind IN ('sma-b', '7702')),
    created_at  BIGINT NOT NULL
);

CREATE UNIQUE INDEX wallet_accounts_by_address ON wallet_accounts (address);
CREATE INDEX wallet_accounts_by_signer ON wallet_accounts (signer, created_at, id);

-- Session keys: what wallet_createSession registered and the owner signs as a deferred action.
CREATE TABLE wallet_sessions (
    id                   TEXT   NOT NULL PRIMARY KEY, -- 16 bytes, 0x + 32 hex
    chain_id             BIGINT NOT NULL,
    account              TEXT   NOT NULL,
    key_type             TEXT   NOT NULL CHECK (key_type IN ('secp256k1', 'contract')),
    session_key          TEXT   NOT NULL,
    permissions_json     TEXT   NOT NULL,
    entity_id            BIGINT NOT NULL,
    is_global            BIGINT NOT NULL,
    has_execution_hooks  BIGINT NOT NULL,
    expiry               BIGINT NOT NULL,             -- unix seconds, 0 = never
    deferred_nonce       TEXT   NOT NULL,             -- U256: full nonce of the installing op
    install_call         TEXT   NOT NULL,             -- installValidation calldata (0x-hex)
    digest               TEXT   NOT NULL,             -- EIP-712 digest of the DeferredAction
    request_hash         TEXT   NOT NULL,             -- keccak of the canonical request (idempotency)
    first_op             TEXT,                        -- userOpHash of the op carrying the install
    created_at           BIGINT NOT NULL
);

-- Entity ids are never reused for an account (on any chain).
CREATE UNIQUE INDEX wallet_sessions_entity ON wallet_sessions (account, entity_id);
CREATE UNIQUE INDEX wallet_sessions_request ON wallet_sessions (request_hash);

-- What wallet_prepareCalls answered, keyed by userOpHash: sendPreparedCalls checks the echo against
-- it and finds the capabilities (session, authorization) it was prepared with.
CREATE TABLE wallet_prepared (
    chain_id            BIGINT NOT NULL,
    hash                TEXT   NOT NULL,
    account             TEXT   NOT NULL,
    op_json             TEXT   NOT NULL,              -- the unsigned user operation (RPC JSON)
    session_id          TEXT,                         -- acting session, if any
    signer              TEXT   NOT NULL,              -- who must sign the userOpHash
    authorization_json  TEXT,                         -- 7702 authorization {address, nonce} to attach
    deferred            BIGINT NOT NULL,              -- carries the session's deferred install
    owner_signature     TEXT,                         -- owner's signature of the session grant (deferred)
    calls_json          TEXT   NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (chain_id, hash)
);

-- What wallet_sendPreparedCalls accepted: the call id and what it resolves to.
CREATE TABLE wallet_calls (
    id          TEXT   NOT NULL PRIMARY KEY,          -- 0x ‖ chainId (32 B) ‖ userOpHash
    chain_id    BIGINT NOT NULL,
    hash        TEXT   NOT NULL,                      -- userOpHash
    account     TEXT   NOT NULL,
    calls_json  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
