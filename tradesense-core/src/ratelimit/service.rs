//! The service of [`KeyedRateLimitLayer`](super::KeyedRateLimitLayer) and
//! its response future.

use super::client::ClientIp;
use super::limiter::Decision;
use super::{Policy, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET};
use crate::error::ApiError;
use crate::metrics::RATE_LIMIT_REJECTIONS;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tower::Service;

/// The service of [`KeyedRateLimitLayer`](super::KeyedRateLimitLayer).
#[derive(Clone)]
pub struct KeyedRateLimit<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> KeyedRateLimit<S> {
    pub(super) fn new(inner: S, policy: Arc<Policy>) -> Self {
        Self { inner, policy }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for KeyedRateLimit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedRateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for KeyedRateLimit<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = KeyedRateLimitFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        // IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket
        // reports) is the IPv4 client it maps: one address, one bucket.
        let client = self
            .policy
            .client_key
            .client_ip(&parts)
            .map(|ip| ip.to_canonical());
        if let Some(ip) = client {
            parts.extensions.insert(ClientIp(ip));
        }
        let plan = self
            .policy
            .plan(&mut parts, client)
            .map(|(limit, key)| (limit.clone(), key));
        let request = Request::from_parts(parts, body);
        let state = match plan {
            None => State::Calling {
                future: self.inner.call(request),
                decision: None,
            },
            // In process: decided right here, no allocation for a future.
            Some((limit, key)) if !limit.is_shared() => {
                let decision = limit.check_local(&key);
                if decision.allowed {
                    State::Calling {
                        future: self.inner.call(request),
                        decision: Some(decision),
                    }
                } else {
                    count_rejection(limit.scope());
                    State::Refused { decision }
                }
            }
            // Through Redis: the inner service is called once the answer
            // is in, so the clone that was driven to readiness goes along.
            Some((limit, key)) => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let scope = limit.scope();
                State::Checking {
                    check: Box::pin(async move { limit.check(&key).await }),
                    scope,
                    inner: Some(inner),
                    request: Some(request),
                }
            }
        };
        KeyedRateLimitFuture { state }
    }
}

pin_project! {
    /// The response future of [`KeyedRateLimit`].
    pub struct KeyedRateLimitFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        // Waiting for the shared limit's answer.
        Checking {
            check: BoxFuture<'static, Decision>,
            scope: &'static str,
            inner: Option<S>,
            request: Option<Request<B>>,
        },
        // Allowed (or not limited): the inner service's answer, to which
        // the headers of `decision` are added.
        Calling {
            #[pin]
            future: S::Future,
            decision: Option<Decision>,
        },
        Refused {
            decision: Decision,
        },
    }
}

impl<S, B, ResBody> Future for KeyedRateLimitFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Checking {
                    check,
                    scope,
                    inner,
                    request,
                } => {
                    let decision = ready!(check.as_mut().poll(cx));
                    if !decision.allowed {
                        count_rejection(scope);
                        State::Refused { decision }
                    } else if let (Some(mut inner), Some(request)) = (inner.take(), request.take())
                    {
                        State::Calling {
                            future: inner.call(request),
                            decision: Some(decision),
                        }
                    } else {
                        // Only reachable if polled again after a panic in
                        // here; answer instead of panicking again.
                        return Poll::Ready(Ok(ApiError::Internal(
                            "rate-limit future polled in an invalid state".into(),
                        )
                        .into_response()));
                    }
                }
                StateProj::Calling { future, decision } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(decision) = decision {
                        set_headers(response.headers_mut(), decision);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused { decision } => {
                    let mut response = ApiError::RateLimited {
                        retry_after_secs: ceil_secs(decision.retry_after).max(1),
                    }
                    .into_response();
                    set_headers(response.headers_mut(), decision);
                    return Poll::Ready(Ok(response));
                }
            };
            this.state.set(next);
        }
    }
}

fn count_rejection(scope: &'static str) {
    metrics::counter!(RATE_LIMIT_REJECTIONS, "scope" => scope).increment(1);
}

fn set_headers(headers: &mut http::HeaderMap, decision: &Decision) {
    headers.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(decision.limit));
    headers.insert(
        RATELIMIT_REMAINING.clone(),
        HeaderValue::from(decision.remaining),
    );
    headers.insert(
        RATELIMIT_RESET.clone(),
        HeaderValue::from(ceil_secs(decision.reset)),
    );
}

/// Whole seconds, rounded up (a client waiting the floor would be early).
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}
