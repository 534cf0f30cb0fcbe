//! End to end on loopback: requests per second through reqwest-middleware with a
//! `ServiceAccountAuthorizer`, against plain reqwest sending a static `Authorization` header,
//! to the same protected resource in the same run. `cargo bench -p en-auth-oauth2 --bench e2e`.
//!
//! Each iteration sends `CONCURRENCY` requests at once and waits for all of them; criterion
//! reports the time per iteration, so requests/s = CONCURRENCY / time.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;
use secrecy::ExposeSecret;

const CONCURRENCY: usize = 16;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(
        OAuthServer::builder()
            .client("bench", "secret")
            .token_lifetime_secs(3600)
            .start(),
    );
    let url = server.resource_url();
    let environment = Environment::new("bench")
        .with_token_url(&server.token_url())
        .unwrap();
    let authorizer =
        ServiceAccountAuthorizer::new(ClientInfo::new("bench", "secret"), environment).unwrap();
    let with_authorizer = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();
    let token = rt
        .block_on(authorizer.access_token())
        .unwrap()
        .secret()
        .expose_secret()
        .to_owned();
    let plain = reqwest::Client::new();
    let header = format!("Bearer {token}");

    let mut group = c.benchmark_group("e2e_loopback");
    group.throughput(Throughput::Elements(CONCURRENCY as u64));
    group.bench_function("static_header", |b| {
        b.to_async(&rt).iter(|| async {
            let requests =
                (0..CONCURRENCY).map(|_| plain.get(&url).header("authorization", &header).send());
            for r in futures::future::join_all(requests).await {
                assert_eq!(r.unwrap().status(), 200);
            }
        });
    });
    // reqwest-middleware with no middleware, static header: the cost of the middleware stack
    // itself, apart from the authorizer.
    let bare_middleware = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    group.bench_function("middleware_stack_static_header", |b| {
        b.to_async(&rt).iter(|| async {
            let requests = (0..CONCURRENCY).map(|_| {
                bare_middleware
                    .get(&url)
                    .header("authorization", &header)
                    .send()
            });
            for r in futures::future::join_all(requests).await {
                assert_eq!(r.unwrap().status(), 200);
            }
        });
    });
    group.bench_function("authorizer_middleware", |b| {
        b.to_async(&rt).iter(|| async {
            let requests = (0..CONCURRENCY).map(|_| with_authorizer.get(&url).send());
            for r in futures::future::join_all(requests).await {
                assert_eq!(r.unwrap().status(), 200);
            }
        });
    });
    group.finish();
    assert_eq!(
        server.token_requests(),
        1,
        "one token for the whole benchmark"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
