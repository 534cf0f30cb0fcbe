//! The error types, after the Python `en_auth` package's `en_auth.exceptions`: [`AuthorizationError`],
//! [`InvalidClientError`] and [`InvalidCredentialsError`], plus the transport, response and
//! configuration kinds a Rust caller needs to tell apart, all under one [`enum@Error`].
//!
//! No error ever carries a secret, a password or a token: they name the client id, the user
//! name, the environment and the endpoint instead. Errors are cheap to clone (sources are
//! shared), so one failed token request can be handed to every caller that waited on it.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A shareable error source.
pub type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong while obtaining a token or authorizing a request.
///
/// Match on the variant to decide what to do: [`Error::InvalidClient`] and
/// [`Error::InvalidCredentials`] need new configuration, [`Error::is_retryable`] errors may go away
/// by themselves.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server refused or failed the request for a reason other than the
    /// client or the user credentials (an OAuth2 error such as `invalid_scope`, an HTTP 5xx,
    /// throttling, …).
    #[error(transparent)]
    Authorization(#[from] AuthorizationError),
    /// The client id / secret were rejected (OAuth2 `invalid_client`, RFC 6749 §5.2).
    #[error(transparent)]
    InvalidClient(#[from] InvalidClientError),
    /// The user's name or password were rejected.
    #[error(transparent)]
    InvalidCredentials(#[from] InvalidCredentialsError),
    /// The authorization server could not be reached, or did not answer in time.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The authorization server answered, but not with something usable as a token response.
    #[error(transparent)]
    InvalidResponse(#[from] InvalidResponseError),
    /// The environment or client configuration is unusable.
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    /// A refresh token was refused (invalid, expired or revoked): the authorizer falls back to
    /// a full authorization.
    #[error("refresh refused: {0}")]
    RefreshRefused(AuthorizationError),
    /// The user exists but has not confirmed the account (Cognito `UserNotConfirmedException`).
    #[error("user not confirmed: {0}")]
    UserNotConfirmed(AccountError),
    /// The user must reset the password before logging in (Cognito
    /// `PasswordResetRequiredException`).
    #[error("password reset required: {0}")]
    PasswordResetRequired(AccountError),
    /// Too many failed attempts for this user; the server refuses logins for a while (Cognito
    /// `TooManyFailedAttemptsException`, or `NotAuthorizedException` "Password attempts exceeded").
    #[error("too many failed attempts: {0}")]
    TooManyFailedAttempts(AccountError),
    /// The server asked for a challenge that could not be answered (no handler for it, or one
    /// that cannot be answered by a login flow, such as `MFA_SETUP`).
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    /// The token request did not complete: the provider panicked, or the runtime it ran on
    /// shut down. The next request tries again.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// A token request that did not complete (a panic in the provider, a runtime shut down).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error: {message}{}", note(cooldown))]
#[non_exhaustive]
pub struct InternalError {
    /// What happened.
    pub message: String,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl InternalError {
    /// An internal error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            cooldown: None,
        }
    }
}

/// What an error handed out during a failure cooldown says: when the token request failed and
/// when the next one may be made. (After a token request fails, callers get its error at once
/// for a while instead of asking again: see `RenewalPolicy::with_failure_cooldown`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cooldown {
    /// How long ago the token request failed.
    pub failed_ago: std::time::Duration,
    /// How long until a new token request may be made.
    pub next_attempt_in: std::time::Duration,
}

impl fmt::Display for Cooldown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the failure of a token request {:.1} s ago, repeated during its cooldown; the next \
             attempt is made in {:.1} s at the earliest",
            self.failed_ago.as_secs_f64(),
            self.next_attempt_in.as_secs_f64()
        )
    }
}

/// `: <code>: <message>`, with what there is of the two.
fn detail(code: Option<&str>, message: &str) -> String {
    match (code, message.is_empty()) {
        (Some(code), false) => format!(": {code}: {message}"),
        (Some(code), true) => format!(": {code}"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

/// ` in environment `<id>` (<file>), field `<field>``, with what there is of the three.
fn location(
    environment: Option<&str>,
    file: Option<&std::path::Path>,
    field: Option<&str>,
) -> String {
    let mut text = String::new();
    if let Some(env) = environment {
        text.push_str(&format!(" in environment `{env}`"));
    }
    if let Some(file) = file {
        text.push_str(&format!(" ({})", file.display()));
    }
    if let Some(field) = field {
        text.push_str(&format!(", field `{field}`"));
    }
    text
}

/// ` (<cooldown>)` when there is one, else nothing.
fn note(cooldown: &Option<Box<Cooldown>>) -> String {
    cooldown
        .as_ref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
}

impl Error {
    /// When this error is an earlier token request's failure handed out again during its
    /// cooldown: how long ago it failed and when the next attempt will be made.
    pub fn cooldown(&self) -> Option<Cooldown> {
        match self {
            Error::Authorization(e) | Error::RefreshRefused(e) => e.cooldown.as_deref().copied(),
            Error::InvalidClient(e) => e.cooldown.as_deref().copied(),
            Error::InvalidCredentials(e) => e.cooldown.as_deref().copied(),
            Error::Transport(e) => e.cooldown.as_deref().copied(),
            Error::InvalidResponse(e) => e.cooldown.as_deref().copied(),
            Error::Configuration(e) => e.cooldown.as_deref().copied(),
            Error::UserNotConfirmed(e)
            | Error::PasswordResetRequired(e)
            | Error::TooManyFailedAttempts(e) => e.cooldown.as_deref().copied(),
            Error::Challenge(e) => e.cooldown.as_deref().copied(),
            Error::Internal(e) => e.cooldown.as_deref().copied(),
        }
    }

    /// The same error, marked as handed out again during a cooldown.
    pub(crate) fn during_cooldown(mut self, cooldown: Cooldown) -> Self {
        let slot = match &mut self {
            Error::Authorization(e) | Error::RefreshRefused(e) => &mut e.cooldown,
            Error::InvalidClient(e) => &mut e.cooldown,
            Error::InvalidCredentials(e) => &mut e.cooldown,
            Error::Transport(e) => &mut e.cooldown,
            Error::InvalidResponse(e) => &mut e.cooldown,
            Error::Configuration(e) => &mut e.cooldown,
            Error::UserNotConfirmed(e)
            | Error::PasswordResetRequired(e)
            | Error::TooManyFailedAttempts(e) => &mut e.cooldown,
            Error::Challenge(e) => &mut e.cooldown,
            Error::Internal(e) => &mut e.cooldown,
        };
        *slot = Some(Box::new(cooldown));
        self
    }

    /// Whether trying again later may succeed: transport failures (but TLS failures), HTTP 5xx
    /// and 429 responses,
    /// and throttling or internal errors by name (Cognito's `TooManyRequestsException`,
    /// `InternalErrorException`, …, which arrive as HTTP 400). Rejected clients or credentials
    /// and configuration errors are never retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(e) => {
                !matches!(e.kind, TransportErrorKind::NotTls | TransportErrorKind::Tls)
            }
            Error::Authorization(e) => e.is_retryable(),
            Error::InvalidResponse(e) => e.status_code.is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// How long the server asked to wait before trying again, if it said (`Retry-After`).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Authorization(e) => e.retry_after,
            _ => None,
        }
    }

    /// Whether this error says that a refresh token was refused ([`Error::RefreshRefused`]), so
    /// that a full authorization should be tried instead. A provider that renews with refresh
    /// tokens reports an OAuth2 `invalid_grant` (RFC 6749 §5.2) on a refresh this way.
    pub fn is_refresh_refused(&self) -> bool {
        matches!(self, Error::RefreshRefused(_))
    }

    /// Whether retrying cannot help while the configuration and credentials stay as they are:
    /// a rejected client or user, an account that cannot log in, an unanswerable challenge, a
    /// configuration error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::InvalidClient(_)
                | Error::InvalidCredentials(_)
                | Error::UserNotConfirmed(_)
                | Error::PasswordResetRequired(_)
                | Error::TooManyFailedAttempts(_)
                | Error::Challenge(_)
                | Error::Configuration(_)
        )
    }
}

/// The authorization process could not be completed; the Python `en_auth` package's
/// `AuthorizationError(status_code, message)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("authorization failed at {endpoint} (HTTP {status_code}){}{}", detail(code.as_deref(), message), note(cooldown))]
#[non_exhaustive]
pub struct AuthorizationError {
    /// The HTTP status code returned by the authorization service.
    pub status_code: u16,
    /// The machine-readable error code, when the server sent one (OAuth2 `error`, such as
    /// `invalid_scope`; or a Cognito exception name).
    pub code: Option<String>,
    /// The human-readable message the server sent (OAuth2 `error_description`), or a summary.
    pub message: String,
    /// The endpoint that answered (a URL, no credentials).
    pub endpoint: String,
    /// How long the server asked to wait before trying again (`Retry-After`, RFC 9110 §10.2.3).
    pub retry_after: Option<std::time::Duration>,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl AuthorizationError {
    /// An error for `status_code` with the server's `code` and `message`.
    pub fn new(
        endpoint: impl Into<String>,
        status_code: u16,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status_code,
            code,
            message: message.into(),
            endpoint: endpoint.into(),
            retry_after: None,
            cooldown: None,
        }
    }

    /// Records the server's `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<std::time::Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// HTTP 5xx and 429 (Too Many Requests), and the throttling and internal-error codes of
    /// [`RETRYABLE_CODES`], are worth retrying later.
    pub fn is_retryable(&self) -> bool {
        self.status_code >= 500
            || self.status_code == 429
            || self
                .code
                .as_deref()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code))
    }
}

/// Error codes that mean "try again later" whatever the HTTP status: OAuth2's
/// `temporarily_unavailable` (RFC 6749 §4.1.2.1) and AWS's throttling and internal errors.
pub const RETRYABLE_CODES: &[&str] = &[
    "temporarily_unavailable",
    "TooManyRequestsException",
    "ThrottlingException",
    "LimitExceededException",
    "InternalErrorException",
    "InternalServerError",
    "ServiceUnavailable",
];

/// A user account that cannot log in as it is: not confirmed, password reset required, or
/// locked after too many failed attempts. Carries the user name and the server's code and
/// message, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "user `{user_name}` at {endpoint}: {code}: {message}{}",
    note(cooldown)
)]
#[non_exhaustive]
pub struct AccountError {
    /// The user name as given.
    pub user_name: String,
    /// The endpoint that answered.
    pub endpoint: String,
    /// The server's error code, such as `UserNotConfirmedException`.
    pub code: String,
    /// The server's message.
    pub message: String,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl AccountError {
    /// An account error for `user_name` with the server's `code` and `message`.
    pub fn new(
        user_name: impl Into<String>,
        endpoint: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            user_name: user_name.into(),
            endpoint: endpoint.into(),
            code: code.into(),
            message: message.into(),
            cooldown: None,
        }
    }
}

/// A login challenge that could not be answered: the server asked for `challenge` (Cognito's
/// `ChallengeName`, such as `SOFTWARE_TOKEN_MFA`) and no handler answered it, or it cannot be
/// answered within a login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "challenge {challenge} for user `{user_name}` could not be answered: {message}{}",
    note(cooldown)
)]
#[non_exhaustive]
pub struct ChallengeError {
    /// The challenge name.
    pub challenge: String,
    /// The user name as given.
    pub user_name: String,
    /// Why it could not be answered.
    pub message: String,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl ChallengeError {
    /// A challenge error for `challenge` and `user_name`.
    pub fn new(
        challenge: impl Into<String>,
        user_name: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            challenge: challenge.into(),
            user_name: user_name.into(),
            message: message.into(),
            cooldown: None,
        }
    }
}

/// The client id or secret was rejected; the Python `en_auth` package's `InvalidClientError(client_info)`.
/// Carries the client id, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "client `{client_id}` was rejected by {endpoint}: {message}{}",
    note(cooldown)
)]
#[non_exhaustive]
pub struct InvalidClientError {
    /// The id of the rejected client.
    pub client_id: String,
    /// The endpoint that rejected it.
    pub endpoint: String,
    /// What the server said (for OAuth2, `error_description`, else the error code).
    pub message: String,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl InvalidClientError {
    /// An error for `client_id`, rejected by `endpoint` with `message`.
    pub fn new(
        client_id: impl Into<String>,
        endpoint: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            endpoint: endpoint.into(),
            message: message.into(),
            cooldown: None,
        }
    }
}

/// The user's credentials were rejected; the Python `en_auth` package's `InvalidCredentialsError(credentials)`.
/// Carries the user name, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "credentials of user `{user_name}` were rejected by {endpoint}: {message}{}",
    note(cooldown)
)]
#[non_exhaustive]
pub struct InvalidCredentialsError {
    /// The user name as given.
    pub user_name: String,
    /// The endpoint that rejected it.
    pub endpoint: String,
    /// What the server said.
    pub message: String,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl InvalidCredentialsError {
    /// An error for `user_name`, rejected by `endpoint` with `message`.
    pub fn new(
        user_name: impl Into<String>,
        endpoint: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            user_name: user_name.into(),
            endpoint: endpoint.into(),
            message: message.into(),
            cooldown: None,
        }
    }
}

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established (refused, DNS).
    Connect,
    /// The endpoint does not speak TLS: an `https` URL for a port that speaks plain HTTP. Not
    /// retried.
    NotTls,
    /// The TLS handshake failed (an untrusted certificate, say). Not retried.
    Tls,
    /// The server did not answer within the configured timeout.
    Timeout,
    /// The response body could not be read completely.
    Body,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "could not connect to",
            TransportErrorKind::NotTls => {
                "the endpoint does not speak TLS (a plain-http port behind an https URL?):"
            }
            TransportErrorKind::Tls => "the TLS handshake failed with",
            TransportErrorKind::Timeout => "timed out waiting for",
            TransportErrorKind::Body => "could not read the response of",
            TransportErrorKind::Other => "request failed to",
        })
    }
}

/// The authorization server could not be reached or did not answer in time.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} {endpoint}{}", note(cooldown))]
#[non_exhaustive]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// The endpoint that was called.
    pub endpoint: String,
    /// The underlying error.
    #[source]
    pub source: Option<Source>,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl TransportError {
    /// A transport error of `kind` calling `endpoint`, caused by `source`.
    pub fn new(
        kind: TransportErrorKind,
        endpoint: impl Into<String>,
        source: Option<Source>,
    ) -> Self {
        Self {
            kind,
            endpoint: endpoint.into(),
            source,
            cooldown: None,
        }
    }
}

/// The server answered with something that is not a usable token response: not JSON, no
/// `access_token`, a body over the size cap, and so on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unusable response from {endpoint}{}: {reason}{}", status_code.map(|s| format!(" (HTTP {s})")).unwrap_or_default(), note(cooldown))]
#[non_exhaustive]
pub struct InvalidResponseError {
    /// The endpoint that answered.
    pub endpoint: String,
    /// The HTTP status of the response, when there was one.
    pub status_code: Option<u16>,
    /// What is wrong with it (never quoting a token).
    pub reason: String,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl InvalidResponseError {
    /// A response from `endpoint` with `status_code` that was unusable because of `reason`.
    pub fn new(
        endpoint: impl Into<String>,
        status_code: Option<u16>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            status_code,
            reason: reason.into(),
            cooldown: None,
        }
    }
}

/// The configuration is unusable: an unknown environment id, an unreadable or malformed
/// environments file, a missing or invalid field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("configuration error{}: {message}{}", location(environment.as_deref(), file.as_deref(), field.as_deref()), note(cooldown))]
#[non_exhaustive]
pub struct ConfigurationError {
    /// The environment id concerned, if any.
    pub environment: Option<String>,
    /// The environments file concerned, if any.
    pub file: Option<PathBuf>,
    /// The field concerned, if any.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The underlying error (I/O, TOML), if any.
    #[source]
    pub source: Option<Source>,
    /// Set when this is an earlier token request's failure handed out again during its
    /// cooldown, rather than a new failure.
    pub cooldown: Option<Box<Cooldown>>,
}

impl ConfigurationError {
    /// A configuration error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            environment: None,
            file: None,
            field: None,
            message: message.into(),
            source: None,
            cooldown: None,
        }
    }

    /// Names the environment id concerned.
    #[must_use]
    pub fn with_environment(mut self, id: impl Into<String>) -> Self {
        self.environment = Some(id.into());
        self
    }

    /// Names the file concerned.
    #[must_use]
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Names the field concerned.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
}
