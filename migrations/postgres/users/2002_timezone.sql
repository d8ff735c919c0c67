-- The user's IANA time zone: the journal's days, weekdays and hours are
-- those of this zone unless a request names another (`tz`).
ALTER TABLE users ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
