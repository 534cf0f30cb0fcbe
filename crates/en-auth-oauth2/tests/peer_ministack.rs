//! Integration with ministack (PyPI, pinned in `peers/ministack`): a local AWS emulator whose
//! Cognito serves the user-pool `/oauth2/token` endpoint for the client-credentials grant, the
//! machine-to-machine shape production Cognito uses. The pool, a resource server with a scope
//! and a confidential app client are created through the AWS API by `peers/ministack/start.py`.

use std::time::Duration;

use en_auth_oauth2::{
    BrowserSignIn, ClientInfo, Environment, Error, ServiceAccountAuthorizer, UserSignIn,
};
use en_auth_peers::{field, ministack, TOKEN_TTL_SECONDS};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde_json::Value;

fn environment() -> Environment {
    let info = ministack();
    Environment::new("ministack")
        .with_token_url(field(info, "token_endpoint"))
        .unwrap()
        .with_region(field(info, "region"))
        .with_user_pool_id(field(info, "user_pool_id"))
        .with_scopes([field(info, "m2m/scope")])
}

fn authorizer(secret: &str) -> ServiceAccountAuthorizer {
    let info = ClientInfo::new(field(ministack(), "m2m/client_id"), secret);
    ServiceAccountAuthorizer::new(info, environment()).unwrap()
}

/// Verifies a Cognito access token's RS256 signature and expiry against the pool's JWKS.
async fn verify(token: &str) -> Value {
    let jwks: Value = serde_json::from_slice(
        &reqwest::get(field(ministack(), "jwks_uri"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let kid = decode_header(token)
        .unwrap()
        .kid
        .expect("a kid in the header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in {jwks}"));
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[field(ministack(), "issuer")]);
    validation.validate_aud = false;
    validation.leeway = 0;
    decode::<Value>(token, &key, &validation).unwrap().claims
}

#[tokio::test]
async fn client_credentials_yield_a_signed_jwt_with_the_scope() {
    let auth = authorizer(field(ministack(), "m2m/client_secret"));
    let token = auth.access_token().await.unwrap();
    let claims = verify(token.secret().expose_secret()).await;
    assert_eq!(claims["client_id"], field(ministack(), "m2m/client_id"));
    assert_eq!(claims["token_use"], "access");
    let scope = claims["scope"].as_str().unwrap();
    assert!(
        scope
            .split(' ')
            .any(|s| s == field(ministack(), "m2m/scope")),
        "{claims}"
    );
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(
        lifetime, TOKEN_TTL_SECONDS,
        "the app client's access-token validity is honoured"
    );
    assert_eq!(
        token.lifetime(),
        Some(Duration::from_secs(TOKEN_TTL_SECONDS - 1))
    );
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_client_error() {
    let err = authorizer("not-the-secret")
        .access_token()
        .await
        .unwrap_err();
    match &err {
        Error::InvalidClient(e) => {
            assert_eq!(e.client_id, field(ministack(), "m2m/client_id"));
            assert!(e.endpoint.ends_with("/oauth2/token"));
        }
        other => panic!("expected InvalidClient, got {other:?}"),
    }
}

#[tokio::test]
async fn tokens_are_renewed_across_expiries_and_each_verifies() {
    let auth = authorizer(field(ministack(), "m2m/client_secret"));
    let mut seen = Vec::new();
    for round in 1..=3_u64 {
        let token = auth.access_token().await.unwrap();
        let access = token.secret().expose_secret().to_owned();
        let (renew_at, expires_at) = (token.renew_at().unwrap(), token.expires_at().unwrap());
        drop(token);
        verify(&access).await;
        assert_eq!(
            auth.token_requests(),
            round,
            "one token request per lifetime"
        );
        // Due: the call starts the renewal (in the background while the token may still be
        // used, 250 ms here, else waited for: which one depends on how soon this thread wakes,
        // so it is not asserted here; en-auth-core's tests and observability.rs pin the
        // background renewal without a clock)...
        tokio::time::sleep_until(renew_at.into()).await;
        auth.access_token().await.unwrap();
        // ...and once it has expired, the renewed one is served.
        tokio::time::sleep_until(expires_at.into()).await;
        seen.push(access);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "a new token after each expiry");
    let last = auth.access_token().await.unwrap();
    assert!(!seen.contains(&last.secret().expose_secret().to_owned()));
    assert_eq!(auth.token_requests(), 4);
}

/// Cognito managed login as ministack serves it (issue 20): the browser sign-in with PKCE at
/// the app client's one registered callback URL (`redirect_uri`: a `localhost` port, as Cognito
/// requires) and endpoints named in the environment (ministack's discovery document names the
/// AWS issuer, not its own URL). The person signs in on ministack's hosted page, played over
/// HTTP (`en_auth_peers::cognito::hosted_ui_sign_in`); the code is exchanged with the PKCE
/// verifier, the id token carries this sign-in's `nonce` (checked by `finish`), GetUser takes
/// the access token, and the session renews with the refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_login_with_pkce_at_the_registered_callback_then_renewal() {
    let info = ministack();
    let redirect_uri = field(info, "managed_login/redirect_uri");
    let environment = Environment::new("ministack-managed-login")
        .with_token_url(field(info, "token_endpoint"))
        .unwrap()
        .with_authorization_url(field(info, "managed_login/authorization_endpoint"))
        .unwrap()
        .with_redirect_uri(redirect_uri)
        .unwrap()
        // GetUser takes an access token of managed login only with this scope, as Cognito.
        .with_scopes(["openid", "email", "aws.cognito.signin.user.admin"]);
    let client = ClientInfo::public(field(info, "managed_login/client_id"));
    let sign_in = UserSignIn::new(client, environment).unwrap();
    let pending = sign_in.start_browser(BrowserSignIn::new()).await.unwrap();
    assert_eq!(pending.redirect_uri(), redirect_uri);
    let authorization = pending.authorization_url().to_string();
    let finish = tokio::spawn(pending.finish());

    let location = en_auth_peers::cognito::hosted_ui_sign_in(
        &authorization,
        field(info, "managed_login/login_endpoint"),
        field(info, "user/username"),
        field(info, "user/password"),
    )
    .await
    .expect("signed in on the hosted page");
    assert!(location.starts_with(redirect_uri), "{location}");
    let delivered = en_auth_peers::people::deliver_redirect(&location).await;
    let token = finish.await.unwrap().expect("the code exchanged");
    assert!(delivered.is_success());
    assert!(token.id_token().is_some(), "openid: an id token");
    let user = en_auth_peers::ministack_get_user(token.access_token().expose_secret()).await;
    assert_eq!(user.as_deref(), Ok(field(info, "user/username")));

    // The session hands out the sign-in's token first, then renews with the refresh token.
    let authorizer = sign_in.session_from(token.clone()).unwrap().authorizer();
    let first = authorizer
        .access_token()
        .await
        .expect("the sign-in's token");
    assert_eq!(
        first.secret().expose_secret(),
        token.access_token().expose_secret()
    );
    authorizer.forget();
    let renewed = authorizer.access_token().await.expect("renewed");
    assert_ne!(
        renewed.secret().expose_secret(),
        token.access_token().expose_secret()
    );
    let user = en_auth_peers::ministack_get_user(renewed.secret().expose_secret()).await;
    assert_eq!(user.as_deref(), Ok(field(info, "user/username")));
}
