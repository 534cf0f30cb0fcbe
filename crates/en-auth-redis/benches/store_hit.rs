//! The shared store's costs, on a real `redis-server` on loopback:
//!
//! - **store hit**: `RedisStore::get` of a stored token (one `GET` through en-auth's I/O
//!   runtime, AES-256-GCM open, JSON parse);
//! - **local miss served from Redis**: a new `Authorizer` with the store (a process whose cache
//!   is empty) getting its first token: the store's token adopted, no token request;
//! - **hot path with a store configured**: `access_token()` on a fresh adopted token, which must
//!   not touch Redis (the bench checks Redis processed no command meanwhile).
//!
//! `cargo bench -p en-auth-redis --bench store_hit`. Criterion reports means; the bench also
//! times single calls itself and prints their p50 and p99 (target p99 ≤ 1 ms on loopback).
//! Under `cargo test --all-targets` it runs briefly.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_core::secrecy::{ExposeSecret, SecretString};
use en_auth_core::{
    AuthorizerBuilder, ClientInfo, Error, SharedIdentity, SharedStore, SharedToken, Token,
    TokenProvider,
};
use en_auth_peers::redis::RedisServer;
use en_auth_redis::RedisStore;
use futures::FutureExt;

/// A token endpoint stand-in that counts its calls (the bench asserts adoption made none).
struct Counting {
    client: ClientInfo,
    calls: Arc<AtomicU64>,
}

impl TokenProvider for Counting {
    async fn authorize(&self) -> Result<Token, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Token::new("y".repeat(900), Some(Duration::from_secs(3600))))
    }
    fn client_info(&self) -> &ClientInfo {
        &self.client
    }
    fn shared_identity(&self) -> Option<SharedIdentity> {
        Some(SharedIdentity::new("bench").with("client_id", "bench-authorizer"))
    }
}

fn percentiles(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{what}, {} calls: p50 {:?}, p99 {:?}, max {:?}",
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );
}

fn commands_processed(redis: &RedisServer) -> u64 {
    redis
        .cli(&["info", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats")
}

fn bench(c: &mut Criterion) {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not.
    let benching = std::env::args().any(|a| a == "--bench");
    let samples = if benching { 20_000 } else { 200 };
    let redis = RedisServer::start();
    let store = RedisStore::builder(redis.url())
        .encryption_key([7; 32])
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Store hit.
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
    let times = runtime.block_on(async {
        assert!(store
            .put_if_newer(&key, &token, Duration::from_secs(3600))
            .await
            .unwrap());
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            let hit = store.get(&key).await.unwrap();
            times.push(start.elapsed());
            assert!(hit.is_some());
        }
        times
    });
    percentiles("store hit (RedisStore::get, loopback)", times);
    c.bench_function("store hit/RedisStore::get", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(store.get(&key).await.unwrap());
        })
    });

    // A local miss served from Redis: a new authorizer adopts the fleet's token.
    let calls = Arc::new(AtomicU64::new(0));
    let new_authorizer = || {
        AuthorizerBuilder::new()
            .shared_store(store.clone())
            .build(Counting {
                client: ClientInfo::new("bench-authorizer", "secret"),
                calls: calls.clone(),
            })
    };
    let (times, adopted) = runtime.block_on(async {
        // The first process fetches and stores (in the background): wait until it is there.
        new_authorizer().access_token().await.unwrap();
        let identity = Counting {
            client: ClientInfo::new("x", "y"),
            calls: Arc::default(),
        }
        .shared_identity()
        .unwrap()
        .key();
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.get(&identity).await.unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the first token was never stored"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut times = Vec::with_capacity(samples);
        let mut last = None;
        for _ in 0..samples {
            let authorizer = new_authorizer();
            let start = Instant::now();
            let token = authorizer.access_token().await.unwrap();
            times.push(start.elapsed());
            last = Some(authorizer);
            black_box(token.secret().expose_secret().len());
        }
        (times, last.unwrap())
    });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "every new authorizer adopted the stored token"
    );
    percentiles(
        "local miss served from Redis (new Authorizer, first access_token)",
        times,
    );
    c.bench_function("local miss served from Redis/new authorizer", |b| {
        b.to_async(&runtime).iter(|| async {
            let authorizer = new_authorizer();
            black_box(authorizer.access_token().await.unwrap());
        })
    });

    // The hot path with the store configured: no Redis command.
    let before = commands_processed(&redis);
    c.bench_function("hot path with a store/access_token", |b| {
        b.iter(|| {
            let token = adopted.access_token().now_or_never().unwrap().unwrap();
            black_box(token.secret().expose_secret().len());
        })
    });
    // The INFO that read `before` is the only command since.
    assert_eq!(
        commands_processed(&redis) - before,
        1,
        "the hot path touched Redis"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
