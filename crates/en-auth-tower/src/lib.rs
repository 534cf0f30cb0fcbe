//! # en-auth-tower
//!
//! A [`tower`](https://docs.rs/tower) layer that authorizes `http` requests with an en-auth
//! [`Authorizer`]: the counterpart, for hyper, tonic (gRPC) and any other
//! [`tower_service::Service`] over [`http::Request`], of the `reqwest-middleware` adapter in
//! `en-auth-core`. It depends on `tower-layer` and `tower-service` only, not on all of tower.
//!
//! - **Fast path.** [`AuthorizerService`] inserts the cached `Authorization: Bearer …` header
//!   (and `X-Api-Key` when the client has one), marked sensitive, synchronously in
//!   [`Service::call`](tower_service::Service::call): no lock, and no allocation unless the
//!   [`Replay`] policy copies the request (the default, [`ReplayEmpty`], copies a request
//!   without a body: its method, URI and headers; [`NoReplay`] copies nothing).
//! - **Slow path.** When no token is usable (none yet, expired, or rejected) the request waits
//!   for the renewal, which concurrent requests share.
//! - **`poll_ready`.** Readiness is the inner service's. Each call takes the service that was
//!   polled ready and leaves a clone in its place (the clone-and-swap of tower's guide and of
//!   kube-rs's token layer), so a request that waits for a token holds the readiness it was
//!   given and nothing else.
//! - **Rejections.** A response whose status the [`RequestPolicy`] names as a rejection (`401
//!   Unauthorized` by default) invalidates the token that request carried (only that one: a
//!   burst of 401s costs one renewal); the request is sent once more with a new token when the
//!   [`Replay`] policy can copy it (by default, requests without a body: [`ReplayEmpty`]),
//!   otherwise the 401 is returned. gRPC signals a rejected token as HTTP `200` with
//!   `grpc-status: 16` (`UNAUTHENTICATED`) in the headers of a trailers-only response (gRPC
//!   over HTTP/2 protocol): that invalidates the token too, and the response is returned (gRPC
//!   calls are not replayed).
//! - **`https` only.** As with the middleware, a token goes over plain `http` only to loopback
//!   hosts ([`RequestPolicy::check_uri`]); a request whose URI has no scheme (tonic's
//!   `Client::new`) is refused, since where it goes cannot be checked: build tonic clients with
//!   `with_origin`.
//!
//! For tonic interceptors, which are synchronous, [`Authorizer::try_current_token`] gives the
//! current token now or an error, starting the renewal in the background.
//!
//! ```
//! use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
//! use en_auth_tower::AuthorizerLayer;
//! use tower_layer::Layer;
//! # struct Fixed(ClientInfo);
//! # impl TokenProvider for Fixed {
//! #     async fn authorize(&self) -> Result<Token, Error> { Ok(Token::new("t", None)) }
//! #     fn client_info(&self) -> &ClientInfo { &self.0 }
//! # }
//! # #[derive(Clone)] struct Inner;
//! # impl tower_service::Service<http::Request<String>> for Inner {
//! #     type Response = http::Response<String>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: http::Request<String>) -> Self::Future { std::future::ready(Ok(http::Response::new(String::new()))) }
//! # }
//!
//! let authorizer = Authorizer::new(Fixed(ClientInfo::new("svc", "secret")));
//! // Any `Service<http::Request<B>>` that is `Clone`: a hyper-util client, a tonic `Channel`, …
//! let service = AuthorizerLayer::new(authorizer).layer(Inner);
//! # let _ = service;
//! ```
//!
//! [`Authorizer`]: en_auth_core::Authorizer
//! [`RequestPolicy`]: en_auth_core::RequestPolicy
//! [`RequestPolicy::check_uri`]: en_auth_core::RequestPolicy::check_uri
//! [`Authorizer::try_current_token`]: en_auth_core::Authorizer::try_current_token

mod future;
mod layer;
mod replay;
mod service;

pub use en_auth_core::GRPC_STATUS_UNAUTHENTICATED;
pub use future::ResponseFuture;
pub use layer::AuthorizerLayer;
pub use replay::{NoReplay, Replay, ReplayClone, ReplayEmpty};
pub use service::AuthorizerService;

/// The error of an [`AuthorizerService`]: the inner service's error, or an
/// [`en_auth_core::Error`] (the request may not carry a token, or none could be obtained),
/// boxed as tower's services usually are. Downcast to tell them apart:
/// `error.downcast_ref::<en_auth_core::Error>()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
