//! # en-auth-testkit
//!
//! In-process emulators for tests and demos, on loopback, with no Python or Node needed:
//!
//! - [`OAuthServer`]: an OAuth2 token endpoint for the client-credentials grant (RFC 6749
//!   §4.4) with `client_secret_basic` (§2.3.1 form-decoding) and `client_secret_post`,
//!   configurable token lifetime, scriptable failures and delays, and request counters;
//!   and a protected resource that accepts only active bearer tokens it issued (RFC 6750),
//!   answering `401` with `WWW-Authenticate: Bearer error="invalid_token"` otherwise.
//! - [`CognitoServer`]: an Amazon Cognito user-pool API (AWS JSON 1.1, as the AWS SDKs and
//!   amazon-cognito-identity-js speak it) that really verifies `USER_SRP_AUTH` password proofs
//!   (RFC 5054 3072-bit group, Cognito's "Caldera Derived Key" HKDF), enforces `SECRET_HASH`,
//!   signs in with e-mail aliases, refreshes (`REFRESH_TOKEN_AUTH`, and
//!   `GetTokensFromRefreshToken` with rotation), answers `GetUser`, can put MFA and other
//!   challenges in the way, and fails on script with any Cognito error; with counters, and a
//!   protected resource that accepts only the live access tokens it issued.
//! - [`FaultyEndpoint`]: an HTTP endpoint that answers each request with the next scripted
//!   [`Reply`] — any status and body, silence, a trickling or endless body, a dropped
//!   connection — for fault-injection tests.
//! - [`emulators`]: an OAuth2 token endpoint and a Cognito user pool with a demo client and
//!   user, and the environments file pointing at them (`cargo xtask emulators`).
//! - [`TcpProxy`]: a TCP proxy that can go silent (keeps connections, forwards nothing) and
//!   speak again, for tests of a hung server (Redis, in `en-auth-redis`'s tests).
//!
//! ## Who it is for
//!
//! Anyone who tests code that uses an en-auth authorizer (as a dev-dependency:
//! `en-auth-testkit = "0.1"`), en-auth's own tests, and the demo and `cargo xtask emulators`.
//! Everything runs in the calling process, on loopback, in Rust: nothing to install, no
//! external program. It depends on no en-auth crate: the emulators speak the wire protocols
//! (RFC 6749 and RFC 6750, Cognito's AWS JSON 1.1), so any client can be tested against them.
//! en-auth's tests against the real external servers (oidc-provider, ministack, Redis, …) use
//! `en-auth-peers` instead, which needs en-auth's repository and is not published.
//!
//! ## Which runtime a server runs on
//!
//! `start().await` (on [`OAuthServerBuilder`], [`CognitoServerBuilder`], and
//! [`FaultyEndpoint::start`]) runs the server as a task of the calling Tokio runtime: it stops
//! when its value is dropped *or when that runtime shuts down*. Every `#[tokio::test]` has a
//! runtime of its own, so a server kept in a `static` but started inside one test is gone for
//! the next (its requests fail to connect). `start_on_own_thread()`
//! ([`OAuthServerBuilder::start_on_own_thread`], [`CognitoServerBuilder::start_on_own_thread`],
//! [`FaultyEndpoint::start_on_own_thread`]) runs the server on a thread with a runtime of its
//! own, serving until its value is dropped: that is the one to share between tests, and it can
//! be started from synchronous code. The servers' methods are synchronous and work anywhere.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use en_auth_testkit::OAuthServer;
//!
//! let server = OAuthServer::builder().client("svc", "secret").token_lifetime_secs(60).start().await;
//! assert!(server.token_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.token_requests(), 0);
//! # }
//! ```
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use en_auth_testkit::{AppClient, CognitoServer, PoolUser};
//!
//! let server = CognitoServer::builder()
//!     .pool_id("eu-west-1_Example")
//!     .client(AppClient::public("app"))
//!     .user(PoolUser::new("alice", "Corr3ct-Horse!").email("alice@example.com"))
//!     .access_token_lifetime_secs(300)
//!     .start()
//!     .await;
//! assert!(server.endpoint().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.region(), "eu-west-1");
//! server.fail_next("InitiateAuth", "TooManyRequestsException", "Rate exceeded", 1);
//! assert_eq!(server.verified_logins(), 0);
//! # }
//! ```

mod cognito;
pub mod emulators;
mod faults;
mod oauth;
mod proxy;
mod resource;
mod serving;

pub use cognito::{
    AppClient, CognitoServer, CognitoServerBuilder, OneTimeCode, PoolUser, Script,
    ScriptedChallenge, UserStatus,
};
pub use faults::{FaultyEndpoint, Reply};
pub use oauth::{Behaviour, OAuthServer, OAuthServerBuilder};
pub use proxy::TcpProxy;
