//! Unit tests of the client-credentials flow against httpmock: the exact bytes on the wire,
//! every odd token response, error mapping, timeouts, and the middleware's 401 / 403 rules.

use std::time::Duration;

use en_auth_oauth2::{
    ClientInfo, Environment, Error, ServiceAccountAuthorizer, TokenEndpointAuthMethod,
    TransportErrorKind,
};
use httpmock::prelude::*;
use secrecy::ExposeSecret;
use serde_json::json;

fn env(server: &MockServer) -> Environment {
    Environment::new("unit")
        .with_token_url(&server.url("/oauth2/token"))
        .unwrap()
}

fn authorizer(server: &MockServer) -> ServiceAccountAuthorizer {
    ServiceAccountAuthorizer::new(ClientInfo::new("client", "secret"), env(server)).unwrap()
}

async fn token_with(body: serde_json::Value) -> Result<en_auth_oauth2::Token, Error> {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(200).json_body(body);
        })
        .await;
    let auth = authorizer(&server);
    auth.access_token().await.map(|t| (*t).clone())
}

async fn error_with(status: u16, content_type: &str, body: Vec<u8>) -> Error {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(status)
                .header("content-type", content_type)
                .body(body);
        })
        .await;
    authorizer(&server).access_token().await.unwrap_err()
}

#[tokio::test]
async fn basic_auth_form_encodes_id_and_secret_before_base64() {
    let server = MockServer::start_async().await;
    // Known answer: "svc id+/é" and "p@ss+=$!:%/ word é", each application/x-www-form-urlencoded
    // (RFC 6749 §2.3.1, Appendix B), joined by ':', then base64.
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/oauth2/token")
                // `svc%20id%2B%2F%C3%A9:p%40ss%2B%3D%24%21%3A%25%2F%20word%20%C3%A9`: spaces as
                // `%20`, which plain percent-decoding servers read as spaces too.
                .header(
                    "authorization",
                    "Basic c3ZjJTIwaWQlMkIlMkYlQzMlQTk6cCU0MHNzJTJCJTNEJTI0JTIxJTNBJTI1JTJGJTIwd29yZCUyMCVDMyVBOQ==",
                )
                .header("content-type", "application/x-www-form-urlencoded")
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("scope", "api/read api/write")
                .form_urlencoded_tuple("audience", "https://api.example.com")
                .form_urlencoded_tuple_missing("client_secret");
            then.status(200).json_body(json!({"access_token": "t1", "token_type": "Bearer", "expires_in": 3600}));
        })
        .await;
    let environment = env(&server)
        .with_scopes(["api/read", "api/write"])
        .with_extra_param("audience", "https://api.example.com");
    let auth = ServiceAccountAuthorizer::new(
        ClientInfo::new("svc id+/é", "p@ss+=$!:%/ word é"),
        environment,
    )
    .unwrap();
    let first = auth.access_token().await.unwrap();
    assert_eq!(first.secret().expose_secret(), "t1");
    // A renewal re-sends the same scopes and parameters (the mock only matches those).
    auth.invalidate(first.generation());
    drop(first);
    auth.access_token().await.unwrap();
    assert_eq!(mock.calls_async().await, 2);
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_body() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/oauth2/token")
                .header_missing("authorization")
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("client_id", "svc id+/é")
                .form_urlencoded_tuple("client_secret", "p@ss+=$!:%/ word é");
            then.status(200)
                .json_body(json!({"access_token": "t", "token_type": "bearer"}));
        })
        .await;
    let environment =
        env(&server).with_token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretPost);
    let auth = ServiceAccountAuthorizer::new(
        ClientInfo::new("svc id+/é", "p@ss+=$!:%/ word é"),
        environment,
    )
    .unwrap();
    auth.access_token().await.unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn requests_carry_exactly_bearer_token_and_api_key() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(200).json_body(json!({"access_token": "abc.DEF-123_~+/=", "token_type": "BEARER", "expires_in": "3600"}));
        })
        .await;
    let resource = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api")
                .header("authorization", "Bearer abc.DEF-123_~+/=")
                .header("x-api-key", "key-123")
                .header_count("authorization", ".*", 1);
            then.status(200).body("ok");
        })
        .await;
    let auth = ServiceAccountAuthorizer::new(
        ClientInfo::new("c", "s").with_api_key("key-123"),
        env(&server),
    )
    .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth)
        .build();
    // A stale Authorization header set by the caller is replaced, not duplicated.
    let response = client
        .get(server.url("/api"))
        .header("authorization", "Bearer stale")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    resource.assert_async().await;
}

#[tokio::test]
async fn odd_but_valid_token_responses_are_accepted() {
    // Lifetimes are expires_in less its one-second resolution (absent: 300 s, so 299).
    for (body, lifetime) in [
        (
            json!({"access_token": "a", "token_type": "Bearer", "expires_in": 60}),
            Some(59),
        ),
        (
            json!({"access_token": "a", "token_type": "bearer", "expires_in": "60"}),
            Some(59),
        ),
        (
            json!({"access_token": "a", "token_type": "BeArEr", "expires_in": null}),
            Some(299),
        ),
        (
            json!({"access_token": "a", "token_type": "Bearer"}),
            Some(299),
        ),
        (json!({"access_token": "a"}), Some(299)),
        (json!({"access_token": "a", "expires_in": 0}), Some(0)),
        (json!({"access_token": "a", "expires_in": -30}), Some(0)),
        (
            json!({"access_token": "a", "expires_in": 9.0e18}),
            Some(365 * 24 * 3600),
        ),
        (
            json!({"access_token": "a", "expires_in": "not a number"}),
            Some(299),
        ),
    ] {
        let token = token_with(body.clone())
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(
            token.lifetime(),
            lifetime.map(Duration::from_secs),
            "{body}"
        );
        assert_eq!(token.access_token().expose_secret(), "a");
    }
}

#[tokio::test]
async fn unusable_token_responses_are_typed_errors() {
    let err = token_with(json!({"token_type": "Bearer", "expires_in": 60}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidResponse(e) if e.reason.contains("access_token")),
        "{err}"
    );

    let err = token_with(json!({"access_token": "a", "token_type": "MAC"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidResponse(e) if e.reason.contains("MAC")),
        "{err}"
    );

    let err = token_with(json!({"error": "invalid_client", "error_description": "nope"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidClient(e) if e.client_id == "client"),
        "{err}"
    );

    let err = error_with(
        200,
        "application/json",
        br#"{"access_token": "a", "expi"#.to_vec(),
    )
    .await;
    assert!(
        matches!(&err, Error::InvalidResponse(e) if e.status_code == Some(200)),
        "{err}"
    );

    let err = error_with(200, "text/html", b"<html>login page</html>".to_vec()).await;
    assert!(matches!(&err, Error::InvalidResponse(_)), "{err}");

    let err = error_with(200, "application/json", vec![b' '; 10 * 1024 * 1024]).await;
    assert!(
        matches!(&err, Error::InvalidResponse(e) if e.reason.contains("cap")),
        "{err}"
    );
}

#[tokio::test]
async fn error_responses_map_onto_the_three_error_types_of_en_auth() {
    let err = error_with(
        401,
        "application/json",
        br#"{"error":"invalid_client","error_description":"bad secret"}"#.to_vec(),
    )
    .await;
    match &err {
        Error::InvalidClient(e) => {
            assert_eq!(e.client_id, "client");
            assert!(e.endpoint.ends_with("/oauth2/token"));
            assert!(e.message.contains("bad secret"));
        }
        other => panic!("expected InvalidClient, got {other:?}"),
    }
    assert!(!err.is_retryable());

    let err = error_with(
        400,
        "application/json",
        br#"{"error":"invalid_scope","error_description":"unknown scope x"}"#.to_vec(),
    )
    .await;
    match &err {
        Error::Authorization(e) => {
            assert_eq!(e.status_code, 400);
            assert_eq!(e.code.as_deref(), Some("invalid_scope"));
            assert!(
                err.to_string().contains("invalid_scope: unknown scope x"),
                "{err}"
            );
        }
        other => panic!("expected Authorization, got {other:?}"),
    }

    for status in [500_u16, 502, 503, 429] {
        let err = error_with(status, "text/html", b"<html>oops</html>".to_vec()).await;
        assert!(
            matches!(&err, Error::Authorization(e) if e.status_code == status),
            "{err}"
        );
        assert!(err.is_retryable(), "{status} should be retryable");
    }
    let err = error_with(500, "application/json", Vec::new()).await;
    assert!(
        matches!(&err, Error::Authorization(e) if e.status_code == 500 && e.message.contains("empty")),
        "{err}"
    );
    let err = error_with(302, "text/html", b"moved".to_vec()).await;
    assert!(
        matches!(&err, Error::Authorization(e) if e.status_code == 302),
        "{err}"
    );
}

#[tokio::test]
async fn a_silent_endpoint_times_out_and_a_closed_one_refuses() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(200)
                .delay(Duration::from_secs(30))
                .json_body(json!({"access_token": "late"}));
        })
        .await;
    let auth = ServiceAccountAuthorizer::builder(ClientInfo::new("c", "s"), env(&server))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = auth.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(e) if e.kind == TransportErrorKind::Timeout),
        "{err:?}"
    );
    assert!(err.to_string().contains("/oauth2/token"), "{err}");
    assert!(err.is_retryable());

    // A port nobody listens on: bind one, then free it.
    let port = en_auth_peers::support::closed_port();
    let environment = Environment::new("closed")
        .with_token_url(&format!("http://127.0.0.1:{port}/token"))
        .unwrap();
    let err = ServiceAccountAuthorizer::new(ClientInfo::new("c", "s"), environment)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(e) if e.kind == TransportErrorKind::Connect),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_401_renews_once_and_replays_once_then_gives_up() {
    let server = MockServer::start_async().await;
    let tokens = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(200)
                .json_body(json!({"access_token": "t", "expires_in": 3600}));
        })
        .await;
    let resource = server
        .mock_async(|when, then| {
            when.method(POST).path("/api").body("payload");
            then.status(401)
                .header("www-authenticate", "Bearer error=\"invalid_token\"");
        })
        .await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer(&server))
        .build();
    let response = client
        .post(server.url("/api"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(resource.calls_async().await, 2, "sent once, replayed once");
    assert_eq!(tokens.calls_async().await, 2, "renewed once");

    // The replay with a new token was rejected too: the token is not the problem, so the
    // following requests are not renewed again (no token request per request).
    for sent in 3..=5 {
        let response = client
            .post(server.url("/api"))
            .body("payload")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(resource.calls_async().await, sent, "no more replays");
    }
    assert_eq!(tokens.calls_async().await, 2, "no renewal storm");
}

#[test]
fn an_api_key_that_is_not_a_header_value_is_a_configuration_error() {
    let environment = Environment::new("key")
        .with_token_url("https://auth.example.com/token")
        .unwrap();
    let info = ClientInfo::new("c", "s").with_api_key("key-from-a-file\n");
    let err = ServiceAccountAuthorizer::new(info, environment).unwrap_err();
    assert!(
        matches!(&err, Error::Configuration(e) if e.field.as_deref() == Some("api_key")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("key-from-a-file"));
}

#[tokio::test]
async fn a_streaming_body_is_not_replayed_and_403_is_not_a_token_problem() {
    let server = MockServer::start_async().await;
    let tokens = server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(200)
                .json_body(json!({"access_token": "t", "expires_in": 3600}));
        })
        .await;
    let unauthorized = server
        .mock_async(|when, then| {
            when.method(POST).path("/stream");
            then.status(401);
        })
        .await;
    let forbidden = server
        .mock_async(|when, then| {
            when.method(GET).path("/forbidden");
            then.status(403);
        })
        .await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer(&server))
        .build();

    let body = reqwest::Body::wrap(http_body_util::Full::new(bytes::Bytes::from_static(
        b"streamed",
    )));
    let response = client
        .post(server.url("/stream"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        unauthorized.calls_async().await,
        1,
        "a body that cannot be cloned is not replayed"
    );

    let response = client.get(server.url("/forbidden")).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(forbidden.calls_async().await, 1);
    // One token for the stream request, one after its 401 invalidated it; the 403 renewed nothing.
    assert_eq!(tokens.calls_async().await, 2);
}

#[tokio::test]
async fn errors_reach_middleware_callers_typed() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/oauth2/token");
            then.status(401)
                .json_body(json!({"error": "invalid_client"}));
        })
        .await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer(&server))
        .build();
    let err = client.get(server.url("/api")).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(inner) = err else {
        panic!("expected a middleware error")
    };
    assert!(
        matches!(inner.downcast_ref::<Error>(), Some(Error::InvalidClient(_))),
        "{inner}"
    );
}

#[test]
fn configuration_errors_name_the_field() {
    let err = ServiceAccountAuthorizer::new(ClientInfo::new("c", "s"), Environment::new("bare"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Configuration(e) if e.field.as_deref() == Some("token_url") && e.environment() == Some("bare")),
        "{err}"
    );
}
