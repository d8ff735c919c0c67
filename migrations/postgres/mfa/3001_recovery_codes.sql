-- MFA recovery codes, PostgreSQL (needs the users set: the MFA secrets are
-- columns of `users`). Only hashes are stored.

CREATE TABLE recovery_codes (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX recovery_codes_user_id_idx ON recovery_codes (user_id);
