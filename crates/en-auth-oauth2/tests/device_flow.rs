//! The device authorization grant's polling rules (RFC 8628 §3.5) against a scripted in-process
//! server (axum): `slow_down` adds 5 seconds to the interval (the server refuses a poll that
//! comes sooner), `expired_token` and `access_denied` end the sign-in with typed errors, no
//! `device_authorization_endpoint` is a configuration error; a public client is served although
//! the metadata lists only the secret methods (as Cognito's does). The real server's side is in
//! `peer_people.rs`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use en_auth_oauth2::{ClientInfo, Environment, Error, SignInError, UserSignIn};
use serde_json::{json, Value};

/// What the token endpoint answers, poll after poll; the last answer repeats.
#[derive(Clone)]
struct Script {
    base: String,
    answers: Vec<&'static str>,
    device_endpoint: bool,
    /// The device authorization response's `expires_in` and `interval`.
    device_numbers: (u64, u64),
    polls: Arc<Mutex<Vec<Instant>>>,
    /// How many times the metadata was fetched.
    metadata_fetches: Arc<Mutex<usize>>,
}

async fn metadata(State(s): State<Script>) -> Json<Value> {
    *s.metadata_fetches.lock().unwrap() += 1;
    let mut doc = json!({
        "issuer": s.base,
        "token_endpoint": format!("{}/token", s.base),
        // As Cognito's: no `none`, yet public clients are served.
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    if s.device_endpoint {
        doc["device_authorization_endpoint"] = json!(format!("{}/device", s.base));
    }
    Json(doc)
}

async fn device(State(s): State<Script>) -> Json<Value> {
    let (expires_in, interval) = s.device_numbers;
    Json(json!({
        "device_code": "device-code-0123456789",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://example.com/device",
        "expires_in": expires_in,
        "interval": interval,
    }))
}

async fn token(State(s): State<Script>) -> Response {
    let mut polls = s.polls.lock().unwrap();
    let now = Instant::now();
    let n = polls.len();
    // Never sooner than a second after the last poll (the shortest interval en-auth takes).
    if n > 0 && now.duration_since(polls[n - 1]) < Duration::from_secs(1) {
        polls.push(now);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": "polled too soon"})),
        )
            .into_response();
    }
    // After a slow_down the client must wait interval + 5 s (RFC 8628 §3.5): sooner is refused.
    if n > 0 && s.answers[(n - 1).min(s.answers.len() - 1)] == "slow_down" {
        let waited = now.duration_since(polls[n - 1]);
        if waited < Duration::from_secs(6) {
            polls.push(now);
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_request", "error_description": "polled too soon after slow_down"})),
            )
                .into_response();
        }
    }
    polls.push(now);
    match s.answers[n.min(s.answers.len() - 1)] {
        "token" => Json(json!({
            "access_token": "access-token-0123456789",
            "refresh_token": "refresh-token-0123456789",
            "token_type": "Bearer",
            "expires_in": 300,
        }))
        .into_response(),
        code => (StatusCode::BAD_REQUEST, Json(json!({"error": code}))).into_response(),
    }
}

async fn serve(answers: Vec<&'static str>, device_endpoint: bool) -> (UserSignIn, Script) {
    serve_with(answers, device_endpoint, (60, 1)).await
}

async fn serve_with(
    answers: Vec<&'static str>,
    device_endpoint: bool,
    device_numbers: (u64, u64),
) -> (UserSignIn, Script) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let script = Script {
        base: base.clone(),
        answers,
        device_endpoint,
        device_numbers,
        polls: Arc::default(),
        metadata_fetches: Arc::default(),
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/device", post(device))
        .route("/token", post(token))
        .with_state(script.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let environment = Environment::new("device").with_issuer(&base).unwrap();
    let sign_in = UserSignIn::new(ClientInfo::public("cli"), environment).unwrap();
    (sign_in, script)
}

#[tokio::test]
async fn pending_then_slow_down_then_the_token() {
    let (sign_in, script) = serve(vec!["authorization_pending", "slow_down", "token"], true).await;
    let token = sign_in.device(|_| {}).await.expect("signed in");
    assert!(token.refresh_token().is_some());
    assert_eq!(script.polls.lock().unwrap().len(), 3);
    // `authorization_pending` and `slow_down` are answers of a working endpoint: the metadata
    // is not fetched again after them (it was, once per poll, and a failed fetch then ended a
    // sign-in the person may have approved).
    assert_eq!(*script.metadata_fetches.lock().unwrap(), 1);
}

/// An `interval` of 0 polls once a second, not without pause (the server refuses a poll
/// sooner than a second after the last).
#[tokio::test]
async fn an_interval_of_zero_is_read_as_one_second() {
    let (sign_in, script) = serve_with(vec!["authorization_pending", "token"], true, (60, 0)).await;
    sign_in.device(|_| {}).await.expect("signed in");
    assert_eq!(script.polls.lock().unwrap().len(), 2);
}

/// Numbers too large for the deadline's arithmetic are bounded, not a panic: a huge
/// `expires_in` is read as an hour (and the sign-in goes on), a huge `interval` as five minutes
/// — beyond a minute-long code, which ends the sign-in as expired without a poll.
#[tokio::test]
async fn huge_numbers_from_the_server_are_bounded() {
    let (sign_in, _) = serve_with(vec!["token"], true, (u64::MAX, 1)).await;
    let mut shown = None;
    sign_in
        .device(|d| shown = Some(d.expires_in))
        .await
        .expect("signed in");
    assert_eq!(shown, Some(Duration::from_secs(3600)));

    let (sign_in, script) = serve_with(vec!["token"], true, (60, u64::MAX)).await;
    let mut shown = None;
    let result = sign_in.device(|d| shown = Some(d.interval)).await;
    assert!(matches!(result, Err(SignInError::Expired)), "{result:?}");
    assert!(script.polls.lock().unwrap().is_empty());
    assert_eq!(shown, Some(Duration::from_secs(300)));
}

#[tokio::test]
async fn expired_token_ends_the_sign_in() {
    let (sign_in, _) = serve(vec!["authorization_pending", "expired_token"], true).await;
    let result = sign_in.device(|_| {}).await;
    assert!(matches!(result, Err(SignInError::Expired)), "{result:?}");
}

#[tokio::test]
async fn access_denied_ends_the_sign_in() {
    let (sign_in, _) = serve(vec!["access_denied"], true).await;
    let result = sign_in.device(|_| {}).await;
    assert!(
        matches!(result, Err(SignInError::AccessDenied { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn another_error_is_passed_on() {
    let (sign_in, _) = serve(vec!["invalid_client"], true).await;
    let result = sign_in.device(|_| {}).await;
    assert!(
        matches!(result, Err(SignInError::Request(Error::InvalidClient(_)))),
        "{result:?}"
    );
}

#[tokio::test]
async fn no_device_endpoint_is_a_configuration_error() {
    let (sign_in, script) = serve(vec!["token"], false).await;
    let result = sign_in.device(|_| panic!("nothing to show")).await;
    match result {
        Err(SignInError::Request(Error::Configuration(e))) => {
            assert!(
                e.to_string().contains("device_authorization_endpoint"),
                "{e}"
            );
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert!(script.polls.lock().unwrap().is_empty());
}
