-- A prepared operation remembers the token its prepare's nonce leases were taken under (one token
-- per prepare), so recording its call ends those leases by token: the leases no longer need the
-- operation's hash written into them once it is built (one statement and one transaction less per
-- prepare). The leases' `hash` column stays, unused, and loses its index.
ALTER TABLE wallet_prepared ADD COLUMN lease_token TEXT;
DROP INDEX wallet_nonce_leases_by_hash;
