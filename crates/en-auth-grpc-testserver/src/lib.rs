//! # en-auth-grpc-testserver
//!
//! **Test support for en-auth's own tests; not published.** It is not a gRPC adapter: the
//! adapter is `en-auth-tower`'s `AuthorizerLayer`, which a tonic client uses as it is. This
//! crate is the other end of that wire, for the gRPC tests of the layer (`tests/tonic.rs`
//! here) and the `grpc_client` example (`cargo run -p en-auth-grpc-testserver --example
//! grpc_client`).
//!
//! It holds the `Greeter` service of `proto/greeter.proto`, compiled by tonic's code generator
//! at build time, and [`GreeterServer`], a real tonic server on a free loopback port whose every
//! call must carry a bearer token that the testkit's protected resource accepts (so: a token its
//! token endpoint issued, not expired, not revoked). Calls without one are answered
//! `UNAUTHENTICATED` (gRPC status 16), which tonic sends as a trailers-only response: HTTP `200`
//! with `grpc-status: 16` in the headers.
//!
//! A crate of its own so that its build (tonic's code generator, a vendored `protoc`) and
//! tonic's server stack stay out of `en-auth-tower`'s build and out of `en-auth-testkit`, which
//! users put in their own tests. The other test-support crates: `en-auth-testkit` (published:
//! in-process emulators for anyone's tests) and `en-auth-peers` (not published: starts the real
//! external peers for en-auth's own tests).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tonic::{Request, Response, Status};

/// The code tonic generates from `proto/greeter.proto` (package `en_auth.greeter.v1`).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("en_auth.greeter.v1");
}

use proto::greeter_server::{Greeter, GreeterServer as GeneratedServer};
use proto::{HelloReply, HelloRequest};

/// A running Greeter server on `127.0.0.1`; it stops when dropped.
pub struct GreeterServer {
    addr: SocketAddr,
    counts: Arc<Counts>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

#[derive(Default)]
struct Counts {
    calls: AtomicU64,
    authorized: AtomicU64,
    unauthenticated: AtomicU64,
}

impl GreeterServer {
    /// Starts a server, as a task of the current Tokio runtime, that checks each call's
    /// `authorization` metadata by sending it to `verify_url` (the testkit's
    /// `OAuthServer::resource_url`): `200` lets the call through, `401` answers
    /// `UNAUTHENTICATED`.
    ///
    /// # Panics
    /// If no loopback port can be bound, or outside a Tokio runtime.
    pub fn start(verify_url: impl Into<String>) -> Self {
        let incoming = tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], 0).into())
            .expect("bind a loopback port for the Greeter server");
        let addr = incoming.local_addr().expect("local address");
        let counts = Arc::new(Counts::default());
        let greeter = Checked {
            verify_url: verify_url.into(),
            http: reqwest::Client::new(),
            counts: Arc::clone(&counts),
        };
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(GeneratedServer::new(greeter))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop.await;
                })
                .await;
        });
        Self {
            addr,
            counts,
            _shutdown: shutdown,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls received.
    pub fn calls(&self) -> u64 {
        self.counts.calls.load(Ordering::SeqCst)
    }

    /// Calls whose token the resource accepted.
    pub fn authorized(&self) -> u64 {
        self.counts.authorized.load(Ordering::SeqCst)
    }

    /// Calls answered `UNAUTHENTICATED` (no token, or one the resource rejected).
    pub fn unauthenticated(&self) -> u64 {
        self.counts.unauthenticated.load(Ordering::SeqCst)
    }
}

/// The Greeter, checking each call's bearer token against the testkit.
struct Checked {
    verify_url: String,
    http: reqwest::Client,
    counts: Arc<Counts>,
}

impl Checked {
    /// The server's authentication step. (tonic's interceptors are synchronous; this check
    /// asks the testkit over HTTP, so it runs at the start of the handler.)
    async fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(token) = request.metadata().get("authorization") else {
            return Err(Status::unauthenticated("no bearer token"));
        };
        let answer = self
            .http
            .get(&self.verify_url)
            .header("authorization", token.as_bytes())
            .send()
            .await
            .map_err(|e| Status::unavailable(format!("cannot check the token: {e}")))?;
        match answer.status().as_u16() {
            200 => Ok(()),
            401 => Err(Status::unauthenticated("the bearer token was rejected")),
            other => Err(Status::internal(format!(
                "the token check answered {other}"
            ))),
        }
    }
}

#[tonic::async_trait]
impl Greeter for Checked {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        self.counts.calls.fetch_add(1, Ordering::SeqCst);
        if let Err(status) = self.check(&request).await {
            if status.code() == tonic::Code::Unauthenticated {
                self.counts.unauthenticated.fetch_add(1, Ordering::SeqCst);
            }
            return Err(status);
        }
        self.counts.authorized.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(HelloReply {
            message: format!("hello, {}", request.into_inner().name),
        }))
    }
}
