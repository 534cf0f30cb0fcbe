//! People at a terminal against a real OIDC server: oidc-provider configured by
//! `peers/oidc/people.mjs` (a public native client with PKCE required, the device flow,
//! refresh tokens rotated at every use, revocation), the person played over HTTP by
//! `en_auth_peers::people::Browser`.

use std::sync::{Arc, Mutex};

use en_auth_oauth2::secrecy::{ExposeSecret, SecretString};
use en_auth_oauth2::{
    BrowserSignIn, ClientInfo, DeviceAuthorization, Environment, Error, SignInError, Token,
    TokenProvider, UserSessionStore, UserSessionStoreError, UserSignIn,
};
use en_auth_peers::people::Browser;
use en_auth_peers::{field, oidc_people};

fn issuer() -> &'static str {
    field(oidc_people(), "issuer")
}

fn sign_in() -> UserSignIn {
    let environment = Environment::new("people")
        .with_issuer(issuer())
        .unwrap()
        .with_scopes(["openid", "api:read"]);
    UserSignIn::new(
        ClientInfo::public(field(oidc_people(), "client_id")),
        environment,
    )
    .unwrap()
}

/// What the person does on the other device once the codes are shown.
#[derive(Clone, Copy)]
enum Person {
    Approves,
    Cancels,
    WalksAway,
}

/// The device flow, with the person doing `person` while the device polls. Returns the result
/// and what was shown.
async fn device(person: Person) -> (Result<Token, SignInError>, DeviceAuthorization) {
    let shown = Arc::new(Mutex::new(None));
    let played = Arc::new(Mutex::new(None));
    let result = {
        let shown = Arc::clone(&shown);
        let played = Arc::clone(&played);
        sign_in()
            .device(move |authorization: &DeviceAuthorization| {
                *shown.lock().unwrap() = Some(authorization.clone());
                let uri = authorization
                    .verification_uri_complete
                    .clone()
                    .expect("oidc-provider sends verification_uri_complete");
                let task = tokio::spawn(async move {
                    let browser = Browser::new(issuer());
                    match person {
                        Person::Approves => browser.approve_device(&uri, "alice").await.map(drop),
                        Person::Cancels => browser.deny_device(&uri).await,
                        Person::WalksAway => Ok(()),
                    }
                });
                *played.lock().unwrap() = Some(task);
            })
            .await
    };
    let task = played.lock().unwrap().take().expect("the codes were shown");
    task.await.unwrap().expect("the person's part");
    let shown = shown.lock().unwrap().clone().unwrap();
    (result, shown)
}

/// Refresh tokens as a store sees them.
#[derive(Debug, Default)]
struct Saved(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl UserSessionStore for Saved {
    async fn save(&self, refresh_token: &SecretString) -> Result<(), UserSessionStoreError> {
        self.0
            .lock()
            .unwrap()
            .push(refresh_token.expose_secret().to_owned());
        Ok(())
    }
    async fn delete(&self) -> Result<(), UserSessionStoreError> {
        self.0.lock().unwrap().clear();
        Ok(())
    }
}

#[tokio::test]
async fn device_grant_signs_in_while_the_person_approves_then_the_session_renews_with_rotation() {
    let (result, shown) = device(Person::Approves).await;
    let token = result.expect("the device sign-in");
    assert_eq!(shown.interval.as_secs(), 1, "the peer's interval is used");
    assert!(shown.verification_uri.starts_with(issuer()));
    assert!(!shown.user_code.is_empty());
    let first_refresh = token.refresh_token().unwrap().expose_secret().to_owned();
    let first_access = token.access_token().expose_secret().to_owned();
    assert!(token.id_token().is_some(), "openid was granted");

    let store = Arc::new(Saved::default());
    let session = sign_in()
        .session_from(token)
        .unwrap()
        .with_store(store.clone());
    let authorizer = session.authorizer();
    // The sign-in's own access token first: no request.
    let current = authorizer.access_token().await.unwrap();
    assert_eq!(current.secret().expose_secret(), first_access);
    assert!(store.0.lock().unwrap().is_empty());

    // Renewal: the refresh token grant, the rotated refresh token stored before it is used.
    authorizer.forget();
    let renewed = authorizer.access_token().await.unwrap();
    assert_ne!(renewed.secret().expose_secret(), first_access);
    let saved = store.0.lock().unwrap().clone();
    assert_eq!(saved.len(), 1, "one rotation, one save");
    assert_ne!(
        saved[0], first_refresh,
        "oidc-provider rotates refresh tokens"
    );
    assert_eq!(
        authorizer
            .provider()
            .refresh_token()
            .unwrap()
            .expose_secret(),
        saved[0]
    );

    // The rotated-away refresh token, replayed: refused by the provider.
    let replayed = sign_in()
        .resume(SecretString::from(first_refresh))
        .authorizer();
    let error = replayed.access_token().await.unwrap_err();
    assert!(error.is_refresh_refused(), "{error:?}");
    assert!(
        replayed.provider().refresh_token().is_none(),
        "the session ended"
    );
    // Ended: the provider answers without a request until the person signs in again.
    let again = replayed.provider().authorize().await.unwrap_err();
    assert!(matches!(again, Error::InvalidCredentials(_)), "{again:?}");
}

#[tokio::test]
async fn device_grant_the_person_cancels() {
    let (result, _) = device(Person::Cancels).await;
    match result {
        Err(SignInError::AccessDenied { .. }) => {}
        other => panic!("expected access_denied, got {other:?}"),
    }
}

#[tokio::test]
async fn device_grant_the_person_is_too_slow() {
    let (result, shown) = device(Person::WalksAway).await;
    assert_eq!(shown.expires_in.as_secs(), 6, "the peer's device code TTL");
    match result {
        Err(SignInError::Expired) => {}
        other => panic!("expected expired_token, got {other:?}"),
    }
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token() {
    let (result, _) = device(Person::Approves).await;
    let token = result.unwrap();
    let refresh = token.refresh_token().unwrap().clone();
    sign_in().revoke(&refresh).await.expect("revoked");
    // Revoking twice is no error (RFC 7009 §2.2).
    sign_in().revoke(&refresh).await.expect("revoked again");
    let error = sign_in()
        .resume(refresh)
        .authorizer()
        .access_token()
        .await
        .unwrap_err();
    assert!(error.is_refresh_refused(), "{error:?}");
}

#[tokio::test]
async fn no_refresh_or_access_token_in_debug_errors_or_logs() {
    let capture = en_auth_peers::secrecy::Capture::install();
    let (result, shown) = device(Person::Approves).await;
    let token = result.unwrap();
    let first_refresh = token.refresh_token().unwrap().expose_secret().to_owned();
    let mut scan = en_auth_peers::secrecy::Scan::new();
    scan.secret("the access token", token.access_token().expose_secret());
    scan.secret("the refresh token", &first_refresh);
    scan.secret("the id token", token.id_token().unwrap().expose_secret());
    scan.debug("the token", &token);
    scan.debug("what the person was shown", &shown);
    let sign_in = sign_in();
    scan.debug("the sign-in", &sign_in);
    let store = Arc::new(Saved::default());
    let session = sign_in
        .session_from(token)
        .unwrap()
        .with_store(store.clone());
    scan.debug("the session", &session);
    let authorizer = session.authorizer();
    authorizer.access_token().await.unwrap();
    authorizer.forget();
    let renewed = authorizer.access_token().await.unwrap();
    scan.secret("the renewed access token", renewed.secret().expose_secret());
    let rotated = store.0.lock().unwrap()[0].clone();
    scan.secret("the rotated refresh token", &rotated);
    scan.debug("the authorizer", &authorizer);
    let replayed = sign_in
        .resume(SecretString::from(first_refresh))
        .authorizer();
    let error = replayed.access_token().await.unwrap_err();
    scan.shown("the replay's error", &error);
    let ended = replayed.provider().authorize().await.unwrap_err();
    scan.shown("the ended session's error", &ended);
    let revoked = sign_in.revoke(&SecretString::from(rotated)).await;
    scan.debug("the revocation", &revoked);
    let (cancelled, _) = device(Person::Cancels).await;
    let cancelled = cancelled.unwrap_err();
    scan.shown("the cancelled sign-in", &cancelled);

    // The browser flow: the authorization code, `state` and `nonce`; the PKCE verifier never
    // leaves the pending sign-in (its `Debug` shows none of them).
    let mut pending_debug = String::new();
    let (browser, url, sent) = browser_sign_in_shown(
        true,
        |u| u,
        |pending| pending_debug = format!("{pending:?} {pending:#?}"),
    )
    .await;
    let browser = browser.unwrap();
    let value = |url: &url::Url, name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    scan.secret("the authorization code", value(&sent, "code"));
    scan.secret("the state", value(&url, "state"));
    scan.secret("the nonce", value(&url, "nonce"));
    scan.secret(
        "the browser sign-in's refresh token",
        browser.refresh_token().unwrap().expose_secret(),
    );
    scan.output("the pending browser sign-in (Debug)", &pending_debug);
    let (forged, url, sent) =
        browser_sign_in_shown(true, |u| replace(u, "state", "forged-state-value"), |_| {}).await;
    scan.secret("the refused redirect's code", value(&sent, "code"));
    scan.secret("the refused sign-in's state", value(&url, "state"));
    scan.shown("the state mismatch", &forged.unwrap_err());
    scan.logs(capture);
    scan.assert_clean();
}

/// A browser sign-in, the person approving (or cancelling) over HTTP; `tamper` rewrites the
/// redirect before the "browser" delivers it to the loopback listener.
async fn browser_sign_in(
    approve: bool,
    tamper: impl FnOnce(url::Url) -> url::Url,
) -> (Result<Token, SignInError>, url::Url) {
    let (result, url, _) = browser_sign_in_shown(approve, tamper, |_| {}).await;
    (result, url)
}

/// As [`browser_sign_in`], `look` seeing the pending sign-in; also returns the redirect as
/// the provider sent it.
async fn browser_sign_in_shown(
    approve: bool,
    tamper: impl FnOnce(url::Url) -> url::Url,
    look: impl FnOnce(&en_auth_oauth2::PendingBrowserSignIn),
) -> (Result<Token, SignInError>, url::Url, url::Url) {
    let pending = sign_in()
        .start_browser(BrowserSignIn::new())
        .await
        .expect("started");
    look(&pending);
    let url = pending.authorization_url().clone();
    assert!(pending.redirect_uri().starts_with("http://127.0.0.1:"));
    let finish = tokio::spawn(pending.finish());
    let redirect = Browser::new(issuer())
        .authorize(url.as_str(), "alice", approve)
        .await
        .expect("the provider redirects to the client");
    let sent = redirect.clone();
    let redirect = tamper(redirect);
    let page = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(redirect.clone())
        .send()
        .await
        .expect("the loopback listener answers");
    let result = finish.await.unwrap();
    assert_eq!(page.status().is_success(), result.is_ok(), "{result:?}");
    (result, url, sent)
}

fn replace(url: url::Url, name: &str, value: &str) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut url = url;
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

#[tokio::test]
async fn authorization_code_with_pkce_signs_in_and_the_session_renews() {
    let (result, url) = browser_sign_in(true, |u| u).await;
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["response_type"], "code");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let token = result.expect("signed in");
    assert!(token.refresh_token().is_some());
    let authorizer = sign_in().session_from(token).unwrap().authorizer();
    authorizer.access_token().await.unwrap();
    authorizer.forget();
    authorizer
        .access_token()
        .await
        .expect("renewed with the refresh token");
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused() {
    let (result, _) = browser_sign_in(true, |u| replace(u, "state", "forged-state-value")).await;
    assert!(
        matches!(result, Err(SignInError::StateMismatch)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_redirect_from_another_issuer_is_refused() {
    let (result, _) = browser_sign_in(true, |u| {
        assert!(
            u.query_pairs().any(|(k, _)| k == "iss"),
            "oidc-provider sends iss"
        );
        replace(u, "iss", "https://attacker.example")
    })
    .await;
    match result {
        Err(SignInError::IssuerMismatch { received, .. }) => {
            assert_eq!(received.as_deref(), Some("https://attacker.example"));
        }
        other => panic!("expected an issuer mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn the_person_cancels_in_the_browser() {
    let (result, _) = browser_sign_in(false, |u| u).await;
    assert!(
        matches!(result, Err(SignInError::AccessDenied { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_authorization_request_carries_cognitos_identity_provider_and_extra_parameters() {
    let pending = sign_in()
        .start_browser(
            BrowserSignIn::new()
                .identity_provider("Entra")
                .param("login_hint", "alice@example.com"),
        )
        .await
        .unwrap();
    let url = pending.authorization_url();
    assert!(
        url.as_str().starts_with(&format!("{}/auth?", issuer())),
        "{url}"
    );
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["identity_provider"], "Entra");
    assert_eq!(query["login_hint"], "alice@example.com");
    assert_eq!(query["redirect_uri"], pending.redirect_uri());
    assert_eq!(query["client_id"], field(oidc_people(), "client_id"));
    assert_eq!(query["scope"], "openid api:read");
    // A challenge of a 43-character S256 hash, never the verifier.
    assert_eq!(query["code_challenge"].len(), 43);
}

#[tokio::test]
async fn the_loopback_listener_ignores_other_requests_and_gives_up_after_its_timeout() {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let pending = sign_in().start_browser(BrowserSignIn::new()).await.unwrap();
    let callback = url::Url::parse(pending.redirect_uri()).unwrap();
    let finish = tokio::spawn(pending.finish());
    // A browser's favicon request and a POST are answered and the wait goes on.
    let favicon = http
        .get(callback.join("/favicon.ico").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(favicon.status(), 404);
    let post = http.post(callback.clone()).send().await.unwrap();
    assert_eq!(post.status(), 400);
    assert!(!finish.is_finished());
    // Then a redirect without this sign-in's state ends it.
    let forged = http
        .get(format!("{callback}?code=abc&state=forged-state-value"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let result = finish.await.unwrap();
    assert!(
        matches!(result, Err(SignInError::StateMismatch)),
        "{result:?}"
    );

    // No redirect at all: the sign-in gives up after its timeout.
    let pending = sign_in()
        .start_browser(BrowserSignIn::new().timeout(std::time::Duration::from_millis(200)))
        .await
        .unwrap();
    match pending.finish().await {
        Err(SignInError::Request(Error::Configuration(e))) => {
            assert!(e.to_string().contains("no redirect"), "{e}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}
