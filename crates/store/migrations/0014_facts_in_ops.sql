-- An operation's first-validation facts (ERC-7562 COD-010) and arrival time move into its own
-- `user_ops` row: written by the admission's insert, cleared by the update that makes it final, so
-- neither costs a statement of its own. Facts of operations pending at this upgrade are not
-- carried over (their bundle-time COD-010 comparison is skipped, as for an operation admitted
-- without facts).
ALTER TABLE user_ops ADD COLUMN facts_json TEXT;
ALTER TABLE user_ops ADD COLUMN arrived_ns BIGINT;
DROP TABLE bundler_op_facts;
