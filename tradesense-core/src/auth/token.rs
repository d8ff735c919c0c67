//! Signed tokens: access tokens (`typ: at+jwt`) and MFA-pending tokens
//! (`typ: mfa+jwt`), HS256 with the algorithm pinned, `kid` naming the key.
//!
//! The two kinds are validated by mutually exclusive rules (RFC 8725
//! §3.12): a different `typ` header *and* a different audience, and the
//! MFA kind carries no `sid`, so neither can ever pass as the other.
//! Issuing takes the time explicitly: the claims are a pure function of
//! their inputs, which keeps tests (expired tokens) and benches honest.

use super::jws::{self, Hs256Key};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// The `typ` header of MFA-pending tokens.
pub const MFA_TYP: &str = "mfa+jwt";
/// The issuer of every token.
pub const DEFAULT_ISSUER: &str = "tradesense";
/// The audience of access tokens.
pub const DEFAULT_ACCESS_AUDIENCE: &str = "tradesense-api";
/// The audience of MFA-pending tokens: only `/auth/mfa/login` accepts it.
pub const DEFAULT_MFA_AUDIENCE: &str = "tradesense-mfa-login";
/// How long an MFA-pending token lives (docs/API.md: 5 minutes).
pub const MFA_TOKEN_TTL: Duration = Duration::from_secs(300);
/// Clock skew tolerated between instances, in seconds ("a few seconds").
pub const LEEWAY_SECS: u64 = 5;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session id: revoking the session kills the token.
    pub sid: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// The keys' issuer ([`DEFAULT_ISSUER`] unless configured).
    pub iss: String,
    /// The access audience ([`DEFAULT_ACCESS_AUDIENCE`] unless configured).
    pub aud: String,
}

/// The claims of an MFA-pending token: who passed the password step, and
/// with which password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaClaims {
    /// The user id.
    pub sub: Uuid,
    /// A unique id, so a consumer can refuse reuse if it wants to.
    pub jti: Uuid,
    /// The [`credential_fingerprint`] of the password hash the password
    /// step checked: after a password change the token describes a login
    /// that no longer exists ([`MfaClaims::checked_password`]).
    pub cfp: String,
    /// Issued at.
    pub iat: i64,
    /// Issued at, in milliseconds: orders the token against a reset of
    /// the second factor made in the same second.
    pub iat_ms: i64,
    /// Expires at.
    pub exp: i64,
    /// The keys' issuer ([`DEFAULT_ISSUER`] unless configured).
    pub iss: String,
    /// The MFA audience ([`DEFAULT_MFA_AUDIENCE`] unless configured).
    pub aud: String,
}

/// Why a token was refused. Deliberately coarse: callers answer 401
/// whatever the reason, and the reason is only logged at debug level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, wrong `typ`, wrong algorithm, unknown `kid`, bad
    /// signature or claims.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// Past `exp` (or issued in the future).
    #[error("token expired")]
    Expired,
}

/// The signing key and every key still accepted for verification, by `kid`.
///
/// A `kid` is the first 8 bytes (hex) of SHA-256 of the key: stable, short,
/// and reveals nothing usable about the key.
#[derive(Clone)]
pub struct TokenKeys {
    /// The signing key first, then the previous keys that still verify.
    keys: Arc<[Hs256Key]>,
    access_ttl: Duration,
    issuer: Arc<str>,
    access_audience: Arc<str>,
    mfa_audience: Arc<str>,
}

/// What verification checks in the claims of either kind.
trait TimedClaims {
    /// `(iat, exp)`.
    fn times(&self) -> (i64, i64);
    /// `(iss, aud)`.
    fn parties(&self) -> (&str, &str);
}

impl TimedClaims for AccessClaims {
    fn times(&self) -> (i64, i64) {
        (self.iat, self.exp)
    }
    fn parties(&self) -> (&str, &str) {
        (&self.iss, &self.aud)
    }
}

impl TimedClaims for MfaClaims {
    fn times(&self) -> (i64, i64) {
        (self.iat, self.exp)
    }
    fn parties(&self) -> (&str, &str) {
        (&self.iss, &self.aud)
    }
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("signing_kid", &self.signing_kid())
            .field(
                "verifying_kids",
                &self.keys.iter().map(Hs256Key::kid).collect::<Vec<_>>(),
            )
            .field("access_ttl", &self.access_ttl)
            .field("issuer", &self.issuer)
            .field("access_audience", &self.access_audience)
            .finish_non_exhaustive()
    }
}

fn kid_of(secret: &[u8]) -> String {
    hex::encode(&Sha256::digest(secret)[..8])
}

impl TokenKeys {
    /// Keys from a signing secret and older secrets still accepted, with
    /// the default issuer and audiences.
    pub fn new(signing_secret: &[u8], previous: &[&[u8]], access_ttl: Duration) -> Self {
        let key = |secret: &[u8]| Hs256Key::new(kid_of(secret), secret, &[ACCESS_TYP, MFA_TYP]);
        let keys = std::iter::once(signing_secret)
            .chain(previous.iter().copied())
            .map(key)
            .collect();
        Self {
            keys,
            access_ttl,
            issuer: Arc::from(DEFAULT_ISSUER),
            access_audience: Arc::from(DEFAULT_ACCESS_AUDIENCE),
            mfa_audience: Arc::from(DEFAULT_MFA_AUDIENCE),
        }
    }

    /// Issues and accepts tokens of `issuer` (the `iss` claim) only.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.issuer = Arc::from(issuer);
        self
    }

    /// Issues and accepts access tokens for `access` and MFA-pending tokens
    /// for `mfa` (the `aud` claim); the two must differ, so neither kind
    /// passes for the other.
    pub fn with_audiences(mut self, access: &str, mfa: &str) -> Self {
        self.access_audience = Arc::from(access);
        self.mfa_audience = Arc::from(mfa);
        self
    }

    /// The access token lifetime.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        self.signing_key().kid()
    }

    fn signing_key(&self) -> &Hs256Key {
        // `new` always puts the signing key first.
        &self.keys[0]
    }

    fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> String {
        // HMAC over serialisable claims with a key of our own family cannot
        // fail; should it ever, an empty token is one no verifier accepts.
        self.signing_key().sign(typ, claims).unwrap_or_else(|err| {
            tracing::error!(error = %err, "token signing failed");
            String::new()
        })
    }

    /// Issues an access token for a session, issued at `now`.
    pub fn issue_access(&self, user_id: Uuid, session_id: Uuid, now: DateTime<Utc>) -> String {
        let iat = now.timestamp();
        let claims = AccessClaims {
            sub: user_id,
            sid: session_id,
            iat,
            exp: iat + self.access_ttl.as_secs() as i64,
            iss: self.issuer.to_string(),
            aud: self.access_audience.to_string(),
        };
        self.sign(ACCESS_TYP, &claims)
    }

    /// Issues an MFA-pending token (5 minutes) for a user who passed the
    /// password step against `password_hash` (their stored PHC string).
    pub fn issue_mfa(&self, user_id: Uuid, password_hash: &str, now: DateTime<Utc>) -> String {
        let iat = now.timestamp();
        let claims = MfaClaims {
            sub: user_id,
            jti: Uuid::new_v4(),
            cfp: credential_fingerprint(password_hash),
            iat,
            iat_ms: now.timestamp_millis(),
            exp: iat + MFA_TOKEN_TTL.as_secs() as i64,
            iss: self.issuer.to_string(),
            aud: self.mfa_audience.to_string(),
        };
        self.sign(MFA_TYP, &claims)
    }

    fn verify<T: for<'de> Deserialize<'de> + TimedClaims>(
        &self,
        token: &str,
        typ: &str,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<T, TokenError> {
        // Pinned: HS256, this `typ`, a known `kid`, before any key is
        // touched (see `jws`: the header must be one we write).
        let claims: T = jws::verify(&self.keys, typ, token)?;
        if claims.parties() != (&*self.issuer, audience) {
            return Err(TokenError::Invalid("issuer or audience"));
        }
        let (iat, exp) = claims.times();
        let now = now.timestamp();
        let leeway = LEEWAY_SECS as i64;
        if exp <= now - leeway || iat > now + leeway {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies an access token at `now`: signature by a known `kid`,
    /// HS256, `typ: at+jwt`, issuer, audience, `iat`/`exp`. Says nothing
    /// about revocation: the session check does that.
    pub fn verify_access(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        self.verify(token, ACCESS_TYP, &self.access_audience, now)
    }

    /// Verifies an MFA-pending token at `now` (`typ: mfa+jwt`, its own
    /// audience). An access token never passes.
    pub fn verify_mfa(&self, token: &str, now: DateTime<Utc>) -> Result<MfaClaims, TokenError> {
        self.verify(token, MFA_TYP, &self.mfa_audience, now)
    }
}

/// What an MFA-pending token remembers of the password it follows: 128
/// bits of SHA-256 over the stored PHC string (domain-separated). Nothing
/// to guess a password from: the PHC string carries a random 128-bit salt
/// the token's holder does not know, and this is one more one-way step on
/// top of argon2. A password change writes a new PHC string (new salt),
/// so the fingerprint changes with it.
pub fn credential_fingerprint(password_hash: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"tradesense mfa-pending credential v1\0");
    digest.update(password_hash.as_bytes());
    hex::encode(&digest.finalize()[..16])
}

impl MfaClaims {
    /// Whether the token was issued after a check of `password_hash` (the
    /// user's current one): `false` for a token from before a password
    /// change. Constant time.
    pub fn checked_password(&self, password_hash: &str) -> bool {
        use subtle::ConstantTimeEq;
        let current = credential_fingerprint(password_hash);
        bool::from(current.as_bytes().ct_eq(self.cfp.as_bytes()))
    }
}

/// SHA-256 (hex) of a token, as stored in `sessions.token_hash`.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> TokenKeys {
        TokenKeys::new(
            b"0123456789abcdef0123456789abcdef",
            &[],
            Duration::from_secs(60),
        )
    }

    #[test]
    fn access_round_trip_and_kinds_are_exclusive() {
        let keys = keys();
        let now = Utc::now();
        let (user, sid) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue_access(user, sid, now);
        let claims = keys.verify_access(&token, now).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, sid));
        assert!(keys.verify_mfa(&token, now).is_err());
        let mfa = keys.issue_mfa(user, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", now);
        let claims = keys.verify_mfa(&mfa, now).unwrap();
        assert_eq!(claims.sub, user);
        assert!(claims.checked_password("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
        assert!(!claims.checked_password("$argon2id$v=19$m=19456,t=2,p=1$c2FsdB$aGFzaA"));
        assert!(keys.verify_access(&mfa, now).is_err());
    }

    #[test]
    fn expiry_other_keys_rotation_and_alg_none() {
        let keys = keys();
        let now = Utc::now();
        let token = keys.issue_access(Uuid::now_v7(), Uuid::now_v7(), now);
        let later = now + chrono::TimeDelta::seconds(66);
        assert_eq!(keys.verify_access(&token, later), Err(TokenError::Expired));

        let other = TokenKeys::new(
            b"another-key-another-key-another-key!",
            &[],
            Duration::from_secs(60),
        );
        assert!(other.verify_access(&token, now).is_err());
        // Rotation: the new keys still accept tokens of the previous key.
        let rotated = TokenKeys::new(
            b"another-key-another-key-another-key!",
            &[b"0123456789abcdef0123456789abcdef"],
            Duration::from_secs(60),
        );
        assert!(rotated.verify_access(&token, now).is_ok());

        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#,
            keys.signing_kid()
        ));
        assert!(
            keys.verify_access(&format!("{header}.{payload}."), now)
                .is_err()
        );
    }
}
