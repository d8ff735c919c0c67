-- Security events (ASVS V16), PostgreSQL: what happened to an account
-- (logins, failures, lockouts, logouts, password and MFA changes), listed
-- to its owner newest first. Stands alone like `sessions`: `user_id` is the
-- id of whatever users table the application has, and an event outlives
-- the session it names. Kept at least 90 days: nothing here deletes rows.

CREATE TABLE security_events (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    event_type  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    session_id  UUID
);
-- The listing: one user's events, newest first, continued after a cursor.
CREATE INDEX security_events_user_created_idx
    ON security_events (user_id, created_at DESC, id DESC);
