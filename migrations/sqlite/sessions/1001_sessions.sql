-- Sessions (auth), SQLite: one row per login, revocable. This set stands
-- alone: `user_id` is the id of whatever users table the application has
-- (TradeSense ties it to its own in the session_users set). Ids are 16-byte
-- UUID blobs; timestamps RFC 3339 UTC text, which sorts chronologically.

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL,
    -- SHA-256 of the session's token: the token itself is never stored.
    token_hash    TEXT NOT NULL,
    user_agent    TEXT,
    ip            TEXT,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX sessions_token_hash_idx ON sessions (token_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
