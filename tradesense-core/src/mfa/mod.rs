//! TOTP multi-factor authentication: setup, verification, MFA login, recovery codes.
