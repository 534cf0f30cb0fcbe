//! The same comparison as `layer.rs`, measured the way a loaded machine allows: the four
//! services take turns, 200 rounds of 2 000 requests each, and each one's best round counts
//! (the minimum is the run least disturbed by other processes; criterion's sequential runs
//! drift with the machine's load). Prints the ratio to tower-http's `SetRequestHeader`.
//!
//! `cargo bench -p en-auth-tower --bench layer_interleaved`. Run as a test (`cargo test
//! --all-targets`), it does two short rounds.

#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use bytes::Bytes;
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

fn time<S>(service: &mut S, n: usize) -> f64
where
    S: Service<Request<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let requests: Vec<_> = (0..n).map(|_| request()).collect();
    let start = std::time::Instant::now();
    for r in requests {
        send(service, r);
    }
    start.elapsed().as_nanos() as f64 / n as f64 // ns per request
}

fn main() {
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
    let mut bare = Ok200;
    let mut fixed =
        SetRequestHeaderLayer::overriding(http::header::AUTHORIZATION, value).layer(Ok200);
    let mut no_replay = AuthorizerLayer::new(authorizer.clone())
        .with_replay(NoReplay)
        .layer(Ok200);
    let mut default = AuthorizerLayer::new(authorizer).layer(Ok200);
    // `cargo bench` passes `--bench`; as a test, a short smoke run.
    let (rounds, n) = if std::env::args().any(|a| a == "--bench") {
        (200, 2000)
    } else {
        (2, 100)
    };
    let mut best = [f64::MAX; 4];
    for _ in 0..rounds {
        best[0] = best[0].min(time(&mut bare, n));
        best[1] = best[1].min(time(&mut fixed, n));
        best[2] = best[2].min(time(&mut no_replay, n));
        best[3] = best[3].min(time(&mut default, n));
    }
    println!(
        "min ns/request: bare {:.1} set_header {:.1} no_replay {:.1} replay_empty {:.1}",
        best[0], best[1], best[2], best[3]
    );
    println!(
        "over SetRequestHeader: no_replay +{:.1} ns ({:.2}x), replay_empty +{:.1} ns ({:.2}x)",
        best[2] - best[1],
        best[2] / best[1],
        best[3] - best[1],
        best[3] / best[1]
    );
}
