-- MFA bookkeeping (issue 4): single-use MFA-pending tokens and the failure
-- window that locks the MFA challenge. Times here are unix seconds (INTEGER),
-- not timestamps: these queries compare times in SQL, and the same SQL must
-- order correctly on SQLite, whose RFC 3339 text of varying precision does not.

-- MFA-pending tokens already exchanged for a session; a row lives until the
-- token would have expired anyway.
CREATE TABLE mfa_used_tokens (
    token_id    BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX mfa_used_tokens_expires_at_idx ON mfa_used_tokens (expires_at);

-- Wrong MFA codes per user in the current fixed window.
CREATE TABLE mfa_failures (
    user_id       BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL
);
