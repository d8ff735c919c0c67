//! Auth hot-path costs: token issue and verify, verify + session check,
//! the `AuthLayer`'s overhead over a bare inner service (cookie and bearer),
//! and one argon2id hash. Results and how to run: `benches/README.md`.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tower::{Layer, Service, ServiceExt};
use tradesense_core::auth::{
    AuthLayer, Authenticator, CredentialSource, Password, PasswordHasher, Sessions, TokenKeys,
};
use tradesense_core::cache::{Cache, CacheConfig};
use tradesense_core::store::testing::TestDatabase;

fn keys() -> TokenKeys {
    TokenKeys::new(
        b"bench-secret-bench-secret-bench-secret",
        &[],
        Duration::from_secs(3600),
    )
}

fn inner()
-> impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::default()))
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (auth, token, _db) = rt.block_on(async {
        let db = TestDatabase::sqlite().await;
        let sessions = Sessions::new(
            Arc::new(db.store.clone()),
            &Cache::in_process(CacheConfig::default()),
        );
        let auth = Authenticator::new(keys(), sessions);
        let user = tradesense_core::store::testing::insert_bare_user(&db.store).await;
        let token = auth.start_session(user, None, None).await.unwrap();
        (auth, token, db)
    });
    let keys = keys();
    let (user, sid) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());

    c.bench_function("token_issue", |b| {
        b.iter(|| keys.issue_access(black_box(user), sid, chrono::Utc::now()))
    });
    let issued = keys.issue_access(user, sid, chrono::Utc::now());
    c.bench_function("token_verify", |b| {
        b.iter(|| {
            keys.verify_access(black_box(&issued), chrono::Utc::now())
                .unwrap()
        })
    });
    c.bench_function("token_verify_and_session_check", |b| {
        b.to_async(&rt)
            .iter(|| auth.authenticate(black_box(&token), CredentialSource::Bearer))
    });

    let bare = inner();
    let layered = AuthLayer::new(auth.clone()).layer(inner());
    let request = |header: Option<(&str, String)>| {
        let mut builder = Request::builder()
            .method("GET")
            .uri("/x")
            .header("host", "localhost");
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        builder.body(Full::default()).unwrap()
    };
    let mut group = c.benchmark_group("auth_layer");
    group.bench_function("bare_inner_service", |b| {
        b.to_async(&rt).iter(|| bare.clone().oneshot(request(None)))
    });
    group.bench_function("layer_bearer", |b| {
        b.to_async(&rt).iter(|| {
            layered
                .clone()
                .oneshot(request(Some(("authorization", format!("Bearer {token}")))))
        })
    });
    group.bench_function("layer_cookie", |b| {
        b.to_async(&rt).iter(|| {
            layered.clone().oneshot(request(Some((
                "cookie",
                format!("theme=dark; auth-token={token}"),
            ))))
        })
    });
    group.finish();

    let hasher = PasswordHasher::default();
    let password = Password::parse("correct horse battery staple", &[]).unwrap();
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("argon2id_hash", |b| {
        b.to_async(&rt).iter(|| hasher.hash(&password))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
