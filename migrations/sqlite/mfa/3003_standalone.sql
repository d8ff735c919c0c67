-- MFA state standing alone, SQLite: keyed by the user id with no foreign
-- key, so the mfa set applies beside any application's own users table
-- (an embedder applying the set alone gets only these tables: 3001 and 3002,
-- which reference TradeSense's `users`, are recorded without being run).
-- Every name is in the set's reserved `mfa_` namespace. TradeSense moves its
-- existing MFA state here in the mfa_users set (8001).
--
-- Ids are 16-byte UUID blobs, `NOT NULL` spelled out: SQLite, unlike
-- PostgreSQL, lets a non-INTEGER primary key be NULL. Booleans are 0/1,
-- checked, as PostgreSQL's BOOLEAN admits nothing else.

-- One row per user who ever started a setup; no row: MFA off.
CREATE TABLE mfa_factors (
    user_id             BLOB NOT NULL PRIMARY KEY,
    enabled             INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    -- AEAD-encrypted TOTP secrets; never stored in clear.
    secret              BLOB,
    pending_secret      BLOB,
    -- RFC 3339 UTC text, as every timestamp of this schema.
    pending_expires_at  TEXT,
    -- The last TOTP time step accepted: a code at or before it is a replay.
    last_step           INTEGER,
    -- When MFA was last turned on (unix milliseconds; NULL while off): an
    -- MFA-pending token issued before it is refused.
    enabled_at          INTEGER,
    updated_at          TEXT NOT NULL
);

-- Recovery codes; only hashes are stored.
CREATE TABLE mfa_recovery_codes (
    id          BLOB NOT NULL PRIMARY KEY,
    user_id     BLOB NOT NULL,
    code_hash   TEXT NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX mfa_recovery_codes_user_id_idx ON mfa_recovery_codes (user_id);

-- Times below are unix seconds (INTEGER), not timestamps: these queries
-- compare times in SQL, and the same SQL must order correctly on SQLite,
-- whose RFC 3339 text of varying precision does not.

-- MFA-pending tokens already exchanged for a session; a row lives until the
-- token would have expired anyway.
CREATE TABLE mfa_token_uses (
    token_id    BLOB NOT NULL PRIMARY KEY,
    user_id     BLOB NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX mfa_token_uses_expires_at_idx ON mfa_token_uses (expires_at);

-- Wrong MFA codes per user in the current fixed window.
CREATE TABLE mfa_failure_windows (
    user_id       BLOB NOT NULL PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL
);
