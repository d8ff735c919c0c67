-- When MFA was last turned on (unix milliseconds; NULL while off, and for
-- enrolments made before this column): an MFA-pending token issued before
-- it belongs to an enrolment that no longer exists, and is refused.
ALTER TABLE users ADD COLUMN mfa_enabled_at BIGINT;
