-- Storage per operation (issue 16): history must cost what it holds. Most user_ops rows are final
-- (included, failed, dropped), and each kept its operation and receipt as JSON of hex text (~1.6 KB)
-- plus an entry in four indexes that served only unfinished operations (~550 bytes). The table is
-- rebuilt: the operation and its receipt are stored deflated (`op_z`, `receipt_z`; rows written
-- before keep their JSON text, read as before), and besides the key two indexes remain:
-- `user_ops_by_inclusion` (reorg checks by block; its leading status column also finds the few
-- pending or submitted rows) and `user_ops_live_by_sender`, which holds unfinished rows only.
CREATE TABLE user_ops_lean (
    chain_id                 BIGINT NOT NULL,
    entry_point              TEXT   NOT NULL,
    hash                     TEXT   NOT NULL,
    sender                   TEXT   NOT NULL,
    nonce_key                TEXT   NOT NULL,
    nonce_seq                BIGINT NOT NULL,
    max_fee_per_gas          TEXT   NOT NULL,
    max_priority_fee_per_gas TEXT   NOT NULL,
    valid_until              BIGINT NOT NULL,
    op_json                  TEXT,                    -- rows written before 0011
    op_z                     BYTEA,                   -- the operation's JSON, deflated
    status                   TEXT   NOT NULL
        CHECK (status IN ('pending', 'submitted', 'included', 'failed', 'dropped')),
    bundle_tx                TEXT,
    block_number             BIGINT,
    block_hash               TEXT,
    receipt_json             TEXT,                    -- rows written before 0011
    receipt_z                BYTEA,                   -- the receipt's JSON, deflated
    failure                  TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    claimed_by               TEXT,
    claimed_until            BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, entry_point, hash),
    CHECK ((op_json IS NULL) <> (op_z IS NULL)),
    CHECK (receipt_json IS NULL OR receipt_z IS NULL)
);
INSERT INTO user_ops_lean (chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas,
        max_priority_fee_per_gas, valid_until, op_json, status, bundle_tx, block_number, block_hash,
        receipt_json, failure, created_at, updated_at, claimed_by, claimed_until)
    SELECT chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas,
        max_priority_fee_per_gas, valid_until, op_json, status, bundle_tx, block_number, block_hash,
        receipt_json, failure, created_at, updated_at, claimed_by, claimed_until FROM user_ops;
DROP TABLE user_ops;
ALTER TABLE user_ops_lean RENAME TO user_ops;
CREATE INDEX user_ops_by_inclusion ON user_ops (chain_id, entry_point, status, block_number);
CREATE INDEX user_ops_live_by_sender ON user_ops (chain_id, entry_point, sender, nonce_key, nonce_seq)
    WHERE status IN ('pending', 'submitted');

-- The sponsorship indexes serve the expiry sweeps of reservations only.
DROP INDEX sponsorships_by_status;
DROP INDEX sponsorships_by_policy;
CREATE INDEX sponsorships_reserved ON sponsorships (chain_id, valid_until) WHERE status = 'reserved';
CREATE INDEX sponsorships_reserved_by_policy ON sponsorships (policy_id, valid_until) WHERE status = 'reserved';

-- A call is keyed by (chain_id, hash): its id (0x ‖ chainId ‖ userOpHash) is derived from the two,
-- and the 130-character id column with its index cost ~290 bytes per call.
CREATE TABLE wallet_calls_keyed (
    chain_id    BIGINT NOT NULL,
    hash        TEXT   NOT NULL,                      -- userOpHash
    account     TEXT   NOT NULL,
    calls_json  TEXT   NOT NULL,
    session_id  TEXT,                                 -- the session it acted for, if any
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, hash)
);
INSERT INTO wallet_calls_keyed (chain_id, hash, account, calls_json, session_id, created_at)
    SELECT chain_id, hash, account, calls_json, session_id, created_at FROM wallet_calls;
DROP TABLE wallet_calls;
ALTER TABLE wallet_calls_keyed RENAME TO wallet_calls;
