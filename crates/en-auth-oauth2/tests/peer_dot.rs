//! Integration with a real OAuth2 server written in Python: django-oauth-toolkit 3.4.1 (PyPI,
//! pinned in `peers/requirements.txt`, on Django 5.2, served by Hypercorn), started on
//! loopback with a 3-second token lifetime and the scopes `read` and `write`. Client secrets
//! are stored hashed, as DOT does by default. See `peers/README.md`.

use std::time::{Duration, Instant};

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{
    reqwest, ClientInfo, Environment, Error, ServiceAccountAuthorizer, TokenEndpointAuthMethod,
};
use en_auth_peers::support::{IntrospectedResource, Introspection};
use en_auth_peers::{dot, field, TOKEN_TTL_SECONDS};
use serde_json::Value;

const BASIC: TokenEndpointAuthMethod = TokenEndpointAuthMethod::ClientSecretBasic;
const POST: TokenEndpointAuthMethod = TokenEndpointAuthMethod::ClientSecretPost;

fn environment<S: Into<String>>(
    method: TokenEndpointAuthMethod,
    scopes: impl IntoIterator<Item = S>,
) -> Environment {
    Environment::new("dot")
        .with_token_url(field(dot(), "token_endpoint"))
        .unwrap()
        .with_scopes(scopes)
        .with_token_endpoint_auth_method(method)
}

fn client(name: &str) -> ClientInfo {
    ClientInfo::new(client_id(name), secret(name))
}

fn client_id(name: &str) -> &'static str {
    field(dot(), &format!("clients/{name}/id"))
}

fn secret(name: &str) -> &'static str {
    field(dot(), &format!("clients/{name}/secret"))
}

fn authorizer(name: &str, method: TokenEndpointAuthMethod) -> ServiceAccountAuthorizer {
    let scope = field(dot(), "scope");
    ServiceAccountAuthorizer::new(client(name), environment(method, [scope])).unwrap()
}

/// Fails if `err` shows, in `Display` or `Debug`, any secret the peer printed or `also`.
fn assert_no_secret(err: &Error, also: &str) {
    let shown = format!("{err}\n{err:?}");
    for name in ["basic", "post", "introspector"] {
        assert!(!shown.contains(secret(name)), "{name}'s secret in {shown}");
    }
    assert!(!shown.contains(also), "{also:?} in {shown}");
}

/// RFC 7662 introspection, authenticated (Basic) as the resource server's application.
/// DOT's RFC 7662 introspection, as the resource server.
fn introspection() -> Introspection {
    Introspection {
        endpoint: field(dot(), "introspection_endpoint").to_owned(),
        client_id: client_id("introspector").to_owned(),
        secret: secret("introspector").to_owned(),
    }
}

async fn introspect(token: &str) -> Value {
    introspection()
        .introspect(&reqwest::Client::new(), token)
        .await
}

#[tokio::test]
async fn client_secret_basic_with_special_characters() {
    // Every character that §2.3.1 form-encoding must escape, and a space: sent raw, `+` would
    // read as a space and `%21` as `!` (DOT decodes Basic credentials with unquote_plus).
    let basic = secret("basic");
    for c in ['+', '/', '=', ':', '%', '!', ' '] {
        assert!(basic.contains(c), "{c:?} not in the secret");
    }
    let auth = authorizer("basic", BASIC);
    let token = auth.access_token().await.unwrap();
    // expires_in less its one-second resolution.
    assert_eq!(
        token.lifetime(),
        Some(Duration::from_secs(TOKEN_TTL_SECONDS - 1))
    );
    assert_eq!(token.scope(), Some(field(dot(), "scope")));
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], client_id("basic"), "{info}");
    assert_eq!(info["scope"], field(dot(), "scope"), "{info}");
    assert_eq!(auth.token_requests(), 1);
}

#[tokio::test]
async fn client_secret_post() {
    // The odd secret must be form-encoded in the body too (DOT takes either method from
    // any client).
    for name in ["post", "basic"] {
        let token = authorizer(name, POST).access_token().await.unwrap();
        let info = introspect(token.secret().expose_secret()).await;
        assert_eq!(info["active"], true, "{name}: {info}");
        assert_eq!(info["client_id"], client_id(name), "{info}");
    }
}

#[tokio::test]
async fn a_token_carries_every_scope_requested() {
    let scopes = field(dot(), "scopes");
    assert_eq!(scopes, "read write");
    for method in [BASIC, POST] {
        let auth =
            ServiceAccountAuthorizer::new(client("post"), environment(method, scopes.split(' ')))
                .unwrap();
        let token = auth.access_token().await.unwrap();
        assert_eq!(token.scope(), Some(scopes), "{method:?}");
        let info = introspect(token.secret().expose_secret()).await;
        assert_eq!(info["active"], true, "{method:?}: {info}");
        assert_eq!(info["scope"], scopes, "{method:?}: {info}");
        assert_eq!(info["client_id"], client_id("post"), "{info}");
    }
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_client_error() {
    // DOT answers 401 {"error": "invalid_client"} (no description), with
    // `WWW-Authenticate: Bearer error="invalid_client"`, for both methods.
    let wrong = "wrong-secret-for-dot";
    for method in [BASIC, POST] {
        let info = ClientInfo::new(client_id("basic"), wrong);
        let err = ServiceAccountAuthorizer::new(info, environment(method, ["read"]))
            .unwrap()
            .access_token()
            .await
            .unwrap_err();
        match &err {
            Error::InvalidClient(e) => {
                assert_eq!(e.client_id, client_id("basic"));
                assert_eq!(e.endpoint, field(dot(), "token_endpoint"));
            }
            other => panic!("{method:?}: expected InvalidClient, got {other:?}"),
        }
        assert!(err.to_string().contains(client_id("basic")), "{err}");
        assert!(err.is_fatal() && !err.is_retryable(), "{err:?}");
        assert_no_secret(&err, wrong);
    }
}

#[tokio::test]
async fn an_unknown_client_is_an_invalid_client_error() {
    for method in [BASIC, POST] {
        let info = ClientInfo::new("no-such-client", secret("basic"));
        let err = ServiceAccountAuthorizer::new(info, environment(method, ["read"]))
            .unwrap()
            .access_token()
            .await
            .unwrap_err();
        match &err {
            Error::InvalidClient(e) => assert_eq!(e.client_id, "no-such-client"),
            other => panic!("{method:?}: expected InvalidClient, got {other:?}"),
        }
        assert_no_secret(&err, secret("basic"));
    }
}

#[tokio::test]
async fn an_unknown_scope_is_an_invalid_scope_error() {
    // DOT answers 400 {"error": "invalid_scope"}.
    let auth =
        ServiceAccountAuthorizer::new(client("basic"), environment(BASIC, ["admin"])).unwrap();
    let err = auth.access_token().await.unwrap_err();
    match &err {
        Error::Authorization(e) => {
            assert_eq!(e.code.as_deref(), Some("invalid_scope"), "{e:?}");
            assert_eq!(e.status_code, 400);
            assert_eq!(e.endpoint, field(dot(), "token_endpoint"));
        }
        other => panic!("expected Authorization, got {other:?}"),
    }
    assert!(!err.is_retryable(), "{err:?}");
    assert_no_secret(&err, secret("basic"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_sees_only_active_tokens_across_several_expiries() {
    let resource = IntrospectedResource::start(introspection(), Some(field(dot(), "scope"))).await;
    let url = resource.url().to_owned();

    let auth = authorizer("basic", BASIC);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();

    // Paced traffic — batches of three concurrent requests, a quarter of a second apart —
    // until the resource has seen three different tokens (two renewals of the 3-s tokens), for
    // at most a minute.
    let started = Instant::now();
    let mut sent = 0_u64;
    while resource.distinct_tokens() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} tokens seen in a minute ({sent} requests)",
            resource.distinct_tokens()
        );
        let batch = (0..3).map(|_| http.get(&url).send());
        for response in futures::future::join_all(batch).await {
            assert_eq!(response.unwrap().status(), 200);
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(
        resource.inactive(),
        0,
        "an expired or foreign token reached the resource"
    );
    assert_eq!(resource.active(), sent);
    // Renewals per lifetime, not per request, bounded by how long the run really took: a 3-s
    // token is relied on for 2 s (expires_in has one-second resolution) and renewed at 3/4 of
    // that, 1.5 s after it arrived (no shared store, so no renewal jitter): at most one token
    // request per 1.5 s after the first (counted per 1.25 s, to be safe). And each batch of three concurrent requests
    // makes at most one (they share it), so at least three requests per token request.
    let token_requests = auth.token_requests();
    let distinct = resource.distinct_tokens() as u64;
    let bound = 1 + (elapsed.as_secs_f64() / 1.25).ceil() as u64;
    assert!(
        token_requests <= bound,
        "{token_requests} token requests in {elapsed:?} (at most {bound}) for {sent} requests"
    );
    assert!(
        distinct <= token_requests,
        "{distinct} distinct tokens, {token_requests} token requests"
    );
    assert!(
        sent >= 3 * token_requests,
        "{sent} requests, {token_requests} token requests"
    );
}
