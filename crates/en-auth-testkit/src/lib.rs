//! # en-auth-testkit
//!
//! In-process emulators for tests and demos, on loopback, with no Python or Node needed:
//!
//! - [`OAuthServer`]: an OAuth2 token endpoint for the client-credentials grant (RFC 6749
//!   §4.4) with `client_secret_basic` (§2.3.1 form-decoding) and `client_secret_post`,
//!   configurable token lifetime, scriptable failures and delays, and request counters;
//!   and a protected resource that accepts only active bearer tokens it issued (RFC 6750),
//!   answering `401` with `WWW-Authenticate: Bearer error="invalid_token"` otherwise.
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

mod oauth;

pub use oauth::{Behaviour, OAuthServer, OAuthServerBuilder};
