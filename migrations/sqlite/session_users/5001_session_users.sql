-- Ties sessions to TradeSense's users (needs the sessions and users sets),
-- SQLite: what `REFERENCES users (id) ON DELETE CASCADE` on
-- `sessions.user_id` enforces, as triggers, because SQLite cannot add a
-- foreign key to an existing table (and rebuilding `sessions` here would
-- drop columns later sessions migrations add). PostgreSQL enforces the same
-- with a real foreign key.

CREATE TRIGGER sessions_user_id_fkey_insert BEFORE INSERT ON sessions
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: sessions.user_id');
END;

CREATE TRIGGER sessions_user_id_fkey_update BEFORE UPDATE OF user_id ON sessions
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: sessions.user_id');
END;

-- A referenced user id cannot change (the foreign key's ON UPDATE NO ACTION).
CREATE TRIGGER sessions_user_id_fkey_parent_update BEFORE UPDATE OF id ON users
WHEN NEW.id IS NOT OLD.id AND EXISTS (SELECT 1 FROM sessions WHERE user_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: sessions.user_id');
END;

-- ON DELETE CASCADE.
CREATE TRIGGER sessions_user_id_fkey_cascade AFTER DELETE ON users
BEGIN
    DELETE FROM sessions WHERE user_id = OLD.id;
END;
