//! [`ClientCredentials`]: the OAuth2 client-credentials grant (RFC 6749 §4.4) as a
//! [`TokenProvider`].

use std::time::{Duration, Instant};

use en_auth_core::{
    ClientInfo, Environment, Error, GrantType, SharedIdentity, Token, TokenProvider,
};

use crate::client_auth::{default_assertion_audience, ClientAuthentication};
use crate::discovery::Endpoints;
use crate::exchange;
use crate::request::{TokenEndpoint, TokenRequest};
use crate::TlsClientIdentity;

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub(crate) const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Obtains tokens with the client-credentials grant (RFC 6749 §4.4) from the environment's
/// token endpoint: its `token_url`, or else the `token_endpoint` of its issuer's metadata
/// (RFC 8414, OpenID Connect Discovery 1.0; see [`Environment::with_issuer`]), fetched once
/// per process and issuer, kept for [`DEFAULT_DISCOVERY_TTL`](crate::DEFAULT_DISCOVERY_TTL)
/// and fetched again after a token request that failed.
///
/// The client authenticates as the environment says: `client_secret_basic` (id and secret
/// form-urlencoded, then base64, RFC 6749 §2.3.1), `client_secret_post`, `none`, a client
/// assertion (RFC 7523 §2.2: `private_key_jwt` and `client_secret_jwt` with the `jwt` feature,
/// or a `client_assertion_file`); with discovery,
/// the method must be one of the issuer's `token_endpoint_auth_methods_supported`. The
/// environment's scopes, resource indicators (one `resource` parameter each, RFC 8707 §2),
/// `audience` and extra parameters are sent, identically, with every request. A "refresh" is a
/// new grant: client-credentials responses carry no refresh token. With `grant_type =
/// "jwt_bearer"` the grant is RFC 7523 §2.1's, its assertion read from `assertion_file` for
/// every request.
///
/// An environment with a `subject_token_file` ([`Environment::token_exchange`]) asks for
/// RFC 8693 token exchange instead: the file's token (re-read for every request) is exchanged
/// for a token for the environment's audience, resources and scopes (see
/// [`TokenExchange`](crate::TokenExchange) for a subject from another authorizer or a
/// closure). Such tokens, and the jwt-bearer grant's, are never shared through a store: they
/// are the subject's.
///
/// With a TLS client certificate ([`Environment::tls_client`], RFC 8705) the client presents
/// it to the token endpoint — the issuer's `mtls_endpoint_aliases.token_endpoint` when its
/// metadata has one — and may authenticate by it (`tls_client_auth`,
/// `self_signed_tls_client_auth`); the server may bind the tokens to it (see
/// [`ClientCredentials::tls_client_identity`]).
pub struct ClientCredentials {
    client_info: ClientInfo,
    environment: Environment,
    endpoints: Endpoints,
    authentication: ClientAuthentication,
    tls_identity: Option<TlsClientIdentity>,
    /// The DPoP key (RFC 9449) tokens are bound to, if any.
    dpop: Option<en_auth_core::Dpop>,
}

impl ClientCredentials {
    /// A provider for `client_info` against `environment`, sending requests with `http` (for
    /// example [`shared_token_http_client`](crate::shared_token_http_client)). An issuer's
    /// discovered metadata is fetched through `http` for this provider alone: en-auth cannot
    /// tell that another provider's client reaches the same server (proxy, CA roots), so it
    /// shares no fetch with it.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has neither a `token_url` nor an `issuer`,
    /// sets `resource` or `audience` both as a field and as an extra parameter, or its client
    /// authentication cannot be set up: a `private_key_jwt` key file that is missing or
    /// unusable, `client_secret_jwt` without a secret, either without the `jwt` feature; a
    /// TLS client certificate or key that cannot be read or do not match
    /// ([`TlsClientIdentity::from_environment`]), or a `tls_client_auth` method without them.
    ///
    /// With a TLS client certificate in the environment, `http` must present it (a client
    /// built with [`TlsClientIdentity::reqwest_identity`]); `ServiceAccountAuthorizer` builds
    /// such a client itself.
    pub fn new(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let tls_identity = TlsClientIdentity::from_environment(&environment)?;
        Self::build(client_info, environment, http, None, tls_identity, None)
    }

    /// A provider whose client authenticates with `signer`'s assertions (`private_key_jwt`, or
    /// `client_secret_jwt` for an HS256 signer) whatever the environment's
    /// `token_endpoint_auth_method` and key settings say. The `jwt` feature.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has neither a `token_url` nor an `issuer`.
    #[cfg(feature = "jwt")]
    pub fn with_client_assertion_signer(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
        signer: crate::ClientAssertionSigner,
    ) -> Result<Self, Error> {
        let tls_identity = TlsClientIdentity::from_environment(&environment)?;
        Self::build(
            client_info,
            environment,
            http,
            Some(ClientAuthentication::with_signer(signer)),
            tls_identity,
            None,
        )
    }

    /// The provider, with the authentication given (else the environment's), the TLS client
    /// identity `http` presents, and the DPoP key given (else the environment's: a key given
    /// in code means the environment's `dpop_key_file` is not read, nor a key generated).
    pub(crate) fn build(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
        authentication: Option<ClientAuthentication>,
        tls_identity: Option<TlsClientIdentity>,
        dpop: Option<en_auth_core::Dpop>,
    ) -> Result<Self, Error> {
        let mut endpoints = Endpoints::new(&environment, http)?;
        endpoints.set_mutual_tls(tls_identity.is_some());
        exchange::check_target(&environment)?;
        if environment.grant_type() == GrantType::TokenExchange
            && environment.token_exchange().is_none()
        {
            return Err(environment.error(
                "subject_token_file",
                "missing; the token exchange grant needs the subject token's file \
                 (Environment::with_token_exchange), or use TokenExchange for a subject from \
                 another authorizer or a closure",
            ));
        }
        let authentication = match authentication {
            Some(given) => given,
            None => ClientAuthentication::from_config(
                &client_info,
                &environment,
                &default_assertion_audience(&environment),
                tls_identity.as_ref(),
            )?,
        };
        let dpop = match dpop {
            Some(given) => Some(given),
            None => dpop_from_config(&environment)?,
        };
        Ok(Self {
            client_info,
            environment,
            endpoints,
            authentication,
            tls_identity,
            dpop,
        })
    }

    /// The TLS client certificate and key the token requests present (RFC 8705), if any. A
    /// server that binds tokens to it (`tls_client_certificate_bound_access_tokens`, RFC 8705
    /// §3) accepts them only from a client presenting the same certificate: send them with a
    /// client built with this identity (`ServiceAccountAuthorizer::resource_client_builder`).
    pub fn tls_client_identity(&self) -> Option<&TlsClientIdentity> {
        self.tls_identity.as_ref()
    }

    /// Binds the tokens to `dpop`'s key (RFC 9449), whatever the environment says.
    #[must_use]
    pub fn with_dpop(mut self, dpop: en_auth_core::Dpop) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// How long a discovered metadata document is used before it is fetched again (default
    /// [`DEFAULT_DISCOVERY_TTL`](crate::DEFAULT_DISCOVERY_TTL)). The document is shared by
    /// the process's authorizers of the same issuer on the shared HTTP client (those a
    /// [`ServiceAccountAuthorizer`](crate::ServiceAccountAuthorizer) builder made without a
    /// client of their own); each uses it while it is younger than its own TTL.
    #[must_use]
    pub fn with_discovery_ttl(mut self, ttl: Duration) -> Self {
        self.endpoints.set_ttl(ttl);
        self
    }

    /// Shares discovered metadata with the other providers on
    /// `shared_token_http_client(connect_timeout)`, when `connect_timeout` is given: what the
    /// authorizer builder says when it gave this provider that client.
    pub(crate) fn sharing_shared_client_fetches(
        mut self,
        connect_timeout: Option<Duration>,
    ) -> Self {
        if let Some(connect_timeout) = connect_timeout {
            self.endpoints.share_shared_client_fetches(connect_timeout);
        }
        self
    }

    /// The time allowed for each token request, from connecting to the last byte of the
    /// response (default [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT)). It applies whatever
    /// client sends the request.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.endpoints.configured_mut().set_timeout(timeout);
        self
    }

    /// Caps the token response body at `bytes` (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::DEFAULT_MAX_RESPONSE_BYTES)).
    #[must_use]
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.endpoints
            .configured_mut()
            .set_max_response_bytes(bytes);
        self
    }

    /// The environment tokens come from.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The token endpoint, as it appears in errors and logs (without query or credentials);
    /// the issuer when the endpoint is discovered (errors of a token request then name the
    /// discovered endpoint).
    pub fn endpoint(&self) -> &str {
        self.endpoints.configured().endpoint()
    }

    /// One token request to the configured or discovered endpoint; after a failure at a
    /// discovered endpoint, the metadata is fetched again next time.
    async fn request_token(&self) -> Result<Token, Error> {
        let (endpoint, metadata) = self
            .endpoints
            .resolve(&self.environment, self.authentication.method())
            .await?;
        let result = self.request_token_at(&endpoint).await;
        self.endpoints
            .settle(&self.environment, metadata.as_ref(), result)
            .await
    }

    /// The grant (client credentials, RFC 6749 §4.4.2; jwt-bearer, RFC 7523 §2.1, its
    /// assertion read from its file now; or token exchange, RFC 8693 §2.1, with the
    /// environment's subject token file), the scopes, the client's authentication, the
    /// resource indicators (one `resource` parameter each, RFC 8707 §2) and audience, the extra
    /// parameters.
    async fn request_token_at(&self, endpoint: &TokenEndpoint) -> Result<Token, Error> {
        let build = || self.build_request(endpoint);
        endpoint
            .send_bound(build, self.dpop.as_ref(), self.client_info.client_id())
            .await
    }

    /// The token request, built anew for each attempt (a DPoP nonce retry signs a new client
    /// assertion and reads the assertion files again).
    fn build_request(&self, endpoint: &TokenEndpoint) -> Result<TokenRequest, Error> {
        let mut request = match self.environment.token_exchange() {
            Some(config) => exchange::file_request(endpoint, &self.environment, config)?,
            None if self.environment.grant_type() == GrantType::JwtBearer => {
                let path = self
                    .environment
                    .client_assertion()
                    .assertion_file
                    .as_deref()
                    .ok_or_else(|| self.environment.error("assertion_file", "missing"))?;
                let assertion =
                    crate::assertion_file::read(&self.environment, "assertion_file", path)?;
                let mut request = endpoint.request(JWT_BEARER_GRANT_TYPE);
                request.param("assertion", assertion.as_str());
                request
            }
            None => endpoint.request("client_credentials"),
        };
        request.scopes(self.environment.scopes());
        self.authentication.apply(&mut request)?;
        exchange::add_target(&mut request, &self.environment);
        request.extra_params(self.environment.extra_params());
        Ok(request)
    }
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_info", &self.client_info)
            .field("environment", &self.environment.id())
            .field("endpoint", &self.endpoint())
            .field("authentication", &self.authentication.method())
            .field("timeout", &self.endpoints.configured().timeout())
            .field("dpop", &self.dpop)
            .finish_non_exhaustive()
    }
}

impl TokenProvider for ClientCredentials {
    async fn authorize(&self) -> Result<Token, Error> {
        let started = Instant::now();
        let result = self.request_token().await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(token) => tracing::debug!(
                endpoint = %self.endpoint(),
                elapsed_ms,
                expires_in_s = token.lifetime().map(|l: Duration| l.as_secs()),
                "client-credentials token received"
            ),
            Err(error) => {
                tracing::debug!(endpoint = %self.endpoint(), elapsed_ms, %error, "client-credentials grant failed")
            }
        }
        result
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client_info
    }

    fn flow(&self) -> &'static str {
        match (
            self.environment.token_exchange(),
            self.environment.grant_type(),
        ) {
            (Some(_), _) => "token_exchange",
            (None, GrantType::JwtBearer) => "jwt_bearer",
            (None, _) => "client_credentials",
        }
    }

    fn environment_id(&self) -> Option<&str> {
        Some(self.environment.id())
    }

    fn dpop(&self) -> Option<en_auth_core::Dpop> {
        self.dpop.clone()
    }

    /// The canonical token request: grant, token URL (or, when it is discovered, the issuer),
    /// resource indicators, audience, client id, authentication method, scopes and extra
    /// parameters (with their values: an `audience` or `resource` changes the token), and a
    /// fingerprint of the client secret or private key ([`SharedIdentity::with_credential`]: a
    /// token is shared only between holders of the same secret or key) or the path of the
    /// assertion file, and the SHA-256 thumbprint of the TLS client certificate (RFC 8705
    /// §3.1: a certificate-bound token is shared only between holders of the same certificate).
    /// Never the secret or key itself.
    ///
    /// None with token exchange and with the jwt-bearer grant: such a token is the subject's
    /// (the subject token's, the assertion's `sub`), and another process's file at the same
    /// path may hold another subject.
    fn shared_identity(&self) -> Option<SharedIdentity> {
        if self.environment.token_exchange().is_some()
            || self.environment.grant_type() == GrantType::JwtBearer
        {
            return None;
        }
        let mut identity = self
            .endpoints
            .identify(&self.environment, SharedIdentity::new(self.flow()));
        for resource in self.environment.resources() {
            identity = identity.with("resource", resource.as_str());
        }
        if let Some(audience) = self.environment.audience() {
            identity = identity.with("audience", audience);
        }
        identity = identity
            .with("client_id", self.client_info.client_id())
            .with(
                "token_endpoint_auth_method",
                self.environment.token_endpoint_auth_method().as_str(),
            );
        identity = self.authentication.identify(identity);
        // A token the server may have bound to this certificate (RFC 8705 §3) is shared only
        // with processes presenting the same one.
        if let Some(tls) = &self.tls_identity {
            identity = identity.with("tls_client_certificate_x5t#S256", tls.thumbprint());
        }
        for scope in self.environment.scopes() {
            identity = identity.with("scope", scope.as_str());
        }
        for (name, value) in self.environment.extra_params() {
            identity = identity.with("extra_param", format!("{name}={value}"));
        }
        // A DPoP-bound token is usable only with its key: processes share it only when they
        // hold the same key (a key file; a generated key is the process's own).
        if let Some(dpop) = &self.dpop {
            identity = identity.with("dpop_jkt", dpop.jwk_thumbprint());
            // A process that accepts a `Bearer` answer must not hand it to one that refuses it.
            if dpop.bearer_allowed() {
                identity = identity.with("dpop_allow_bearer", "true");
            }
        }
        Some(identity)
    }
}

/// The DPoP key the environment asks for (`dpop = true`), read or generated now.
///
/// # Errors
/// [`Error::Configuration`]: an unusable `dpop_key_file`, or `dpop = true` without the `dpop`
/// feature.
pub(crate) fn dpop_from_config(
    environment: &Environment,
) -> Result<Option<en_auth_core::Dpop>, Error> {
    let Some(config) = environment.dpop() else {
        return Ok(None);
    };
    #[cfg(feature = "dpop")]
    {
        let key = crate::DpopKey::from_config(environment, config)?;
        Ok(Some(
            en_auth_core::Dpop::new(key).with_bearer_allowed(config.allow_bearer),
        ))
    }
    #[cfg(not(feature = "dpop"))]
    {
        let _ = config;
        Err(environment.error(
            "dpop",
            "DPoP needs en-auth-oauth2's `dpop` cargo feature (JOSE code is compiled only with it)",
        ))
    }
}
