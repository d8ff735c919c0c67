-- TradeSense's user accounts, SQLite. Ids are 16-byte UUID blobs;
-- timestamps RFC 3339 UTC text, which sorts chronologically. The MFA columns
-- live here because the account record shows `mfa_enabled`; the rest of the
-- MFA state is the mfa set's.

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
