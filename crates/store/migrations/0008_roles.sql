-- Roles one replica at a time performs (bundling with a key; watching a chain): who holds each,
-- until when (ms), and a fencing token raised at every change of holder. Every write a role makes
-- carries the token it was given and is refused once the token moved on.
CREATE TABLE role_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);

-- Where a role's reading of the chain stands: the last block it handled and that block's hash
-- (a hash the node no longer has at that height is a reorg).
CREATE TABLE chain_cursors (
    name TEXT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL
);

-- The replicas that are up (each writes its heartbeat every round), for sharing the roles.
CREATE TABLE replicas (
    holder TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

-- The chain watcher re-checks the inclusions of the last blocks each round: read through this
-- index, its cost is those blocks' operations, not the whole history.
CREATE INDEX user_ops_by_inclusion ON user_ops (chain_id, entry_point, status, block_number);
