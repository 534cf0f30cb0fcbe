//! Cognito managed login (issue 20): a person signed in through a federated identity provider
//! (`identity_provider`) with the authorization code grant and PKCE, against the testkit's
//! Cognito emulator (its `/oauth2/authorize`, `/oauth2/token`, `/oauth2/revoke` and the pool's
//! OpenID Connect discovery document, which — as Cognito's — lists only the secret-based client
//! authentication methods). The browser is played over HTTP: the authorization request is
//! answered with a redirect, which the "browser" hands to the loopback listener.

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{BrowserSignIn, ClientInfo, Environment, SignInError, UserSignIn};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};

const POOL: &str = "eu-west-1_Managed";

async fn server() -> CognitoServer {
    server_for(AppClient::public("desktop-app")).await
}

async fn server_for(client: AppClient) -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(client)
        .user(PoolUser::new("corp_alice", "Unused-Passw0rd!").email("alice@corp.example"))
        .federated_identity_provider("Corp", "corp_alice")
        .start()
        .await
}

fn environment(server: &CognitoServer) -> Environment {
    Environment::new("cognito")
        .with_issuer(&format!("{}/{POOL}", server.endpoint()))
        .unwrap()
        .with_scopes(["openid", "email"])
}

fn sign_in(server: &CognitoServer) -> UserSignIn {
    UserSignIn::new(ClientInfo::public("desktop-app"), environment(server)).unwrap()
}

/// A sign-in of the environment with the registered `redirect_uri`, started through the
/// federated provider: it sends that redirect URI.
async fn registered_sign_in(
    server: &CognitoServer,
    registered: &str,
) -> (UserSignIn, en_auth_oauth2::PendingBrowserSignIn) {
    let environment = environment(server).with_redirect_uri(registered).unwrap();
    let sign_in = UserSignIn::new(ClientInfo::public("desktop-app"), environment).unwrap();
    let pending = sign_in
        .start_browser(BrowserSignIn::new().identity_provider("Corp"))
        .await
        .unwrap();
    assert_eq!(pending.redirect_uri(), registered);
    (sign_in, pending)
}

/// An HTTP client that shows redirects instead of following them (the browser's part is
/// played step by step).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Plays the browser: sends the authorization request, checks the redirect goes to the
/// loopback listener, delivers it (possibly `tamper`ed); the sign-in's outcome.
async fn browser(
    sign_in: &UserSignIn,
    options: BrowserSignIn,
    tamper: impl FnOnce(url::Url) -> url::Url,
) -> Result<en_auth_oauth2::Token, SignInError> {
    let pending = sign_in.start_browser(options).await.expect("started");
    let authorization = pending.authorization_url().clone();
    let redirect_uri = pending.redirect_uri().to_owned();
    let finish = tokio::spawn(pending.finish());
    let http = no_redirects();
    let answer = http.get(authorization).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&redirect_uri), "{location}");
    let location = tamper(url::Url::parse(&location).unwrap());
    http.get(location)
        .send()
        .await
        .expect("the listener answers");
    finish.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_sign_in_through_managed_login_then_renewal_then_revocation() {
    let server = server().await;
    let sign_in = sign_in(&server);
    let token = browser(
        &sign_in,
        BrowserSignIn::new().identity_provider("Corp"),
        |u| u,
    )
    .await
    .expect("signed in through the federated provider");
    // Cognito's tokens, for the provider's user: the resource takes the access token.
    let id_token = token.id_token().expect("openid").expose_secret().to_owned();
    let claims = id_token.split('.').nth(1).unwrap();
    let claims =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
    assert_eq!(claims["cognito:username"], "corp_alice");
    let refresh = token.refresh_token().expect("a refresh token").clone();
    let resource = reqwest::Client::builder().no_proxy().build().unwrap();
    let status = |access: String| {
        let request = resource
            .get(server.resource_url())
            .bearer_auth(access)
            .send();
        async move { request.await.unwrap().status() }
    };
    assert_eq!(
        status(token.access_token().expose_secret().to_owned()).await,
        200
    );

    // The session renews with the refresh token (the token endpoint's refresh_token grant).
    let authorizer = sign_in.session_from(token).unwrap().authorizer();
    authorizer.forget();
    let renewed = authorizer.access_token().await.expect("renewed");
    assert_eq!(
        status(renewed.secret().expose_secret().to_owned()).await,
        200
    );

    // Sign-out (RFC 7009 at /oauth2/revoke): the refresh token and its access tokens refused.
    sign_in.revoke(&refresh).await.expect("revoked");
    assert_eq!(
        status(renewed.secret().expose_secret().to_owned()).await,
        401
    );
    let again = sign_in.resume(refresh).authorizer();
    assert!(
        again.access_token().await.is_err(),
        "the refresh token is refused"
    );
}

/// The code is bound to this sign-in's PKCE verifier and `state`: a redirect whose `state` was
/// changed is refused before the code is exchanged, and a code is exchanged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_state_is_refused_and_the_code_not_exchanged() {
    let server = server().await;
    let sign_in = sign_in(&server);
    let result = browser(
        &sign_in,
        BrowserSignIn::new().identity_provider("Corp"),
        |mut u| {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .into_owned()
                .map(|(k, v)| {
                    if k == "state" {
                        (k, "forged".into())
                    } else {
                        (k, v)
                    }
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
            u
        },
    )
    .await;
    assert!(
        matches!(result, Err(SignInError::StateMismatch)),
        "{result:?}"
    );
    assert_eq!(server.tokens_issued(), 0);
}

/// Cognito accepts only a `redirect_uri` among the app client's `CallbackURLs`, string for
/// string, and plain `http` only to `localhost`: a free-port `127.0.0.1` redirect is refused,
/// and the environment's registered `redirect_uri` is what the sign-in sends and listens on (its
/// port and path). That port taken is a configuration error naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_redirect_uri_is_sent_and_listened_on() {
    let port = en_auth_peers::support::free_port();
    let registered = format!("http://localhost:{port}/signed-in");
    let server =
        server_for(AppClient::public("desktop-app").callback_urls([registered.clone()])).await;
    let http = no_redirects();

    let unregistered = sign_in(&server)
        .start_browser(BrowserSignIn::new().identity_provider("Corp"))
        .await
        .unwrap();
    assert!(unregistered.redirect_uri().starts_with("http://127.0.0.1:"));
    let answer = http
        .get(unregistered.authorization_url().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("redirect_mismatch"));
    drop(unregistered);

    let (sign_in, pending) = registered_sign_in(&server, &registered).await;
    let sent: Vec<(String, String)> = pending
        .authorization_url()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(sent.contains(&("redirect_uri".into(), registered.clone())));
    drop(pending);
    let token = browser(
        &sign_in,
        BrowserSignIn::new().identity_provider("Corp"),
        |u| u,
    )
    .await
    .expect("signed in through the registered redirect URI");
    assert!(token.id_token().is_some());
    assert_eq!(server.tokens_issued(), 1);

    // The port taken on either loopback address `localhost` may reach (RFC 8252 §8.3: another
    // program would receive the code): a configuration error naming the field and the address.
    for taken in ["127.0.0.1", "::1"] {
        let _holder = std::net::TcpListener::bind((taken, port)).unwrap();
        let error = sign_in
            .start_browser(BrowserSignIn::new())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("redirect_uri"), "{message}");
        assert!(
            message.contains(&format!("{taken} port {port}")),
            "{message}"
        );
    }
}

/// A registered redirect URI on another loopback address is listened on at that address.
#[tokio::test]
async fn a_redirect_uri_on_another_loopback_address_is_listened_on_there() {
    let port = en_auth_peers::support::free_port();
    let registered = format!("http://127.0.0.2:{port}/cb");
    let server = server().await;
    // Held while the connection is made: its listener lives as long as it does.
    let (_sign_in, _pending) = registered_sign_in(&server, &registered).await;
    tokio::net::TcpStream::connect(("127.0.0.2", port))
        .await
        .expect("the sign-in listens on 127.0.0.2");
}

/// Without `identity_provider` the emulator has no page to sign in on: the authorization
/// request is refused (400), and the discovery document names Cognito's endpoints.
#[tokio::test]
async fn the_pool_publishes_its_managed_login_endpoints() {
    let server = server().await;
    let document = reqwest::get(format!(
        "{}/{POOL}/.well-known/openid-configuration",
        server.endpoint()
    ))
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let document: serde_json::Value = serde_json::from_slice(&document).unwrap();
    assert_eq!(document["issuer"], format!("{}/{POOL}", server.endpoint()));
    assert_eq!(
        document["authorization_endpoint"],
        format!("{}/oauth2/authorize", server.endpoint())
    );
    assert_eq!(document["code_challenge_methods_supported"][0], "S256");
    let refused = no_redirects()
        .get(format!(
            "{}/oauth2/authorize?response_type=code&client_id=desktop-app\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback\
             &code_challenge=x&code_challenge_method=S256",
            server.endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}
