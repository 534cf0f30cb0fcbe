//! RFC 8693 token exchange: a subject token — from another authorizer, a file or a closure —
//! exchanged at the token endpoint for a token for the environment's audience, resources and
//! scopes ([`TokenExchange`]); and the request parameters every grant shares for its target
//! (`resource`, RFC 8707; `audience`).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use en_auth_core::{
    Authorizer, ClientInfo, Environment, Error, Token, TokenExchangeConfig, TokenProvider,
};
use secrecy::{ExposeSecret, SecretString};

use crate::client_auth::ClientAuthentication;
use crate::discovery::Endpoints;
use crate::request::{TokenEndpoint, TokenRequest};

/// The token exchange grant type (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The token type identifiers of RFC 8693 §3 (and RFC 7519 §9 for JWTs), for
/// `subject_token_type`, `actor_token_type` and `requested_token_type`.
pub mod token_types {
    /// An OAuth 2.0 access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth 2.0 refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A base64url-encoded SAML 1.1 assertion.
    pub const SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
    /// A base64url-encoded SAML 2.0 assertion.
    pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
    /// A JWT (RFC 7519 §9), such as a Kubernetes service account token.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// `resource` or `audience` set both as a field and as an extra parameter: refused.
pub(crate) fn check_target(environment: &Environment) -> Result<(), Error> {
    for (field, set) in [
        ("resource", !environment.resources().is_empty()),
        ("audience", environment.audience().is_some()),
    ] {
        if set
            && environment
                .extra_params()
                .iter()
                .any(|(name, _)| name == field)
        {
            return Err(environment.error(
                field,
                format!("set twice: as `{field}` and in extra_params; keep one"),
            ));
        }
    }
    Ok(())
}

/// Adds the environment's resource indicators (one `resource` parameter each, RFC 8707 §2) and
/// its `audience`.
pub(crate) fn add_target(request: &mut TokenRequest, environment: &Environment) {
    for resource in environment.resources() {
        request.param("resource", resource.clone());
    }
    if let Some(audience) = environment.audience() {
        request.param("audience", audience);
    }
}

/// A token exchange request with the subject (and actor) tokens of `config`'s files, read now.
pub(crate) fn file_request(
    endpoint: &TokenEndpoint,
    environment: &Environment,
    config: &TokenExchangeConfig,
) -> Result<TokenRequest, Error> {
    let subject = read_token_file(
        environment,
        "subject_token_file",
        &config.subject_token_file,
    )?;
    let actor = match (&config.actor_token_file, &config.actor_token_type) {
        (Some(file), Some(token_type)) => Some((
            read_token_file(environment, "actor_token_file", file)?,
            token_type.as_str(),
        )),
        _ => None,
    };
    let mut request = endpoint.request(TOKEN_EXCHANGE_GRANT_TYPE);
    add_tokens(
        &mut request,
        (&subject, &config.subject_token_type),
        actor.as_ref().map(|(token, kind)| (token, *kind)),
        config.requested_token_type.as_deref(),
    );
    Ok(request)
}

/// The grant's own parameters (RFC 8693 §2.1).
fn add_tokens(
    request: &mut TokenRequest,
    (subject, subject_type): (&SecretString, &str),
    actor: Option<(&SecretString, &str)>,
    requested_token_type: Option<&str>,
) {
    request.param("subject_token", subject.expose_secret());
    request.param("subject_token_type", subject_type);
    if let Some((actor, actor_type)) = actor {
        request.param("actor_token", actor.expose_secret());
        request.param("actor_token_type", actor_type);
    }
    if let Some(requested) = requested_token_type {
        request.param("requested_token_type", requested);
    }
}

/// The token in `path`, surrounding whitespace trimmed. Never quotes the file.
fn read_token_file(
    environment: &Environment,
    field: &str,
    path: &std::path::Path,
) -> Result<SecretString, Error> {
    // Wiped when dropped: the file's text is the subject (or actor) token.
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        environment.error(
            field,
            format!(
                "cannot read the token file {}: {}",
                path.display(),
                e.kind()
            ),
        )
    })?);
    let token = text.trim();
    if token.is_empty() {
        return Err(environment.error(field, format!("the token file {} is empty", path.display())));
    }
    Ok(SecretString::from(token.to_owned()))
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A token obtained from an authorizer, with its generation.
trait AuthorizerSource: Send + Sync {
    fn token(&self) -> BoxFuture<Result<(SecretString, u64), Error>>;
    /// The generation of the authorizer's current token, without waiting; none when it has no
    /// usable token.
    fn generation(&self) -> Option<u64>;
}

impl<P: TokenProvider> AuthorizerSource for Authorizer<P> {
    fn token(&self) -> BoxFuture<Result<(SecretString, u64), Error>> {
        let authorizer = self.clone();
        Box::pin(async move {
            let token = authorizer.access_token().await?;
            Ok((token.secret().clone(), token.generation()))
        })
    }

    fn generation(&self) -> Option<u64> {
        self.try_current_token().ok().map(|t| t.generation())
    }
}

enum Source {
    File(PathBuf),
    Closure(Arc<dyn Fn() -> BoxFuture<Result<SecretString, Error>> + Send + Sync>),
    Authorizer(Arc<dyn AuthorizerSource>),
}

/// Where a subject (or actor) token comes from, and its type (RFC 8693 §2.1): asked for at
/// every exchange.
pub struct SubjectToken {
    source: Source,
    token_type: String,
}

impl SubjectToken {
    /// The token in `path`, re-read at every exchange (a platform may rotate it), of type
    /// `token_type` (such as [`token_types::JWT`] for a Kubernetes service account token). A
    /// missing or empty file is a configuration error naming the path.
    pub fn from_file(path: impl Into<PathBuf>, token_type: impl Into<String>) -> Self {
        Self {
            source: Source::File(path.into()),
            token_type: token_type.into(),
        }
    }

    /// The token `token` returns, called at every exchange, of type `token_type`.
    pub fn from_fn<F, Fut>(token_type: impl Into<String>, token: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SecretString, Error>> + Send + 'static,
    {
        Self {
            source: Source::Closure(Arc::new(move || Box::pin(token()))),
            token_type: token_type.into(),
        }
    }

    /// The access token of `authorizer` ([`token_types::ACCESS_TOKEN`]), as it is when the
    /// exchange is made. When that authorizer renews its token, the exchanged token is stale:
    /// it is renewed on its next use.
    pub fn from_authorizer<P: TokenProvider>(authorizer: Authorizer<P>) -> Self {
        Self {
            source: Source::Authorizer(Arc::new(authorizer)),
            token_type: token_types::ACCESS_TOKEN.to_owned(),
        }
    }

    /// The token's type.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The token now, and the generation of an authorizer's.
    async fn get(
        &self,
        environment: &Environment,
        field: &str,
    ) -> Result<(SecretString, Option<u64>), Error> {
        match &self.source {
            Source::File(path) => Ok((read_token_file(environment, field, path)?, None)),
            Source::Closure(token) => Ok((token().await?, None)),
            Source::Authorizer(authorizer) => {
                let (token, generation) = authorizer.token().await?;
                Ok((token, Some(generation)))
            }
        }
    }

    /// Whether an authorizer's token is no longer the one of `generation`.
    fn changed_since(&self, generation: u64) -> bool {
        match &self.source {
            Source::Authorizer(authorizer) => authorizer
                .generation()
                .is_some_and(|current| current != generation),
            _ => false,
        }
    }
}

impl std::fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::File(path) => format!("file {}", path.display()),
            Source::Closure(_) => "a closure".to_owned(),
            Source::Authorizer(_) => "an authorizer".to_owned(),
        };
        f.debug_struct("SubjectToken")
            .field("source", &source)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// No subject token's generation recorded yet.
const NO_GENERATION: u64 = u64::MAX;

/// Obtains tokens by RFC 8693 token exchange: the subject token (from another authorizer, a
/// file or a closure; an actor token optional) exchanged at the environment's token endpoint
/// (its `token_url`, or discovered from its `issuer`) for a token for its audience, resources
/// and scopes. The client authenticates as for the client-credentials grant.
///
/// Wrapped in an [`Authorizer`], exchanged tokens are cached and renewed like any other, and
/// also when a subject from an authorizer has renewed its token. They are never shared
/// through a store: they are the subject's.
///
/// ```no_run
/// use en_auth_oauth2::{
///     Authorizer, ClientInfo, Environment, ServiceAccountAuthorizer, SubjectToken, TokenExchange,
/// };
///
/// # async fn run() -> Result<(), en_auth_oauth2::Error> {
/// let environment = Environment::new("prod")
///     .with_issuer("https://auth.example.com")?
///     .with_audience("https://reports.example.com")?;
/// // The subject: this service's own token…
/// let own = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment.clone())?;
/// // …exchanged, by the exchanging client, for one for the reports service.
/// let exchange = TokenExchange::new(
///     ClientInfo::new("exchanger", "exchanger-secret"),
///     environment,
///     SubjectToken::from_authorizer(own.authorizer().clone()),
///     en_auth_oauth2::shared_token_http_client(en_auth_oauth2::DEFAULT_CONNECT_TIMEOUT)?,
/// )?;
/// let reports = Authorizer::new(exchange);
/// let token = reports.access_token().await?;
/// # Ok(()) }
/// ```
pub struct TokenExchange {
    client_info: ClientInfo,
    environment: Environment,
    endpoints: Endpoints,
    authentication: ClientAuthentication,
    subject: SubjectToken,
    actor: Option<SubjectToken>,
    requested_token_type: Option<String>,
    /// The generation of the subject authorizer's token the current exchanged token came from.
    subject_generation: AtomicU64,
    /// The DPoP key (RFC 9449) the exchanged tokens are bound to, if the environment says so.
    dpop: Option<en_auth_core::Dpop>,
}

impl TokenExchange {
    /// A provider exchanging `subject` for `client_info` against `environment` (its
    /// endpoint, audience, resources, scopes and extra parameters), sending requests with
    /// `http` (for example [`shared_token_http_client`](crate::shared_token_http_client)).
    /// An issuer's discovered metadata is fetched through `http` for this provider alone (as
    /// for [`ClientCredentials::new`](crate::ClientCredentials::new)).
    ///
    /// With `dpop = true` in the environment (RFC 9449, the `dpop` feature) the exchanged
    /// tokens are bound to a key, as [`ClientCredentials`](crate::ClientCredentials)'.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has neither a `token_url` nor an `issuer`,
    /// or sets `resource` or `audience` both as a field and as an extra parameter, or asks for
    /// DPoP with an unusable key or without the `dpop` feature.
    pub fn new(
        client_info: ClientInfo,
        environment: Environment,
        subject: SubjectToken,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let mut endpoints = Endpoints::new(&environment, http)?;
        check_target(&environment)?;
        // `http` presents the environment's TLS client certificate, if it has one.
        let tls_identity = crate::TlsClientIdentity::from_environment(&environment)?;
        endpoints.set_mutual_tls(tls_identity.is_some());
        let authentication = ClientAuthentication::from_config(
            &client_info,
            &environment,
            &crate::client_auth::default_assertion_audience(&environment),
            tls_identity.as_ref(),
        )?;
        let dpop = crate::provider::dpop_from_config(&environment)?;
        Ok(Self {
            dpop,
            client_info,
            environment,
            endpoints,
            authentication,
            subject,
            actor: None,
            requested_token_type: None,
            subject_generation: AtomicU64::new(NO_GENERATION),
        })
    }

    /// Sends `actor` as the actor token (RFC 8693 §2.1: the party acting for the subject).
    #[must_use]
    pub fn with_actor_token(mut self, actor: SubjectToken) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Asks for a token of type `token_type` (`requested_token_type`, such as
    /// [`token_types::ACCESS_TOKEN`]).
    #[must_use]
    pub fn with_requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// The time allowed for each token request (default
    /// [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT)).
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

    /// How long a discovered metadata document is used (default
    /// [`DEFAULT_DISCOVERY_TTL`](crate::DEFAULT_DISCOVERY_TTL)).
    #[must_use]
    pub fn with_discovery_ttl(mut self, ttl: Duration) -> Self {
        self.endpoints.set_ttl(ttl);
        self
    }

    /// The token endpoint as errors and logs show it (the issuer when it is discovered).
    pub fn endpoint(&self) -> &str {
        self.endpoints.configured().endpoint()
    }

    async fn exchange(&self) -> Result<Token, Error> {
        let (endpoint, metadata) = self
            .endpoints
            .resolve(&self.environment, self.authentication.method())
            .await?;
        let result = self.exchange_at(&endpoint).await;
        self.endpoints
            .settle(&self.environment, metadata.as_ref(), result)
            .await
    }

    async fn exchange_at(&self, endpoint: &TokenEndpoint) -> Result<Token, Error> {
        let (subject, generation) = self.subject.get(&self.environment, "subject_token").await?;
        let actor = match &self.actor {
            Some(actor) => Some((
                actor.get(&self.environment, "actor_token").await?.0,
                actor.token_type(),
            )),
            None => None,
        };
        // Built anew for a DPoP nonce retry (a new client assertion, if any).
        let build = || {
            let mut request = endpoint.request(TOKEN_EXCHANGE_GRANT_TYPE);
            add_tokens(
                &mut request,
                (&subject, self.subject.token_type()),
                actor.as_ref().map(|(token, kind)| (token, *kind)),
                self.requested_token_type.as_deref(),
            );
            request.scopes(self.environment.scopes());
            self.authentication.apply(&mut request)?;
            add_target(&mut request, &self.environment);
            request.extra_params(self.environment.extra_params());
            Ok(request)
        };
        let token = endpoint
            .send_bound(build, self.dpop.as_ref(), self.client_info.client_id())
            .await?;
        self.subject_generation
            .store(generation.unwrap_or(NO_GENERATION), Ordering::Release);
        Ok(token)
    }
}

impl std::fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchange")
            .field("client_info", &self.client_info)
            .field("environment", &self.environment.id())
            .field("endpoint", &self.endpoint())
            .field("subject", &self.subject)
            .field("actor", &self.actor)
            .field("requested_token_type", &self.requested_token_type)
            .finish_non_exhaustive()
    }
}

impl TokenProvider for TokenExchange {
    async fn authorize(&self) -> Result<Token, Error> {
        let started = Instant::now();
        let result = self.exchange().await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) => tracing::debug!(endpoint = %self.endpoint(), elapsed_ms, "token exchanged"),
            Err(error) => {
                tracing::debug!(endpoint = %self.endpoint(), elapsed_ms, %error, "token exchange failed")
            }
        }
        result
    }

    /// Due as any token, or when the subject's authorizer has renewed its token since.
    fn expired(&self, token: &Token) -> bool {
        if token.needs_renewal() {
            return true;
        }
        let generation = self.subject_generation.load(Ordering::Acquire);
        generation != NO_GENERATION && self.subject.changed_since(generation)
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client_info
    }

    fn flow(&self) -> &'static str {
        "token_exchange"
    }

    fn environment_id(&self) -> Option<&str> {
        Some(self.environment.id())
    }

    fn dpop(&self) -> Option<en_auth_core::Dpop> {
        self.dpop.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_is_trimmed_and_a_missing_or_empty_one_names_its_path() {
        let dir = std::env::temp_dir().join(format!("en-auth-exchange-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let environment = Environment::new("files");
        let path = dir.join("subject");
        std::fs::write(&path, "  subject-token-value\n").unwrap();
        let token = read_token_file(&environment, "subject_token_file", &path).unwrap();
        assert_eq!(token.expose_secret(), "subject-token-value");
        for contents in [None, Some(" \n")] {
            match contents {
                Some(text) => std::fs::write(&path, text).unwrap(),
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
            match read_token_file(&environment, "subject_token_file", &path) {
                Err(Error::Configuration(e)) => {
                    assert_eq!(e.field.as_deref(), Some("subject_token_file"));
                    assert!(e.message.contains(&path.display().to_string()), "{e}");
                }
                other => panic!("{contents:?}: expected a configuration error, got {other:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_grant_parameters_come_first_and_debug_shows_no_token() {
        let endpoint = TokenEndpoint::new(
            url::Url::parse("https://auth.example.com/token").unwrap(),
            reqwest::Client::new(),
            Duration::from_secs(1),
            1024,
        );
        let mut request = endpoint.request(TOKEN_EXCHANGE_GRANT_TYPE);
        let (subject, actor) = (
            SecretString::from("subject-value".to_owned()),
            SecretString::from("actor-value".to_owned()),
        );
        add_tokens(
            &mut request,
            (&subject, token_types::JWT),
            Some((&actor, token_types::ACCESS_TOKEN)),
            Some(token_types::ACCESS_TOKEN),
        );
        assert_eq!(
            request.param_names(),
            [
                "grant_type",
                "subject_token",
                "subject_token_type",
                "actor_token",
                "actor_token_type",
                "requested_token_type"
            ]
        );
        let debug = format!("{request:?}");
        assert!(!debug.contains("-value"), "{debug}");
    }
}
