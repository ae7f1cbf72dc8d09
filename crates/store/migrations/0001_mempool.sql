-- The bundler's durable mempool and the bundle transactions it sent.
-- Portable SQL (SQLite and PostgreSQL): TEXT and BIGINT only. Hashes, addresses, U256 and u128
-- values are lowercase 0x-hex TEXT of fixed width (so equality and ordering are exact); u64 values
-- are BIGINT (nonce_seq holds the two's-complement i64 of the u64 so the full range round-trips).

CREATE TABLE user_ops (
    chain_id                 BIGINT NOT NULL,
    entry_point              TEXT   NOT NULL,
    hash                     TEXT   NOT NULL,
    sender                   TEXT   NOT NULL,
    nonce_key                TEXT   NOT NULL,
    nonce_seq                BIGINT NOT NULL,
    max_fee_per_gas          TEXT   NOT NULL,
    max_priority_fee_per_gas TEXT   NOT NULL,
    valid_until              BIGINT NOT NULL,
    op_json                  TEXT   NOT NULL,
    status                   TEXT   NOT NULL
        CHECK (status IN ('pending', 'submitted', 'included', 'failed', 'dropped')),
    bundle_tx                TEXT,
    block_number             BIGINT,
    block_hash               TEXT,
    receipt_json             TEXT,
    failure                  TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    PRIMARY KEY (chain_id, entry_point, hash)
);

CREATE INDEX user_ops_by_sender ON user_ops (chain_id, entry_point, sender, status);
CREATE INDEX user_ops_by_status ON user_ops (chain_id, entry_point, status, created_at, hash);
CREATE INDEX user_ops_by_block ON user_ops (chain_id, entry_point, block_hash);
CREATE INDEX user_ops_by_bundle ON user_ops (chain_id, entry_point, bundle_tx);

CREATE TABLE bundles (
    tx_hash                  TEXT   NOT NULL PRIMARY KEY,
    chain_id                 BIGINT NOT NULL,
    bundler                  TEXT   NOT NULL,
    tx_nonce                 BIGINT NOT NULL,
    max_fee_per_gas          TEXT   NOT NULL,
    max_priority_fee_per_gas TEXT   NOT NULL,
    op_hashes                TEXT   NOT NULL,
    status                   TEXT   NOT NULL
        CHECK (status IN ('pending', 'mined', 'replaced', 'failed')),
    sent_at                  BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);

CREATE INDEX bundles_by_bundler ON bundles (chain_id, bundler, status, tx_nonce);
