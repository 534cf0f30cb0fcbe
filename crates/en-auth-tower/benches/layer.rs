//! The layer's fast path against a bare tower-http `SetRequestHeader` (which inserts a fixed
//! `Authorization` header), over the same trivial inner service, in one run: the difference is
//! what the layer adds (the cached token's look-up, the https check, the clone-and-swap and
//! the response check).
//!
//! The requests are built outside the timed part (`iter_batched`); dropping the responses is
//! timed.
//!
//! `cargo bench -p en-auth-tower` (or `cargo xtask bench`).

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
use en_auth_tower::{AuthorizerLayer, NoReplay};
use futures::FutureExt;
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use tower::{Layer, Service};
use tower_http::set_header::SetRequestHeaderLayer;

/// Answers every request at once with an empty `200`.
#[derive(Clone)]
struct Ok200;

impl Service<Request<Empty<Bytes>>> for Ok200 {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Empty<Bytes>>) -> Self::Future {
        black_box(&request);
        ready(Ok(Response::new(())))
    }
}

struct Fixed(ClientInfo);

impl TokenProvider for Fixed {
    async fn authorize(&self) -> Result<Token, Error> {
        Ok(Token::new(
            "a-bench-token-of-typical-length-0123456789abcdef",
            Some(std::time::Duration::from_secs(3600)),
        ))
    }
    fn client_info(&self) -> &ClientInfo {
        &self.0
    }
}

fn request() -> Request<Empty<Bytes>> {
    Request::get("https://api.example.com/v1/items")
        .body(Empty::new())
        .unwrap()
}

/// One request through `service`, answered at once.
fn send<S>(service: &mut S, request: Request<Empty<Bytes>>)
where
    S: Service<Request<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let ready = service
        .poll_ready(&mut Context::from_waker(std::task::Waker::noop()))
        .is_ready();
    assert!(ready);
    let response = service
        .call(request)
        .now_or_never()
        .expect("answered at once");
    black_box(response.expect("200"));
}

fn layer(c: &mut Criterion) {
    let authorizer = Authorizer::new(Fixed(ClientInfo::new("bench", "secret")));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(authorizer.access_token())
        .expect("a token");

    let mut value =
        HeaderValue::from_static("Bearer a-bench-token-of-typical-length-0123456789abcdef");
    value.set_sensitive(true);
    let mut group = c.benchmark_group("layer");
    let mut bare = Ok200;
    group.bench_function("inner service alone", |b| {
        b.iter_batched(request, |r| send(&mut bare, r), BatchSize::SmallInput)
    });
    let mut fixed =
        SetRequestHeaderLayer::overriding(http::header::AUTHORIZATION, value).layer(Ok200);
    group.bench_function("tower-http SetRequestHeader", |b| {
        b.iter_batched(request, |r| send(&mut fixed, r), BatchSize::SmallInput)
    });
    let mut no_replay = AuthorizerLayer::new(authorizer.clone())
        .with_replay(NoReplay)
        .layer(Ok200);
    group.bench_function("AuthorizerLayer fast path, NoReplay", |b| {
        b.iter_batched(request, |r| send(&mut no_replay, r), BatchSize::SmallInput)
    });
    let mut default = AuthorizerLayer::new(authorizer).layer(Ok200);
    group.bench_function(
        "AuthorizerLayer fast path, ReplayEmpty (default; GET)",
        |b| b.iter_batched(request, |r| send(&mut default, r), BatchSize::SmallInput),
    );
    group.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
