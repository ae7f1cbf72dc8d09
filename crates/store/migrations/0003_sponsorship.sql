-- Gas sponsorship: policies defined in the store, and the spend ledger of every policy.
-- Portable SQL (SQLite and PostgreSQL): TEXT and BIGINT only. Wei amounts are lowercase 0x-hex TEXT
-- of 64 digits (fixed width, so text order is numeric order); arithmetic happens in Rust inside a
-- transaction that holds the policy row's lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: FOR UPDATE).

-- Policies created through the store (policies of the config file are not copied here).
CREATE TABLE sponsorship_policies (
    policy_id   TEXT   NOT NULL PRIMARY KEY,
    policy_json TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Totals of a policy: settled spend and outstanding reservations (worst-case cost).
CREATE TABLE sponsorship_totals (
    policy_id  TEXT   NOT NULL PRIMARY KEY,
    spent      TEXT   NOT NULL,
    reserved   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The same per (policy, sender).
CREATE TABLE sponsorship_sender_totals (
    policy_id  TEXT   NOT NULL,
    sender     TEXT   NOT NULL,
    spent      TEXT   NOT NULL,
    reserved   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (policy_id, sender)
);

-- One sponsored operation. request_key identifies the operation without its paymaster signature (so
-- a retried prepare finds its reservation); user_op_hash is the hash of the signed operation (what
-- receipts name).
CREATE TABLE sponsorships (
    chain_id     BIGINT NOT NULL,
    request_key  TEXT   NOT NULL,
    user_op_hash TEXT   NOT NULL,
    policy_id    TEXT   NOT NULL,
    sender       TEXT   NOT NULL,
    max_cost     TEXT   NOT NULL,
    actual_cost  TEXT,
    valid_until  BIGINT NOT NULL,
    valid_after  BIGINT NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('reserved', 'settled', 'released')),
    reason       TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (chain_id, request_key)
);

CREATE UNIQUE INDEX sponsorships_by_hash ON sponsorships (chain_id, user_op_hash);
CREATE INDEX sponsorships_by_status ON sponsorships (chain_id, status, valid_until);
CREATE INDEX sponsorships_by_policy ON sponsorships (policy_id, status, valid_until);
