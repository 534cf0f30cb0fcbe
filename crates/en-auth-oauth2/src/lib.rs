//! # en-auth-oauth2
//!
//! [`ServiceAccountAuthorizer`]: authorize `reqwest` requests with tokens from the OAuth2
//! client-credentials grant (RFC 6749 §4.4), cached, renewed before they expire, and sent as
//! `Authorization: Bearer …` (plus `X-Api-Key` when the client has one).
//!
//! ```no_run
//! use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client_info = ClientInfo::new("my-client-id", "my-client-secret");
//! let environment = Environment::new("dev")
//!     .with_token_url("https://auth.example.com/oauth2/token")?
//!     .with_scopes(["api/read"]);
//! let authorizer = ServiceAccountAuthorizer::new(client_info, environment)?;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(authorizer.clone())
//!     .build();
//! let body = client.get("https://api.example.com/resource").send().await?.text().await?;
//! # Ok(()) }
//! ```
//!
//! The environment can also be loaded by id from the TOML file named by `EN_AUTH_ENVIRONMENTS`
//! (see [`Environment`]): `ServiceAccountAuthorizer::new(client_info, "dev")`.

mod http;
mod normalize;
mod provider;
mod wire;

use std::ops::Deref;
use std::time::Duration;

pub use en_auth_core::{
    self as core, reqwest_middleware, run_on_io_runtime, secrecy, AuthorizationError, Authorizer,
    ClientInfo, ConfigurationError, Cooldown, CurrentToken, Environment, Error, IntoEnvironment,
    InvalidClientError, InvalidCredentialsError, InvalidResponseError, RenewalPolicy,
    RequestPolicy, Token, TokenEndpointAuthMethod, TokenProvider, TransportError,
    TransportErrorKind, API_KEY_HEADER, AUTHORIZATION_HEADER, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT, EXPIRATION_GAP,
};
pub use http::{
    shared_token_http_client, token_http_client, DEFAULT_MAX_RESPONSE_BYTES,
    MAX_CONNECTIONS_PER_ENDPOINT,
};
pub use provider::ClientCredentials;
pub use reqwest;
pub use wire::DEFAULT_EXPIRES_IN;

/// Parses a token endpoint's successful response body (RFC 6749 §5.1) with the authorizer's
/// parser: `access_token` required, `expires_in` as a number, a numeric string, `null` or absent
/// ([`DEFAULT_EXPIRES_IN`]), `token_type` Bearer in any case, `scope` a string or an array of
/// strings (joined with spaces), an `error` member treated as an error (§5.2). The token's life
/// counts from `requested_at` (see [`Token::from_expires_in`]). `endpoint` and `client_id` only
/// name things in errors.
///
/// The body is recognised by its shape, as the authorizer recognises it whatever the
/// `Content-Type`: a JSON object (after an optional UTF-8 byte-order mark), or a form-encoded
/// body (`access_token=…&token_type=bearer`, as GitHub answers) with an `access_token` or an
/// `error` parameter, made only of the characters a form encoder emits. Form values are strings,
/// read as the same strings in JSON would be. When the response's `Content-Type` is at hand,
/// [`parse_token_response_with_content_type`] also accepts a body labelled
/// `application/x-www-form-urlencoded` that holds unencoded characters (spaces, say).
///
/// ```
/// use std::time::Instant;
///
/// let token = en_auth_oauth2::parse_token_response(
///     br#"{"access_token":"abc","token_type":"bearer","expires_in":"3600"}"#,
///     Instant::now(),
///     "https://auth.example.com/token",
///     "client",
/// )?;
/// assert_eq!(token.lifetime().unwrap().as_secs(), 3599);
///
/// let token = en_auth_oauth2::parse_token_response(
///     b"access_token=abc&token_type=bearer&expires_in=3600&scope=",
///     Instant::now(),
///     "https://github.com/login/oauth/access_token",
///     "client",
/// )?;
/// assert_eq!(token.scope(), Some(""));
/// # Ok::<(), en_auth_oauth2::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidResponse`] for a body that is neither (HTML, truncated JSON, a JSON array)
/// or has no usable token — its reason says which, never quoting the body;
/// [`Error::InvalidClient`] / [`Error::Authorization`] (status 200) for an `error` member or
/// parameter.
pub fn parse_token_response(
    body: &[u8],
    requested_at: std::time::Instant,
    endpoint: &str,
    client_id: &str,
) -> Result<Token, Error> {
    parse(body, None, requested_at, endpoint, client_id)
}

/// [`parse_token_response`], given also the response's `Content-Type` value (`None` if it had
/// none). The content type never decides against a body (JSON is JSON under any label, which is
/// what servers get wrong), but `application/x-www-form-urlencoded` lets a form-encoded body be
/// read leniently (unencoded spaces and other characters a form encoder would have escaped),
/// and errors name the content type.
///
/// ```
/// use std::time::Instant;
///
/// let token = en_auth_oauth2::parse_token_response_with_content_type(
///     b"access_token=abc&scope=read write",
///     Some("application/x-www-form-urlencoded; charset=utf-8"),
///     Instant::now(),
///     "https://auth.example.com/token",
///     "client",
/// )?;
/// assert_eq!(token.scope(), Some("read write"));
///
/// let err = en_auth_oauth2::parse_token_response_with_content_type(
///     b"<html>Sign in</html>",
///     Some("text/html"),
///     Instant::now(),
///     "https://auth.example.com/token",
///     "client",
/// )
/// .unwrap_err();
/// assert!(err.to_string().contains("text/html"));
/// # Ok::<(), en_auth_oauth2::Error>(())
/// ```
///
/// # Errors
/// As [`parse_token_response`].
pub fn parse_token_response_with_content_type(
    body: &[u8],
    content_type: Option<&str>,
    requested_at: std::time::Instant,
    endpoint: &str,
    client_id: &str,
) -> Result<Token, Error> {
    parse(body, Some(content_type), requested_at, endpoint, client_id)
}

/// The parsers above; `content_type` is `None` when unknown, `Some(None)` when there was none.
fn parse(
    body: &[u8],
    content_type: Option<Option<&str>>,
    requested_at: std::time::Instant,
    endpoint: &str,
    client_id: &str,
) -> Result<Token, Error> {
    let label = content_type.flatten().map(str::as_bytes);
    let json = normalize::token_body(label, body).map_err(|why| {
        let reason = match content_type {
            Some(content_type) => normalize::describe(why, content_type.map(str::as_bytes)),
            None => why.to_string(),
        };
        InvalidResponseError::new(endpoint, Some(200), reason)
    })?;
    serde_json::from_slice::<wire::WireTokenResponse>(&json)
        .map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Eof => "truncated JSON",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "not a token response object",
                serde_json::error::Category::Io => "unreadable",
            };
            InvalidResponseError::new(endpoint, Some(200), what)
        })?
        .into_token(endpoint, client_id, 200, requested_at)
}

/// Authorizes requests for a service account: the seed's
/// `ServiceAccountAuthorizer(client_info, environment)`.
///
/// An [`Authorizer`] over the [`ClientCredentials`] provider; it dereferences to it, so
/// [`Authorizer::access_token`], [`Authorizer::client_id`] and
/// [`Authorizer::authorize_request`] are available, and it is a
/// [`reqwest_middleware::Middleware`]. Clones share one token cache.
#[derive(Clone)]
pub struct ServiceAccountAuthorizer {
    inner: Authorizer<ClientCredentials>,
}

impl ServiceAccountAuthorizer {
    /// An authorizer for `client_info` in `environment` (an [`Environment`], or an id to load
    /// from the environments file), with the default HTTP settings: [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_CONNECT_TIMEOUT`], no redirects, [`DEFAULT_MAX_RESPONSE_BYTES`].
    ///
    /// No request is made until the first token is needed.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded or has no `token_url`, or
    /// the client info is unusable ([`ClientInfo::validate`]) or has no secret (an unset
    /// `CLIENT_SECRET`, say).
    pub fn new(client_info: ClientInfo, environment: impl IntoEnvironment) -> Result<Self, Error> {
        Self::builder(client_info, environment).build()
    }

    /// A builder, to set the HTTP client, timeouts or the response cap.
    pub fn builder(
        client_info: ClientInfo,
        environment: impl IntoEnvironment,
    ) -> ServiceAccountAuthorizerBuilder {
        ServiceAccountAuthorizerBuilder {
            client_info,
            environment: environment.into_environment(),
            http: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            policy: RenewalPolicy::default(),
            requests: RequestPolicy::default(),
        }
    }

    /// The caching authorizer inside.
    pub fn authorizer(&self) -> &Authorizer<ClientCredentials> {
        &self.inner
    }
}

impl Deref for ServiceAccountAuthorizer {
    type Target = Authorizer<ClientCredentials>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::fmt::Debug for ServiceAccountAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountAuthorizer")
            .field("client_info", self.inner.provider().client_info())
            .field("environment", &self.inner.provider().environment().id())
            .field("token_url", &self.inner.provider().endpoint())
            .finish()
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for ServiceAccountAuthorizer {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut ::http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.inner.handle(request, extensions, next).await
    }
}

/// Builds a [`ServiceAccountAuthorizer`] with non-default HTTP or renewal settings.
#[derive(Debug)]
pub struct ServiceAccountAuthorizerBuilder {
    client_info: ClientInfo,
    environment: Result<Environment, Error>,
    http: Option<reqwest::Client>,
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
    policy: RenewalPolicy,
    requests: RequestPolicy,
}

impl ServiceAccountAuthorizerBuilder {
    /// How tokens are renewed and failed token requests retried (default
    /// [`RenewalPolicy::default`]).
    #[must_use]
    pub fn renewal_policy(mut self, policy: RenewalPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Which requests may carry the token and which answers mean it was rejected (default
    /// [`RequestPolicy::default`]: `https` or loopback only; renew and replay on `401`). For
    /// example, renew on `403` too behind a gateway that answers an expired token so, or allow
    /// plain `http` inside a service mesh that encrypts.
    #[must_use]
    pub fn request_policy(mut self, requests: RequestPolicy) -> Self {
        self.requests = requests;
        self
    }

    /// Sends token requests with `client` instead of the shared one
    /// ([`shared_token_http_client`]). It should not follow redirects (see
    /// [`token_http_client`]). The builder's [`timeout`](Self::timeout) applies to each token
    /// request; its [`connect_timeout`](Self::connect_timeout) does not (it is the client's).
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The time allowed for a whole token request (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time allowed to connect (default [`DEFAULT_CONNECT_TIMEOUT`]). Authorizers with the
    /// same connect timeout share one HTTP client ([`shared_token_http_client`]).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The cap on a token response body (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Builds the authorizer.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded or has no `token_url`, the
    /// client info is unusable ([`ClientInfo::validate`]) or has no secret, or the HTTP client
    /// cannot be built.
    pub fn build(self) -> Result<ServiceAccountAuthorizer, Error> {
        let environment = self.environment?;
        self.client_info.validate()?;
        if !self.client_info.has_secret() {
            return Err(ConfigurationError::new(format!(
                "the client secret of `{}` is empty (is CLIENT_SECRET set?): the client-credentials \
                 grant needs a confidential client",
                self.client_info.client_id()
            ))
            .with_field("client_secret")
            .into());
        }
        let http = match self.http {
            Some(client) => client,
            None => shared_token_http_client(self.connect_timeout)?,
        };
        let provider = ClientCredentials::new(self.client_info, environment, http)?
            .with_timeout(self.timeout)
            .with_max_response_bytes(self.max_response_bytes);
        Ok(ServiceAccountAuthorizer {
            inner: Authorizer::with_policies(provider, self.policy, self.requests),
        })
    }
}
