//! People at a terminal or a desktop program: a person signs in once — on another device with
//! the device authorization grant (RFC 8628, [`UserSignIn::device`]), or in a browser with the
//! authorization code grant and PKCE (RFC 6749 §4.1, RFC 7636, RFC 8252,
//! [`UserSignIn::browser`]) — and the session's refresh token then renews the access token
//! ([`UserSession`], behind the usual caching [`Authorizer`](crate::Authorizer)) until sign-out
//! revokes it (RFC 7009, [`UserSignIn::revoke`]).
//!
//! The endpoints come from the environment's issuer (RFC 8414 / OpenID Connect Discovery 1.0
//! metadata: `authorization_endpoint`, `device_authorization_endpoint`, `token_endpoint`,
//! `revocation_endpoint`), or, for a server without discovery, from the environment's
//! `token_url`, `authorization_url`, `device_authorization_url` and `revocation_url` (each of
//! which also overrides what the metadata names); the client is usually public
//! ([`ClientInfo::public`]).

mod browser;
mod device;
mod session;

use std::sync::Arc;

use en_auth_core::{
    AuthorizationError, ClientInfo, ConfigurationError, Environment, Error, IntoEnvironment, Token,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use browser::{BrowserSignIn, OpenBrowser, PendingBrowserSignIn, DEFAULT_BROWSER_TIMEOUT};
pub use device::{DeviceAuthorization, DEVICE_CODE_GRANT_TYPE};
pub use session::{UserAuthorizer, UserSession, UserSessionStore, UserSessionStoreError};

use crate::client_auth::{default_assertion_audience, ClientAuthentication};
use crate::discovery::{Endpoints, Metadata};
use crate::request::TokenEndpoint;
use crate::wire::printable;

/// Why a person's sign-in ended without a session. The variants the user caused carry what
/// the server said (never a code, a verifier or a token).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// The person cancelled or refused the sign-in (`access_denied`: RFC 8628 §3.5, RFC 6749
    /// §4.1.2.1).
    #[error("the sign-in was cancelled or refused (access_denied){}", note(.description))]
    AccessDenied {
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The device code expired before the person approved the sign-in (`expired_token`, RFC
    /// 8628 §3.5, or its `expires_in` passed): start again.
    #[error("the sign-in took too long: the device code expired (expired_token); start again")]
    Expired,
    /// The redirect's `state` is not the one sent (RFC 6749 §10.12): a forged or stale
    /// redirect, refused.
    #[error("the redirect's `state` is not this sign-in's: refused (RFC 6749 §10.12)")]
    StateMismatch,
    /// The redirect's `iss` names another authorization server than the one the request went
    /// to (RFC 9207 §2.4: a mix-up attack), or is missing where the server promised it.
    #[error("the redirect's `iss` is {received:?}, not `{expected}`: refused (RFC 9207 §2.4)")]
    IssuerMismatch {
        /// The issuer the request went to.
        expected: String,
        /// What the redirect carried (`None`: nothing).
        received: Option<String>,
    },
    /// The id token's `nonce` is not the one sent (OpenID Connect Core §3.1.3.7), or it has
    /// none.
    #[error(
        "the id token's `nonce` is not this sign-in's: refused (OpenID Connect Core §3.1.3.7)"
    )]
    NonceMismatch,
    /// The authorization server ended the sign-in with another error (RFC 6749 §4.1.2.1,
    /// RFC 8628 §3.5).
    #[error("the authorization server refused the sign-in: {code}{}", note(.description))]
    Refused {
        /// The OAuth2 `error` code.
        code: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The sign-in did not complete for another reason: a configuration error, an unreachable
    /// server, a token request refused, no redirect within the time allowed.
    #[error(transparent)]
    Request(#[from] Error),
}

fn note(description: &Option<String>) -> String {
    description
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl SignInError {
    /// The error for an OAuth2 `error` code and description from the server (each made
    /// printable, the description bounded).
    fn from_code(code: &str, description: Option<&str>) -> Self {
        let description = description.map(|d| printable(d, 512));
        match code {
            "access_denied" => Self::AccessDenied { description },
            "expired_token" => Self::Expired,
            _ => Self::Refused {
                code: printable(code, 64),
                description,
            },
        }
    }
}

/// The endpoints of a person's sign-in, from the environment or its issuer's metadata.
pub(crate) struct SignInEndpoints {
    pub(crate) authorization: Option<Url>,
    pub(crate) device_authorization: Option<Url>,
    pub(crate) revocation: Option<Url>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3) in the metadata.
    pub(crate) iss_parameter_supported: bool,
    /// Where the metadata was read, if it was.
    document_url: Option<Url>,
}

/// What a sign-in and a session share: the client, the environment, where its endpoints are
/// and how the client authenticates.
pub(crate) struct Client {
    pub(crate) client_info: ClientInfo,
    pub(crate) environment: Environment,
    pub(crate) endpoints: Endpoints,
    pub(crate) authentication: ClientAuthentication,
}

impl Client {
    /// Where a person's sign-in goes: each endpoint the environment names
    /// ([`Environment::with_authorization_url`] and its siblings), else the one its issuer's
    /// metadata names.
    ///
    /// # Errors
    /// [`Error::Configuration`] when nothing names any sign-in endpoint: no `issuer` to discover
    /// them from (or a `token_url` beside it, which turns discovery off) and none in the
    /// environment; discovery's errors.
    async fn sign_in_endpoints(&self) -> Result<SignInEndpoints, Error> {
        let env = &self.environment;
        let metadata = self.endpoints.discover(env).await?;
        let named_any = env.authorization_url().is_some()
            || env.device_authorization_url().is_some()
            || env.revocation_url().is_some();
        if metadata.is_none() && !named_any {
            return Err(env.error(
                self.undiscovered_field(),
                self.undiscovered("its endpoints"),
            ));
        }
        let pick = |own: Option<&Url>, discovered: fn(&Metadata) -> Option<&Url>| {
            own.or_else(|| metadata.as_deref().and_then(discovered))
                .cloned()
        };
        Ok(SignInEndpoints {
            authorization: pick(env.authorization_url(), |m| {
                m.authorization_endpoint.as_ref()
            }),
            device_authorization: pick(env.device_authorization_url(), |m| {
                m.device_authorization_endpoint.as_ref()
            }),
            revocation: pick(env.revocation_url(), |m| m.revocation_endpoint.as_ref()),
            iss_parameter_supported: metadata.as_ref().is_some_and(|m| m.iss_parameter_supported),
            document_url: metadata.map(|m| m.document_url.clone()),
        })
    }

    /// The field to name when nothing was discovered: `token_url` when it turned discovery off
    /// beside an `issuer`, else `issuer`.
    fn undiscovered_field(&self) -> &'static str {
        if self.environment.issuer().is_some() {
            "token_url"
        } else {
            "issuer"
        }
    }

    /// Why `what` was not discovered, and what to name instead.
    fn undiscovered(&self, what: &str) -> String {
        let why = if self.environment.issuer().is_some() {
            "a `token_url` beside the `issuer` turns discovery off"
        } else {
            "the environment names no `issuer` to discover them from"
        };
        format!(
            "a person's sign-in needs {what}: {why}; name them with `authorization_url`, \
             `device_authorization_url` and `revocation_url`"
        )
    }

    /// The endpoint `url` (the metadata's `name`, the environment's `field`), or a
    /// configuration error naming the field.
    fn required(
        &self,
        endpoints: &SignInEndpoints,
        url: Option<&Url>,
        name: &str,
        field: &str,
    ) -> Result<Url, Error> {
        url.cloned().ok_or_else(|| {
            let message = match &endpoints.document_url {
                Some(document) => format!(
                    "missing: the authorization server's metadata ({document}) names no \
                     `{name}`"
                ),
                None => format!("missing: {}", self.undiscovered(&format!("its `{name}`"))),
            };
            self.environment.error(field, message)
        })
    }

    /// The token endpoint. A public client (`none`) is not checked against the metadata's
    /// `token_endpoint_auth_methods_supported`: Cognito's lists only the secret methods, yet its
    /// managed login serves public app clients.
    async fn token_endpoint(&self) -> Result<(TokenEndpoint, Option<Arc<Metadata>>), Error> {
        if self.authentication.method() == "none" {
            return Ok(match self.endpoints.discover(&self.environment).await? {
                Some(metadata) => (
                    self.endpoints
                        .configured()
                        .at(metadata.token_endpoint.clone()),
                    Some(metadata),
                ),
                None => (self.endpoints.configured().clone(), None),
            });
        }
        self.endpoints
            .resolve(&self.environment, self.authentication.method())
            .await
    }

    /// Sends a token request of `grant_type` with `params` and the client's authentication.
    async fn token_request(
        &self,
        grant_type: &str,
        params: &[(&'static str, &str)],
    ) -> Result<Token, Error> {
        let (endpoint, metadata) = self.token_endpoint().await?;
        let mut request = endpoint.request(grant_type);
        for (name, value) in params {
            request.param(*name, *value);
        }
        let result = match self.authentication.apply(&mut request) {
            Ok(()) => endpoint.send(request, self.client_info.client_id()).await,
            Err(e) => Err(e),
        };
        self.endpoints
            .settle(&self.environment, metadata.as_ref(), result)
            .await
    }
}

/// A person's sign-in for a client in an environment: starts the device or browser flow,
/// resumes a stored session, revokes one. Cheap to clone.
///
/// ```no_run
/// use en_auth_oauth2::{ClientInfo, Environment, UserSignIn};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let environment = Environment::new("dev")
///     .with_issuer("https://login.example.com")?
///     .with_scopes(["openid", "api:read"]);
/// let sign_in = UserSignIn::new(ClientInfo::public("my-cli"), environment)?;
/// let token = sign_in
///     .device(|shown| {
///         println!("Open {} and enter {}", shown.verification_uri, shown.user_code);
///     })
///     .await?;
/// let session = sign_in.session_from(token)?;
/// let authorizer = session.authorizer();
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(authorizer.clone())
///     .build();
/// let body = client.get("https://api.example.com/me").send().await?.text().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserSignIn {
    client: Arc<Client>,
}

impl std::fmt::Debug for UserSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSignIn")
            .field("client_info", &self.client.client_info)
            .field("environment", &self.client.environment.id())
            .field("authentication", &self.client.authentication.method())
            .finish_non_exhaustive()
    }
}

impl UserSignIn {
    /// A sign-in for `client_info` (usually [`ClientInfo::public`]) in `environment` (an
    /// [`Environment`] with an `issuer` — or, for a server without discovery, a `token_url` and
    /// the sign-in endpoints, [`Environment::with_authorization_url`] and its siblings — or an
    /// id to load from the environments file), its
    /// requests sent with the shared token-request client
    /// ([`shared_token_http_client`](crate::shared_token_http_client)).
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded or names neither a
    /// `token_url` nor an `issuer`, or the client info is unusable.
    pub fn new(client_info: ClientInfo, environment: impl IntoEnvironment) -> Result<Self, Error> {
        let environment = environment.into_environment()?;
        let http = crate::shared_token_http_client(en_auth_core::DEFAULT_CONNECT_TIMEOUT)?;
        Self::with_http_client(client_info, environment, http)
    }

    /// As [`UserSignIn::new`], requests sent with `http` (which should follow no redirects).
    ///
    /// # Errors
    /// As [`UserSignIn::new`].
    pub fn with_http_client(
        client_info: ClientInfo,
        environment: Environment,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        client_info.validate()?;
        let endpoints = Endpoints::new(&environment, http)?;
        let authentication = ClientAuthentication::from_config(
            &client_info,
            &environment,
            &default_assertion_audience(&environment),
            None,
        )?;
        Ok(Self {
            client: Arc::new(Client {
                client_info,
                environment,
                endpoints,
                authentication,
            }),
        })
    }

    /// The environment.
    pub fn environment(&self) -> &Environment {
        &self.client.environment
    }

    /// The client.
    pub fn client_info(&self) -> &ClientInfo {
        &self.client.client_info
    }

    /// A session from a completed sign-in's `token` (its access token is handed out first, its
    /// refresh token renews it).
    ///
    /// # Errors
    /// [`Error::Configuration`] if `token` has no refresh token (the server issued none: the
    /// session could not outlive the access token).
    pub fn session_from(&self, token: Token) -> Result<UserSession, Error> {
        UserSession::from_token(Arc::clone(&self.client), token)
    }

    /// A session resumed from a stored `refresh_token`: the first access token is obtained
    /// with it (RFC 6749 §6).
    pub fn resume(&self, refresh_token: SecretString) -> UserSession {
        UserSession::resume(Arc::clone(&self.client), refresh_token)
    }

    /// Revokes `refresh_token` at the issuer's `revocation_endpoint` (RFC 7009 §2.1, with
    /// `token_type_hint=refresh_token`): the session ends at the server too. A token the
    /// server no longer knows is not an error (RFC 7009 §2.2).
    ///
    /// # Errors
    /// [`Error::Configuration`] when the environment names no issuer or its metadata no
    /// `revocation_endpoint`; [`Error::Transport`] when the server cannot be reached;
    /// [`Error::InvalidClient`] / [`Error::Authorization`] when it refuses (RFC 7009 §2.2.1).
    pub async fn revoke(&self, refresh_token: &SecretString) -> Result<(), Error> {
        let client = &self.client;
        let endpoints = client.sign_in_endpoints().await?;
        let url = client.required(
            &endpoints,
            endpoints.revocation.as_ref(),
            "revocation_endpoint",
            "revocation_url",
        )?;
        let (endpoint, _) = client.token_endpoint().await?;
        let mut form = endpoint.form();
        form.param("token", refresh_token.expose_secret());
        form.param("token_type_hint", "refresh_token");
        client.authentication.apply(&mut form)?;
        let (status, body) = endpoint.post_form(&url, form).await?;
        if (200..300).contains(&status) {
            tracing::debug!(endpoint = %crate::request::shown_url(&url), "refresh token revoked");
            return Ok(());
        }
        Err(error_answer(
            &crate::request::shown_url(&url),
            client.client_info.client_id(),
            status,
            &body,
        ))
    }
}

/// The error of an endpoint's non-2xx JSON answer (RFC 6749 §5.2 shape) or unstructured one.
fn error_answer(endpoint: &str, client_id: &str, status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<oauth2::basic::BasicErrorResponse>(body) {
        Ok(error) => crate::wire::map_error_response(endpoint, client_id, status, &error),
        Err(_) => crate::wire::map_unstructured_error(endpoint, client_id, status, body),
    }
}

/// The OAuth2 `error` code of a token request's failure, if the server sent one.
fn error_code(error: &Error) -> Option<&str> {
    match error {
        Error::Authorization(AuthorizationError { code, .. }) => code.as_deref(),
        _ => None,
    }
}

/// A configuration error about the sign-in (not about one environment field).
fn configuration(message: impl Into<String>) -> Error {
    ConfigurationError::new(message).into()
}
