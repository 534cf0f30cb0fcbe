//! Redirects of authorized requests (issue 22 item 9): `reqwest` drops `Authorization` on a
//! redirect to another host but not `X-Api-Key`; `same_origin_redirects()` stops at a redirect
//! that leaves the origin, and follows one that stays. httpmock servers on loopback (two ports:
//! two origins).

use en_auth_oauth2::{
    reqwest_middleware, same_origin_redirects, ClientInfo, Environment, ServiceAccountAuthorizer,
};
use httpmock::prelude::*;
use serde_json::json;

/// A token endpoint, the origin that redirects, and another origin that records what reaches
/// it; a client through the authorizer (with an API key) and `policy`.
async fn setup(
    policy: Option<reqwest::redirect::Policy>,
) -> (
    MockServer,
    MockServer,
    reqwest_middleware::ClientWithMiddleware,
) {
    let origin = MockServer::start_async().await;
    let elsewhere = MockServer::start_async().await;
    origin
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(200).json_body(
                json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}),
            );
        })
        .await;
    origin
        .mock_async(|when, then| {
            when.method(GET).path("/here");
            then.status(302).header("location", "/there");
        })
        .await;
    origin
        .mock_async(|when, then| {
            when.method(GET)
                .path("/there")
                .header("x-api-key", "api-key-123");
            then.status(200).body("same origin");
        })
        .await;
    let away = elsewhere.url("/away");
    origin
        .mock_async(move |when, then| {
            when.method(GET).path("/leave");
            then.status(302).header("location", away.as_str());
        })
        .await;
    let environment = Environment::new("unit")
        .with_token_url(&origin.url("/oauth2/token"))
        .unwrap();
    let authorizer = ServiceAccountAuthorizer::new(
        ClientInfo::new("client", "secret").with_api_key("api-key-123"),
        environment,
    )
    .unwrap();
    let mut builder = reqwest::Client::builder();
    if let Some(policy) = policy {
        builder = builder.redirect(policy);
    }
    let client = reqwest_middleware::ClientBuilder::new(builder.build().unwrap())
        .with(authorizer)
        .build();
    (origin, elsewhere, client)
}

#[tokio::test]
async fn reqwests_default_carries_the_api_key_to_another_origin() {
    let (origin, elsewhere, client) = setup(None).await;
    // Answers only a request that carries the key (else httpmock's 404).
    let with_key = elsewhere
        .mock_async(|when, then| {
            when.method(GET)
                .path("/away")
                .header("x-api-key", "api-key-123");
            then.status(200).body("elsewhere, with the key");
        })
        .await;
    let answer = client.get(origin.url("/leave")).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "elsewhere, with the key");
    assert_eq!(
        with_key.calls_async().await,
        1,
        "the reason for the policy below"
    );
}

#[tokio::test]
async fn same_origin_redirects_stop_at_another_origin_and_follow_within_one() {
    let (origin, elsewhere, client) = setup(Some(same_origin_redirects())).await;
    // Within the origin: followed, with the key (the mock demands it).
    let answer = client.get(origin.url("/here")).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "same origin");
    // To another origin: the 302 comes back; nothing reaches the other origin.
    let reached = elsewhere
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    let answer = client.get(origin.url("/leave")).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    assert_eq!(reached.calls_async().await, 0);
}
