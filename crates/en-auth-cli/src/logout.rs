//! `en-auth logout`: revoke each of a user's sessions with Cognito (`RevokeToken`, which also
//! revokes the access tokens issued with the refresh token), then forget it. A session whose
//! revocation fails is forgotten all the same; the command names the failure and exits with
//! its code, since the refresh token stays valid at Cognito until it expires.

use en_auth_oauth2::{ClientInfo, Environment, Error};
use en_auth_srp::{SessionKey, SessionStore, SrpAuthorizer, UserCredentials};
use secrecy::{ExposeSecret, SecretString};

use crate::cache::{Cache, ClientSecret, UserSession};
use crate::cli::LogoutCommand;
use crate::failure::{Exit, Failure, Subject};
use crate::input;
use crate::Notes;

/// Stands in for the password in the authorizer built only to revoke: `RevokeToken` sends the
/// refresh token and the client secret, never the password; the builder refuses an empty one.
const UNUSED_PASSWORD: &str = "(unused: revocation of the refresh token)";

/// Revokes and forgets the sessions `args` name; the line to print.
///
/// # Errors
/// Exit 1 if the cache cannot be read or a file removed; a revocation's own exit code (after
/// every session was forgotten) if one could not be revoked.
pub async fn logout(
    args: &LogoutCommand,
    user: &str,
    cache: &Cache,
    notes: &Notes,
) -> Result<String, Failure> {
    let subject = Subject {
        environment: Some(args.environment.clone()),
        user: Some(user.to_owned()),
        client_id: args.client_id.clone(),
        endpoint: None,
    };
    let secret = if args.no_revoke {
        None
    } else {
        input::client_secret(args.client_secret_file.as_deref(), false, &subject)?
    };
    let io_failure = |e: std::io::Error| {
        Failure::new(
            Exit::Other,
            &subject,
            format!("cannot read the cache {}: {e}", cache.dir().display()),
        )
    };
    let mut sessions = cache
        .user_sessions(
            &args.environment,
            user,
            args.client_id.as_deref(),
            secret.as_ref(),
        )
        .map_err(io_failure)?;
    // The sealed sessions: their refresh tokens (and devices) are in the session store.
    // A session key that cannot be had: the unsealed files are still revoked and forgotten.
    let store = match cache.sealed() {
        Ok(store) => Some(store),
        Err(why) => {
            notes.warn(&format!("{why}: the sealed sessions are left alone"));
            None
        }
    };
    let key = |session: &UserSession| {
        SessionKey::new(
            session.endpoint.as_str(),
            session.user_pool_id.clone().unwrap_or_default(),
            session.client_id.as_str(),
            user,
        )
    };
    if let Some(store) = store {
        for session in &mut sessions {
            if session.refresh_token.is_none() {
                match store.load(&key(session)).await {
                    Ok(stored) => {
                        session.refresh_token = stored.map(|s| s.refresh_token().clone());
                    }
                    Err(e) => notes.warn(&e.to_string()),
                }
            }
        }
    }
    let mut failures = Vec::new();
    let mut revoked = 0;
    if !args.no_revoke && sessions.iter().any(|s| s.refresh_token.is_some()) {
        let environment = Environment::load(&args.environment);
        for session in &sessions {
            let Some(refresh_token) = &session.refresh_token else {
                continue;
            };
            let subject = Subject {
                client_id: Some(session.client_id.clone()),
                ..subject.clone()
            };
            match revoke(&environment, user, session, secret.as_ref(), refresh_token).await {
                Ok(()) => {
                    revoked += 1;
                    notes.info(&format!(
                        "the refresh token of client `{}` is revoked",
                        session.client_id
                    ));
                }
                Err(failure) => {
                    let failure = failure.into_failure(&subject);
                    // The first is told in the command's failure line; the others here.
                    if !failures.is_empty() {
                        notes.warn(&format!(
                            "cannot revoke the refresh token of client `{}`: {}",
                            session.client_id, failure.message
                        ));
                    }
                    failures.push((session.client_id.clone(), failure));
                }
            }
        }
    }
    let mut forgotten = 0;
    for session in &sessions {
        if let Some(store) = store {
            store
                .delete(&key(session))
                .await
                .map_err(|e| Failure::new(Exit::Other, &subject, e.to_string()))?;
        }
        if cache.forget(session).map_err(io_failure)? {
            notes.info(&format!("removed {}", session.path.display()));
            forgotten += 1;
        }
    }
    let sessions_text = match forgotten {
        0 => "no session".to_owned(),
        1 => "1 session".to_owned(),
        n => format!("{n} sessions"),
    };
    let revoked_text = match (args.no_revoke, revoked) {
        (true, _) => " (not revoked: --no-revoke)".to_owned(),
        (false, 0) => String::new(),
        (false, 1) => " (its refresh token revoked)".to_owned(),
        (false, n) => format!(" ({n} refresh tokens revoked)"),
    };
    let line = format!(
        "{sessions_text} of `{}` in `{}` forgotten{revoked_text}",
        user, args.environment
    );
    match failures.into_iter().next() {
        None => Ok(line),
        Some((client_id, first)) => Err(Failure {
            exit: first.exit,
            message: format!(
                "{line}, but a refresh token could not be revoked (it stays valid at Cognito \
                 until it expires): cannot revoke the refresh token of client `{client_id}`: {}",
                first.message
            ),
        }),
    }
}

/// Why a revocation failed.
enum RevokeFailure {
    /// The library's error.
    Error(Error),
    /// The session's client secret is not the one given (`true`), or none was given.
    NoSecret(bool),
}

impl RevokeFailure {
    fn into_failure(self, subject: &Subject) -> Failure {
        match self {
            Self::Error(e) => Failure::from_error(&e, subject),
            Self::NoSecret(false) => Failure::new(
                Exit::Configuration,
                subject,
                "the session was made with a client secret, and none was given \
                 (CLIENT_SECRET or --client-secret-file)",
            ),
            Self::NoSecret(true) => Failure::new(
                Exit::Configuration,
                subject,
                "the session was made with another client secret than the one given (it is \
                 not sent to Cognito)",
            ),
        }
    }
}

/// Revokes one session's refresh token.
async fn revoke(
    environment: &Result<Environment, Error>,
    user: &str,
    session: &UserSession,
    secret: Option<&SecretString>,
    refresh_token: &SecretString,
) -> Result<(), RevokeFailure> {
    let environment = environment
        .as_ref()
        .map_err(|e| RevokeFailure::Error(e.clone()))?;
    let client = match (session.client_secret, secret) {
        (ClientSecret::Given, Some(secret)) => {
            ClientInfo::new(&session.client_id, secret.expose_secret())
        }
        (ClientSecret::None, _) => ClientInfo::public(&session.client_id),
        _ => return Err(RevokeFailure::NoSecret(secret.is_some())),
    };
    let authorizer = SrpAuthorizer::new(
        client,
        UserCredentials::new(user, UNUSED_PASSWORD),
        environment.clone(),
    )
    .map_err(RevokeFailure::Error)?;
    authorizer
        .provider()
        .revoke_token(refresh_token)
        .await
        .map_err(RevokeFailure::Error)
}
