//! People signed in with an OpenID Connect server (not a Cognito user pool's SRP): `en-auth
//! login --device` (RFC 8628) and `--browser` (authorization code with PKCE), then `en-auth
//! token` renewing the access token with the session's refresh token (sealed in the session
//! store), and `en-auth logout` revoking it (RFC 7009).
//!
//! A person's session is cached under the user name given with `--user`, or [`PERSON`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use en_auth_oauth2::{
    ClientInfo, DeviceAuthorization, Environment, Error, SignInError, TokenProvider,
    UserSessionStore, UserSessionStoreError, UserSignIn,
};
use en_auth_srp::{FileSessionStore, SessionKey, SessionStore, StoredSession};
use secrecy::SecretString;

use crate::cache::{Entry, Request};
use crate::cli::ClientArgs;
use crate::failure::{terminal, Exit, Failure, Subject};
use crate::flows::{lookup, store, Context};
use crate::token::IssuedToken;

/// The user name a person's session is cached under when `--user` is not given.
pub const PERSON: &str = "person";

/// Whether `environment` signs people in with OpenID Connect: it names an `issuer` (or, for a
/// server without discovery, an `authorization_url` or `device_authorization_url`) and no
/// Cognito user pool.
pub fn is_people_environment(environment: &Environment) -> bool {
    names_sign_in(environment) && environment.user_pool_id().is_none()
}

/// Whether `environment` names where a person signs in: an `issuer`, or sign-in URLs.
pub(crate) fn names_sign_in(environment: &Environment) -> bool {
    environment.issuer().is_some()
        || environment.authorization_url().is_some()
        || environment.device_authorization_url().is_some()
}

/// The server a person's session belongs to, in cache and session keys: the `issuer`, else (no
/// discovery) the `token_url`.
fn authority(environment: &Environment) -> String {
    environment
        .issuer()
        .map(ToString::to_string)
        .or_else(|| environment.token_url().map(ToString::to_string))
        .unwrap_or_default()
}

/// Whether a person's session (of `user`, else [`PERSON`]) is cached for this environment and
/// client: then `en-auth token` and `logout` are the person's (also in an environment that
/// names a Cognito user pool beside its issuer: its managed login).
pub fn has_session(
    environment: &Environment,
    client_id: &str,
    user: Option<&str>,
    cx: &Context<'_>,
) -> bool {
    let Some(cache) = cx.cache else { return false };
    if !names_sign_in(environment) {
        return false;
    }
    let issuer = authority(environment);
    let request = Request::new(
        environment.id(),
        &issuer,
        None,
        client_id,
        environment.scopes(),
        Some(user.unwrap_or(PERSON)),
        &[],
        None,
    );
    cache.path(&request).exists()
}

/// How `en-auth login` signs a person in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The device authorization grant.
    Device,
    /// The authorization code grant with PKCE, in a browser.
    Browser,
}

/// A session's place in the session store: the issuer, the client, the person's name.
fn session_key(environment: &Environment, client_id: &str, user: &str) -> SessionKey {
    let issuer = authority(environment);
    SessionKey::new(issuer.clone(), issuer, client_id, format!("oidc:{user}"))
}

/// The session store of one person's session, for the library.
#[derive(Debug)]
struct Sealed {
    store: Arc<FileSessionStore>,
    key: SessionKey,
}

#[async_trait::async_trait]
impl UserSessionStore for Sealed {
    async fn save(&self, refresh_token: &SecretString) -> Result<(), UserSessionStoreError> {
        let session = StoredSession::new(self.key.user_name.clone(), refresh_token.clone(), None);
        self.store
            .save(&self.key, &session)
            .await
            .map_err(|e| UserSessionStoreError::new(e.to_string()))
    }

    async fn delete(&self) -> Result<(), UserSessionStoreError> {
        self.store
            .delete(&self.key)
            .await
            .map_err(|e| UserSessionStoreError::new(e.to_string()))
    }
}

/// The pieces of a person's session: the sign-in, the cache request, the subject for errors,
/// the sealed store.
struct Person {
    sign_in: UserSignIn,
    request: Request,
    subject: Subject,
    sealed: Option<Arc<Sealed>>,
    user: String,
}

fn person(
    environment: Environment,
    client: &ClientArgs,
    user: Option<&str>,
    cx: &Context<'_>,
) -> Result<Person, Failure> {
    person_for(environment, client, user, cx, Purpose::Use)
}

/// What a [`Person`] is made for: a sign-out forgets what it can when no session key can be
/// had (the sealed session is then left alone, with a warning), as the Cognito sign-out does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Use,
    SignOut,
}

fn person_for(
    environment: Environment,
    client: &ClientArgs,
    user: Option<&str>,
    cx: &Context<'_>,
    purpose: Purpose,
) -> Result<Person, Failure> {
    let user = user.unwrap_or(PERSON).to_owned();
    let issuer = authority(&environment);
    let subject = Subject {
        client_id: Some(client.client_id.clone()),
        environment: Some(client.environment.clone()),
        user: Some(user.clone()),
        endpoint: Some(issuer.clone()),
    };
    let request = Request::new(
        environment.id(),
        &issuer,
        None,
        &client.client_id,
        environment.scopes(),
        Some(&user),
        &[],
        None,
    );
    let store = match (cx.cache, purpose) {
        (Some(cache), Purpose::Use) => cache
            .sessions(cx.notes)
            .map_err(|why| Failure::new(Exit::Configuration, &subject, why))?,
        (Some(cache), Purpose::SignOut) => match cache.sealed() {
            Ok(store) => Some(store),
            Err(why) => {
                cx.notes
                    .warn(&format!("{why}: the sealed session is left alone"));
                None
            }
        },
        (None, _) => None,
    };
    let sealed = store.map(|store| {
        Arc::new(Sealed {
            store: Arc::clone(store),
            key: session_key(&environment, &client.client_id, &user),
        })
    });
    let sign_in = UserSignIn::new(ClientInfo::public(&client.client_id), environment)
        .map_err(|e| Failure::from_error(&e, &subject))?;
    Ok(Person {
        sign_in,
        request,
        subject,
        sealed,
        user,
    })
}

/// The failure of a sign-in.
fn sign_in_failure(error: &SignInError, subject: &Subject) -> Failure {
    match error {
        SignInError::Request(e) => Failure::from_error(e, subject),
        SignInError::AccessDenied { .. } => Failure::new(Exit::Rejected, subject, error),
        SignInError::Expired => Failure::new(Exit::InteractionNeeded, subject, error),
        _ => Failure::new(Exit::Rejected, subject, error),
    }
}

/// `en-auth login --device` / `--browser`: signs the person in, stores the session; what to
/// tell the user.
pub async fn login(
    environment: Environment,
    client: &ClientArgs,
    user: Option<&str>,
    method: Method,
    identity_provider: Option<&str>,
    cx: &Context<'_>,
) -> Result<String, Failure> {
    let p = person(environment, client, user, cx)?;
    let token = match method {
        Method::Device => p.sign_in.device(show_device_codes).await,
        Method::Browser => crate::browser::sign_in(&p.sign_in, identity_provider).await,
    }
    .map_err(|e| sign_in_failure(&e, &p.subject))?;
    let (entry, stored) = keep(&p, token, cx).await?;
    let until = entry
        .token
        .expires_at
        .map(crate::token::rfc3339)
        .unwrap_or_else(|| "an unknown time".into());
    let env = p.sign_in.environment().id();
    Ok(if stored {
        format!(
            "signed in to `{env}`: the access token is valid until {until} and is renewed with \
             the refresh token by `en-auth token --env {env}{}`",
            if p.user == PERSON {
                String::new()
            } else {
                format!(" --user {}", p.user)
            }
        )
    } else {
        format!("signed in to `{env}`, but the session could not be cached")
    })
}

/// Keeps a completed sign-in's session: its refresh token sealed, its access token cached.
/// The cache entry, and whether it was cached.
async fn keep(
    p: &Person,
    token: en_auth_oauth2::Token,
    cx: &Context<'_>,
) -> Result<(Entry, bool), Failure> {
    let session = p
        .sign_in
        .session_from(token.clone())
        .map_err(|e| Failure::from_error(&e, &p.subject))?;
    let session = match &p.sealed {
        Some(sealed) => session.with_store(Arc::clone(sealed) as Arc<dyn UserSessionStore>),
        None => session,
    };
    // A session kept nowhere would be a sign-in that `en-auth token` cannot use: an error,
    // not a warning after which "signed in" is printed.
    if p.sealed.is_some() {
        session.save().await.map_err(|e| {
            Failure::new(
                Exit::Other,
                &p.subject,
                format!("the session could not be sealed, so it is not kept: {e}"),
            )
        })?;
    }
    let entry =
        entry(&token, session.refresh_token()).map_err(|e| Failure::from_error(&e, &p.subject))?;
    let stored = store(cx, &p.request, &entry);
    Ok((entry, stored))
}

/// No session to renew: a browser sign-in when the person can be asked (a terminal; as
/// kubectl's exec plugin, only when it says `interactive`), else `why`.
async fn sign_in_again(p: &Person, cx: &Context<'_>, why: Failure) -> Result<IssuedToken, Failure> {
    if !crate::input::interactive() {
        return Err(why);
    }
    cx.notes
        .notice(&format!("{}: signing in in the browser", why.message));
    let token = crate::browser::sign_in(&p.sign_in, None)
        .await
        .map_err(|e| sign_in_failure(&e, &p.subject))?;
    Ok(keep(p, token, cx).await?.0.token)
}

/// Prints the device flow's codes on stderr, with a QR code of the complete URI.
fn show_device_codes(shown: &DeviceAuthorization) {
    let mut text = format!(
        "To sign in, open {} and enter the code {}",
        terminal(&shown.verification_uri),
        terminal(&shown.user_code)
    );
    if let Some(complete) = &shown.verification_uri_complete {
        text.push_str(&format!(
            "\nor open {} (the code filled in), or scan:\n",
            terminal(complete)
        ));
        if let Some(qr) = crate::totp_setup::qr_code(&SecretString::from(complete.clone())) {
            text.push_str(&qr);
        }
    }
    text.push_str(&format!(
        "\nWaiting for the sign-in (the code expires in {} s) …",
        shown.expires_in.as_secs()
    ));
    eprintln!("{text}");
}

/// The cache entry of a person's token.
fn entry(
    token: &en_auth_oauth2::Token,
    refresh_token: Option<SecretString>,
) -> Result<Entry, Error> {
    Ok(Entry {
        token: IssuedToken::from_token(token)?,
        refresh_token,
        canonical_user: None,
        obtained_at: SystemTime::now(),
    })
}

/// `en-auth token` for a person: the cached access token while it is valid for
/// `min_validity` more (no request), else renewed with the session's refresh token.
pub async fn token(
    environment: Environment,
    client: &ClientArgs,
    user: Option<&str>,
    min_validity: Option<Duration>,
    cx: &Context<'_>,
) -> Result<IssuedToken, Failure> {
    let p = person(environment, client, user, cx)?;
    let cached = match lookup(cx, &p.request) {
        Some(entry) if entry.token.valid_for(min_validity) => {
            cx.notes.info(&format!(
                "cached access token of `{}`, valid for {} s more",
                p.user,
                entry.token.remaining().unwrap_or_default().as_secs()
            ));
            return Ok(entry.token);
        }
        other => other,
    };
    let lock = match cx.cache {
        Some(cache) => {
            cache
                .lock_session(&p.request, Duration::from_secs(30), cx.notes)
                .await
        }
        None => None,
    };
    let result = renew(&p, cached, min_validity, cx).await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    result
}

/// Under the session's lock: renewed by another process meanwhile, else with the refresh token.
async fn renew(
    p: &Person,
    cached: Option<Entry>,
    min_validity: Option<Duration>,
    cx: &Context<'_>,
) -> Result<IssuedToken, Failure> {
    let cached = match lookup(cx, &p.request) {
        Some(entry) if entry.token.valid_for(min_validity) => return Ok(entry.token),
        Some(entry) => Some(entry),
        None => cached,
    };
    let stored = stored_refresh_token(p).await;
    let Some(refresh_token) = stored.or_else(|| cached.and_then(|e| e.refresh_token)) else {
        return sign_in_again(p, cx, not_signed_in(p)).await;
    };
    let mut session = p.sign_in.resume(refresh_token);
    if let Some(sealed) = &p.sealed {
        session = session.with_store(Arc::clone(sealed) as Arc<dyn UserSessionStore>);
    }
    cx.notes.info(&format!(
        "renewing the session of `{}` with its refresh token",
        p.user
    ));
    match session.authorize().await {
        Ok(token) => {
            // The rotated refresh token must be sealed before anything is printed: if it
            // cannot be, the stored one is spent (a server that detects its reuse would end
            // the whole session), so the stored session is forgotten and the next run signs in.
            if let Some(sealed) = &p.sealed {
                if let Err(e) = session.save().await {
                    let _ = sealed.delete().await;
                    cx.notes.warn(&format!(
                        "the renewed session could not be sealed ({e}): it is forgotten, and \
                         the next run signs in again"
                    ));
                }
            }
            let entry = entry(&token, session.refresh_token())
                .map_err(|e| Failure::from_error(&e, &p.subject))?;
            store(cx, &p.request, &entry);
            Ok(entry.token)
        }
        Err(e) if e.is_refresh_refused() => {
            if let Some(cache) = cx.cache {
                let _ = cache.remove(&p.request);
            }
            if let Some(sealed) = &p.sealed {
                let _ = sealed.delete().await;
            }
            let why = Failure::new(
                Exit::InteractionNeeded,
                &p.subject,
                format!(
                    "the session has ended (its refresh token was refused): sign in again with \
                     `en-auth login --env {} --device` (or --browser)",
                    p.sign_in.environment().id()
                ),
            );
            sign_in_again(p, cx, why).await
        }
        Err(e) => Err(Failure::from_error(&e, &p.subject)),
    }
}

/// The refresh token of the person's sealed session, if one is stored and opens.
async fn stored_refresh_token(p: &Person) -> Option<SecretString> {
    let sealed = p.sealed.as_ref()?;
    let session = sealed.store.load(&sealed.key).await.ok().flatten()?;
    Some(session.refresh_token().clone())
}

fn not_signed_in(p: &Person) -> Failure {
    Failure::new(
        Exit::InteractionNeeded,
        &p.subject,
        format!(
            "not signed in: run `en-auth login --env {} --device` (or --browser) first",
            p.sign_in.environment().id()
        ),
    )
}

/// `en-auth logout` for a person: revokes the refresh token (RFC 7009) unless `no_revoke`,
/// then forgets the session. The line to print.
pub async fn logout(
    environment: Environment,
    client: &ClientArgs,
    user: Option<&str>,
    no_revoke: bool,
    cx: &Context<'_>,
) -> Result<String, Failure> {
    let p = person_for(environment, client, user, cx, Purpose::SignOut)?;
    let cached = lookup(cx, &p.request);
    let stored = stored_refresh_token(&p).await;
    let refresh_token = stored.or_else(|| cached.as_ref().and_then(|e| e.refresh_token.clone()));
    let revoked = match (&refresh_token, no_revoke) {
        (Some(token), false) => Some(p.sign_in.revoke(token).await),
        _ => None,
    };
    if let Some(cache) = cx.cache {
        let _ = cache.remove(&p.request);
    }
    if let Some(sealed) = &p.sealed {
        let _ = sealed.delete().await;
    }
    let env = p.sign_in.environment().id();
    match revoked {
        Some(Ok(())) => Ok(format!(
            "signed out of `{env}`: the refresh token is revoked and the session forgotten"
        )),
        Some(Err(e)) => {
            let mut failure = Failure::from_error(&e, &p.subject);
            failure.message = format!(
                "the session is forgotten, but its refresh token could not be revoked: {}",
                failure.message
            );
            Err(failure)
        }
        None if refresh_token.is_none() && cached.is_none() => {
            Ok(format!("no session of `{}` in `{env}`", p.user))
        }
        None => Ok(format!("the session in `{env}` is forgotten (not revoked)")),
    }
}
