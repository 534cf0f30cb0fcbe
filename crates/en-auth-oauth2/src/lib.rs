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
//!
//! A person signs in with [`UserSignIn`] — the device authorization grant (RFC 8628) or the
//! authorization code grant with PKCE in the browser (RFC 7636, RFC 8252) — and the
//! [`UserSession`] it gives renews the access token with the refresh token behind the same
//! caching [`Authorizer`].

#![cfg_attr(docsrs, feature(doc_cfg))]

mod assertion_file;
mod client_auth;
mod discovery;
#[cfg(feature = "dpop")]
mod dpop;
mod exchange;
mod http;
#[cfg(feature = "jwt")]
mod jwt;
mod mtls;
mod normalize;
mod parse;
mod provider;
mod request;
mod user;
mod wire;

pub use discovery::DEFAULT_DISCOVERY_TTL;
#[cfg(feature = "dpop")]
pub use dpop::DpopKey;
/// The core crate: the authorizer's machinery, for what the names below do not cover (a
/// [`TokenProvider`] of your own, the shared-store trait's types).
pub use en_auth_core as core;
pub use en_auth_core::{
    auth_error, same_origin_redirects, AuthorizationError, Authorizer, AuthorizerBuilder,
    CacheMiss, ClientAssertionConfig, ClientInfo, ConfigurationError, Cooldown, CurrentToken, Dpop,
    DpopConfig, Environment, Error, GrantType, InternalError, IntoEnvironment, InvalidClientError,
    InvalidResponseError, Issuer, LocalStore, OutgoingRequest, RenewalPolicy, RenewalTrigger,
    RequestPolicy, SharedStore, SharedStoreSettings, SigningAlgorithm, Ticket, TlsClientConfig,
    Token, TokenEndpointAuthMethod, TokenExchangeConfig, TokenProvider, TokenUnavailable,
    TransportError, TransportErrorKind, Verdict, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
    ENVIRONMENTS_VAR,
};
pub use en_auth_core::{reqwest_middleware, secrecy, telemetry};
#[cfg(feature = "blocking")]
pub use en_auth_core::{BlockingAuthorizer, BlockingError};
/// The shared token store on Redis (the `redis` feature, off by default): see `en-auth-redis`.
#[cfg(feature = "redis")]
pub use en_auth_redis::{RedisStore, RedisStoreBuilder};
pub use exchange::{token_types, SubjectToken, TokenExchange, TOKEN_EXCHANGE_GRANT_TYPE};
pub use http::{
    shared_token_http_client, token_http_client, DEFAULT_MAX_RESPONSE_BYTES,
    MAX_CONNECTIONS_PER_ENDPOINT,
};
#[cfg(feature = "jwt")]
pub use jwt::ClientAssertionSigner;
pub use mtls::TlsClientIdentity;
pub use parse::{parse_token_response, parse_token_response_with_content_type};
pub use provider::ClientCredentials;
pub use reqwest;
pub use user::{
    BrowserSignIn, DeviceAuthorization, OpenBrowser, PendingBrowserSignIn, SignInError,
    UserAuthorizer, UserSession, UserSessionStore, UserSessionStoreError, UserSignIn,
    DEFAULT_BROWSER_TIMEOUT, DEVICE_CODE_GRANT_TYPE,
};
pub use wire::DEFAULT_EXPIRES_IN;

/// Authorizes requests for a service account: as the Python `en_auth` package's
/// `ServiceAccountAuthorizer(client_info, environment)`.
///
/// An [`Authorizer`] over the [`ClientCredentials`] provider, with the constructors of this
/// flow. It dereferences to the [`Authorizer`] ([`Authorizer::access_token`],
/// [`Authorizer::authorize`], [`Authorizer::blocking`], …), converts into one (`.into()`, for
/// `en-auth-tower`'s `AuthorizerLayer::new`), and is a [`reqwest_middleware::Middleware`].
/// Clones share one token cache.
///
/// (A type of its own rather than an alias of `Authorizer<ClientCredentials>`: Rust lets only
/// the crate that defines a type give it inherent constructors such as
/// [`ServiceAccountAuthorizer::new`].)
#[derive(Clone)]
pub struct ServiceAccountAuthorizer(
    Authorizer<ClientCredentials>,
    /// The extra trust anchors of the builder, for the resource client.
    std::sync::Arc<[reqwest::Certificate]>,
);

impl ServiceAccountAuthorizer {
    /// An authorizer for `client_info` in `environment` (an [`Environment`], or an id to load
    /// from the environments file), with the default HTTP settings: [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_CONNECT_TIMEOUT`], no redirects, [`DEFAULT_MAX_RESPONSE_BYTES`].
    ///
    /// No request is made until the first token is needed.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded or has neither a
    /// `token_url` nor an `issuer`, or the client info is unusable ([`ClientInfo::validate`])
    /// or has no secret (an unset `CLIENT_SECRET`, say) while its authentication method needs
    /// one (`client_secret_basic`, `_post`, `_jwt`; a `private_key_jwt` client, one with a
    /// `client_assertion_file`, a jwt-bearer grant need none), or the client authentication
    /// cannot be set up (an unusable `private_key_file`, a JWT method without the `jwt`
    /// feature).
    pub fn new(client_info: ClientInfo, environment: impl IntoEnvironment) -> Result<Self, Error> {
        Self::builder(client_info, environment).build()
    }

    /// A builder, to set the HTTP client, timeouts, policies or the response cap.
    pub fn builder(
        client_info: ClientInfo,
        environment: impl IntoEnvironment,
    ) -> ServiceAccountAuthorizerBuilder {
        ServiceAccountAuthorizerBuilder {
            client_info,
            #[cfg(feature = "jwt")]
            signer: None,
            http: None,
            tls_identity: None,
            root_certificates: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            discovery_ttl: DEFAULT_DISCOVERY_TTL,
            settings: AuthorizerBuilder::new().with_environment(environment),
            dpop: None,
        }
    }

    /// The caching authorizer inside.
    pub fn authorizer(&self) -> &Authorizer<ClientCredentials> {
        &self.0
    }

    /// A `reqwest::ClientBuilder` for the client that sends this authorizer's requests: it
    /// presents the TLS client certificate of the token requests, if there is one
    /// ([`ClientCredentials::tls_client_identity`]), and trusts the builder's extra root
    /// certificates ([`ServiceAccountAuthorizerBuilder::add_root_certificate`]); otherwise it
    /// is `reqwest::Client::builder()`.
    ///
    /// A server that binds its tokens to the client's certificate (RFC 8705 §3,
    /// `tls_client_certificate_bound_access_tokens`) accepts them only from a client that
    /// presents the same certificate: a resource answers a bound token sent without it with
    /// `401` and `invalid_token`. Build the client that carries the authorizer with this
    /// builder:
    ///
    /// ```no_run
    /// # use en_auth_oauth2::{ClientInfo, ServiceAccountAuthorizer};
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let authorizer = ServiceAccountAuthorizer::new(ClientInfo::public("svc"), "prod")?;
    /// let http = authorizer
    ///     .resource_client_builder()
    ///     .redirect(en_auth_oauth2::same_origin_redirects())
    ///     .build()?;
    /// let client = en_auth_oauth2::reqwest_middleware::ClientBuilder::new(http)
    ///     .with(authorizer)
    ///     .build();
    /// # Ok(()) }
    /// ```
    ///
    /// For hyper or tonic clients (en-auth-tower's layer), give their TLS connector the same
    /// certificate and key: a `rustls::ClientConfig` built
    /// `.with_client_auth_cert(identity.certificate_chain(), identity.private_key())` from
    /// [`TlsClientIdentity`] (hyper-rustls' `HttpsConnectorBuilder::with_tls_config`; tonic's
    /// `ClientTlsConfig::identity(Identity::from_pem(certificate, key))` reads the same PEM
    /// files).
    pub fn resource_client_builder(&self) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder();
        if let Some(identity) = self.0.provider().tls_client_identity() {
            builder = builder.identity(identity.reqwest_identity());
        }
        if !self.1.is_empty() {
            builder = builder.tls_certs_merge(self.1.iter().cloned());
        }
        builder
    }

    /// [`resource_client_builder`](Self::resource_client_builder) for `reqwest::blocking`: the
    /// client to give [`BlockingAuthorizer::send`] and `execute` (through
    /// [`Authorizer::blocking`]), presenting the TLS client certificate of the token requests.
    /// The `blocking` feature.
    ///
    /// Build the client where no Tokio runtime is running (`reqwest::blocking`'s rule).
    #[cfg(feature = "blocking")]
    pub fn blocking_resource_client_builder(&self) -> reqwest::blocking::ClientBuilder {
        let mut builder = reqwest::blocking::Client::builder();
        if let Some(identity) = self.0.provider().tls_client_identity() {
            builder = builder.identity(identity.reqwest_identity());
        }
        if !self.1.is_empty() {
            builder = builder.tls_certs_merge(self.1.iter().cloned());
        }
        builder
    }
}

impl std::ops::Deref for ServiceAccountAuthorizer {
    type Target = Authorizer<ClientCredentials>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AsRef<Authorizer<ClientCredentials>> for ServiceAccountAuthorizer {
    fn as_ref(&self) -> &Authorizer<ClientCredentials> {
        &self.0
    }
}

impl From<ServiceAccountAuthorizer> for Authorizer<ClientCredentials> {
    fn from(authorizer: ServiceAccountAuthorizer) -> Self {
        authorizer.0
    }
}

impl std::fmt::Debug for ServiceAccountAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ServiceAccountAuthorizer")
            .field(self.0.provider())
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
        self.0.handle(request, extensions, next).await
    }
}

/// Builds a [`ServiceAccountAuthorizer`] with non-default HTTP or renewal settings.
#[derive(Debug)]
pub struct ServiceAccountAuthorizerBuilder {
    client_info: ClientInfo,
    #[cfg(feature = "jwt")]
    signer: Option<ClientAssertionSigner>,
    http: Option<reqwest::Client>,
    tls_identity: Option<TlsClientIdentity>,
    root_certificates: Vec<reqwest::Certificate>,
    max_response_bytes: usize,
    discovery_ttl: std::time::Duration,
    settings: AuthorizerBuilder,
    dpop: Option<Dpop>,
}

impl ServiceAccountAuthorizerBuilder {
    /// How tokens are renewed and failed token requests retried:
    /// [`AuthorizerBuilder::renewal_policy`].
    #[must_use]
    pub fn renewal_policy(mut self, policy: RenewalPolicy) -> Self {
        self.settings = self.settings.renewal_policy(policy);
        self
    }

    /// Which requests may carry the token and which answers reject it:
    /// [`AuthorizerBuilder::request_policy`].
    #[must_use]
    pub fn request_policy(mut self, requests: RequestPolicy) -> Self {
        self.settings = self.settings.request_policy(requests);
        self
    }

    /// The time allowed for one token request (default [`DEFAULT_TIMEOUT`]):
    /// [`AuthorizerBuilder::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.settings = self.settings.timeout(timeout);
        self
    }

    /// The time allowed to connect (default [`DEFAULT_CONNECT_TIMEOUT`]):
    /// [`AuthorizerBuilder::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.settings = self.settings.connect_timeout(timeout);
        self
    }

    /// Shares tokens with the other processes of a fleet through `store`:
    /// [`AuthorizerBuilder::shared_store`].
    #[must_use]
    pub fn shared_store(mut self, store: impl SharedStore) -> Self {
        self.settings = self.settings.shared_store(store);
        self
    }

    /// How the shared store is used: [`AuthorizerBuilder::shared_store_settings`].
    #[must_use]
    pub fn shared_store_settings(mut self, settings: SharedStoreSettings) -> Self {
        self.settings = self.settings.shared_store_settings(settings);
        self
    }

    /// Sends token requests with `client` instead of the shared one
    /// ([`shared_token_http_client`], one per connect timeout). It should not follow redirects
    /// (see [`token_http_client`]). The builder's [`timeout`](Self::timeout) applies to each
    /// token request; its [`connect_timeout`](Self::connect_timeout) does not (it is the
    /// client's).
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Presents `identity` — a client certificate and its key — in the TLS handshake of every
    /// token request (RFC 8705), instead of the environment's `tls_client_certificate_file`
    /// and `tls_client_key_file`: for `tls_client_auth` and `self_signed_tls_client_auth`,
    /// and for certificate-bound tokens with any method. Send the tokens with a client from
    /// [`ServiceAccountAuthorizer::resource_client_builder`], which presents it too.
    ///
    /// The token requests then go through an HTTP client of this authorizer's own (with its
    /// own connections), not the process-wide [`shared_token_http_client`]. With
    /// [`http_client`](Self::http_client), that client must present the identity itself.
    #[must_use]
    pub fn tls_client_identity(mut self, identity: TlsClientIdentity) -> Self {
        self.tls_identity = Some(identity);
        self
    }

    /// Trusts `certificate` as a root certificate authority, besides the system's: for the
    /// token endpoint (unless an [`http_client`](Self::http_client) is given) and for the
    /// clients of [`ServiceAccountAuthorizer::resource_client_builder`]. For a private PKI's
    /// servers.
    #[must_use]
    pub fn add_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// Authenticates the client with `signer`'s assertions (a private key held in memory rather
    /// than in a `private_key_file`), whatever the environment's method says. The client then
    /// needs no secret. The `jwt` feature.
    #[cfg(feature = "jwt")]
    #[must_use]
    pub fn client_assertion_signer(mut self, signer: ClientAssertionSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Binds the tokens to `key` with DPoP (RFC 9449), whatever the environment says (its
    /// `dpop_allow_bearer` still applies): a proof signed with it goes with every token
    /// request and every authorized request, and the tokens are sent as `Authorization: DPoP
    /// …`. The `dpop` feature. Without this call, `dpop = true` in the environment binds them
    /// to a key generated for this authorizer (or read from `dpop_key_file`).
    #[cfg(feature = "dpop")]
    #[must_use]
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(Dpop::new(key));
        self
    }

    /// The cap on a token response body (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How long the issuer's discovered metadata is used before it is fetched again (default
    /// [`DEFAULT_DISCOVERY_TTL`]): [`ClientCredentials::with_discovery_ttl`].
    #[must_use]
    pub fn discovery_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.discovery_ttl = ttl;
        self
    }

    /// Builds the authorizer.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded or has neither a
    /// `token_url` nor an `issuer`, the client info is unusable ([`ClientInfo::validate`]) or
    /// has no secret while its method needs one, the client authentication cannot be set up,
    /// the TLS client certificate or key cannot be read or do not match (the error names the
    /// file, never its content), or the HTTP client cannot be built.
    pub fn build(self) -> Result<ServiceAccountAuthorizer, Error> {
        let environment = self.settings.environment()?.clone();
        self.client_info.validate()?;
        #[cfg(feature = "jwt")]
        let signer = self.signer;
        #[cfg(not(feature = "jwt"))]
        let signer: Option<std::convert::Infallible> = None;
        if signer.is_none() && environment.needs_client_secret() && !self.client_info.has_secret() {
            return Err(ConfigurationError::new(format!(
                "the client secret of `{}` is empty (is CLIENT_SECRET set?): {} needs one (a client \
                 that authenticates by key uses token_endpoint_auth_method = \"private_key_jwt\")",
                self.client_info.client_id(),
                environment.token_endpoint_auth_method().as_str()
            ))
            .with_field("client_secret")
            .into());
        }
        let tls_identity = match self.tls_identity {
            Some(identity) => Some(identity),
            None => TlsClientIdentity::from_environment(&environment)?,
        };
        let connect_timeout = self.settings.connect_timeout_setting();
        // The shared client: its discovery fetches are shared with the other authorizers on
        // it; a client of the caller's, or one presenting a certificate or trusting private
        // roots, keeps its own (src/discovery.rs says why).
        let on_shared_client =
            self.http.is_none() && tls_identity.is_none() && self.root_certificates.is_empty();
        let shared = on_shared_client.then_some(connect_timeout);
        let http = match self.http {
            Some(client) => client,
            None if on_shared_client => shared_token_http_client(connect_timeout)?,
            None => http::tls_token_http_client(
                connect_timeout,
                tls_identity.as_ref(),
                &self.root_certificates,
            )?,
        };
        #[cfg(feature = "jwt")]
        let authentication = signer.map(client_auth::ClientAuthentication::with_signer);
        #[cfg(not(feature = "jwt"))]
        let authentication = None;
        // A key given in code, with the environment's `dpop_allow_bearer`; the environment's
        // own key is then neither read nor generated.
        let allow_bearer = environment.dpop().is_some_and(|config| config.allow_bearer);
        let dpop = self.dpop.map(|dpop| dpop.with_bearer_allowed(allow_bearer));
        let provider = ClientCredentials::build(
            self.client_info,
            environment,
            http,
            authentication,
            tls_identity,
            dpop,
        )?;
        let provider = provider
            .with_timeout(self.settings.timeout_setting())
            .with_max_response_bytes(self.max_response_bytes)
            .with_discovery_ttl(self.discovery_ttl)
            .sharing_shared_client_fetches(shared);
        let roots = self.root_certificates.into();
        self.settings
            .build_sharing(provider, open_shared_store)
            .map(|authorizer| ServiceAccountAuthorizer(authorizer, roots))
    }
}

/// The store of an environment's `shared_cache` table: a `RedisStore`.
#[cfg(feature = "redis")]
fn open_shared_store(
    config: &en_auth_core::SharedCacheConfig,
) -> Result<std::sync::Arc<dyn en_auth_core::SharedStore>, Error> {
    Ok(std::sync::Arc::new(en_auth_redis::RedisStore::from_config(
        config,
    )?))
}

/// The store of an environment's `shared_cache` table.
#[cfg(not(feature = "redis"))]
fn open_shared_store(
    config: &en_auth_core::SharedCacheConfig,
) -> Result<std::sync::Arc<dyn en_auth_core::SharedStore>, Error> {
    Err(ConfigurationError::new(format!(
        "the environment has a `shared_cache` table ({}), but en-auth-oauth2 was built without \
         its `redis` feature: enable it (`features = [\"redis\"]`), or remove the table",
        config.redacted_url()
    ))
    .with_field("shared_cache")
    .into())
}
