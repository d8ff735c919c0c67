//! The auth cookie: its name (the embedder's choice, `auth-token` by
//! default) and its `Set-Cookie` values, exactly as docs/API.md writes
//! them: `HttpOnly; SameSite=Lax; Path=/; Max-Age`, plus `Secure` when the
//! site is served over HTTPS (production).

use super::credentials::AUTH_COOKIE;
use http::HeaderValue;
use std::sync::Arc;
use std::time::Duration;

/// A cookie name that is not an RFC 6265 token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cookie name {0:?}: letters, digits and !#$%&'*+-.^_`|~ only")]
pub struct InvalidCookieName(String);

/// The auth cookie's name and whether it is `Secure`. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use tradesense_core::auth::AuthCookie;
///
/// let cookie = AuthCookie::new("session").unwrap().secure(true);
/// assert_eq!(
///     cookie.set("a.b.c", Duration::from_secs(60)).unwrap(),
///     "session=a.b.c; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure"
/// );
/// assert!(AuthCookie::new("no spaces").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCookie {
    name: Arc<str>,
    secure: bool,
}

impl Default for AuthCookie {
    /// `auth-token`, not `Secure`.
    fn default() -> Self {
        Self {
            name: Arc::from(AUTH_COOKIE),
            secure: false,
        }
    }
}

impl AuthCookie {
    /// A cookie called `name`.
    pub fn new(name: &str) -> Result<Self, InvalidCookieName> {
        let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(InvalidCookieName(name.to_owned()));
        }
        Ok(Self {
            name: Arc::from(name),
            secure: false,
        })
    }

    /// Adds `Secure` (the browser sends it over HTTPS only).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The `Set-Cookie` value carrying `token` for `ttl`. Fails only for a
    /// token with characters no header may carry (a JWT never has any).
    pub fn set(
        &self,
        token: &str,
        ttl: Duration,
    ) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
        self.build(token, ttl.as_secs())
    }

    /// The `Set-Cookie` value that clears it (empty value, `Max-Age=0`),
    /// sent on logout.
    pub fn clear(&self) -> HeaderValue {
        // The name was checked on construction: always a valid value.
        self.build("", 0)
            .unwrap_or_else(|_| HeaderValue::from_static("auth-token=; Max-Age=0"))
    }

    fn build(
        &self,
        value: &str,
        max_age: u64,
    ) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}",
            self.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_match_the_contract() {
        let cookie = AuthCookie::default();
        assert_eq!(
            cookie.set("a.b.c", Duration::from_secs(60)).unwrap(),
            "auth-token=a.b.c; HttpOnly; SameSite=Lax; Path=/; Max-Age=60"
        );
        assert_eq!(
            cookie.secure(true).clear(),
            "auth-token=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
        );
    }
}
