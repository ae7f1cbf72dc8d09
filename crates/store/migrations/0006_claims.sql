-- Several bundler keys over one mempool: a key claims pending operations before it bundles them,
-- and a bundle is recorded only with operations its key holds. A claim keeps every operation of a
-- sender with one key (consecutive nonces go out in order), and ends at claimed_until (ms) so a
-- key that stops bundling does not strand operations.
ALTER TABLE user_ops ADD COLUMN claimed_by TEXT;
ALTER TABLE user_ops ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
