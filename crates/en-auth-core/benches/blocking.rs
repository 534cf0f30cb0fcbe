//! The blocking API's cost: `BlockingAuthorizer::access_token()` on a fresh cached token (the
//! fast path: the I/O runtime entered, the cache read) beside the async authorizer's
//! `cached_token()`, in one run; `authorize(&mut HeaderMap)`; and the slow path's round trip
//! (a token request on the I/O runtime, awaited on a `std` channel) with a provider that
//! answers at once, from a plain thread and from inside a `current_thread` runtime.
//!
//! `cargo bench -p en-auth-core --features blocking --bench blocking`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_core::{Authorizer, BlockingAuthorizer, ClientInfo, Error, Token, TokenProvider};
use secrecy::ExposeSecret;

struct Fixed(ClientInfo);

impl TokenProvider for Fixed {
    async fn authorize(&self) -> Result<Token, Error> {
        Ok(Token::new("x".repeat(900), Some(Duration::from_secs(3600))))
    }
    fn client_info(&self) -> &ClientInfo {
        &self.0
    }
}

fn authorizer() -> BlockingAuthorizer<Fixed> {
    let auth = Authorizer::new(Fixed(
        ClientInfo::new("bench", "secret").with_api_key("key"),
    ))
    .blocking();
    auth.access_token().unwrap();
    auth
}

/// Runs `op` `iters` times on each of two threads at once; returns the wall time.
fn two_threads<F: Fn() + Sync>(iters: u64, op: &F) -> Duration {
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    op();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let auth = authorizer();
    let cached = || {
        let token = auth.authorizer().cached_token().unwrap();
        black_box(token.secret().expose_secret().len());
    };
    let access = || {
        let token = auth.access_token().unwrap();
        black_box(token.secret().expose_secret().len());
    };
    c.bench_function(
        "blocking/cached_token (async authorizer, baseline)/1 thread",
        |b| b.iter(cached),
    );
    c.bench_function("blocking/access_token (fresh)/1 thread", |b| b.iter(access));
    c.bench_function(
        "blocking/cached_token (async authorizer, baseline)/2 threads",
        |b| b.iter_custom(|iters| two_threads(iters, &cached)),
    );
    c.bench_function("blocking/access_token (fresh)/2 threads", |b| {
        b.iter_custom(|iters| two_threads(iters, &access))
    });
    let mut headers = http::HeaderMap::new();
    c.bench_function("blocking/authorize (fresh)", |b| {
        b.iter(|| black_box(auth.authorize(&mut headers).unwrap()))
    });
    let renew = || {
        let generation = auth.access_token().unwrap().generation();
        auth.invalidate(generation);
        black_box(auth.access_token().unwrap().generation());
    };
    c.bench_function("blocking/renewal round trip (plain thread)", |b| {
        b.iter(renew)
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    c.bench_function("blocking/renewal round trip (inside a runtime)", |b| {
        b.iter(|| runtime.block_on(async { renew() }))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
