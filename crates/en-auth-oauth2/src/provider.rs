//! [`ClientCredentials`]: the OAuth2 client-credentials grant (RFC 6749 §4.4) as a
//! [`TokenProvider`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use en_auth_core::{
    ClientInfo, Environment, Error, Issuer, SharedIdentity, Token, TokenEndpointAuthMethod,
    TokenProvider,
};

use crate::client_auth::ClientAuthentication;
use crate::discovery::{self, Fetcher, Metadata, DEFAULT_DISCOVERY_TTL};
use crate::http::DEFAULT_MAX_RESPONSE_BYTES;
use crate::request::TokenEndpoint;

/// Obtains tokens with the client-credentials grant (RFC 6749 §4.4) from the environment's
/// token endpoint: its `token_url`, or else the `token_endpoint` of its issuer's metadata
/// (RFC 8414, OpenID Connect Discovery 1.0; see [`Environment::with_issuer`]), fetched once
/// per process and issuer, kept for [`DEFAULT_DISCOVERY_TTL`] and fetched again after a token
/// request that failed.
///
/// The client authenticates with `client_secret_basic` (id and secret form-urlencoded, then
/// base64, RFC 6749 §2.3.1) or `client_secret_post`, as the environment says; with discovery,
/// the method must be one of the issuer's `token_endpoint_auth_methods_supported`. The
/// environment's scopes, resource indicators (one `resource` parameter each, RFC 8707 §2),
/// `audience` and extra parameters are sent, identically, with every request. A "refresh" is a
/// new grant: client-credentials responses carry no refresh token.
pub struct ClientCredentials {
    client_info: ClientInfo,
    environment: Environment,
    /// The configured token endpoint; with discovery, the issuer's URL, standing for the
    /// discovered endpoint's settings (client, timeout, cap) until a request is made.
    token_endpoint: TokenEndpoint,
    /// Whether the token endpoint is discovered from the environment's issuer.
    discovered: bool,
    discovery_ttl: Duration,
    authentication: ClientAuthentication,
}

impl ClientCredentials {
    /// A provider for `client_info` against `environment`, sending requests with `http` (for
    /// example [`shared_token_http_client`](crate::shared_token_http_client)).
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has neither a `token_url` nor an `issuer`,
    /// or sets `resource` or `audience` both as a field and as an extra parameter.
    pub fn new(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let (url, discovered) = match (environment.token_url(), environment.issuer()) {
            (Some(url), _) => (url.clone(), false),
            (None, Some(issuer)) => (issuer.url().clone(), true),
            (None, None) => return Err(no_endpoint(&environment)),
        };
        for (field, set) in [
            ("resource", !environment.resources().is_empty()),
            ("audience", environment.audience().is_some()),
        ] {
            if set && environment.extra_params().iter().any(|(name, _)| name == field) {
                return Err(environment.error(
                    field,
                    format!("set twice: as `{field}` and in extra_params; keep one"),
                ));
            }
        }
        let authentication = ClientAuthentication::from_config(&client_info, &environment)?;
        Ok(Self {
            client_info,
            environment,
            token_endpoint: TokenEndpoint::new(
                url,
                http,
                en_auth_core::DEFAULT_TIMEOUT,
                DEFAULT_MAX_RESPONSE_BYTES,
            ),
            discovered,
            discovery_ttl: DEFAULT_DISCOVERY_TTL,
            authentication,
        })
    }

    /// How long a discovered metadata document is used before it is fetched again (default
    /// [`DEFAULT_DISCOVERY_TTL`]). The document is shared by the process's authorizers of the
    /// same issuer; each uses it while it is younger than its own TTL.
    #[must_use]
    pub fn with_discovery_ttl(mut self, ttl: Duration) -> Self {
        self.discovery_ttl = ttl;
        self
    }

    /// The time allowed for each token request, from connecting to the last byte of the
    /// response (default [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT)). It applies whatever
    /// client sends the request.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.token_endpoint.set_timeout(timeout);
        self
    }

    /// Caps the token response body at `bytes` (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::DEFAULT_MAX_RESPONSE_BYTES)).
    #[must_use]
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.token_endpoint.set_max_response_bytes(bytes);
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
        self.token_endpoint.endpoint()
    }

    /// The endpoint to send to: the configured one, or the one the issuer's metadata names
    /// (with the metadata, so that a failed request can invalidate it).
    async fn resolve(&self) -> Result<(TokenEndpoint, Option<Arc<Metadata>>), Error> {
        let issuer = match (self.discovered, self.environment.issuer()) {
            (true, Some(issuer)) => issuer,
            _ => return Ok((self.token_endpoint.clone(), None)),
        };
        let fetcher = Fetcher {
            http: self.token_endpoint.http(),
            timeout: self.token_endpoint.timeout(),
            max_bytes: self.token_endpoint.max_response_bytes(),
            ttl: self.discovery_ttl,
        };
        let metadata = discovery::metadata(&self.environment, issuer, &fetcher).await?;
        let method = self.authentication.method();
        if !metadata.auth_methods.iter().any(|m| m == method) {
            return Err(self.environment.error(
                "token_endpoint_auth_method",
                format!(
                    "the authorization server does not support `{method}` (its metadata at {} lists: {})",
                    metadata.document_url,
                    if metadata.auth_methods.is_empty() {
                        "none".to_owned()
                    } else {
                        metadata.auth_methods.join(", ")
                    }
                ),
            ));
        }
        let endpoint = self.token_endpoint.at(metadata.token_endpoint.clone());
        Ok((endpoint, Some(metadata)))
    }

    /// One client-credentials request (RFC 6749 §4.4.2) to the configured or discovered
    /// endpoint; after a failure at a discovered endpoint, the metadata is fetched again next
    /// time.
    async fn request_token(&self) -> Result<Token, Error> {
        let (endpoint, metadata) = self.resolve().await?;
        let result = self.request_token_at(&endpoint).await;
        if let (Err(_), Some(metadata), Some(issuer)) =
            (&result, &metadata, self.environment.issuer())
        {
            discovery::invalidate(issuer, metadata).await;
        }
        result
    }

    /// The grant, the scopes, the client's authentication, the resource indicators (one
    /// `resource` parameter each, RFC 8707 §2) and audience, the extra parameters.
    async fn request_token_at(&self, endpoint: &TokenEndpoint) -> Result<Token, Error> {
        let mut request = endpoint.request("client_credentials");
        request.scopes(self.environment.scopes());
        self.authentication.apply(&mut request)?;
        for resource in self.environment.resources() {
            request.param("resource", resource.clone());
        }
        if let Some(audience) = self.environment.audience() {
            request.param("audience", audience);
        }
        request.extra_params(self.environment.extra_params());
        endpoint.send(request, self.client_info.client_id()).await
    }

    fn issuer(&self) -> Option<&Issuer> {
        self.environment.issuer().filter(|_| self.discovered)
    }
}

/// The error of an environment with neither a token URL nor an issuer.
fn no_endpoint(environment: &Environment) -> Error {
    environment.error(
        "token_url",
        "missing; the client-credentials flow needs a token endpoint (`token_url`) or an `issuer` to discover it from",
    )
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_info", &self.client_info)
            .field("environment", &self.environment.id())
            .field("endpoint", &self.endpoint())
            .field("authentication", &self.authentication.method())
            .field("timeout", &self.token_endpoint.timeout())
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
        "client_credentials"
    }

    fn environment_id(&self) -> Option<&str> {
        Some(self.environment.id())
    }

    /// The canonical client-credentials request: token URL (or, when it is discovered, the
    /// issuer), client id, authentication method, scopes, resource indicators, audience and
    /// extra parameters (with their values: an `audience` or `resource` changes the token), and
    /// a fingerprint of the client secret
    /// ([`SharedIdentity::with_credential`]: a token is shared only between holders of the same
    /// secret). Never the secret itself.
    fn shared_identity(&self) -> Option<SharedIdentity> {
        let method = match self.environment.token_endpoint_auth_method() {
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            _ => "client_secret_basic",
        };
        let mut identity = SharedIdentity::new("client_credentials");
        // The token URL when configured (the identity of configurations without an issuer is
        // unchanged); else the issuer, whose metadata names the endpoint.
        identity = match self.issuer() {
            Some(issuer) => identity.with("issuer", issuer.as_str()),
            None => identity.with("token_url", self.token_endpoint.url().as_str()),
        };
        for resource in self.environment.resources() {
            identity = identity.with("resource", resource.as_str());
        }
        if let Some(audience) = self.environment.audience() {
            identity = identity.with("audience", audience);
        }
        identity = identity
            .with("client_id", self.client_info.client_id())
            .with("token_endpoint_auth_method", method)
            .with_credential("client_secret", self.client_info.client_secret());
        for scope in self.environment.scopes() {
            identity = identity.with("scope", scope.as_str());
        }
        for (name, value) in self.environment.extra_params() {
            identity = identity.with("extra_param", format!("{name}={value}"));
        }
        Some(identity)
    }
}
