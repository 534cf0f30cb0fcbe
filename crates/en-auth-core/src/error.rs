//! The error types, after the Python `en_auth` package's `en_auth.exceptions`: [`AuthorizationError`],
//! [`InvalidClientError`] and [`InvalidCredentialsError`], plus the transport, response and
//! configuration kinds a Rust caller needs to tell apart, all under one [`enum@Error`].
//!
//! No error ever carries a secret, a password or a token: they name the client id, the user
//! name, the environment and the endpoint instead. Errors are cheap to clone (sources are
//! shared), so one failed token request can be handed to every caller that waited on it.

mod context;

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use context::Context;
pub use context::Cooldown;

/// A shareable error source.
pub type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong while obtaining a token or authorizing a request.
///
/// Match on the variant to decide what to do: [`Error::InvalidClient`] and
/// [`Error::InvalidCredentials`] need new configuration, [`Error::is_retryable`] errors may go away
/// by themselves.
///
/// Whatever the variant, an error may also name the environment of the token request that
/// failed ([`Error::environment`]) and say that it is that failure handed out again during its
/// cooldown ([`Error::cooldown`]); its message ends with both, as in
/// ``client `svc` was rejected by https://auth.example/token: invalid_client (in environment
/// `prod`)``. Neither changes the variant: match on it as usual.
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
#[error("internal error: {message}{}", context.note())]
#[non_exhaustive]
pub struct InternalError {
    /// What happened.
    pub message: String,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
}

impl InternalError {
    /// An internal error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            context: Context::default(),
        }
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

/// `$body` on the struct `$e` of whichever variant `$error` is: the one list of the variants,
/// for the accessors of what every error struct holds (its [`Context`]).
macro_rules! on_payload {
    ($error:expr, $e:ident => $body:expr) => {
        match $error {
            Error::Authorization($e) | Error::RefreshRefused($e) => $body,
            Error::InvalidClient($e) => $body,
            Error::InvalidCredentials($e) => $body,
            Error::Transport($e) => $body,
            Error::InvalidResponse($e) => $body,
            Error::Configuration($e) => $body,
            Error::UserNotConfirmed($e)
            | Error::PasswordResetRequired($e)
            | Error::TooManyFailedAttempts($e) => $body,
            Error::Challenge($e) => $body,
            Error::Internal($e) => $body,
        }
    };
}

impl Error {
    /// The environment id of the token request that failed, when known: an [`Authorizer`]
    /// names its provider's environment ([`TokenProvider::environment_id`]) on every error of a
    /// token request, and a [`ConfigurationError`] may name the environment it is about.
    ///
    /// [`Authorizer`]: crate::Authorizer
    /// [`TokenProvider::environment_id`]: crate::TokenProvider::environment_id
    pub fn environment(&self) -> Option<&str> {
        self.context().environment()
    }

    /// When this error is an earlier token request's failure handed out again during its
    /// cooldown: how long ago it failed and when the next attempt will be made.
    pub fn cooldown(&self) -> Option<Cooldown> {
        self.context().cooldown()
    }

    /// The same error, naming the environment `id` (when there is one) unless it already names
    /// one.
    pub(crate) fn with_environment(mut self, id: Option<&str>) -> Self {
        if let Some(id) = id {
            let context = self.context_mut();
            if context.environment().is_none() {
                context.set_environment(id);
            }
        }
        self
    }

    /// The same error, marked as handed out again during a cooldown.
    pub(crate) fn during_cooldown(mut self, cooldown: Cooldown) -> Self {
        self.context_mut().set_cooldown(cooldown);
        self
    }

    fn context(&self) -> &Context {
        on_payload!(self, e => &e.context)
    }

    fn context_mut(&mut self) -> &mut Context {
        on_payload!(self, e => &mut e.context)
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
#[error("authorization failed at {endpoint} (HTTP {status_code}){}{}", detail(code.as_deref(), message), context.note())]
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
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
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
    context.note()
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
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
        }
    }
}

/// A login challenge that could not be answered: the server asked for `challenge` (Cognito's
/// `ChallengeName`, such as `SOFTWARE_TOKEN_MFA`) and no handler answered it, or it cannot be
/// answered within a login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "challenge {challenge} for user `{user_name}` could not be answered: {message}{}",
    context.note()
)]
#[non_exhaustive]
pub struct ChallengeError {
    /// The challenge name.
    pub challenge: String,
    /// The user name as given.
    pub user_name: String,
    /// Why it could not be answered.
    pub message: String,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
        }
    }
}

/// The client id or secret was rejected; the Python `en_auth` package's `InvalidClientError(client_info)`.
/// Carries the client id, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "client `{client_id}` was rejected by {endpoint}: {message}{}",
    context.note()
)]
#[non_exhaustive]
pub struct InvalidClientError {
    /// The id of the rejected client.
    pub client_id: String,
    /// The endpoint that rejected it.
    pub endpoint: String,
    /// What the server said (for OAuth2, `error_description`, else the error code).
    pub message: String,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
        }
    }
}

/// The user's credentials were rejected; the Python `en_auth` package's `InvalidCredentialsError(credentials)`.
/// Carries the user name, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "credentials of user `{user_name}` were rejected by {endpoint}: {message}{}",
    context.note()
)]
#[non_exhaustive]
pub struct InvalidCredentialsError {
    /// The user name as given.
    pub user_name: String,
    /// The endpoint that rejected it.
    pub endpoint: String,
    /// What the server said.
    pub message: String,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
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
#[error("{kind} {endpoint}{}", context.note())]
#[non_exhaustive]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// The endpoint that was called.
    pub endpoint: String,
    /// The underlying error.
    #[source]
    pub source: Option<Source>,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
        }
    }
}

/// The server answered with something that is not a usable token response: not JSON, no
/// `access_token`, a body over the size cap, and so on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unusable response from {endpoint}{}: {reason}{}", status_code.map(|s| format!(" (HTTP {s})")).unwrap_or_default(), context.note())]
#[non_exhaustive]
pub struct InvalidResponseError {
    /// The endpoint that answered.
    pub endpoint: String,
    /// The HTTP status of the response, when there was one.
    pub status_code: Option<u16>,
    /// What is wrong with it (never quoting a token).
    pub reason: String,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
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
            context: Context::default(),
        }
    }
}

/// The configuration is unusable: an unknown environment id, an unreadable or malformed
/// environments file, a missing or invalid field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("configuration error{}: {message}{}", location(context.environment(), file.as_deref(), field.as_deref()), context.cooldown_note())]
#[non_exhaustive]
pub struct ConfigurationError {
    /// The environments file concerned, if any.
    pub file: Option<PathBuf>,
    /// The field concerned, if any.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The underlying error (I/O, TOML), if any.
    #[source]
    pub source: Option<Source>,
    /// The environment and the cooldown: [`Error::environment`], [`Error::cooldown`].
    context: Context,
}

impl ConfigurationError {
    /// A configuration error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            file: None,
            field: None,
            message: message.into(),
            source: None,
            context: Context::default(),
        }
    }

    /// Names the environment id concerned (read back with [`environment`](Self::environment),
    /// or [`Error::environment`]).
    #[must_use]
    pub fn with_environment(mut self, id: impl Into<String>) -> Self {
        self.context.set_environment(id);
        self
    }

    /// The environment id concerned, if any: the same as [`Error::environment`] of the
    /// [`Error::Configuration`] holding this error.
    pub fn environment(&self) -> Option<&str> {
        self.context.environment()
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cooldown() -> Cooldown {
        Cooldown {
            failed_ago: Duration::from_secs(1),
            next_attempt_in: Duration::from_secs(4),
        }
    }

    /// One of each variant.
    fn every_variant() -> Vec<Error> {
        let account = || AccountError::new("alice", "http://h", "Code", "no");
        let authorization = || AuthorizationError::new("http://h/t", 400, None, "no");
        vec![
            authorization().into(),
            Error::RefreshRefused(authorization()),
            InvalidClientError::new("svc", "http://h/t", "no").into(),
            InvalidCredentialsError::new("alice", "http://h", "no").into(),
            TransportError::new(TransportErrorKind::Connect, "http://h/t", None).into(),
            InvalidResponseError::new("http://h/t", Some(200), "html").into(),
            ConfigurationError::new("no").into(),
            Error::UserNotConfirmed(account()),
            Error::PasswordResetRequired(account()),
            Error::TooManyFailedAttempts(account()),
            ChallengeError::new("SMS_MFA", "alice", "no").into(),
            InternalError::new("no").into(),
        ]
    }

    #[test]
    fn every_variant_names_its_environment_and_cooldown() {
        for error in every_variant() {
            let plain = error.to_string();
            assert!(!plain.contains("environment") && !plain.contains("cooldown"));
            assert_eq!((error.environment(), error.cooldown()), (None, None));

            let marked = error
                .clone()
                .with_environment(Some("prod"))
                .during_cooldown(cooldown());
            assert_eq!(marked.environment(), Some("prod"), "{marked:?}");
            assert_eq!(marked.cooldown(), Some(cooldown()), "{marked:?}");
            let text = marked.to_string();
            assert!(text.contains("in environment `prod`"), "{text}");
            assert_eq!(text.matches("prod").count(), 1, "{text}");
            assert!(
                text.contains("1.0 s ago, repeated during its cooldown"),
                "{text}"
            );
            // The message as it was, then the note; a configuration error names the
            // environment where it always has, before its message.
            let kept = match &error {
                Error::Configuration(_) => text.replacen(" in environment `prod`", "", 1),
                _ => text.clone(),
            };
            assert!(kept.starts_with(&plain), "{plain} → {text}");
            // The same kind of error as before: matching on the variant still works.
            assert_eq!(
                std::mem::discriminant(&marked),
                std::mem::discriminant(&error)
            );
            assert_eq!(marked.is_fatal(), error.is_fatal());
        }
    }

    #[test]
    fn a_rejected_client_during_its_cooldown_is_still_an_invalid_client() {
        let error: Error =
            InvalidClientError::new("svc", "https://auth.example/token", "bad").into();
        let again = error
            .with_environment(Some("prod"))
            .during_cooldown(cooldown());
        assert!(matches!(again, Error::InvalidClient(_)), "{again:?}");
        assert_eq!(
            again.to_string(),
            "client `svc` was rejected by https://auth.example/token: bad (in environment \
             `prod`; the failure of a token request 1.0 s ago, repeated during its cooldown; \
             the next attempt is made in 4.0 s at the earliest)"
        );
    }

    #[test]
    fn an_environment_already_named_is_kept() {
        let error: Error = ConfigurationError::new("unknown field")
            .with_environment("dev")
            .with_field("token_uri")
            .into();
        let error = error.with_environment(Some("prod")).with_environment(None);
        assert_eq!(error.environment(), Some("dev"));
        // A configuration error names it where it always has, once.
        assert_eq!(
            error.to_string(),
            "configuration error in environment `dev`, field `token_uri`: unknown field"
        );
        let Error::Configuration(inner) = &error else {
            unreachable!()
        };
        assert_eq!(inner.environment(), Some("dev"));
        let again = error.during_cooldown(cooldown()).to_string();
        assert_eq!(again.matches("dev").count(), 1, "{again}");
        assert!(again.ends_with("at the earliest)"), "{again}");
    }
}
