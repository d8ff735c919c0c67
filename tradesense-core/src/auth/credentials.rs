//! Reading credentials off a request: the `auth-token` cookie or the
//! bearer header, and the CSRF origin rule for cookie-authenticated
//! requests. Pure functions of the headers, property-tested: arbitrary
//! header bytes never panic.

use super::CredentialSource;
use http::{HeaderMap, Method, header};

/// The default name of the auth cookie.
pub const AUTH_COOKIE: &str = "auth-token";

/// Finds the request's token: the cookie called `cookie_name` if any
/// `Cookie` header carries a non-empty one, else an `Authorization: Bearer`
/// token. Never panics, whatever the header bytes.
pub fn extract_token<'h>(
    headers: &'h HeaderMap,
    cookie_name: &str,
) -> Option<(&'h str, CredentialSource)> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == cookie_name && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"'));
    if let Some(token) = cookie.filter(|token| !token.is_empty()) {
        return Some((token, CredentialSource::Cookie));
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then_some((token, CredentialSource::Bearer))
}

/// The CSRF rule of docs/API.md for a cookie-authenticated request: an unsafe
/// method whose `Origin` (or, lacking it, `Referer`) names an origin other
/// than the server's own (the request's `Host`) or a trusted one is
/// refused. A request with neither header passes: browsers send `Origin` on
/// every cross-site unsafe request, so its absence means a non-browser
/// client (and `SameSite=Lax` keeps the cookie off cross-site POSTs anyway).
///
/// Why not tower-http's `CsrfLayer`: it has no `Referer` fallback, and it
/// judges every request, while here bearer-authenticated requests must pass
/// untouched; whether a request is cookie-authenticated is only known here.
pub fn csrf_allows(method: &Method, headers: &HeaderMap, trusted_origins: &[String]) -> bool {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return true;
    }
    let origin = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().ok().map(str::to_owned),
        None => match headers.get(header::REFERER) {
            Some(referer) => Some(
                referer
                    .to_str()
                    .ok()
                    .and_then(|r| url::Url::parse(r).ok())
                    .map(|url| url.origin().ascii_serialization())
                    .unwrap_or_default(),
            ),
            None => return true,
        },
    };
    let Some(origin) = origin else { return false };
    let origin = origin.trim_end_matches('/');
    if trusted_origins
        .iter()
        .any(|trusted| trusted.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // The server's own origin: same authority as the Host the client used.
    // (The scheme is not compared: behind a TLS-terminating proxy the server
    // cannot know it, and the authority is what identifies the site.)
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    url::Url::parse(origin)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .and_then(|url| {
            let authority = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => return None,
            };
            Some(authority.eq_ignore_ascii_case(host))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cookie_is_preferred_over_bearer() {
        let map = headers(&[
            ("cookie", "a=b; auth-token=COOKIE"),
            ("authorization", "Bearer BEARER"),
        ]);
        assert_eq!(
            extract_token(&map, AUTH_COOKIE),
            Some(("COOKIE", CredentialSource::Cookie))
        );
        let map = headers(&[
            ("cookie", "auth-token="),
            ("authorization", "bearer  BEARER "),
        ]);
        assert_eq!(
            extract_token(&map, AUTH_COOKIE),
            Some(("BEARER", CredentialSource::Bearer))
        );
        let map = headers(&[("authorization", "Basic abc")]);
        assert_eq!(extract_token(&map, AUTH_COOKIE), None);
    }

    #[test]
    fn csrf_rule() {
        let post = Method::POST;
        let own = headers(&[
            ("host", "api.example.com"),
            ("origin", "https://api.example.com"),
        ]);
        assert!(csrf_allows(&post, &own, &[]));
        let foreign = headers(&[
            ("host", "api.example.com"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!csrf_allows(&post, &foreign, &[]));
        assert!(csrf_allows(&Method::GET, &foreign, &[]));
        assert!(csrf_allows(
            &post,
            &foreign,
            &["https://evil.example".to_owned()]
        ));
        let referer = headers(&[("host", "a.test:8000"), ("referer", "http://b.test/page")]);
        assert!(!csrf_allows(&post, &referer, &[]));
        let referer = headers(&[
            ("host", "a.test:8000"),
            ("referer", "http://a.test:8000/page"),
        ]);
        assert!(csrf_allows(&post, &referer, &[]));
        let null = headers(&[("host", "a.test"), ("origin", "null")]);
        assert!(!csrf_allows(&post, &null, &[]));
        assert!(csrf_allows(&post, &headers(&[("host", "a.test")]), &[]));
    }

    proptest! {
        #[test]
        fn extraction_never_panics(cookie in proptest::collection::vec(any::<u8>(), 0..200),
                                   auth in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut map = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&cookie) { map.append(header::COOKIE, v); }
            if let Ok(v) = HeaderValue::from_bytes(&auth) { map.append(header::AUTHORIZATION, v); }
            if let Some((token, _)) = extract_token(&map, AUTH_COOKIE) {
                prop_assert!(!token.is_empty());
            }
            let _ = csrf_allows(&Method::POST, &map, &[]);
        }

        #[test]
        fn a_cookie_token_is_found_among_others(token in "[A-Za-z0-9._-]{1,60}", other in "[a-z]{1,8}=[a-z0-9]{0,8}") {
            let map = headers(&[("cookie", &format!("{other}; auth-token={token}; x=y"))]);
            prop_assert_eq!(extract_token(&map, AUTH_COOKIE), Some((token.as_str(), CredentialSource::Cookie)));
            let map = headers(&[("authorization", &format!("Bearer {token}"))]);
            prop_assert_eq!(extract_token(&map, AUTH_COOKIE), Some((token.as_str(), CredentialSource::Bearer)));
        }
    }
}
