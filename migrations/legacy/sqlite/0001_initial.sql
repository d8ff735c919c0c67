-- TradeSense schema, SQLite. SQLite has no exact decimal type: money and
-- quantities are TEXT holding canonical decimals (the application checks their signs); ids are 16-byte UUID blobs; timestamps RFC 3339 UTC text, which sorts chronologically.

CREATE TABLE users (
    id                      BLOB PRIMARY KEY,
    -- Stored normalised (trimmed, lower-cased): uniqueness is case-insensitive.
    email                   TEXT NOT NULL,
    password_hash           TEXT NOT NULL,
    full_name               TEXT NOT NULL,
    status                  TEXT NOT NULL DEFAULT 'active',
    mfa_enabled             INTEGER NOT NULL DEFAULT 0,
    -- AEAD-encrypted TOTP secrets; never stored in clear.
    mfa_secret              BLOB,
    mfa_pending_secret      BLOB,
    mfa_pending_expires_at  TEXT,
    -- The last TOTP time step accepted: a code at or before it is a replay.
    mfa_last_step           INTEGER,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_status_idx ON users (status);

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
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

CREATE TABLE recovery_codes (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX recovery_codes_user_id_idx ON recovery_codes (user_id);

CREATE TABLE portfolios (
    id             BLOB PRIMARY KEY,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    base_currency  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX portfolios_user_id_idx ON portfolios (user_id, created_at);

CREATE TABLE trades (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    portfolio_id  BLOB REFERENCES portfolios (id) ON DELETE CASCADE,
    symbol        TEXT NOT NULL,
    side          TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity      TEXT NOT NULL,
    price         TEXT NOT NULL,
    fees          TEXT NOT NULL,
    executed_at   TEXT NOT NULL,
    notes         TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX trades_user_id_idx ON trades (user_id);
CREATE INDEX trades_created_at_idx ON trades (created_at DESC);
CREATE INDEX trades_symbol_idx ON trades (symbol);
CREATE INDEX trades_user_created_idx ON trades (user_id, created_at DESC);
-- The listing order (newest executed first, id as tie-break) and its filters.
CREATE INDEX trades_user_executed_idx ON trades (user_id, executed_at DESC, id DESC);
CREATE INDEX trades_user_symbol_executed_idx ON trades (user_id, symbol, executed_at DESC, id DESC);
-- The fold of one portfolio's symbol, in (executed_at, id) order.
CREATE INDEX trades_portfolio_symbol_executed_idx ON trades (portfolio_id, symbol, executed_at, id);

CREATE TABLE positions (
    portfolio_id  BLOB NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    symbol        TEXT NOT NULL,
    quantity      TEXT NOT NULL,
    average_cost  TEXT NOT NULL,
    realized_pnl  TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (portfolio_id, symbol)
);
CREATE INDEX positions_portfolio_id_idx ON positions (portfolio_id);
