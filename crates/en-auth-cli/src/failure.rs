//! Exit codes, and the one line on stderr that says why a command failed.

use std::fmt;
use std::process::ExitCode;

use en_auth_oauth2::{Error, TransportErrorKind};

/// The exit codes (see `cli::EXIT_CODES_HELP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: anything else (stdout closed, …).
    Other = 1,
    /// 2: usage (clap reports these).
    Usage = 2,
    /// 3: configuration: unknown environment, bad environments or secret file.
    Configuration = 3,
    /// 4: credentials or client rejected.
    Rejected = 4,
    /// 5: server unreachable or failing (transient).
    Unavailable = 5,
    /// 6: interaction needed and no terminal.
    InteractionNeeded = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Who asked for a token and where: named in every failure line.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// The client id.
    pub client_id: Option<String>,
    /// The environment id.
    pub environment: Option<String>,
    /// The user, for a Cognito login.
    pub user: Option<String>,
    /// The token endpoint or Cognito endpoint, once the environment is known.
    pub endpoint: Option<String>,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(user) = &self.user {
            parts.push(format!("user `{user}`"));
        }
        if let Some(client) = &self.client_id {
            parts.push(format!("client `{client}`"));
        }
        if let Some(env) = &self.environment {
            parts.push(format!("environment `{env}`"));
        }
        if let Some(endpoint) = &self.endpoint {
            parts.push(format!("endpoint {endpoint}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A failed command: its exit code and the line that explains it (never holding a secret).
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong, one line.
    pub message: String,
}

impl Failure {
    /// A failure with exit code `exit` saying `message` about `subject`.
    pub fn new(exit: Exit, subject: &Subject, message: impl fmt::Display) -> Self {
        let subject = subject.to_string();
        let message = if subject.is_empty() {
            message.to_string()
        } else {
            format!("{message} [{subject}]")
        };
        Self {
            exit,
            message: one_line(&message),
        }
    }

    /// The failure for an error of the en-auth library about `subject`. The environment is
    /// named once: by the error when it names one ([`Error::environment`]), else by the subject.
    pub fn from_error(error: &Error, subject: &Subject) -> Self {
        let subject = &Subject {
            environment: subject
                .environment
                .clone()
                .filter(|_| error.environment().is_none()),
            ..subject.clone()
        };
        let mut message = error.to_string();
        // Why the endpoint could not be reached ("Connection refused", a DNS failure): the
        // innermost cause, which names no secret (only the transport's own errors are chained).
        if let Error::Transport(_) = error {
            let mut cause: &dyn std::error::Error = error;
            while let Some(next) = cause.source() {
                cause = next;
            }
            if !std::ptr::addr_eq(cause, error as &dyn std::error::Error) {
                message = format!("{message} ({cause})");
            }
        }
        Self::new(exit_code(error), subject, message)
    }

    /// Prints the line on stderr and gives the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("en-auth: {}", terminal(&self.message));
        self.exit.into()
    }
}

/// Which exit code an en-auth error means.
pub fn exit_code(error: &Error) -> Exit {
    match error {
        Error::Configuration(_) => Exit::Configuration,
        // A TLS port that speaks plain http: the URL is wrong.
        Error::Transport(e) if e.kind == TransportErrorKind::NotTls => Exit::Configuration,
        Error::Transport(_) | Error::InvalidResponse(_) | Error::Internal(_) => Exit::Unavailable,
        Error::Authorization(e) if error.is_retryable() || e.status_code >= 500 => {
            Exit::Unavailable
        }
        // A redirect, 404 or 405: the token URL is probably wrong.
        Error::Authorization(e) if e.status_code < 400 || matches!(e.status_code, 404 | 405) => {
            Exit::Configuration
        }
        // Device keys: nothing to type in here.
        Error::Challenge(e) if en_auth_srp::UNANSWERABLE.contains(&e.challenge.as_str()) => {
            Exit::Rejected
        }
        // An MFA code, a new password …: asked on a terminal, so there was none.
        Error::Challenge(_) => Exit::InteractionNeeded,
        _ if error.is_retryable() => Exit::Unavailable,
        // InvalidClient, InvalidCredentials, the account errors, RefreshRefused, other refusals.
        _ => Exit::Rejected,
    }
}

/// `text` on one line: line breaks become spaces.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` as it may reach the terminal: control characters and bidirectional-text controls
/// (which a server's error text or a challenge's parameters may carry) replaced.
pub fn terminal(text: &str) -> String {
    en_auth_oauth2::core::printable(text, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use en_auth_oauth2::core::ChallengeError;
    use en_auth_oauth2::{
        AuthorizationError, ConfigurationError, InvalidClientError, InvalidResponseError,
        TransportError,
    };

    #[test]
    fn every_kind_of_error_has_its_exit_code() {
        let cases: Vec<(Error, Exit)> = vec![
            (ConfigurationError::new("x").into(), Exit::Configuration),
            (
                InvalidClientError::new("svc", "http://h/t", "no").into(),
                Exit::Rejected,
            ),
            (
                AuthorizationError::new("http://h/t", 400, Some("invalid_scope".into()), "no")
                    .into(),
                Exit::Rejected,
            ),
            (
                AuthorizationError::new("http://h/t", 503, None, "down").into(),
                Exit::Unavailable,
            ),
            (
                AuthorizationError::new("http://h/t", 429, None, "slow down").into(),
                Exit::Unavailable,
            ),
            (
                AuthorizationError::new(
                    "http://h/t",
                    400,
                    Some("TooManyRequestsException".into()),
                    "",
                )
                .into(),
                Exit::Unavailable,
            ),
            (
                AuthorizationError::new("http://h/t", 404, None, "not found").into(),
                Exit::Configuration,
            ),
            (
                TransportError::new(TransportErrorKind::Connect, "http://h/t", None).into(),
                Exit::Unavailable,
            ),
            (
                TransportError::new(TransportErrorKind::NotTls, "https://h/t", None).into(),
                Exit::Configuration,
            ),
            (
                InvalidResponseError::new("http://h/t", Some(200), "html").into(),
                Exit::Unavailable,
            ),
            (
                ChallengeError::new("SOFTWARE_TOKEN_MFA", "alice", "no terminal").into(),
                Exit::InteractionNeeded,
            ),
            (
                ChallengeError::new("MFA_SETUP", "alice", "no terminal").into(),
                Exit::InteractionNeeded,
            ),
            (
                ChallengeError::new("DEVICE_SRP_AUTH", "alice", "no device").into(),
                Exit::Rejected,
            ),
        ];
        for (error, exit) in cases {
            assert_eq!(exit_code(&error), exit, "{error:?}");
        }
    }

    #[test]
    fn the_environment_is_named_once() {
        let subject = Subject {
            client_id: Some("svc".into()),
            environment: Some("dev".into()),
            user: None,
            endpoint: None,
        };
        let named: Error = ConfigurationError::new("unknown environment")
            .with_environment("dev")
            .into();
        let failure = Failure::from_error(&named, &subject);
        assert_eq!(
            failure.message,
            "configuration error in environment `dev`: unknown environment [client `svc`]"
        );
        let unnamed: Error = InvalidClientError::new("svc", "http://h/t", "no").into();
        let failure = Failure::from_error(&unnamed, &subject);
        assert_eq!(failure.message.matches("environment `dev`").count(), 1);
        assert!(failure
            .message
            .ends_with("[client `svc`, environment `dev`]"));
    }

    #[test]
    fn the_line_names_the_subject_on_one_line() {
        let subject = Subject {
            client_id: Some("svc".into()),
            environment: Some("dev".into()),
            user: None,
            endpoint: Some("http://127.0.0.1:1/token".into()),
        };
        let failure = Failure::new(Exit::Rejected, &subject, "first\nsecond");
        assert_eq!(
            failure.message,
            "first second [client `svc`, environment `dev`, endpoint http://127.0.0.1:1/token]"
        );
    }
}
