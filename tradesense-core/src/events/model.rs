//! Security events as the API lists them, and the listing cursor. Pure
//! data: no I/O.

use crate::store::to_micros;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened (docs/API.md "Security event"). The wire and database
/// name is the snake_case one ([`as_str`](Self::as_str)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityEventType {
    /// A login completed (password, password + second factor, passkey).
    LoginSucceeded,
    /// A wrong password for this account's email.
    LoginFailed,
    /// Repeated failures locked the account's password checks.
    AccountLocked,
    /// The session was ended by its owner (`/auth/logout`).
    Logout,
    /// The password was changed (every other session revoked).
    PasswordChanged,
    /// MFA was switched on (every other session revoked).
    MfaEnabled,
    /// MFA was switched off (every other session revoked).
    MfaDisabled,
    /// A wrong or replayed MFA code.
    MfaFailed,
    /// A recovery code was spent.
    RecoveryCodeUsed,
    /// One session was revoked by its owner from another session.
    SessionRevoked,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
}

impl SecurityEventType {
    /// Every type, in the order of docs/API.md.
    pub const ALL: &'static [Self] = &[
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::AccountLocked,
        Self::Logout,
        Self::PasswordChanged,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::MfaFailed,
        Self::RecoveryCodeUsed,
        Self::SessionRevoked,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
    ];

    /// The snake_case name (`login_succeeded`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::AccountLocked => "account_locked",
            Self::Logout => "logout",
            Self::PasswordChanged => "password_changed",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaFailed => "mfa_failed",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SessionRevoked => "session_revoked",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
        }
    }

    /// Whether it reports an attack or a mistake (logged as a warning).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::LoginFailed | Self::AccountLocked | Self::MfaFailed
        )
    }
}

impl std::fmt::Display for SecurityEventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SecurityEventType {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == name)
            .ok_or(UnknownEventType)
    }
}

/// A stored event type this release does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown security event type")]
pub struct UnknownEventType;

/// Where a request came from, as events (and sessions) record it: the
/// client address the rate limiter resolved, the `User-Agent`, and the
/// session it acted in (or created), if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventContext {
    /// The client address (see docs/API.md "Rate limits" for proxies).
    pub ip: Option<String>,
    /// The request's `User-Agent`.
    pub user_agent: Option<String>,
    /// The session (the token's `sid`).
    pub session_id: Option<Uuid>,
    /// The request's `X-Request-ID`, for the log line (correlates the
    /// event with the access log); not stored.
    pub request_id: Option<String>,
}

/// One security event: `{"id", "type", "created_at", "ip", "user_agent",
/// "session_id"}` on the wire (the owner is implied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SecurityEvent {
    /// The event id (UUID v7: time-ordered).
    pub id: Uuid,
    /// The account it happened to; not sent (the listing is the owner's).
    #[serde(skip)]
    pub user_id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: SecurityEventType,
    /// When, to the microsecond.
    pub created_at: DateTime<Utc>,
    /// The client address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The session it happened in, if any.
    pub session_id: Option<Uuid>,
    /// The request it happened in, for the log line only: not stored,
    /// not sent.
    #[serde(skip)]
    pub request_id: Option<String>,
}

impl SecurityEvent {
    /// A new event of `kind` for `user_id`, happening now.
    pub fn new(kind: SecurityEventType, user_id: Uuid, context: EventContext) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id,
            kind,
            created_at: to_micros(Utc::now()),
            ip: context.ip,
            user_agent: context.user_agent,
            session_id: context.session_id,
            request_id: context.request_id,
        }
    }
}

/// A place in the event listing's order, `(created_at, id)`: the shared
/// keyset cursor.
pub use crate::http::PageCursor as EventCursor;

/// One page of a user's events: at most `limit`, newest first, after
/// `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventQuery {
    /// Page size.
    pub limit: u32,
    /// Continue after this place.
    pub after: Option<EventCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_and_match_serde() {
        for kind in SecurityEventType::ALL {
            assert_eq!(kind.as_str().parse::<SecurityEventType>(), Ok(*kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        assert_eq!(SecurityEventType::ALL.len(), 12);
        assert!("nope".parse::<SecurityEventType>().is_err());
    }

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let cursor = EventCursor::new(
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            Uuid::now_v7(),
        );
        assert_eq!(EventCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(EventCursor::decode("junk"), None);
    }

    #[test]
    fn the_wire_shape_names_type_and_hides_the_owner() {
        let event = SecurityEvent::new(
            SecurityEventType::LoginFailed,
            Uuid::now_v7(),
            EventContext {
                ip: Some("192.0.2.1".into()),
                ..EventContext::default()
            },
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "login_failed");
        assert!(json.get("user_id").is_none());
        assert_eq!(json["session_id"], serde_json::Value::Null);
    }
}
