//! The cache's three read paths in one run: a moka hit (in-process only), a
//! hit in the tiered cache's local tier, and a local miss answered by Redis.
//!
//! ```text
//! cargo bench --bench cache                                        # moka only
//! TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench cache  # all three
//! ```
//!
//! Runs are kept short (the machine is shared); see `benches/README.md`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use tradesense_core::cache::{Cache, CacheConfig, RedisStatus};

/// Exactly what the auth hot path caches per request: a session's owner
/// while it is live (`auth::Sessions`, namespace `session`).
type Session = Option<uuid::Uuid>;

fn session() -> Session {
    Some(uuid::Uuid::now_v7())
}

fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .ok()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let ttl = Duration::from_secs(600);
    let mut group = c.benchmark_group("cache");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);

    let moka = rt.block_on(async { Cache::in_process(CacheConfig::default()) });
    let sessions = moka.namespace::<Session>("session", ttl);
    rt.block_on(sessions.insert("k", &session()));
    group.bench_function("moka_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(sessions.get(black_box("k")).await.unwrap()) });
    });

    if let Some(url) = redis_url() {
        let config = CacheConfig {
            key_prefix: format!("bench:{}:", uuid::Uuid::new_v4().simple()),
            ..CacheConfig::default()
        };
        let tiered = rt.block_on(async {
            let cache = Cache::with_redis(config, &url).expect("a redis URL");
            for _ in 0..250 {
                if cache.redis_status() == RedisStatus::Up {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(cache.redis_status(), RedisStatus::Up, "redis reachable");
            cache
        });
        let sessions = tiered.namespace::<Session>("session", ttl);
        rt.block_on(sessions.insert("k", &session()));
        group.bench_function("tiered_hit", |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(sessions.get(black_box("k")).await.unwrap()) });
        });
        // Each iteration drops the local copy first, so the read goes to
        // Redis (and copies the value back into moka).
        group.bench_function("tiered_miss_to_redis", |b| {
            b.to_async(&rt).iter(|| async {
                tiered.clear_local();
                black_box(sessions.get(black_box("k")).await.unwrap())
            });
        });
        rt.block_on(sessions.invalidate("k"));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
