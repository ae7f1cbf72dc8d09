-- Passkey session keys: `key_type` may be 'p256', whose `session_key` is the public key's 64-byte
-- x ‖ y (0x + 128 hex digits); a secp256k1 (or contract) key stays its 20-byte address. Neither
-- backend can change a CHECK in place portably, so the table is rebuilt: same columns, same rows,
-- same indexes. Forward-only, like every migration here.

CREATE TABLE wallet_sessions_v9 (
    id                   TEXT   NOT NULL PRIMARY KEY, -- 16 bytes, 0x + 32 hex
    chain_id             BIGINT NOT NULL,
    account              TEXT   NOT NULL,
    key_type             TEXT   NOT NULL CHECK (key_type IN ('secp256k1', 'contract', 'p256')),
    session_key          TEXT   NOT NULL,             -- address (0x + 40 hex) or p256 x ‖ y (0x + 128 hex)
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
    created_at           BIGINT NOT NULL,
    CHECK ((key_type = 'p256' AND length(session_key) = 130) OR (key_type <> 'p256' AND length(session_key) = 42))
);

INSERT INTO wallet_sessions_v9 (id, chain_id, account, key_type, session_key, permissions_json, entity_id, is_global,
    has_execution_hooks, expiry, deferred_nonce, install_call, digest, request_hash, first_op, created_at)
SELECT id, chain_id, account, key_type, session_key, permissions_json, entity_id, is_global,
    has_execution_hooks, expiry, deferred_nonce, install_call, digest, request_hash, first_op, created_at
FROM wallet_sessions;

DROP TABLE wallet_sessions;

ALTER TABLE wallet_sessions_v9 RENAME TO wallet_sessions;

-- Entity ids are never reused for an account (on any chain).
CREATE UNIQUE INDEX wallet_sessions_entity ON wallet_sessions (account, entity_id);
CREATE UNIQUE INDEX wallet_sessions_request ON wallet_sessions (request_hash);
