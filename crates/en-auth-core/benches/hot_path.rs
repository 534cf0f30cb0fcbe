//! The hot path: `access_token()` and `authorize()` on a fresh cached token, on one
//! thread and on two threads at once, beside a naive `Mutex<Option<Token>>` cache.
//!
//! `cargo bench -p en-auth-core --bench hot_path`. On two threads each iteration is one call on
//! *each* thread, run concurrently: with perfect scaling its time equals the one-thread time,
//! and the throughput ratio is `2 × t(1 thread) / t(2 threads)`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
use futures::FutureExt;
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

fn authorizer() -> Authorizer<Fixed> {
    let auth = Authorizer::new(Fixed(
        ClientInfo::new("bench", "secret").with_api_key("key"),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(auth.access_token()).unwrap();
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
    let access = || {
        let token = auth.access_token().now_or_never().unwrap().unwrap();
        black_box(token.secret().expose_secret().len());
    };
    c.bench_function("access_token/1 thread", |b| b.iter(access));
    let cached = || {
        let token = auth.cached_token().unwrap();
        black_box(token.secret().expose_secret().len());
    };
    c.bench_function("cached_token/1 thread", |b| b.iter(cached));
    // The same with a `metrics` recorder and a `tracing` subscriber (INFO, to a sink) in
    // effect: nothing on the hot path records or logs, so the time must not move (with the
    // `metrics` feature on: `cargo bench -p en-auth-core --features metrics`).
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            c.bench_function("access_token/1 thread, recorder and subscriber", |b| {
                b.iter(access)
            });
        });
    });
    c.bench_function("cached_token/2 threads", |b| {
        b.iter_custom(|iters| two_threads(iters, &cached))
    });
    c.bench_function("access_token/2 threads", |b| {
        b.iter_custom(|iters| two_threads(iters, &access))
    });

    let template =
        reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/".parse().unwrap());
    let authorize = || {
        let mut request = template.try_clone().unwrap();
        auth.authorize(&mut request)
            .now_or_never()
            .unwrap()
            .unwrap();
        black_box(request);
    };
    c.bench_function("authorize_request/1 thread", |b| b.iter(authorize));
    c.bench_function("authorize_request/2 threads", |b| {
        b.iter_custom(|iters| two_threads(iters, &authorize))
    });

    // The naive cache: a mutex around an optional token, checked on every call.
    let naive = Arc::new(Mutex::new(Some(Token::new(
        "x".repeat(900),
        Some(Duration::from_secs(3600)),
    ))));
    let naive_access = || {
        let guard = naive.lock().unwrap();
        let token = guard.as_ref().filter(|t| !t.needs_renewal()).unwrap();
        black_box(token.access_token().expose_secret().len());
    };
    c.bench_function("naive_mutex/1 thread", |b| b.iter(naive_access));
    c.bench_function("naive_mutex/2 threads", |b| {
        b.iter_custom(|iters| two_threads(iters, &naive_access))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
