-- MFA state standing alone, PostgreSQL: keyed by the user id with no
-- foreign key, so the mfa set applies beside any application's own users
-- table (an embedder applying the set alone gets only these tables: 3001
-- and 3002, which reference TradeSense's `users`, are recorded without
-- being run). Every name is in the set's reserved `mfa_` namespace.
-- TradeSense moves its existing MFA state here in the mfa_users set (8001).

-- One row per user who ever started a setup; no row: MFA off.
CREATE TABLE mfa_factors (
    user_id             UUID NOT NULL PRIMARY KEY,
    enabled             BOOLEAN NOT NULL DEFAULT FALSE,
    -- AEAD-encrypted TOTP secrets; never stored in clear.
    secret              BYTEA,
    pending_secret      BYTEA,
    pending_expires_at  TIMESTAMPTZ,
    -- The last TOTP time step accepted: a code at or before it is a replay.
    last_step           BIGINT,
    -- When MFA was last turned on (unix milliseconds; NULL while off): an
    -- MFA-pending token issued before it is refused.
    enabled_at          BIGINT,
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Recovery codes; only hashes are stored.
CREATE TABLE mfa_recovery_codes (
    id          UUID NOT NULL PRIMARY KEY,
    user_id     UUID NOT NULL,
    code_hash   TEXT NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX mfa_recovery_codes_user_id_idx ON mfa_recovery_codes (user_id);

-- Times below are unix seconds (BIGINT), not timestamps: these queries
-- compare times in SQL, and the same SQL must order correctly on SQLite,
-- whose RFC 3339 text of varying precision does not.

-- MFA-pending tokens already exchanged for a session; a row lives until the
-- token would have expired anyway.
CREATE TABLE mfa_token_uses (
    token_id    UUID NOT NULL PRIMARY KEY,
    user_id     UUID NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX mfa_token_uses_expires_at_idx ON mfa_token_uses (expires_at);

-- Wrong MFA codes per user in the current fixed window.
CREATE TABLE mfa_failure_windows (
    user_id       UUID NOT NULL PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  BIGINT NOT NULL
);
