//! Using the tiered cache from another service: a quote service that
//! caches slow upstream lookups.
//!
//! ```text
//! cargo run --example cache                                   # moka only
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example cache  # moka + Redis
//! ```
//!
//! The code is the same either way: Redis only adds a shared tier and
//! cross-instance invalidation, and its absence (or death) changes no answer.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tradesense_core::cache::{Cache, CacheConfig, RedisStatus};
use tradesense_core::health::ReadinessCheck;

/// What the service caches: any serde type works.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Quote {
    symbol: String,
    price_cents: u64,
}

/// The slow upstream the cache protects.
async fn fetch_quote(symbol: &str, calls: &AtomicUsize) -> Result<Quote, std::io::Error> {
    calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(Quote {
        symbol: symbol.to_owned(),
        price_cents: 18_950,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A key prefix of its own: this service can share a Redis with others.
    let config = CacheConfig {
        key_prefix: "example:quotes:".to_owned(),
        ..CacheConfig::default()
    };
    let cache = match std::env::var("REDIS_URL") {
        Ok(url) => Cache::with_redis(config, &url)?,
        Err(_) => Cache::in_process(config),
    };
    // Redis connects in the background; give it a moment for the demo (a
    // service would just start serving).
    for _ in 0..50 {
        if cache.redis_status() != RedisStatus::Connecting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("redis tier: {:?}", cache.redis_status());

    let quotes = cache.namespace::<Quote>("quote", Duration::from_secs(30));
    // Start clean in case an earlier run left the quote in Redis.
    quotes.invalidate("AAPL").await;
    let calls = Arc::new(AtomicUsize::new(0));

    // Fifty concurrent requests for a cold key: one upstream call.
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (quotes, calls) = (quotes.clone(), calls.clone());
            tokio::spawn(async move {
                quotes
                    .get_or_load("AAPL", || async { fetch_quote("AAPL", &calls).await })
                    .await
            })
        })
        .collect();
    for request in requests {
        let quote = request.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
        assert_eq!(quote.symbol, "AAPL");
    }
    println!(
        "50 concurrent lookups, {} upstream call(s)",
        calls.load(Ordering::SeqCst)
    );

    // A write: store the new value (every instance drops its old copy).
    let update = Quote {
        symbol: "AAPL".into(),
        price_cents: 19_010,
    };
    quotes.insert("AAPL", &update).await;
    println!("after update: {:?}", quotes.get("AAPL").await);

    // A delete: gone from every tier, on every instance.
    quotes.invalidate("AAPL").await;
    println!("after invalidate: {:?}", quotes.get("AAPL").await);

    // The cache plugs into any readiness endpoint.
    println!("readiness: {:?}", cache.check().await);
    Ok(())
}
