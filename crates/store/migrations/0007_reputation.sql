-- ERC-7562 reputation of the entities (senders, factories, paymasters) a bundler has seen, per
-- chain and EntryPoint: opsSeen / opsIncluded, decayed hourly (x 23/24) from `decayed_hour` on.
CREATE TABLE bundler_reputation (
    chain_id      BIGINT NOT NULL,
    entry_point   TEXT   NOT NULL,
    address       TEXT   NOT NULL,
    ops_seen      BIGINT NOT NULL,
    ops_included  BIGINT NOT NULL,
    decayed_hour  BIGINT NOT NULL,   -- unix time / 3600 when the counters were last decayed
    PRIMARY KEY (chain_id, entry_point, address)
);

-- What the first validation of a pooled operation showed that the second one is compared with
-- (ERC-7562 COD-010: the code hashes of the contracts it ran), as JSON, and when it arrived
-- (unix nanoseconds: the mempool's arrival order, finer than user_ops.created_at).
CREATE TABLE bundler_op_facts (
    chain_id     BIGINT NOT NULL,
    entry_point  TEXT   NOT NULL,
    op_hash      TEXT   NOT NULL,
    facts_json   TEXT   NOT NULL,
    arrived_ns   BIGINT NOT NULL,
    PRIMARY KEY (chain_id, entry_point, op_hash)
);
