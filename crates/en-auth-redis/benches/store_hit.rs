//! A store hit: `RedisStore::get` of a stored token on a real `redis-server` on loopback (one
//! `GET` round trip through en-auth's I/O runtime, then AES-256-GCM open and JSON parse): what a
//! process pays when its local cache misses and the fleet's token is in Redis.
//!
//! `cargo bench -p en-auth-redis --bench store_hit`. Criterion reports the mean; the bench also
//! times single calls itself and prints their p50 and p99 (target p99 ≤ 1 ms on loopback).
//! Under `cargo test --all-targets` it runs briefly.

#![allow(missing_docs)]

use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_core::secrecy::SecretString;
use en_auth_core::{SharedIdentity, SharedStore, SharedToken};
use en_auth_peers::redis::RedisServer;
use en_auth_redis::RedisStore;

fn bench(c: &mut Criterion) {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not.
    let benching = std::env::args().any(|a| a == "--bench");
    let redis = RedisServer::start();
    let store = RedisStore::builder(redis.url())
        .encryption_key([7; 32])
        .build()
        .unwrap();
    let key = SharedIdentity::new("client_credentials")
        .with("client_id", "bench")
        .key();
    let token = SharedToken {
        access_token: SecretString::from("x".repeat(900)),
        token_type: "Bearer".into(),
        scope: Some("read write".into()),
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        id: "0123456789abcdef".into(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert!(store
            .put_if_newer(&key, &token, Duration::from_secs(3600))
            .await
            .unwrap());
        assert!(store.get(&key).await.unwrap().is_some());
    });

    // Percentiles from single timed calls.
    let samples = if benching { 20_000 } else { 200 };
    let mut times: Vec<Duration> = runtime.block_on(async {
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            let hit = store.get(&key).await.unwrap();
            times.push(start.elapsed());
            assert!(hit.is_some());
        }
        times
    });
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "store hit (RedisStore::get, loopback), {samples} calls: p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );

    c.bench_function("store hit/RedisStore::get", |b| {
        b.to_async(&runtime).iter(|| async {
            std::hint::black_box(store.get(&key).await.unwrap());
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
