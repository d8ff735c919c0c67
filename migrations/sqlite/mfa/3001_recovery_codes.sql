-- MFA recovery codes, SQLite (needs the users set: the MFA secrets are
-- columns of `users`). Only hashes are stored.

CREATE TABLE recovery_codes (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX recovery_codes_user_id_idx ON recovery_codes (user_id);
