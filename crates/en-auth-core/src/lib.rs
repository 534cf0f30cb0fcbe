//! # en-auth-core
//!
//! The shared core of en-auth: authorize `reqwest` requests to services protected by OAuth2
//! or AWS Cognito without ever handling a token.
//!
//! - [`ClientInfo`] and [`UserCredentials`]: who asks, with secrets that never print.
//! - [`TokenProvider`]: the Python `en_auth` package's abstract `authorize()` / `expired(token)` / `refresh(token)`,
//!   implemented by a flow (`en-auth-oauth2`'s `ServiceAccountAuthorizer`, `en-auth-srp`'s
//!   `SrpAuthorizer`, or your own).
//! - [`Authorizer`]: the caching, single-flight authorizer over any provider, with a lock-free
//!   hot path, renewal before expiry, and a [`reqwest_middleware::Middleware`] that adds
//!   `Authorization: Bearer …` and `X-Api-Key` to every request and replays once on 401.
//! - `BlockingAuthorizer` (cargo feature `blocking`): the same authorizer for synchronous code,
//!   usable from any thread, with a helper that sends `reqwest::blocking` requests.
//! - [`Environment`]: which endpoints an environment id means.
//! - [`enum@Error`]: the Python `en_auth` package's `AuthorizationError`, `InvalidClientError` and
//!   `InvalidCredentialsError`, plus transport, response and configuration errors.
//!
//! Most users depend on `en-auth-oauth2` or `en-auth-srp`, which re-export this crate.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorizer;
#[cfg(feature = "blocking")]
mod blocking;
mod builder;
mod cache;
mod client;
mod clock;
mod contract;
pub mod dpop;
mod environment;
mod error;
mod flight;
mod io;
mod local_store;
mod middleware;
mod middleware_error;
mod policy;
mod printable;
pub mod private_files;
mod provider;
mod request_policy;
pub mod sealed;
mod shared;
mod store;
pub mod telemetry;
mod token;

use std::time::Duration;

use http::HeaderName;

pub use authorizer::{Authorizer, TokenUnavailable};
#[cfg(feature = "blocking")]
pub use blocking::{BlockingAuthorizer, BlockingError, DEFAULT_WAIT_LIMIT};
pub use builder::AuthorizerBuilder;
pub use cache::{CacheMiss, CurrentToken};
pub use client::{ClientInfo, UserCredentials};
pub use contract::{OutgoingRequest, RequestTarget, Ticket, Verdict, GRPC_STATUS_UNAUTHENTICATED};
pub use dpop::{Dpop, DpopClaims, DpopSigner};
pub use environment::{
    is_loopback, ClientAssertionConfig, DpopConfig, Environment, GrantType, IntoEnvironment,
    Issuer, SigningAlgorithm, TlsClientConfig, TokenEndpointAuthMethod, TokenExchangeConfig,
    ENVIRONMENTS_VAR,
};
pub use error::{
    AccountError, AuthorizationError, ChallengeError, ConfigurationError, Cooldown, Error,
    InternalError, InvalidClientError, InvalidCredentialsError, InvalidResponseError, Source,
    TransportError, TransportErrorKind, RETRYABLE_CODES,
};
pub use io::run_on_io_runtime;
pub use local_store::LocalStore;
pub use middleware_error::auth_error;
pub use policy::{renewal_gap, RenewalPolicy, MAX_GAP_FRACTION};
pub use printable::printable;
pub use provider::TokenProvider;
pub use request_policy::{same_origin_redirects, RequestPolicy};
pub use store::{
    decode_encryption_key, latest_credible_expiry, redacted_urls, SharedCacheConfig,
    SharedIdentity, SharedKey, SharedStore, SharedStoreSettings, SharedToken, StoreError,
    StoreResult,
};
pub use telemetry::RenewalTrigger;
pub use token::{Token, EXPIRES_IN_RESOLUTION, MAX_LIFETIME};

pub use reqwest_middleware;

pub use secrecy;

/// The standard `Authorization` header (RFC 9110 §11.6.2), which carries `Bearer <token>`
/// (RFC 6750 §2.1).
pub const AUTHORIZATION_HEADER: HeaderName = http::header::AUTHORIZATION;

/// The `X-Api-Key` header, sent with every authorized request when the client has an API key
/// (as AWS API Gateway expects).
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The default time allowed for one token request (an OAuth2 token request, or one Cognito
/// call): 10 seconds, from connecting to the last byte of the response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time allowed to connect to a token endpoint or to Cognito: 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long before its expiry a token is renewed: 60 seconds.
///
/// Long enough to cover a request's flight time and modest clock skew between the resource
/// server and the issuer; short enough to waste little of a typical one-hour token. For short
/// lifetimes the gap is capped at a quarter of the lifetime ([`MAX_GAP_FRACTION`]), so a
/// 5-second token is used for 3.75 seconds rather than renewed on every request.
pub const EXPIRATION_GAP: Duration = Duration::from_secs(60);
