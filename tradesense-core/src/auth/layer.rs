//! `AuthLayer`: authenticates requests by the `auth-token` cookie (preferred)
//! or `Authorization: Bearer`, checks the session, applies the CSRF origin
//! rule to cookie-authenticated unsafe requests, inserts a [`Principal`],
//! and marks every response to an authenticated request
//! `Cache-Control: no-store`.
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
//! use tradesense_core::auth::{
//!     AuthLayer, Authenticator, MemorySessionStore, Principal, Sessions, TokenKeys,
//! };
//! use tradesense_core::cache::{Cache, CacheConfig};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Sessions in memory here; any `SessionStore` (our sqlx one, your own).
//! let store = Arc::new(MemorySessionStore::default());
//! let keys = TokenKeys::new(b"a-secret-of-at-least-32-bytes!!!", &[], std::time::Duration::from_secs(3600));
//! let sessions = Sessions::new(store, &Cache::in_process(CacheConfig::default()));
//! let layer = AuthLayer::new(Authenticator::new(keys, sessions));
//! let service = layer.layer(service_fn(|req: Request<Full<Bytes>>| async move {
//!     let who = req.extensions().get::<Principal>().map(|p| p.user_id.to_string());
//!     Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(who.unwrap_or_default())))
//! }));
//! let response = service.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # }
//! ```

use super::cookie::AuthCookie;
use super::credentials::{csrf_allows, extract_token};
use super::session::Sessions;
use super::session_store::NewSession;
use super::token::{AccessClaims, TokenKeys, token_hash};
use super::{CredentialSource, Principal};
use crate::error::ApiError;
use crate::store::StoreError;
use bytes::Bytes;
use chrono::Utc;
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};
use uuid::Uuid;

/// Token verification plus the session check: what the layer needs, and
/// what the endpoints share with it.
///
/// Cheap to clone: one reference count.
#[derive(Clone, Debug)]
pub struct Authenticator {
    inner: Arc<AuthenticatorInner>,
}

#[derive(Debug)]
struct AuthenticatorInner {
    keys: TokenKeys,
    sessions: Sessions,
    cookie: AuthCookie,
}

impl Authenticator {
    /// An authenticator over these keys and sessions, reading the default
    /// `auth-token` cookie.
    pub fn new(keys: TokenKeys, sessions: Sessions) -> Self {
        Self::with_cookie(keys, sessions, AuthCookie::default())
    }

    /// An authenticator reading (and, in the endpoints, setting) `cookie`.
    pub fn with_cookie(keys: TokenKeys, sessions: Sessions, cookie: AuthCookie) -> Self {
        Self {
            inner: Arc::new(AuthenticatorInner {
                keys,
                sessions,
                cookie,
            }),
        }
    }

    /// The token keys.
    pub fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    /// The auth cookie.
    pub fn cookie(&self) -> &AuthCookie {
        &self.inner.cookie
    }

    /// The sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Starts a fresh session for `user_id` (whose credentials the caller
    /// has fully checked) and returns its access token. What a login does
    /// after the password (and second factor) passed; also how an embedding
    /// service with its own login issues tokens.
    pub async fn start_session(
        &self,
        user_id: Uuid,
        user_agent: Option<String>,
        ip: Option<String>,
    ) -> Result<String, StoreError> {
        let now = Utc::now();
        let session_id = Uuid::now_v7();
        let token = self.keys().issue_access(user_id, session_id, now);
        let ttl = chrono::TimeDelta::seconds(self.keys().access_ttl().as_secs() as i64);
        self.sessions()
            .create(NewSession {
                id: session_id,
                user_id,
                token_hash: token_hash(&token),
                user_agent,
                ip,
                expires_at: now + ttl,
            })
            .await?;
        Ok(token)
    }

    /// Verifies an access token and checks its session is live.
    pub async fn authenticate(
        &self,
        token: &str,
        source: CredentialSource,
    ) -> Result<Principal, ApiError> {
        self.authenticate_verified(token, None, source).await
    }

    /// Verifies the access token of a request (cookie or bearer) without
    /// checking its session, and leaves the result in the request as a
    /// [`VerifiedAccessToken`], so that an [`AuthLayer`] after the caller
    /// does not verify it again. For layers that run before
    /// authentication and key on the user, like the rate limiter's
    /// [`UserKeyFn`](crate::ratelimit::UserKeyFn).
    pub fn verify_request(&self, parts: &mut http::request::Parts) -> Option<AccessClaims> {
        let (token, _) = extract_token(&parts.headers, self.cookie().name())?;
        let claims = self.keys().verify_access(token, Utc::now()).ok()?;
        let signature = token.rsplit('.').next().unwrap_or_default().into();
        parts.extensions.insert(VerifiedAccessToken {
            claims: claims.clone(),
            signature,
            verifier: self.identity(),
        });
        Some(claims)
    }

    /// Which authenticator this is (clones are the same one): keys,
    /// issuer and audiences differ between two, so one's verification
    /// means nothing to the other.
    fn identity(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// [`authenticate`](Self::authenticate), taking the claims from
    /// `verified` when it was made for this very token.
    async fn authenticate_verified(
        &self,
        token: &str,
        verified: Option<VerifiedAccessToken>,
        source: CredentialSource,
    ) -> Result<Principal, ApiError> {
        let claims = match verified.filter(|v| v.is_for(token) && v.verifier == self.identity()) {
            Some(verified) => verified.claims,
            None => self
                .keys()
                .verify_access(token, Utc::now())
                .map_err(|err| {
                    tracing::debug!(reason = %err, "access token refused");
                    ApiError::NotAuthenticated
                })?,
        };
        let live = self
            .sessions()
            .is_live(claims.sub, claims.sid)
            .await
            .map_err(|err| {
                // The session store is down: the request cannot be
                // authenticated, which is the server's fault, not the client's.
                tracing::error!(error = %err, "session check failed");
                ApiError::Unavailable("Authentication is temporarily unavailable.".to_owned())
            })?;
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

/// Whether requests without credentials are refused or let through.
/// An access token verified (signature, kind, issuer, audience, times) by
/// [`Authenticator::verify_request`], as an extension of the request that
/// carries it. Only this crate makes one, and it names the token it was
/// made for by its signature (two HMAC-signed tokens with one signature
/// are one token) and the authenticator that verified it, so it is never
/// taken for another token, nor by an [`AuthLayer`] with other keys. Says
/// nothing about the session: [`AuthLayer`] still checks that.
#[derive(Debug, Clone)]
pub struct VerifiedAccessToken {
    claims: AccessClaims,
    signature: Box<str>,
    verifier: usize,
}

impl VerifiedAccessToken {
    /// The verified claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    fn is_for(&self, token: &str) -> bool {
        token.rsplit('.').next() == Some(&*self.signature)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Required,
    Optional,
}

/// The layer. See the [module docs](crate::auth) for the whole flow.
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
            let found = extract_token(request.headers(), layer.auth.cookie().name())
                .map(|(t, s)| (t.to_owned(), s));
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
            // Verified already by a layer before this one (the rate
            // limiter's user key): not again.
            let verified = request.extensions_mut().remove::<VerifiedAccessToken>();
            match layer
                .auth
                .authenticate_verified(&token, verified, source)
                .await
            {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    let mut response = inner.call(request).await?;
                    // docs/API.md: every response to an authenticated
                    // request is `no-store`: it is one user's data, and a
                    // shared cache or the browser's history must not keep it.
                    response.headers_mut().insert(
                        http::header::CACHE_CONTROL,
                        http::HeaderValue::from_static("no-store"),
                    );
                    Ok(response)
                }
                Err(err) => Ok(err.into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn authenticator() -> (Authenticator, Uuid, crate::store::testing::TestDatabase) {
        let db = crate::store::testing::TestDatabase::sqlite().await;
        let keys = TokenKeys::new(
            b"0123456789abcdef0123456789abcdef",
            &[],
            std::time::Duration::from_secs(60),
        );
        let cache = crate::cache::Cache::in_process(crate::cache::CacheConfig::default());
        let auth = Authenticator::new(keys, Sessions::new(Arc::new(db.store.clone()), &cache));
        let user = crate::store::testing::insert_bare_user(&db.store).await;
        (auth, user, db)
    }

    fn echo_principal() -> impl Service<
        Request<http_body_util::Full<Bytes>>,
        Response = Response<http_body_util::Full<Bytes>>,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|req: Request<http_body_util::Full<Bytes>>| async move {
            let who = req
                .extensions()
                .get::<Principal>()
                .map(|p| p.user_id.to_string())
                .unwrap_or_default();
            Ok(Response::new(http_body_util::Full::from(who)))
        })
    }

    #[tokio::test]
    async fn optional_mode_and_revocation() {
        use tower::ServiceExt;
        let (auth, user_id, _db) = authenticator().await;
        let token = auth.start_session(user_id, None, None).await.unwrap();
        let bearer = || {
            Request::builder()
                .header("authorization", format!("Bearer {token}"))
                .body(http_body_util::Full::default())
                .unwrap()
        };
        let optional = AuthLayer::optional(auth.clone()).layer(echo_principal());
        let anonymous = optional
            .clone()
            .oneshot(Request::new(Default::default()))
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 200);
        assert_eq!(
            optional.clone().oneshot(bearer()).await.unwrap().status(),
            200
        );
        let bogus = Request::builder()
            .header("authorization", "Bearer x.y.z")
            .body(Default::default())
            .unwrap();
        assert_eq!(optional.clone().oneshot(bogus).await.unwrap().status(), 401);

        let required = AuthLayer::new(auth.clone()).layer(echo_principal());
        assert_eq!(
            required.clone().oneshot(bearer()).await.unwrap().status(),
            200
        );
        // The liveness is cached now; revocation must still win at once.
        let sid = auth.keys().verify_access(&token, Utc::now()).unwrap().sid;
        assert!(auth.sessions().revoke(user_id, sid).await.unwrap());
        assert_eq!(required.oneshot(bearer()).await.unwrap().status(), 401);
    }

    #[tokio::test]
    async fn a_verification_handed_on_binds_to_its_token_and_its_authenticator() {
        use tower::ServiceExt;
        let (auth, user_id, _db) = authenticator().await;
        let token = auth.start_session(user_id, None, None).await.unwrap();
        let with_bearer = |token: &str| {
            Request::builder()
                .header("authorization", format!("Bearer {token}"))
                .body(http_body_util::Full::<Bytes>::default())
                .unwrap()
                .into_parts()
        };
        let status = |parts: http::request::Parts, auth: &Authenticator| {
            let service = AuthLayer::new(auth.clone()).layer(echo_principal());
            let request = Request::from_parts(parts, http_body_util::Full::default());
            async move { service.oneshot(request).await.unwrap().status() }
        };
        // Verified once, accepted with the verification handed on.
        let (mut parts, _) = with_bearer(&token);
        assert_eq!(auth.verify_request(&mut parts).unwrap().sub, user_id);
        assert!(parts.extensions.get::<VerifiedAccessToken>().is_some());
        assert_eq!(status(parts, &auth).await, http::StatusCode::OK);

        // The extension of a valid token does not vouch for a forged one.
        let (mut parts, _) = with_bearer(&token);
        auth.verify_request(&mut parts);
        let (forged, _) = with_bearer(&format!("{token}x"));
        parts.headers = forged.headers;
        assert_eq!(status(parts, &auth).await, http::StatusCode::UNAUTHORIZED);

        // Nor for an authenticator with other keys (same sessions).
        let other = Authenticator::new(
            TokenKeys::new(
                b"another-secret-another-secret-!!",
                &[],
                std::time::Duration::from_secs(60),
            ),
            auth.sessions().clone(),
        );
        let (mut parts, _) = with_bearer(&token);
        auth.verify_request(&mut parts);
        assert_eq!(status(parts, &other).await, http::StatusCode::UNAUTHORIZED);
    }
}
