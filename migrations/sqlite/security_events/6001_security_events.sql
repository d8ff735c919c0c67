-- Security events (ASVS V16), SQLite: what happened to an account (logins,
-- failures, lockouts, logouts, password and MFA changes), listed to its
-- owner newest first. Stands alone like `sessions`: `user_id` is the id of
-- whatever users table the application has, and an event outlives the
-- session it names. Ids are 16-byte UUID blobs (v7); timestamps RFC 3339
-- UTC text, which sorts chronologically. Kept at least 90 days: nothing
-- here deletes rows.

CREATE TABLE security_events (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL,
    event_type  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    session_id  BLOB
);
-- The listing: one user's events, newest first, continued after a cursor.
CREATE INDEX security_events_user_created_idx
    ON security_events (user_id, created_at DESC, id DESC);
