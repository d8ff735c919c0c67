-- TradeSense's MFA rows go with their user (needs the users and mfa sets),
-- SQLite: what `ON DELETE CASCADE` from the old tables' `REFERENCES users
-- (id)` did before 8001 moved them into the mfa set's standalone tables
-- (which reference nothing: an embedder's accounts are no `users`). A
-- trigger, on both backends, so they do the same and nothing more.

CREATE TRIGGER users_delete_mfa_rows AFTER DELETE ON users
BEGIN
    DELETE FROM mfa_factors WHERE user_id = OLD.id;
    DELETE FROM mfa_recovery_codes WHERE user_id = OLD.id;
    DELETE FROM mfa_token_uses WHERE user_id = OLD.id;
    DELETE FROM mfa_failure_windows WHERE user_id = OLD.id;
END;
