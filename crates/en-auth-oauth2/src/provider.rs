//! [`ClientCredentials`]: the OAuth2 client-credentials grant (RFC 6749 §4.4) as a
//! [`TokenProvider`].

use std::time::{Duration, Instant};

use en_auth_core::{
    ClientInfo, Environment, Error, SharedIdentity, Token, TokenEndpointAuthMethod, TokenProvider,
};

use crate::client_auth::ClientAuthentication;
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
    /// [`Error::Configuration`] if the environment has no `token_url`.
    pub fn new(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let token_url = environment.require_token_url()?.clone();
        let authentication = ClientAuthentication::from_config(&client_info, &environment)?;
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

    /// One client-credentials request (RFC 6749 §4.4.2): the grant, the scopes, the client's
    /// authentication, the extra parameters.
    async fn request_token(&self) -> Result<Token, Error> {
        let mut request = self.token_endpoint.request("client_credentials");
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

    /// The canonical client-credentials request: token URL, client id, authentication method,
    /// scopes and extra parameters (with their values: an `audience` or `resource` changes the
    /// token), and a fingerprint of the client secret
    /// ([`SharedIdentity::with_credential`]: a token is shared only between holders of the same
    /// secret). Never the secret itself.
    fn shared_identity(&self) -> Option<SharedIdentity> {
        let method = match self.environment.token_endpoint_auth_method() {
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            _ => "client_secret_basic",
        };
        let mut identity = SharedIdentity::new("client_credentials")
            .with("token_url", self.token_endpoint.url().as_str())
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
