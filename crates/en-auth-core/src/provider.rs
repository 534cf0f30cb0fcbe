//! [`TokenProvider`]: the abstract `Authorizer` interface of the Python `en_auth` package — `authorize()`,
//! `expired(token)` and `refresh(token)` — that a flow implements and the caching
//! [`Authorizer`](crate::Authorizer) drives.

use std::future::Future;

use crate::{ClientInfo, Error, Token};

/// A source of access tokens: one authorization flow against one environment.
///
/// Implement it for your own service and wrap it in an [`Authorizer`](crate::Authorizer),
/// which supplies everything else: caching, renewal before expiry, single flight, headers and
/// the 401 replay. The provider is only called on the slow path, at most once at a time per
/// authorizer.
///
/// Its calls run as a task on en-auth's I/O runtime (two worker threads shared by every
/// authorizer of the process), not on the caller's runtime: a provider that blocks its thread
/// (a synchronous SDK, a file read) delays every token request of the process and their
/// timeouts — move such work to `tokio::task::spawn_blocking` — and runtime-local state of the
/// caller (`task_local!`, `Handle::current()`) is not there.
///
/// ```
/// use std::time::Duration;
/// use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
///
/// struct StaticProvider { client: ClientInfo }
///
/// impl TokenProvider for StaticProvider {
///     async fn authorize(&self) -> Result<Token, Error> {
///         // Call your token service here.
///         Ok(Token::new("token-from-my-service", Some(Duration::from_secs(300))))
///     }
///     fn client_info(&self) -> &ClientInfo { &self.client }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
/// let authorizer = Authorizer::new(StaticProvider { client: ClientInfo::new("id", "secret") });
/// let token = authorizer.access_token().await?;
/// assert_eq!(authorizer.client_id(), "id");
/// # use secrecy::ExposeSecret; assert_eq!(token.secret().expose_secret(), "token-from-my-service");
/// # Ok(()) }
/// ```
pub trait TokenProvider: Send + Sync + 'static {
    /// Obtains a new token from scratch (the Python `en_auth` package's abstract `authorize()`).
    ///
    /// # Errors
    /// Any [`enum@Error`]; [`Error::InvalidClient`] and [`Error::InvalidCredentials`] when the
    /// server rejects the client or user.
    fn authorize(&self) -> impl Future<Output = Result<Token, Error>> + Send;

    /// Renews `token` (the Python `en_auth` package's `refresh(token)`). The default obtains a new token with
    /// [`TokenProvider::authorize`], which is what a client-credentials flow does. A flow with
    /// refresh tokens overrides it; when it returns an error for which
    /// [`Error::is_refresh_refused`] is true, the authorizer falls back to `authorize()`.
    ///
    /// # Errors
    /// As [`TokenProvider::authorize`].
    fn refresh(&self, token: &Token) -> impl Future<Output = Result<Token, Error>> + Send {
        let _ = token;
        self.authorize()
    }

    /// Whether `token` needs renewal (the Python `en_auth` package's `expired(token)`). Called
    /// on the hot path, so it must be cheap and must not block. The default is
    /// [`Token::needs_renewal`].
    #[inline]
    fn expired(&self, token: &Token) -> bool {
        token.needs_renewal()
    }

    /// The client on whose behalf tokens are obtained; its API key, if any, is sent with every
    /// authorized request.
    fn client_info(&self) -> &ClientInfo;

    /// A short name of the flow for logs and spans, such as `client_credentials`.
    fn flow(&self) -> &'static str {
        "custom"
    }

    /// The environment id for logs and spans, if the provider has one.
    fn environment_id(&self) -> Option<&str> {
        None
    }

    /// What identifies this provider's token requests across processes, when its tokens may
    /// be shared through a [`SharedStore`](crate::SharedStore): everything that makes the
    /// token endpoint issue a different token (token URL or issuer, client id, authentication
    /// method, scopes, resource indicators, audience, extra parameters). `None` (the default) never shares: a flow with user
    /// sessions, or a provider that cannot tell.
    fn shared_identity(&self) -> Option<crate::SharedIdentity> {
        None
    }

    /// The client's DPoP key (RFC 9449), when this provider obtains DPoP-bound tokens: the
    /// [`Authorizer`](crate::Authorizer) signs a proof with it for every request that carries
    /// such a token, and keeps the servers' nonces in it. `None` (the default): bearer tokens
    /// only.
    fn dpop(&self) -> Option<crate::Dpop> {
        None
    }
}
