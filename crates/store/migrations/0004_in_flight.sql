-- Nonce leases: a prepared user operation holds its nonce key until it is sent (or the lease
-- expires), so concurrent wallet_prepareCalls of one account get distinct keys instead of the same
-- nonce. Portable SQL, encodings as in 0001.
CREATE TABLE wallet_nonce_leases (
    chain_id    BIGINT NOT NULL,
    account     TEXT   NOT NULL,
    nonce_key   TEXT   NOT NULL,                      -- U256: the 192-bit EntryPoint key
    token       TEXT   NOT NULL,                      -- who holds it (random, per prepare)
    hash        TEXT,                                 -- userOpHash of the prepared op, once built
    expires_at  BIGINT NOT NULL,                      -- unix seconds
    PRIMARY KEY (chain_id, account, nonce_key)
);

CREATE INDEX wallet_nonce_leases_by_hash ON wallet_nonce_leases (chain_id, hash);

-- The chain's latest block when a bundle transaction was sent (wallet_getCallsStatus answers it as
-- pendingBundle.sentAtBlock while the bundle is in flight).
ALTER TABLE bundles ADD COLUMN sent_at_block BIGINT NOT NULL DEFAULT 0;
