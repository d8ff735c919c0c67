//! `AuthLayer`: authenticates requests by the `auth-token` cookie (preferred)
//! or `Authorization: Bearer`, checks the session, applies the CSRF origin
//! rule to cookie-authenticated unsafe requests, and inserts a [`Principal`].
//!
//! Generic over `http::Request<B>` and any response body buildable from
//! bytes, so it fronts hyper `service_fn`s, axum routers or this crate's
//! router alike. Rejections are problem+json responses, never service errors.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use tower::{Layer, ServiceExt, service_fn};
//! use tradesense_core::auth::{AuthLayer, Authenticator, Principal, Sessions, TokenKeys};
//! use tradesense_core::cache::{Cache, CacheConfig};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let db = tradesense_core::store::testing::TestDatabase::sqlite().await;
//! # let store = Arc::new(db.store.clone());
//! let keys = TokenKeys::new(b"a-secret-of-at-least-32-bytes!!!", &[], std::time::Duration::from_secs(3600));
//! let sessions = Sessions::new(store, &Cache::in_process(CacheConfig::default()));
//! let layer = AuthLayer::new(Authenticator::new(keys, sessions));
//! let service = layer.layer(service_fn(|req: Request<Full<Bytes>>| async move {
//!     let who = req.extensions().get::<Principal>().map(|p| p.user_id.to_string());
//!     Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(who.unwrap_or_default()))))
//! }));
//! let response = service.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # }
//! ```

use super::session::Sessions;
use super::token::TokenKeys;
use super::{CredentialSource, Principal};
use crate::error::ApiError;
use bytes::Bytes;
use chrono::Utc;
use http::{HeaderMap, Method, Request, Response, header};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// The name of the auth cookie.
pub const AUTH_COOKIE: &str = "auth-token";

/// Token verification plus the session check: what the layer needs, and
/// what the endpoints share with it.
#[derive(Clone, Debug)]
pub struct Authenticator {
    keys: Arc<TokenKeys>,
    sessions: Sessions,
}

impl Authenticator {
    /// An authenticator over these keys and sessions.
    pub fn new(keys: TokenKeys, sessions: Sessions) -> Self {
        Self {
            keys: Arc::new(keys),
            sessions,
        }
    }

    /// The token keys.
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// The sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Verifies an access token and checks its session is live.
    pub async fn authenticate(
        &self,
        token: &str,
        source: CredentialSource,
    ) -> Result<Principal, ApiError> {
        let claims = self.keys.verify_access(token, Utc::now()).map_err(|err| {
            tracing::debug!(reason = %err, "access token refused");
            ApiError::NotAuthenticated
        })?;
        let live = self
            .sessions
            .is_live(claims.sub, claims.sid)
            .await
            .map_err(|err| ApiError::internal(err.to_string()))?;
        if !live {
            tracing::debug!(session = %claims.sid, "session revoked or expired");
            return Err(ApiError::NotAuthenticated);
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.sid,
            source,
        })
    }
}

/// Finds the request's token: the `auth-token` cookie if any `Cookie`
/// header carries a non-empty one, else an `Authorization: Bearer` token.
/// Never panics, whatever the header bytes.
pub fn extract_token(headers: &HeaderMap) -> Option<(&str, CredentialSource)> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == AUTH_COOKIE && !value.is_empty())
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

/// The CSRF rule of API.md for a cookie-authenticated request: an unsafe
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

/// Whether requests without credentials are refused or let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Required,
    Optional,
}

/// The layer. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: Authenticator,
    trusted_origins: Arc<[String]>,
    mode: Mode,
}

impl AuthLayer {
    /// Requires a valid token on every request.
    pub fn new(auth: Authenticator) -> Self {
        Self {
            auth,
            trusted_origins: Arc::from(Vec::new()),
            mode: Mode::Required,
        }
    }

    /// Lets requests with no credentials through without a [`Principal`].
    /// A credential that is presented and refused is still `401`: a client
    /// with a dead token should learn so rather than silently act anonymously.
    pub fn optional(auth: Authenticator) -> Self {
        Self {
            mode: Mode::Optional,
            ..Self::new(auth)
        }
    }

    /// Origins besides the server's own that may send cookie-authenticated
    /// unsafe requests (`CORS_ORIGINS`).
    pub fn with_trusted_origins(mut self, origins: impl IntoIterator<Item = String>) -> Self {
        self.trusted_origins = origins.into_iter().collect::<Vec<_>>().into();
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

/// The response future of [`AuthService`]. Boxed: authentication awaits the
/// session check before the inner service is called.
pub type AuthFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let found = extract_token(request.headers()).map(|(t, s)| (t.to_owned(), s));
            let Some((token, source)) = found else {
                return match layer.mode {
                    Mode::Optional => inner.call(request).await,
                    Mode::Required => Ok(ApiError::NotAuthenticated.into_response()),
                };
            };
            if source == CredentialSource::Cookie
                && !csrf_allows(request.method(), request.headers(), &layer.trusted_origins)
            {
                return Ok(ApiError::Forbidden {
                    code: "csrf_origin_mismatch",
                    detail: "Cross-origin request refused: the Origin is not trusted.".to_owned(),
                }
                .into_response());
            }
            match layer.auth.authenticate(&token, source).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(err) => Ok(err.into_response()),
            }
        })
    }
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
            extract_token(&map),
            Some(("COOKIE", CredentialSource::Cookie))
        );
        let map = headers(&[
            ("cookie", "auth-token="),
            ("authorization", "bearer  BEARER "),
        ]);
        assert_eq!(
            extract_token(&map),
            Some(("BEARER", CredentialSource::Bearer))
        );
        let map = headers(&[("authorization", "Basic abc")]);
        assert_eq!(extract_token(&map), None);
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
            if let Some((token, _)) = extract_token(&map) {
                prop_assert!(!token.is_empty());
            }
            let _ = csrf_allows(&Method::POST, &map, &[]);
        }

        #[test]
        fn a_cookie_token_is_found_among_others(token in "[A-Za-z0-9._-]{1,60}", other in "[a-z]{1,8}=[a-z0-9]{0,8}") {
            let map = headers(&[("cookie", &format!("{other}; auth-token={token}; x=y"))]);
            prop_assert_eq!(extract_token(&map), Some((token.as_str(), CredentialSource::Cookie)));
            let map = headers(&[("authorization", &format!("Bearer {token}"))]);
            prop_assert_eq!(extract_token(&map), Some((token.as_str(), CredentialSource::Bearer)));
        }
    }
}
