//! The login storm's limit for `benches/e2e.sh`: how many password checks
//! per second the server's own hasher (`tradesense_core::auth::PasswordHasher`,
//! argon2id at OWASP's parameters, m=19456 KiB, t=2, p=1) completes on this
//! machine with `--permits` hashes at a time, measured the way the server
//! runs them (queued futures, the hasher's own threads) but with no HTTP,
//! database or session work around them. Pin it like the server
//! (`taskset`) to measure the cores given to hashing.
//!
//! ```text
//! cargo build --release --example hash_rate
//! target/release/examples/hash_rate --permits 2 --duration 3
//! ```
//!
//! Prints one line: `checks_per_second`.

use clap::Parser;
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tradesense_core::auth::{Password, PasswordHasher};

#[derive(Parser)]
#[command(about = "Password checks per second of the server's argon2id hasher")]
struct Args {
    /// Hashes at a time (the server's default is 2).
    #[arg(long, default_value_t = 2)]
    permits: usize,
    /// Seconds to measure, after one check to warm up.
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Checks waiting at once (a storm keeps the queue full).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let hasher = PasswordHasher::new(args.permits);
    let password = Password::parse("correct horse battery staple", &[])
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let phc = hasher.hash(&password).await?;
    let candidate = SecretString::from("correct horse battery staple");
    anyhow::ensure!(
        hasher.verify(&candidate, Some(&phc)).await,
        "the check failed"
    );

    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (hasher, candidate, phc) = (hasher.clone(), candidate.clone(), phc.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    if hasher.verify(&candidate, Some(&phc)).await {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut checks = 0;
    for worker in workers {
        checks += worker.await?;
    }
    println!("{:.1}", checks as f64 / start.elapsed().as_secs_f64());
    Ok(())
}
