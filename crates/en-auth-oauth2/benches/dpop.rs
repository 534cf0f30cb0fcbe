//! The CPU cost of DPoP (RFC 9449) per request: one proof signed (claims serialised with the
//! public JWK in the header, ES256 or EdDSA through jsonwebtoken on aws-lc-rs, base64url),
//! with `htu` normalised and the origin's nonce looked up; and a whole `authorize_cached` of
//! an `http::Request` carrying a DPoP-bound token (the proof, `Authorization: DPoP …`), beside
//! the same call with a bearer token.
//!
//! ```text
//! cargo bench -p en-auth-oauth2 --features dpop --bench dpop
//! ```

#![allow(missing_docs)] // criterion_group! makes an undocumented function.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_oauth2::{
    Authorizer, ClientInfo, Dpop, DpopKey, Error, SigningAlgorithm, Token, TokenProvider,
};

/// Issues one long-lived token, DPoP-bound when it has a key.
struct Fixed {
    client: ClientInfo,
    dpop: Option<Dpop>,
}

impl TokenProvider for Fixed {
    async fn authorize(&self) -> Result<Token, Error> {
        let token = Token::new("a".repeat(600), Some(Duration::from_secs(3600)));
        Ok(match self.dpop {
            Some(_) => token.with_token_type("DPoP"),
            None => token,
        })
    }
    fn client_info(&self) -> &ClientInfo {
        &self.client
    }
    fn dpop(&self) -> Option<Dpop> {
        self.dpop.clone()
    }
}

/// This thread's CPU time, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> Option<u64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(u64::try_from(t.tv_nsec).ok()?)
}

fn proofs(c: &mut Criterion) {
    let url = url::Url::parse("https://api.example.com/v1/items?page=2").unwrap();
    let token = "a".repeat(600);
    let mut group = c.benchmark_group("dpop_proof");
    for algorithm in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        let dpop = Dpop::new(DpopKey::generate(algorithm).unwrap());
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "dpop-nonce",
            http::HeaderValue::from_static("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        );
        dpop.remember_nonce(&url, &headers);
        group.bench_function(algorithm.as_str(), |b| {
            b.iter(|| {
                dpop.proof(&http::Method::GET, &url, Some(&token))
                    .unwrap()
                    .len()
            });
        });
    }
    group.finish();

    // The same proofs timed in this thread's CPU time rather than wall time: on a shared
    // machine, wall time counts the time other processes held the CPU.
    if thread_cpu_ns().is_some() {
        let mut group = c.benchmark_group("dpop_proof_cpu_time");
        for algorithm in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
            let dpop = Dpop::new(DpopKey::generate(algorithm).unwrap());
            group.bench_function(algorithm.as_str(), |b| {
                b.iter_custom(|iterations| {
                    let start = thread_cpu_ns().unwrap_or(0);
                    for _ in 0..iterations {
                        std::hint::black_box(
                            dpop.proof(&http::Method::GET, &url, Some(&token)).unwrap(),
                        );
                    }
                    Duration::from_nanos(thread_cpu_ns().unwrap_or(0).saturating_sub(start))
                });
            });
        }
        group.finish();
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("authorize_cached");
    for (name, dpop) in [
        ("bearer", None),
        (
            "dpop_ES256",
            Some(Dpop::new(
                DpopKey::generate(SigningAlgorithm::ES256).unwrap(),
            )),
        ),
    ] {
        let authorizer = Authorizer::new(Fixed {
            client: ClientInfo::new("svc", "secret"),
            dpop,
        });
        runtime.block_on(authorizer.access_token()).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut request = http::Request::get("https://api.example.com/v1/items?page=2")
                    .body(())
                    .unwrap();
                authorizer.authorize_cached(&mut request).unwrap().is_some()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, proofs);
criterion_main!(benches);
