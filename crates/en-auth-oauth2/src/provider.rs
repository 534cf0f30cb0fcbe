//! [`ClientCredentials`]: the OAuth2 client-credentials grant (RFC 6749 §4.4) as a
//! [`TokenProvider`].

use std::time::{Duration, Instant};

use en_auth_core::{
    ClientInfo, Environment, Error, InvalidResponseError, SharedIdentity, Token,
    TokenEndpointAuthMethod, TokenProvider,
};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    StandardRevocableToken, TokenUrl,
};
use secrecy::ExposeSecret;
use url::Url;

use crate::http::{Exchange, DEFAULT_MAX_RESPONSE_BYTES};
use crate::wire::{map_error_response, map_unstructured_error, WireTokenResponse};

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    WireTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

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
    token_url: Url,
    endpoint: String,
    http: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
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
        let mut endpoint = token_url.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        let _ = endpoint.set_password(None);
        let _ = endpoint.set_username("");
        Ok(Self {
            client_info,
            environment,
            token_url,
            endpoint: endpoint.to_string(),
            http,
            timeout: en_auth_core::DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// The time allowed for each token request, from connecting to the last byte of the
    /// response (default [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT)). It applies whatever
    /// client sends the request.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Caps the token response body at `bytes` (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::DEFAULT_MAX_RESPONSE_BYTES)).
    #[must_use]
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The environment tokens come from.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The token endpoint, as it appears in errors and logs.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn oauth_client(&self) -> OAuthClient {
        let secret = self.client_info.client_secret().expose_secret();
        let auth_type = match self.environment.token_endpoint_auth_method() {
            TokenEndpointAuthMethod::ClientSecretPost => AuthType::RequestBody,
            _ => AuthType::BasicAuth,
        };
        let client = oauth2::Client::new(ClientId::new(self.client_info.client_id().to_owned()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
            .set_auth_type(auth_type);
        if secret.is_empty() {
            client
        } else {
            client.set_client_secret(ClientSecret::new(secret.to_owned()))
        }
    }

    async fn request_token(&self) -> Result<Token, Error> {
        let client = self.oauth_client();
        let mut request = client.exchange_client_credentials();
        for scope in self.environment.scopes() {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (name, value) in self.environment.extra_params() {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let exchange = Exchange::new(self.http.clone(), self.timeout, self.max_response_bytes);
        let client_id = self.client_info.client_id();
        let requested_at = Instant::now();
        // The status as received: a 2xx carrying a token reaches the oauth2 crate as a 200
        // (normalize.rs).
        let result = match request.request_async(&exchange).await {
            Ok(response) => response.into_token(
                &self.endpoint,
                client_id,
                exchange.status().unwrap_or(200),
                requested_at,
            ),
            Err(RequestTokenError::ServerResponse(e)) => Err(map_error_response(
                &self.endpoint,
                client_id,
                exchange.status().unwrap_or(400),
                &e,
            )),
            Err(RequestTokenError::Request(e)) => Err(e.into_error(&self.endpoint)),
            Err(RequestTokenError::Parse(e, body)) => {
                let status = exchange.status().unwrap_or(0);
                if is_success(status) {
                    // A JSON object (normalize.rs saw to that) that is no token response.
                    Err(InvalidResponseError::new(
                        &self.endpoint,
                        Some(status),
                        not_a_token_response(&e.path().to_string()),
                    )
                    .into())
                } else {
                    Err(map_unstructured_error(
                        &self.endpoint,
                        client_id,
                        status,
                        &body,
                    ))
                }
            }
            Err(RequestTokenError::Other(message)) => {
                let status = exchange.status();
                match status {
                    Some(s) if !is_success(s) => {
                        Err(map_unstructured_error(&self.endpoint, client_id, s, &[]))
                    }
                    _ => Err(InvalidResponseError::new(&self.endpoint, status, message).into()),
                }
            }
        };
        result.map_err(|e| match e {
            Error::Authorization(a) => {
                Error::Authorization(a.with_retry_after(exchange.retry_after()))
            }
            other => other,
        })
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Why a JSON object is no token response, naming the member at fault when it is one of a token
/// response's (never quoting a value: serde's own message may).
fn not_a_token_response(path: &str) -> String {
    const MEMBERS: [&str; 8] = [
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
        "error",
        "error_description",
    ];
    match MEMBERS.iter().find(|m| **m == path) {
        Some(member) => format!("not a token response: unusable `{member}` member"),
        None => "not a token response: a member has the wrong type or appears twice".to_owned(),
    }
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_info", &self.client_info)
            .field("environment", &self.environment.id())
            .field("token_url", &self.endpoint)
            .field("timeout", &self.timeout)
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
                endpoint = %self.endpoint,
                elapsed_ms,
                expires_in_s = token.lifetime().map(|l: Duration| l.as_secs()),
                "client-credentials token received"
            ),
            Err(error) => {
                tracing::debug!(endpoint = %self.endpoint, elapsed_ms, %error, "client-credentials grant failed")
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
            .with("token_url", self.token_url.as_str())
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
