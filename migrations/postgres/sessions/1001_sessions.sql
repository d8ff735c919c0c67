-- Sessions (auth), PostgreSQL: one row per login, revocable. This set
-- stands alone: `user_id` is the id of whatever users table the application
-- has (TradeSense ties it to its own in the session_users set).

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL,
    -- SHA-256 of the session's token: the token itself is never stored.
    token_hash    TEXT NOT NULL,
    user_agent    TEXT,
    ip            TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX sessions_token_hash_idx ON sessions (token_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
