//! [`ClientCredentials`]: the OAuth2 client-credentials grant (RFC 6749 §4.4) as a
//! [`TokenProvider`].

use std::time::{Duration, Instant};

use std::sync::Arc;

use en_auth_core::{
    ClientInfo, Environment, Error, InvalidResponseError, Issuer, SharedIdentity, Token,
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

use crate::discovery::{self, Fetcher, Metadata, DEFAULT_DISCOVERY_TTL};
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
    /// The configured `token_url`; none when the endpoint is discovered.
    token_url: Option<Url>,
    /// The token URL without query or credentials, or the issuer (discovery).
    endpoint: String,
    discovery_ttl: Duration,
    http: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
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
        let (token_url, endpoint) = match (environment.token_url(), environment.issuer()) {
            (Some(url), _) => (Some(url.clone()), display_endpoint(url)),
            (None, Some(issuer)) => (None, issuer.as_str().to_owned()),
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
        Ok(Self {
            client_info,
            environment,
            token_url,
            endpoint,
            discovery_ttl: DEFAULT_DISCOVERY_TTL,
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

    /// How long a discovered metadata document is used before it is fetched again (default
    /// [`DEFAULT_DISCOVERY_TTL`]). The document is shared by the process's authorizers of the
    /// same issuer; each uses it while it is younger than its own TTL.
    #[must_use]
    pub fn with_discovery_ttl(mut self, ttl: Duration) -> Self {
        self.discovery_ttl = ttl;
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

    /// The token endpoint, as it appears in errors and logs (without query or credentials);
    /// the issuer when the endpoint is discovered (errors of a token request then name the
    /// discovered endpoint).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The token URL to use, the endpoint named in errors, and the metadata it came from, if
    /// discovered.
    async fn resolve(&self) -> Result<(Url, String, Option<Arc<Metadata>>), Error> {
        if let Some(url) = &self.token_url {
            return Ok((url.clone(), self.endpoint.clone(), None));
        }
        let issuer = self.issuer()?;
        let fetcher = Fetcher {
            http: &self.http,
            timeout: self.timeout,
            max_bytes: self.max_response_bytes,
            ttl: self.discovery_ttl,
        };
        let metadata = discovery::metadata(&self.environment, issuer, &fetcher).await?;
        let method = self.environment.token_endpoint_auth_method().as_str();
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
        let url = metadata.token_endpoint.clone();
        Ok((url.clone(), display_endpoint(&url), Some(metadata)))
    }

    fn issuer(&self) -> Result<&Issuer, Error> {
        self.environment
            .issuer()
            .ok_or_else(|| no_endpoint(&self.environment))
    }

    fn oauth_client(&self, token_url: &Url) -> OAuthClient {
        let secret = self.client_info.client_secret().expose_secret();
        let auth_type = match self.environment.token_endpoint_auth_method() {
            TokenEndpointAuthMethod::ClientSecretPost => AuthType::RequestBody,
            _ => AuthType::BasicAuth,
        };
        let client = oauth2::Client::new(ClientId::new(self.client_info.client_id().to_owned()))
            .set_token_uri(TokenUrl::from_url(token_url.clone()))
            .set_auth_type(auth_type);
        if secret.is_empty() {
            client
        } else {
            client.set_client_secret(ClientSecret::new(secret.to_owned()))
        }
    }

    async fn request_token(&self) -> Result<Token, Error> {
        let (token_url, endpoint, metadata) = self.resolve().await?;
        let result = self.request_token_at(&token_url, &endpoint).await;
        if let (Err(_), Some(metadata), Ok(issuer)) = (&result, &metadata, self.issuer()) {
            discovery::invalidate(issuer, metadata).await;
        }
        result
    }

    async fn request_token_at(&self, token_url: &Url, endpoint: &str) -> Result<Token, Error> {
        let client = self.oauth_client(token_url);
        let mut request = client.exchange_client_credentials();
        for scope in self.environment.scopes() {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        // RFC 8707 §2: one `resource` parameter per resource.
        for resource in self.environment.resources() {
            request = request.add_extra_param("resource", resource.clone());
        }
        if let Some(audience) = self.environment.audience() {
            request = request.add_extra_param("audience", audience.to_owned());
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
                endpoint,
                client_id,
                exchange.status().unwrap_or(200),
                requested_at,
            ),
            Err(RequestTokenError::ServerResponse(e)) => Err(map_error_response(
                endpoint,
                client_id,
                exchange.status().unwrap_or(400),
                &e,
            )),
            Err(RequestTokenError::Request(e)) => Err(e.into_error(endpoint)),
            Err(RequestTokenError::Parse(e, body)) => {
                let status = exchange.status().unwrap_or(0);
                if is_success(status) {
                    // A JSON object (normalize.rs saw to that) that is no token response.
                    Err(InvalidResponseError::new(
                        endpoint,
                        Some(status),
                        not_a_token_response(&e.path().to_string()),
                    )
                    .into())
                } else {
                    Err(map_unstructured_error(
                        endpoint,
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
                        Err(map_unstructured_error(endpoint, client_id, s, &[]))
                    }
                    _ => Err(InvalidResponseError::new(endpoint, status, message).into()),
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

/// The error of an environment with neither a token URL nor an issuer.
fn no_endpoint(environment: &Environment) -> Error {
    environment.error(
        "token_url",
        "missing; the client-credentials flow needs a token endpoint (`token_url`) or an `issuer` to discover it from",
    )
}

/// `url` as errors and logs show it: without query, fragment or credentials.
fn display_endpoint(url: &Url) -> String {
    let mut endpoint = url.clone();
    endpoint.set_query(None);
    endpoint.set_fragment(None);
    let _ = endpoint.set_password(None);
    let _ = endpoint.set_username("");
    endpoint.to_string()
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
            .field("endpoint", &self.endpoint)
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

    /// The canonical client-credentials request: token URL (or, when it is discovered, the
    /// issuer), client id, authentication method, scopes, resource indicators, audience and
    /// extra parameters (with their values: an `audience` or `resource` changes the token), and
    /// a fingerprint of the client secret
    /// ([`SharedIdentity::with_credential`]: a token is shared only between holders of the same
    /// secret). Never the secret itself.
    fn shared_identity(&self) -> Option<SharedIdentity> {
        let method = self.environment.token_endpoint_auth_method().as_str();
        let mut identity = SharedIdentity::new("client_credentials");
        // The token URL when configured (the identity of configurations without an issuer is
        // unchanged); else the issuer, whose metadata names the endpoint.
        identity = match (&self.token_url, self.environment.issuer()) {
            (Some(url), _) => identity.with("token_url", url.as_str()),
            (None, Some(issuer)) => identity.with("issuer", issuer.as_str()),
            (None, None) => identity,
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
