//! Signed tokens: access tokens (`typ: at+jwt`) and MFA-pending tokens
//! (`typ: mfa+jwt`), HS256 with the algorithm pinned, `kid` naming the key.
//!
//! The two kinds are validated by mutually exclusive rules (RFC 8725
//! §3.12): a different `typ` header *and* a different audience, and the
//! MFA kind carries no `sid`, so neither can ever pass as the other.
//! Issuing takes the time explicitly: the claims are a pure function of
//! their inputs, which keeps tests (expired tokens) and benches honest.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
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

/// The claims of an MFA-pending token: who passed the password step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaClaims {
    /// The user id.
    pub sub: Uuid,
    /// A unique id, so a consumer can refuse reuse if it wants to.
    pub jti: Uuid,
    /// Issued at.
    pub iat: i64,
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
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    access_ttl: Duration,
    issuer: Arc<str>,
    access_audience: Arc<str>,
    mfa_audience: Arc<str>,
    // Built once: a `Validation` holds hash sets, and building it per
    // request was a measurable share of verification.
    access_rules: Arc<Validation>,
    mfa_rules: Arc<Validation>,
}

/// The validation rules of one token kind (its audience), HS256 only.
fn rules(issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry (and `iat`) are checked by `TimedClaims::check_times` against
    // the caller's `now`, so checking and issuing share one clock.
    validation.validate_exp = false;
    validation
}

/// Claims with issue and expiry times.
trait TimedClaims {
    fn times(&self) -> (i64, i64);
}

impl TimedClaims for AccessClaims {
    fn times(&self) -> (i64, i64) {
        (self.iat, self.exp)
    }
}

impl TimedClaims for MfaClaims {
    fn times(&self) -> (i64, i64) {
        (self.iat, self.exp)
    }
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("signing_kid", &self.signing_kid)
            .field("verifying_kids", &self.verifying.keys().collect::<Vec<_>>())
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
        let signing_kid = kid_of(signing_secret);
        let mut verifying = HashMap::new();
        verifying.insert(
            signing_kid.clone(),
            DecodingKey::from_secret(signing_secret),
        );
        for secret in previous {
            verifying.insert(kid_of(secret), DecodingKey::from_secret(secret));
        }
        Self {
            signing_kid,
            signing: EncodingKey::from_secret(signing_secret),
            verifying,
            access_ttl,
            issuer: Arc::from(DEFAULT_ISSUER),
            access_audience: Arc::from(DEFAULT_ACCESS_AUDIENCE),
            mfa_audience: Arc::from(DEFAULT_MFA_AUDIENCE),
            access_rules: Arc::new(rules(DEFAULT_ISSUER, DEFAULT_ACCESS_AUDIENCE)),
            mfa_rules: Arc::new(rules(DEFAULT_ISSUER, DEFAULT_MFA_AUDIENCE)),
        }
    }

    /// Issues and accepts tokens of `issuer` (the `iss` claim) only.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.issuer = Arc::from(issuer);
        self.rebuild_rules()
    }

    /// Issues and accepts access tokens for `access` and MFA-pending tokens
    /// for `mfa` (the `aud` claim); the two must differ, so neither kind
    /// passes for the other.
    pub fn with_audiences(mut self, access: &str, mfa: &str) -> Self {
        self.access_audience = Arc::from(access);
        self.mfa_audience = Arc::from(mfa);
        self.rebuild_rules()
    }

    fn rebuild_rules(mut self) -> Self {
        self.access_rules = Arc::new(rules(&self.issuer, &self.access_audience));
        self.mfa_rules = Arc::new(rules(&self.issuer, &self.mfa_audience));
        self
    }

    /// The access token lifetime.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.signing_kid.clone());
        // HMAC over serialisable claims with a key of our own family cannot
        // fail; should it ever, an empty token is one no verifier accepts.
        jsonwebtoken::encode(&header, claims, &self.signing).unwrap_or_else(|err| {
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
    /// password step.
    pub fn issue_mfa(&self, user_id: Uuid, now: DateTime<Utc>) -> String {
        let iat = now.timestamp();
        let claims = MfaClaims {
            sub: user_id,
            jti: Uuid::new_v4(),
            iat,
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
        rules: &Validation,
        now: DateTime<Utc>,
    ) -> Result<T, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("header"))?;
        // Pinned: the header's `alg` must be HS256 before any key is touched
        // (no `none`, no switching to a public-key algorithm).
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid("alg"));
        }
        if header.typ.as_deref() != Some(typ) {
            return Err(TokenError::Invalid("typ"));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(TokenError::Invalid("kid"))?;
        // Typed claims: a missing `iat`, `sid` or a wrong shape fails here.
        let claims = jsonwebtoken::decode::<T>(token, key, rules)
            .map_err(|_| TokenError::Invalid("signature or claims"))?
            .claims;
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
        self.verify(token, ACCESS_TYP, &self.access_rules, now)
    }

    /// Verifies an MFA-pending token at `now` (`typ: mfa+jwt`, its own
    /// audience). An access token never passes.
    pub fn verify_mfa(&self, token: &str, now: DateTime<Utc>) -> Result<MfaClaims, TokenError> {
        self.verify(token, MFA_TYP, &self.mfa_rules, now)
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
        let mfa = keys.issue_mfa(user, now);
        assert_eq!(keys.verify_mfa(&mfa, now).unwrap().sub, user);
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
