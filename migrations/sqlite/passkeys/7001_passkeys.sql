-- Passkeys (WebAuthn), SQLite: the users' registered credentials and the
-- ceremonies in flight. Stands alone like `sessions`: `user_id` is the id
-- of whatever users table the application has. Ids are 16-byte UUID blobs;
-- timestamps RFC 3339 UTC text.

CREATE TABLE passkeys (
    id             BLOB PRIMARY KEY,
    user_id        BLOB NOT NULL,
    -- The authenticator's credential id (rawId): what a login names.
    credential_id  BLOB NOT NULL UNIQUE,
    -- webauthn-rs' `Passkey` as JSON: the public key, the counter, flags.
    -- Nothing secret: a public key only.
    credential     TEXT NOT NULL,
    name           TEXT NOT NULL,
    -- The last signature counter accepted; a login must raise it (unless
    -- the authenticator keeps none: 0 stays 0).
    sign_count     BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    last_used_at   TEXT
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id, created_at);

-- One row per ceremony started and not yet finished: the serialised
-- webauthn-rs state, deleted by the one finish that takes it. In the
-- database (not one instance's memory) so any instance finishes what
-- another started.
CREATE TABLE passkey_challenges (
    id          BLOB PRIMARY KEY,
    -- `registration` or `login`.
    kind        TEXT NOT NULL,
    -- The user a registration is for; NULL for a login (discoverable
    -- credentials: the user is not known before the finish).
    user_id     BLOB,
    state       TEXT NOT NULL,
    -- Unix milliseconds: compared in SQL by the sweep.
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_challenges_expires_idx ON passkey_challenges (expires_at);
