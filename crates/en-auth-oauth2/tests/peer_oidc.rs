//! Integration with a real, certified OAuth2 server: oidc-provider (npm, pinned in
//! `peers/oidc`), started on loopback with a 3-second token lifetime.

use std::time::{Duration, Instant};

use en_auth_oauth2::{
    ClientInfo, Environment, Error, ServiceAccountAuthorizer, TokenEndpointAuthMethod,
};
use en_auth_peers::support::{IntrospectedResource, Introspection};
use en_auth_peers::{field, oidc, TOKEN_TTL_SECONDS};
use secrecy::ExposeSecret;
use serde_json::Value;

fn environment(method: TokenEndpointAuthMethod) -> Environment {
    Environment::new("oidc-provider")
        .with_token_url(field(oidc(), "token_endpoint"))
        .unwrap()
        .with_scopes([field(oidc(), "scope")])
        .with_token_endpoint_auth_method(method)
}

fn client(name: &str) -> ClientInfo {
    ClientInfo::new(
        field(oidc(), &format!("clients/{name}/id")),
        field(oidc(), &format!("clients/{name}/secret")),
    )
}

/// RFC 7662 introspection, as the resource server.
fn introspection() -> Introspection {
    Introspection {
        endpoint: field(oidc(), "introspection_endpoint").to_owned(),
        client_id: field(oidc(), "clients/introspector/id").to_owned(),
        secret: field(oidc(), "clients/introspector/secret").to_owned(),
    }
}

async fn introspect(token: &str) -> Value {
    introspection()
        .introspect(&reqwest::Client::new(), token)
        .await
}

#[tokio::test]
async fn client_secret_basic_with_special_characters() {
    // The secret contains + = $ ! : % / space & ? ~ : it only works if form-encoded (§2.3.1).
    assert!(field(oidc(), "clients/basic/secret").contains('%'));
    let auth = ServiceAccountAuthorizer::new(
        client("basic"),
        environment(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    let token = auth.access_token().await.unwrap();
    // expires_in less its one-second resolution.
    assert_eq!(
        token.lifetime(),
        Some(Duration::from_secs(TOKEN_TTL_SECONDS - 1))
    );
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/basic/id"));
    assert_eq!(info["scope"], field(oidc(), "scope"));
}

#[tokio::test]
async fn client_secret_post() {
    let auth = ServiceAccountAuthorizer::new(
        client("post"),
        environment(TokenEndpointAuthMethod::ClientSecretPost),
    )
    .unwrap();
    let token = auth.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/post/id"));
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_client_error() {
    for method in [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
    ] {
        let info = ClientInfo::new(field(oidc(), "clients/basic/id"), "wrong-secret");
        let err = ServiceAccountAuthorizer::new(info, environment(method))
            .unwrap()
            .access_token()
            .await
            .unwrap_err();
        match &err {
            Error::InvalidClient(e) => {
                assert_eq!(e.client_id, field(oidc(), "clients/basic/id"));
                assert_eq!(e.endpoint, field(oidc(), "token_endpoint"));
            }
            other => panic!("{method:?}: expected InvalidClient, got {other:?}"),
        }
        assert!(!err.to_string().contains("wrong-secret"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_sees_only_active_tokens_across_several_expiries() {
    let resource = IntrospectedResource::start(introspection(), None).await;
    let url = resource.url().to_owned();

    let auth = ServiceAccountAuthorizer::new(
        client("basic"),
        environment(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();

    // Traffic until the resource has seen four different tokens (three renewals of the 3-s
    // tokens), for at most a minute.
    let lifetime = Duration::from_secs(TOKEN_TTL_SECONDS);
    let started = Instant::now();
    let mut sent = 0_u64;
    while resource.distinct_tokens() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} tokens of {lifetime:?} seen in a minute ({sent} requests)",
            resource.distinct_tokens()
        );
        let batch = (0..4).map(|_| http.get(&url).send());
        for response in futures::future::join_all(batch).await {
            assert_eq!(response.unwrap().status(), 200);
            sent += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(
        resource.inactive(),
        0,
        "an expired token reached the resource"
    );
    assert_eq!(resource.active(), sent);
    // Renewals per lifetime, not per request, bounded by how long the run really took: a 3-s
    // token is relied on for 2 s (expires_in has one-second resolution) and renewed at 3/4 of
    // that, 1.5 s after it arrived (no shared store, so no renewal jitter): at most one token
    // request per 1.5 s after the first (counted per 1.25 s, to be safe). And each batch of four concurrent requests
    // makes at most one (they share it), so at least four requests per token request.
    let token_requests = auth.token_requests();
    let bound = 1 + (elapsed.as_secs_f64() / 1.25).ceil() as u64;
    assert!(
        token_requests <= bound,
        "{token_requests} token requests in {elapsed:?} (at most {bound}) for {sent} requests"
    );
    assert!(
        sent >= 4 * token_requests,
        "{sent} requests, {token_requests} token requests"
    );
}
