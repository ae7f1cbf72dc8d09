-- A sent call keeps the session it acted for, so its prepared row can go once the call is recorded
-- (wallet_getCallsStatus names a revoked session from here; retries are answered by wallet_calls).
ALTER TABLE wallet_calls ADD COLUMN session_id TEXT;
