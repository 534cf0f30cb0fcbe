//! [`ClientCredentials`]: the OAuth2 client-credentials grant (RFC 6749 §4.4) as a
//! [`TokenProvider`].

use std::time::{Duration, Instant};

use en_auth_core::{ClientInfo, Environment, Error, SharedIdentity, Token, TokenProvider};

use en_auth_core::GrantType;

use crate::client_auth::ClientAuthentication;

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub(crate) const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
use crate::http::DEFAULT_MAX_RESPONSE_BYTES;
use crate::request::TokenEndpoint;

/// Obtains tokens with the client-credentials grant (RFC 6749 §4.4) from the environment's
/// token endpoint.
///
/// The client authenticates with `client_secret_basic` (id and secret form-urlencoded, then
/// base64, RFC 6749 §2.3.1) or `client_secret_post`, as the environment says. The
/// environment's scopes and extra parameters are sent, identically, with every request. A
/// "refresh" is a new grant: client-credentials responses carry no refresh token.
pub struct ClientCredentials {
    client_info: ClientInfo,
    environment: Environment,
    token_endpoint: TokenEndpoint,
    authentication: ClientAuthentication,
}

impl ClientCredentials {
    /// A provider for `client_info` against `environment`, sending requests with `http` (for
    /// example [`shared_token_http_client`](crate::shared_token_http_client)).
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has no `token_url`, or its client
    /// authentication cannot be set up: a `private_key_jwt` key file that is missing or unusable,
    /// `client_secret_jwt` without a secret, either without the `jwt` feature.
    pub fn new(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        Self::build(client_info, environment, http, None)
    }

    /// A provider whose client authenticates with `signer`'s assertions (`private_key_jwt`, or
    /// `client_secret_jwt` for an HS256 signer) whatever the environment's
    /// `token_endpoint_auth_method` and key settings say. The `jwt` feature.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has no `token_url`.
    #[cfg(feature = "jwt")]
    pub fn with_client_assertion_signer(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
        signer: crate::ClientAssertionSigner,
    ) -> Result<Self, Error> {
        Self::build(
            client_info,
            environment,
            http,
            Some(ClientAuthentication::with_signer(signer)),
        )
    }

    fn build(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
        authentication: Option<ClientAuthentication>,
    ) -> Result<Self, Error> {
        let token_url = environment.require_token_url()?.clone();
        let authentication = match authentication {
            Some(given) => given,
            None => ClientAuthentication::from_config(&client_info, &environment, &token_url)?,
        };
        Ok(Self {
            client_info,
            environment,
            token_endpoint: TokenEndpoint::new(
                token_url,
                http,
                en_auth_core::DEFAULT_TIMEOUT,
                DEFAULT_MAX_RESPONSE_BYTES,
            ),
            authentication,
        })
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

    /// The token endpoint, as it appears in errors and logs.
    pub fn endpoint(&self) -> &str {
        self.token_endpoint.endpoint()
    }

    /// One token request: the grant (client credentials, RFC 6749 §4.4.2, or jwt-bearer, RFC
    /// 7523 §2.1, its assertion read from its file now), the scopes, the client's
    /// authentication, the extra parameters.
    async fn request_token(&self) -> Result<Token, Error> {
        let mut request = match self.environment.grant_type() {
            GrantType::JwtBearer => {
                let path = self
                    .environment
                    .client_assertion()
                    .assertion_file
                    .as_deref()
                    .ok_or_else(|| self.environment.error("assertion_file", "missing"))?;
                let assertion =
                    crate::assertion_file::read(&self.environment, "assertion_file", path)?;
                let mut request = self.token_endpoint.request(JWT_BEARER_GRANT_TYPE);
                request.param("assertion", assertion.as_str());
                request
            }
            _ => self.token_endpoint.request("client_credentials"),
        };
        request.scopes(self.environment.scopes());
        self.authentication.apply(&mut request)?;
        request.extra_params(self.environment.extra_params());
        self.token_endpoint
            .send(request, self.client_info.client_id())
            .await
    }
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_info", &self.client_info)
            .field("environment", &self.environment.id())
            .field("token_url", &self.endpoint())
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
                "token received"
            ),
            Err(error) => {
                tracing::debug!(endpoint = %self.endpoint(), elapsed_ms, %error, "token request failed")
            }
        }
        result
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client_info
    }

    fn flow(&self) -> &'static str {
        match self.environment.grant_type() {
            GrantType::JwtBearer => "jwt_bearer",
            _ => "client_credentials",
        }
    }

    fn environment_id(&self) -> Option<&str> {
        Some(self.environment.id())
    }

    /// The canonical token request: grant, token URL, client id, authentication method, scopes
    /// and extra parameters (with their values: an `audience` or `resource` changes the token),
    /// and a fingerprint of the client secret or private key
    /// ([`SharedIdentity::with_credential`]: a token is shared only between holders of the same
    /// secret or key) or the path of the assertion file. Never the secret or key itself.
    fn shared_identity(&self) -> Option<SharedIdentity> {
        let mut identity = SharedIdentity::new(self.flow())
            .with("token_url", self.token_endpoint.url().as_str())
            .with("client_id", self.client_info.client_id())
            .with(
                "token_endpoint_auth_method",
                self.environment.token_endpoint_auth_method().as_str(),
            );
        identity = self.authentication.identify(identity);
        if let Some(path) = &self.environment.client_assertion().assertion_file {
            identity = identity.with("assertion_file", path.display().to_string());
        }
        for scope in self.environment.scopes() {
            identity = identity.with("scope", scope.as_str());
        }
        for (name, value) in self.environment.extra_params() {
            identity = identity.with("extra_param", format!("{name}={value}"));
        }
        Some(identity)
    }
}
