-- API keys of `keyward serve`: only a hash of each secret is kept (the secret is shown once, at
-- creation). A key may be limited to some chains and some gas policies, and to a request rate.
CREATE TABLE api_keys (
    id               TEXT   NOT NULL PRIMARY KEY,    -- public id, shown in lists and logs
    name             TEXT   NOT NULL,
    secret_hash      TEXT   NOT NULL,                -- sha256 of the whole key, 0x-hex
    chains_json      TEXT   NOT NULL,                -- JSON array of chain ids; [] = every chain
    policies_json    TEXT   NOT NULL,                -- JSON array of policy ids; [] = every policy
    rate_per_minute  BIGINT NOT NULL,                -- 0 = no limit
    created_at       BIGINT NOT NULL,
    revoked_at       BIGINT                          -- set once by `keyward keys revoke`
);

CREATE UNIQUE INDEX api_keys_by_secret ON api_keys (secret_hash);
