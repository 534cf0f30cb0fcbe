//! The token endpoint's client across runtimes, which requests may carry a token, which answers
//! reject it, and configuration mistakes caught when the authorizer is built.

use std::time::Duration;

use en_auth_oauth2::reqwest_middleware::ClientBuilder;
use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{
    ClientInfo, Environment, Error, RenewalPolicy, RequestPolicy, ServiceAccountAuthorizer,
    TransportErrorKind,
};
use en_auth_testkit::OAuthServer;
use http::StatusCode;
use httpmock::prelude::*;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn environment(server: &OAuthServer) -> Environment {
    Environment::new("test")
        .with_token_url(&server.token_url())
        .unwrap()
}

/// The everyday shape of a `static` authorizer shared by several `#[tokio::test]`s: the first
/// token was fetched on runtime A, which is alive but idle; a renewal from runtime B must not
/// wait on A's pooled connection.
#[test]
fn a_token_fetched_on_an_idle_runtime_is_renewed_from_another_at_once() {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = servers.block_on(OAuthServer::builder().client("svc", "secret").start());
    let auth =
        ServiceAccountAuthorizer::builder(ClientInfo::new("svc", "secret"), environment(&server))
            .renewal_policy(RenewalPolicy::default().with_max_attempts(1))
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();

    let a = current_thread();
    let first = a.block_on(auth.access_token()).unwrap().generation();
    auth.invalidate(first);

    let b = current_thread();
    let renewed = b
        .block_on(auth.access_token())
        .expect("renewed from runtime B, not stalled on runtime A's connection");
    assert_ne!(renewed.generation(), first);
    assert_eq!(server.token_requests(), 2);
    drop(a);
}

#[tokio::test]
async fn many_authorizers_share_one_client_and_all_get_their_tokens() {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let authorizers: Vec<_> = (0..500)
        .map(|_| {
            ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment(&server))
                .unwrap()
        })
        .collect();
    let results = futures::future::join_all(authorizers.iter().map(|a| a.access_token())).await;
    let failures = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failures, 0);
    assert_eq!(server.token_requests(), 500);
}

#[tokio::test]
async fn a_bearer_token_is_not_sent_over_plain_http_to_a_remote_host() {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let auth =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment(&server))
            .unwrap();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();
    // `.invalid` never resolves (RFC 6761): even a failed check would send nothing anywhere.
    let err = client
        .get("http://api.example.invalid/resource")
        .send()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("api.example.invalid") && text.contains("with_insecure_http"),
        "{text}"
    );
    assert!(
        matches!(
            err,
            en_auth_oauth2::reqwest_middleware::Error::Middleware(_)
        ),
        "refused by the authorizer, not by the network"
    );
    assert_eq!(server.token_requests(), 0, "no token was even requested");

    // Loopback stays allowed.
    let response = client.get(server.resource_url()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A resource behind a gateway that answers an expired token with 403.
async fn gateway_with_403_for(token: &str) -> MockServer {
    let resource = MockServer::start_async().await;
    resource
        .mock_async(|when, then| {
            when.path("/api")
                .header("authorization", format!("Bearer {token}"));
            then.status(403).body("expired");
        })
        .await;
    resource
        .mock_async(|when, then| {
            when.path("/api");
            then.status(200).body("ok");
        })
        .await;
    resource
}

#[tokio::test]
async fn statuses_named_as_rejections_renew_and_replay_once() {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let policy = RequestPolicy::default()
        .with_rejection_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]);
    let auth =
        ServiceAccountAuthorizer::builder(ClientInfo::new("svc", "secret"), environment(&server))
            .request_policy(policy)
            .build()
            .unwrap();
    let first = auth.access_token().await.unwrap();
    let resource = gateway_with_403_for(first.secret().expose_secret()).await;
    drop(first);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();
    let response = client.get(resource.url("/api")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(auth.token_requests(), 2, "one renewal");
    let response = client.get(resource.url("/api")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(auth.token_requests(), 2);
}

#[tokio::test]
async fn by_default_403_is_returned_untouched() {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let auth =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment(&server))
            .unwrap();
    let first = auth.access_token().await.unwrap();
    let resource = gateway_with_403_for(first.secret().expose_secret()).await;
    drop(first);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();
    let response = client.get(resource.url("/api")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(auth.token_requests(), 1);
}

#[tokio::test]
async fn an_empty_or_newline_ended_secret_is_refused_when_the_authorizer_is_built() {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let err = ServiceAccountAuthorizer::new(ClientInfo::new("svc", ""), environment(&server))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::Configuration(_))
            && text.contains("`svc`")
            && text.contains("CLIENT_SECRET"),
        "{text}"
    );
    let err =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret\n"), environment(&server))
            .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("newline") && !text.contains("secret\n"),
        "{text}"
    );
    assert_eq!(server.token_requests(), 0);
}

#[tokio::test]
async fn https_to_a_plain_http_port_says_so_and_is_not_retried() {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let url = server.token_url().replacen("http://", "https://", 1);
    let auth = ServiceAccountAuthorizer::new(
        ClientInfo::new("svc", "secret"),
        Environment::new("test").with_token_url(&url).unwrap(),
    )
    .unwrap();
    let err = auth.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::NotTls),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not speak TLS"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(auth.token_requests(), 1, "not retried");
}
