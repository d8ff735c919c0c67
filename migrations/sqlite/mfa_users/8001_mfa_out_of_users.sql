-- Moves TradeSense's MFA state out of `users` into the mfa set's standalone
-- tables (3003), SQLite (needs the users and mfa sets). Every user with any
-- MFA state (enabled, a secret, a pending setup, a last step or an
-- enrolment time) gets an `mfa_factors` row with the same values; the rows
-- of the three old tables move as they are. Then the old tables and the six
-- MFA columns of `users` go. One transaction: a failure leaves the database
-- as it was.
--
-- Only for a database whose mfa set ran 3001 and 3002 beside `users`
-- (TradeSense's): the tables read here exist nowhere else.

INSERT INTO mfa_factors (
    user_id, enabled, secret, pending_secret, pending_expires_at,
    last_step, enabled_at, updated_at
)
SELECT id, CASE WHEN mfa_enabled <> 0 THEN 1 ELSE 0 END, mfa_secret,
       mfa_pending_secret, mfa_pending_expires_at, mfa_last_step,
       mfa_enabled_at, updated_at
FROM users
WHERE mfa_enabled <> 0
   OR mfa_secret IS NOT NULL
   OR mfa_pending_secret IS NOT NULL
   OR mfa_last_step IS NOT NULL
   OR mfa_enabled_at IS NOT NULL;

INSERT INTO mfa_recovery_codes (id, user_id, code_hash, used_at, created_at)
SELECT id, user_id, code_hash, used_at, created_at FROM recovery_codes;

INSERT INTO mfa_token_uses (token_id, user_id, expires_at)
SELECT token_id, user_id, expires_at FROM mfa_used_tokens;

INSERT INTO mfa_failure_windows (user_id, failures, window_start)
SELECT user_id, failures, window_start FROM mfa_failures;

DROP TABLE recovery_codes;
DROP TABLE mfa_used_tokens;
DROP TABLE mfa_failures;

-- SQLite 3.35+. None of these columns is indexed, constrained or named by a
-- trigger or view (users' indexes are on lower(email) and status), which
-- DROP COLUMN would refuse.
ALTER TABLE users DROP COLUMN mfa_enabled;
ALTER TABLE users DROP COLUMN mfa_secret;
ALTER TABLE users DROP COLUMN mfa_pending_secret;
ALTER TABLE users DROP COLUMN mfa_pending_expires_at;
ALTER TABLE users DROP COLUMN mfa_last_step;
ALTER TABLE users DROP COLUMN mfa_enabled_at;
