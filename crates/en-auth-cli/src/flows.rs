//! Obtaining a token: from the cache, or from the server — the client-credentials grant, or a
//! Cognito user's session (renewed with its refresh token, or a new SRP login).

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use en_auth_oauth2::{
    ClientInfo, Environment, Error, LocalStore, RenewalTrigger, ServiceAccountAuthorizer,
    SharedStoreSettings, Token,
};
use std::sync::Arc;

use en_auth_srp::{
    Challenge, SessionStore, SignInFlow, SrpAuthorizer, StoredSession, UserCredentials,
};
use secrecy::{ExposeSecret, SecretString};

use crate::cache::{Cache, Entry, Miss, Request};
use crate::cli::{ClientArgs, TokenArgs};
use crate::failure::{Exit, Failure, Subject};
use crate::input::{self, TerminalChallenges};
use crate::token::IssuedToken;
use crate::unsealed::UnsealedSession;
use crate::Notes;

/// Stands in for the password in an authorizer built only to renew a session with its
/// refresh token: `CognitoSrp::resume` sends the stored refresh token, never the password, and
/// answers `None` when it is refused (it never logs in). The builder refuses an empty
/// password, hence a placeholder.
const UNUSED_PASSWORD: &str = "(unused: renewal with the refresh token)";

/// Where the command runs: the cache (if any) and what to say on stderr.
pub struct Context<'a> {
    /// The cache, unless there is none or `--no-cache`.
    pub cache: Option<&'a Cache>,
    /// Verbose notes and warnings.
    pub notes: &'a Notes,
}

/// The token `args` ask for: a cached one valid for long enough, else a new one (stored).
pub async fn token(args: &TokenArgs, cx: &Context<'_>) -> Result<IssuedToken, Failure> {
    let cache = if args.no_cache { None } else { cx.cache };
    let cx = Context {
        cache,
        notes: cx.notes,
    };
    // A person signed in with an OpenID Connect server (`en-auth login --device/--browser`).
    if let Ok(environment) = Environment::load(&args.client.environment) {
        let user = args.user.as_deref();
        let signed_in = crate::people::has_session(&environment, &args.client.client_id, user, &cx);
        if signed_in
            || (crate::people::is_people_environment(&environment)
                && (user.is_some()
                    || (!has_client_secret(&args.client) && environment.needs_client_secret())))
        {
            return crate::people::token(
                environment,
                &args.client,
                args.user.as_deref(),
                args.min_validity,
                &cx,
            )
            .await;
        }
    }
    match &args.user {
        None => client_credentials(args, &cx).await,
        Some(user) => user_token(&args.client, user, args.min_validity, &cx).await,
    }
}

/// Whether a client secret is given (a file, or CLIENT_SECRET): without one, `en-auth token`
/// in an environment with an OpenID Connect issuer whose client would need one is a person's
/// (a public client has no client-credentials grant; a client that authenticates by key does).
fn has_client_secret(client: &ClientArgs) -> bool {
    client.client_secret_file.is_some()
        || std::env::var_os(input::CLIENT_SECRET_VAR).is_some_and(|v| !v.is_empty())
}

/// How long a process waits for another that is obtaining the same token (or renewing the
/// same session) before it asks the server itself. The lock is an OS file lock, released when
/// its holder exits however it exits, so a long wait costs nothing when the holder is gone.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Why `en-auth token` (any `--format`) and `en-auth exec` refuse an environment with
/// `dpop = true`.
const DPOP_REFUSAL: &str = "the environment binds its tokens to a key with DPoP (`dpop = true`, \
RFC 9449), and a DPoP-bound token cannot be printed as an `Authorization` header or handed to \
another program: every request must also carry a `DPoP` proof signed with the client's private \
key for that request's method and URL, and that key lives only in the process that obtained \
the token. Send the requests from a program that uses en-auth (the reqwest middleware, the \
en-auth-tower layer or the blocking API), which signs a proof for each one";

/// A client-credentials token, through a `ServiceAccountAuthorizer` that shares through the
/// environment's local directory or the cache directory: a token another process stored is
/// adopted while it is valid for long enough; otherwise one process asks the token endpoint
/// while the others wait for its token.
async fn client_credentials(args: &TokenArgs, cx: &Context<'_>) -> Result<IssuedToken, Failure> {
    let mut subject = subject(&args.client, None);
    let environment = load_environment(&args.client, &subject)?;
    if environment.dpop().is_some() {
        return Err(Failure::new(Exit::Configuration, &subject, DPOP_REFUSAL));
    }
    // The store: the environment's local directory (`shared_cache.path`), shared with the
    // services and jobs of this machine; else the cache directory; none with --no-cache. A
    // Redis `url` is the services' own: the command line keeps to its cache directory.
    let directory = environment
        .shared_cache()
        .filter(|config| config.path.is_some() && !args.no_cache)
        .map(|config| {
            LocalStore::from_config(config).map_err(|e| Failure::from_error(&e, &subject))
        })
        .transpose()?;
    let store = directory.or_else(|| cx.cache.map(|cache| cache.shared_store().clone()));
    let mut environment = environment.without_shared_cache();
    if !args.scopes.is_empty() {
        environment = environment.with_scopes(args.scopes.iter().cloned());
    }
    // The token URL, or the issuer whose metadata names it (discovery).
    let endpoint = match (environment.token_url(), environment.issuer()) {
        (None, Some(issuer)) => issuer.to_string(),
        _ => environment
            .require_token_url()
            .map_err(|e| Failure::from_error(&e, &subject))?
            .to_string(),
    };
    subject.endpoint = Some(endpoint.clone());
    // The secret even for a cached token: the cache is keyed by it, so a wrong or rotated
    // secret is a miss, and fails at the token endpoint. A client that authenticates by key (or
    // an assertion file) needs none, and is not asked for one.
    let needs_secret = environment.needs_client_secret();
    let secret = input::client_secret(
        args.client.client_secret_file.as_deref(),
        needs_secret,
        &subject,
    )?
    .unwrap_or_else(|| SecretString::from(String::new()));
    let client = ClientInfo::new(&args.client.client_id, secret.expose_secret());
    let mut builder = ServiceAccountAuthorizer::builder(client, environment);
    if let Some(store) = &store {
        let mut settings = SharedStoreSettings::default();
        settings.lock_wait = LOCK_WAIT;
        // A token is renewed exactly when `--min-validity`'s default says.
        settings.renewal_jitter = 0.0;
        builder = builder
            .shared_store(store.clone())
            .shared_store_settings(settings);
    }
    let started = std::time::Instant::now();
    let fail = |e: Error| Failure::from_error(&e, &subject);
    let authorizer = builder.build().map_err(fail)?;
    let mut token = authorizer.access_token().await.map_err(fail)?;
    let mut issued = IssuedToken::from_token(&token).map_err(fail)?;
    // A token from the cache with less validity than asked is renewed; a token just obtained
    // is what the server gives, however long it lives.
    if authorizer.token_requests() == 0 && !issued.valid_for(args.min_validity) {
        cx.notes
            .info("the cached token has too little validity left: renewing it");
        authorizer.invalidate_with(token.generation(), RenewalTrigger::Expired);
        token = authorizer.access_token().await.map_err(fail)?;
        issued = IssuedToken::from_token(&token).map_err(fail)?;
    }
    let left = issued.remaining().unwrap_or_default().as_secs();
    match (authorizer.token_requests(), &store) {
        (0, Some(store)) => cx.notes.info(&format!(
            "cached token (in {}), valid for {left} s more",
            store.dir().display()
        )),
        (_, store) => {
            cx.notes.info(&format!(
                "token obtained from {endpoint} for client `{}` in {} ms, valid for {left} s",
                args.client.client_id,
                started.elapsed().as_millis()
            ));
            if let Some(store) = store {
                cx.notes
                    .info(&format!("cached in {}", store.dir().display()));
            }
        }
    }
    Ok(issued)
}

/// A Cognito user's access token: cached, else renewed with the session's refresh token, else
/// from a new login (which needs the password). Renewals and logins of one session hold its
/// lock, so that concurrent processes renew it once (a one-time refresh token is spent once)
/// and the others take the renewed session.
async fn user_token(
    client: &ClientArgs,
    user: &str,
    min_validity: Option<Duration>,
    cx: &Context<'_>,
) -> Result<IssuedToken, Failure> {
    let (environment, request, subject, secret) = user_request(client, user)?;
    if let Some(token) = valid_session(cx, &request, user, min_validity) {
        return Ok(token);
    }
    let lock = match cx.cache {
        Some(cache) => cache.lock_session(&request, LOCK_WAIT, cx.notes).await,
        None => None,
    };
    let result = renew_or_log_in(
        &environment,
        client,
        user,
        min_validity,
        (&request, &subject, secret),
        cx,
    )
    .await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    result
}

/// The cached access token of `user` if it is valid for `min_validity` more.
fn valid_session(
    cx: &Context<'_>,
    request: &Request,
    user: &str,
    min_validity: Option<Duration>,
) -> Option<IssuedToken> {
    let entry = lookup(cx, request)?;
    if !entry.token.valid_for(min_validity) {
        return None;
    }
    cx.notes.info(&format!(
        "cached access token of `{user}`, valid for {} s more",
        entry.token.remaining().unwrap_or_default().as_secs()
    ));
    Some(entry.token)
}

/// Under the session's lock: the session another process just renewed, else renewed here with
/// its refresh token (sealed, or in the session file of an older en-auth, which is sealed
/// now), else a new login.
async fn renew_or_log_in(
    environment: &Environment,
    client: &ClientArgs,
    user: &str,
    min_validity: Option<Duration>,
    (request, subject, secret): (&Request, &Subject, Option<SecretString>),
    cx: &Context<'_>,
) -> Result<IssuedToken, Failure> {
    let mut why = "not logged in";
    let entry = match lookup(cx, request) {
        Some(entry) if entry.token.valid_for(min_validity) => {
            cx.notes.info(&format!(
                "the session of `{user}` was renewed by another process meanwhile"
            ));
            return Ok(entry.token);
        }
        other => other,
    };
    let sessions = session_store(cx, subject)?;
    if let Some(sessions) = &sessions {
        let fail = |e: Error| Failure::from_error(&e, subject);
        // One authorizer, one session key (the user name as typed), whatever the session's
        // canonical name (which its refresh's SECRET_HASH uses).
        let authorizer = SrpAuthorizer::builder(
            client_info(&client.client_id, secret.clone()),
            UserCredentials::new(user, UNUSED_PASSWORD),
            environment.clone(),
        )
        .session_store(Arc::clone(sessions))
        .build()
        .map_err(fail)?;
        let key = authorizer.provider().session_key().clone();
        // The refresh token of a session file of an older en-auth (or unsealed by choice)
        // goes into the session store first, unless that holds a session of its own.
        if let Some(refresh_token) = entry.as_ref().and_then(|e| e.refresh_token.clone()) {
            if sessions.load(&key).await.ok().flatten().is_none() {
                let name = entry
                    .as_ref()
                    .and_then(|e| e.canonical_user.clone())
                    .unwrap_or_else(|| user.to_owned());
                if let Err(e) = sessions
                    .save(&key, &StoredSession::new(name, refresh_token, None))
                    .await
                {
                    cx.notes.warn(&e.to_string());
                }
            }
        }
        let stored = sessions.load(&key).await.ok().flatten().is_some();
        if stored {
            cx.notes.info(&format!(
                "renewing the session of `{user}` with its refresh token"
            ));
        }
        match resume(&authorizer).await.map_err(fail)? {
            Some(renewed) => {
                cx.notes.info(&format!(
                    "the session of `{user}` renewed with its stored refresh token"
                ));
                store(cx, request, &renewed);
                return Ok(renewed.token);
            }
            None if stored => {
                cx.notes
                    .info("the refresh token was refused: logging in again");
                why = "the session has ended (its refresh token was refused)";
                if let Some(cache) = cx.cache {
                    let _ = cache.remove(request);
                }
            }
            None if entry.is_some() => why = "the session has expired",
            None => {}
        }
    }
    let entry = login(
        environment,
        client,
        secret,
        user,
        subject,
        why,
        sessions.as_ref(),
    )
    .await?;
    store(cx, request, &entry);
    Ok(entry.token)
}

/// Where the user's session is kept for this run: the sealed sessions; or, with
/// `--allow-unsealed-sessions` and no session key, a store in memory that the session's JSON
/// file seeds and receives; `None` without a cache.
///
/// # Errors
/// Exit 3 (configuration) when no session key can be had and unsealed sessions are not
/// allowed: refresh tokens are never kept unsealed silently.
fn session_store(
    cx: &Context<'_>,
    subject: &Subject,
) -> Result<Option<Arc<dyn SessionStore>>, Failure> {
    let Some(cache) = cx.cache else {
        return Ok(None);
    };
    match cache.sessions(cx.notes) {
        Ok(Some(sealed)) => Ok(Some(Arc::clone(sealed) as Arc<dyn SessionStore>)),
        Ok(None) => Ok(Some(Arc::new(UnsealedSession::default()))),
        Err(why) => Err(Failure::new(Exit::Configuration, subject, why)),
    }
}

/// Renews the stored session of `authorizer` (its refresh token, its device's `DEVICE_KEY`),
/// retrying a transport failure as the authorizer would (same attempts, backoff doubling):
/// `None` if there is none or Cognito refuses it.
async fn resume(authorizer: &SrpAuthorizer) -> Result<Option<Entry>, Error> {
    let attempts = authorizer.policy().max_attempts().max(1);
    let mut backoff = Duration::from_millis(200);
    let mut attempt = 1;
    let resumed = loop {
        match authorizer.provider().resume().await {
            Err(e) if e.is_retryable() && attempt < attempts => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            other => break other?,
        }
    };
    resumed.map(|token| session_entry(&token, None)).transpose()
}

/// `en-auth login`: a new SRP login, its session stored; what to tell the user.
pub async fn login_command(
    client: &ClientArgs,
    user: &str,
    cx: &Context<'_>,
) -> Result<String, Failure> {
    let (environment, request, subject, secret) = user_request(client, user)?;
    let sessions = session_store(cx, &subject)?;
    let entry = login(
        &environment,
        client,
        secret,
        user,
        &subject,
        "logging in",
        sessions.as_ref(),
    )
    .await?;
    let until = entry
        .token
        .expires_at
        .map(crate::token::rfc3339)
        .unwrap_or_else(|| "an unknown time".into());
    let stored = store(cx, &request, &entry);
    Ok(match (stored, entry.refresh_token.is_some()) {
        (true, true) => format!(
            "logged in as `{user}` in `{}`: the access token is valid until {until} and is \
             renewed with the refresh token by `en-auth token --env {} --user {user}`",
            environment.id(),
            environment.id()
        ),
        (true, false) => format!(
            "logged in as `{user}` in `{}`: the access token is valid until {until} (no refresh \
             token: log in again then)",
            environment.id()
        ),
        (false, _) => format!(
            "logged in as `{user}` in `{}`, but the session could not be cached",
            environment.id()
        ),
    })
}

/// The environment, cache request, subject and client secret (none: a public app client) of
/// a user's session.
fn user_request(
    client: &ClientArgs,
    user: &str,
) -> Result<(Environment, Request, Subject, Option<SecretString>), Failure> {
    let mut subject = subject(client, Some(user));
    let environment = load_environment(client, &subject)?;
    let located = (|| {
        let pool = environment.require_user_pool_id()?.to_owned();
        let endpoint = match environment.cognito_endpoint() {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!(
                "https://cognito-idp.{}.amazonaws.com",
                environment.require_region()?
            ),
        };
        Ok::<_, Error>((pool, endpoint))
    })();
    let (pool, endpoint) = located.map_err(|e| Failure::from_error(&e, &subject))?;
    subject.endpoint = Some(endpoint.clone());
    let secret = input::client_secret(client.client_secret_file.as_deref(), false, &subject)?;
    let request = Request::new(
        environment.id(),
        &endpoint,
        Some(&pool),
        &client.client_id,
        &[],
        Some(user),
        &[],
        secret.as_ref(),
    );
    Ok((environment, request, subject, secret))
}

/// A full SRP login, challenges answered on the terminal.
async fn login(
    environment: &Environment,
    client: &ClientArgs,
    secret: Option<SecretString>,
    user: &str,
    subject: &Subject,
    why: &str,
    sessions: Option<&Arc<dyn SessionStore>>,
) -> Result<Entry, Failure> {
    // Custom authentication without SRP proves nothing with the password: none is asked.
    let without_password = SignInFlow::from_environment(environment).ok()
        == Some(SignInFlow::CustomAuth { with_srp: false });
    let password = if without_password {
        SecretString::from(String::new())
    } else {
        input::password(user, subject, why)?
    };
    let client_info = client_info(&client.client_id, secret);
    let credentials = UserCredentials::new(user, password.expose_secret());
    let challenges = TerminalChallenges::default();
    let handler = challenges.clone();
    let result = async {
        let mut builder = SrpAuthorizer::builder(client_info, credentials, environment.clone())
            .challenge_handler(move |challenge: &Challenge| handler.answer(challenge));
        if let Some(sessions) = sessions {
            // The stored device is proved (no MFA code), the new session sealed.
            builder = builder.session_store(Arc::clone(sessions));
        }
        let token = builder.build()?.provider().log_in().await?;
        session_entry(&token, None)
    }
    .await;
    result.map_err(|e| match &e {
        Error::Challenge(c) if challenges.refused() => Failure::new(
            Exit::InteractionNeeded,
            subject,
            format!(
                "Cognito asks for {} to log `{user}` in, and it cannot be asked ({}): run \
                 `en-auth login` in a terminal",
                c.challenge,
                input::why_not_interactive()
            ),
        ),
        _ => Failure::from_error(&e, subject),
    })
}

/// The cache entry of a user's token.
///
/// # Errors
/// A token that cannot be sent as a header ([`IssuedToken::from_token`]).
fn session_entry(token: &Token, canonical_user: Option<&str>) -> Result<Entry, Error> {
    let issued = IssuedToken::from_token(token)?;
    let canonical = canonical_user_name(issued.access_token.expose_secret())
        .or_else(|| canonical_user.map(str::to_owned));
    Ok(Entry {
        token: issued,
        refresh_token: token.refresh_token().cloned(),
        canonical_user: canonical,
        obtained_at: SystemTime::now(),
    })
}

/// The `username` claim of a Cognito access token (a JWT): the user's name in the pool, which
/// a refresh's SECRET_HASH is computed over. Read without verifying the signature — it is our
/// own token, from the server we just called — and `None` if it is not a JWT.
fn canonical_user_name(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("username")
        .or_else(|| claims.get("cognito:username"))?
        .as_str()
        .map(str::to_owned)
}

fn client_info(client_id: &str, secret: Option<SecretString>) -> ClientInfo {
    match secret {
        Some(secret) => ClientInfo::new(client_id, secret.expose_secret()),
        None => ClientInfo::public(client_id),
    }
}

fn subject(client: &ClientArgs, user: Option<&str>) -> Subject {
    Subject {
        client_id: Some(client.client_id.clone()),
        environment: Some(client.environment.clone()),
        user: user.map(str::to_owned),
        endpoint: None,
    }
}

fn load_environment(client: &ClientArgs, subject: &Subject) -> Result<Environment, Failure> {
    Environment::load(&client.environment).map_err(|e| Failure::from_error(&e, subject))
}

/// The cached entry of `request`, if any (corrupt or foreign files are misses).
pub(crate) fn lookup(cx: &Context<'_>, request: &Request) -> Option<Entry> {
    let cache = cx.cache?;
    match cache.load(request) {
        Ok(entry) => Some(entry),
        Err(Miss::Absent) => {
            cx.notes.info(&format!(
                "no cached token ({})",
                cache.path(request).display()
            ));
            None
        }
        Err(Miss::Unusable(why)) => {
            cx.notes.info(&format!(
                "ignoring the cache file {}: {why}",
                cache.path(request).display()
            ));
            None
        }
    }
}

/// Stores `entry`; a failure is a warning (the token is still printed). Whether it was stored.
pub(crate) fn store(cx: &Context<'_>, request: &Request, entry: &Entry) -> bool {
    let Some(cache) = cx.cache else { return false };
    if entry.refresh_token.is_some() && cache.first_refresh_token() {
        let text = match cache.sealed() {
            Ok(sessions) => format!(
                "refresh tokens are kept in {}, sealed with AES-256-GCM (files of mode 0600; \
                 no OS keyring is used); `en-auth logout` revokes and deletes them",
                sessions.dir().display()
            ),
            Err(_) => format!(
                "refresh tokens are kept in {} (files of mode 0600, not sealed: \
                 --allow-unsealed-sessions; no OS keyring is used); `en-auth logout` revokes \
                 and forgets them",
                cache.dir().display()
            ),
        };
        cx.notes.notice(&text);
    }
    match cache.store(request, entry) {
        Ok(stored) => {
            if stored {
                cx.notes
                    .info(&format!("cached in {}", cache.path(request).display()));
            }
            stored
        }
        Err(e) => {
            cx.notes.warn(&format!(
                "cannot write the cache file {}: {e}",
                cache.path(request).display()
            ));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_name_comes_from_the_access_token() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"abc","username":"alice"}"#);
        assert_eq!(
            canonical_user_name(&format!("eyJhbGciOiJub25lIn0.{claims}.")).as_deref(),
            Some("alice")
        );
        assert_eq!(canonical_user_name("opaque-token"), None);
        assert_eq!(canonical_user_name("a.!!!.c"), None);
    }
}
