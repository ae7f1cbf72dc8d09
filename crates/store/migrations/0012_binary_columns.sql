-- Storage per call (issue 16), continued from 0011: the tables that grow with every call keep
-- their hashes, addresses, keys and fees as raw bytes (BYTEA; a BLOB in SQLite) instead of 0x-hex
-- text (66 characters for 32 bytes), fixed width and big-endian so byte order is numeric order;
-- sponsorship amounts are big-endian bytes without leading zero bytes (never compared in SQL).
-- The JSON documents kept for history are packed (`crates/store/src/packed.rs`: hex strings as
-- bytes, deflated with a preset dictionary): `user_ops.op_z` and `receipt_z` (one format, the
-- legacy `op_json` / `receipt_json` columns go), `wallet_calls.calls_z`. Columns nothing reads go
-- (`sponsorships.created_at`, `updated_at`), and the bundles' index holds pending bundles only.
--
-- Converting hex text to bytes has no portable SQL (SQLite's unhex, PostgreSQL's decode), so this
-- migration moves the old tables aside (`*_0011`) and creates the new ones empty; the store copies
-- the old rows over in Rust when it opens (`crates/store/src/upgrade.rs`), in batches that each
-- commit what they copied together with deleting it from the old table, then drops the old tables
-- and the `store_upgrades` row below. A store answers nothing before that is done.

-- Conversions a migration left to the store to finish when it opens (by name).
CREATE TABLE store_upgrades (
    name TEXT NOT NULL PRIMARY KEY
);
INSERT INTO store_upgrades (name) VALUES ('0012_binary_columns');

-- The index names are taken again by the new tables.
DROP INDEX user_ops_by_inclusion;
DROP INDEX user_ops_live_by_sender;
DROP INDEX sponsorships_by_hash;
DROP INDEX sponsorships_reserved;
DROP INDEX sponsorships_reserved_by_policy;
DROP INDEX bundles_by_bundler;

ALTER TABLE user_ops RENAME TO user_ops_0011;
ALTER TABLE sponsorships RENAME TO sponsorships_0011;
ALTER TABLE wallet_calls RENAME TO wallet_calls_0011;
ALTER TABLE bundles RENAME TO bundles_0011;

CREATE TABLE user_ops_v12 (
    chain_id                 BIGINT NOT NULL,
    entry_point              BYTEA  NOT NULL,         -- 20 bytes
    hash                     BYTEA  NOT NULL,         -- userOpHash, 32 bytes
    sender                   BYTEA  NOT NULL,         -- 20 bytes
    nonce_key                BYTEA  NOT NULL,         -- U256, 32 bytes
    nonce_seq                BIGINT NOT NULL,
    max_fee_per_gas          BYTEA  NOT NULL,         -- u128, 16 bytes
    max_priority_fee_per_gas BYTEA  NOT NULL,         -- u128, 16 bytes
    valid_until              BIGINT NOT NULL,
    op_z                     BYTEA  NOT NULL,         -- the operation's RPC JSON, packed
    status                   TEXT   NOT NULL
        CHECK (status IN ('pending', 'submitted', 'included', 'failed', 'dropped')),
    bundle_tx                BYTEA,                   -- 32 bytes
    block_number             BIGINT,
    block_hash               BYTEA,                   -- 32 bytes
    receipt_z                BYTEA,                   -- the operation's outcome JSON, packed
    failure                  TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    claimed_by               BYTEA,                   -- the claiming bundler key's address, 20 bytes
    claimed_until            BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, entry_point, hash),
    CHECK (length(entry_point) = 20 AND length(hash) = 32 AND length(sender) = 20 AND length(nonce_key) = 32),
    CHECK (length(max_fee_per_gas) = 16 AND length(max_priority_fee_per_gas) = 16)
);
ALTER TABLE user_ops_v12 RENAME TO user_ops;
-- As in 0011: reorg checks by block (its leading status column also finds the few pending or
-- submitted rows), and the unfinished rows by sender and nonce.
CREATE INDEX user_ops_by_inclusion ON user_ops (chain_id, entry_point, status, block_number);
CREATE INDEX user_ops_live_by_sender ON user_ops (chain_id, entry_point, sender, nonce_key, nonce_seq)
    WHERE status IN ('pending', 'submitted');

CREATE TABLE sponsorships_v12 (
    chain_id     BIGINT NOT NULL,
    request_key  BYTEA  NOT NULL,                     -- 32 bytes
    user_op_hash BYTEA  NOT NULL,                     -- 32 bytes
    policy_id    TEXT   NOT NULL,
    sender       BYTEA  NOT NULL,                     -- 20 bytes
    max_cost     BYTEA  NOT NULL,                     -- wei, big-endian, no leading zero bytes
    actual_cost  BYTEA,                               -- the same
    valid_until  BIGINT NOT NULL,
    valid_after  BIGINT NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('reserved', 'settled', 'released')),
    reason       TEXT,
    PRIMARY KEY (chain_id, request_key),
    CHECK (length(request_key) = 32 AND length(user_op_hash) = 32 AND length(sender) = 20)
);
ALTER TABLE sponsorships_v12 RENAME TO sponsorships;
CREATE UNIQUE INDEX sponsorships_by_hash ON sponsorships (chain_id, user_op_hash);
CREATE INDEX sponsorships_reserved ON sponsorships (chain_id, valid_until) WHERE status = 'reserved';
CREATE INDEX sponsorships_reserved_by_policy ON sponsorships (policy_id, valid_until) WHERE status = 'reserved';

CREATE TABLE wallet_calls_v12 (
    chain_id    BIGINT NOT NULL,
    hash        BYTEA  NOT NULL,                      -- userOpHash, 32 bytes
    account     BYTEA  NOT NULL,                      -- 20 bytes
    calls_z     BYTEA  NOT NULL,                      -- the calls (Wallet API JSON), packed
    session_id  BYTEA,                                -- the session it acted for, 16 bytes
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, hash),
    CHECK (length(hash) = 32 AND length(account) = 20)
);
ALTER TABLE wallet_calls_v12 RENAME TO wallet_calls;

CREATE TABLE bundles_v12 (
    tx_hash                  BYTEA  NOT NULL PRIMARY KEY, -- 32 bytes
    chain_id                 BIGINT NOT NULL,
    bundler                  BYTEA  NOT NULL,         -- 20 bytes
    tx_nonce                 BIGINT NOT NULL,
    max_fee_per_gas          BYTEA  NOT NULL,         -- u128, 16 bytes
    max_priority_fee_per_gas BYTEA  NOT NULL,         -- u128, 16 bytes
    op_hashes                BYTEA  NOT NULL,         -- the userOpHashes in bundle order, 32 bytes each
    status                   TEXT   NOT NULL
        CHECK (status IN ('pending', 'mined', 'replaced', 'failed')),
    sent_at                  BIGINT NOT NULL,
    sent_at_block            BIGINT NOT NULL DEFAULT 0,
    updated_at               BIGINT NOT NULL,
    CHECK (length(tx_hash) = 32 AND length(bundler) = 20 AND length(op_hashes) % 32 = 0)
);
ALTER TABLE bundles_v12 RENAME TO bundles;
-- A restart resumes its key's pending bundles; mined, replaced and failed ones are history.
CREATE INDEX bundles_pending_by_bundler ON bundles (chain_id, bundler, tx_nonce) WHERE status = 'pending';
