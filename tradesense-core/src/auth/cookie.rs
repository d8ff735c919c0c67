//! The `Set-Cookie` values of the auth cookie, exactly as docs/API.md writes
//! them: `HttpOnly; SameSite=Lax; Path=/; Max-Age`, plus `Secure` in
//! production.

use super::credentials::AUTH_COOKIE;
use http::HeaderValue;
use std::time::Duration;

/// The cookie carrying `token` for `ttl`.
pub fn auth_cookie(token: &str, ttl: Duration, secure: bool) -> HeaderValue {
    build(token, ttl.as_secs(), secure)
}

/// The cookie that clears it (empty value, `Max-Age=0`), sent on logout.
pub fn clear_auth_cookie(secure: bool) -> HeaderValue {
    build("", 0, secure)
}

fn build(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{AUTH_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}");
    // A JWT is base64url and dots: always a valid header value.
    HeaderValue::from_str(&cookie).expect("a JWT cookie is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_match_the_contract() {
        assert_eq!(
            auth_cookie("a.b.c", Duration::from_secs(60), false),
            "auth-token=a.b.c; HttpOnly; SameSite=Lax; Path=/; Max-Age=60"
        );
        assert_eq!(
            clear_auth_cookie(true),
            "auth-token=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
        );
    }
}
