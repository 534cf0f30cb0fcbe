//! No secret, API key or token reaches `Debug`, `Display`, an error, or a `tracing` event — even
//! at TRACE level, on success, on 401 replay, and on every failure path.

use std::time::Duration;

use en_auth_oauth2::{ClientInfo, Environment, Error, ServiceAccountAuthorizer};
use en_auth_peers::support::LogCapture;
use en_auth_testkit::{Behaviour, OAuthServer};
use secrecy::ExposeSecret;

const SECRET: &str = "Sup3r-S3cret+/=value";
const WRONG_SECRET: &str = "Wr0ng-S3cret-value";
const API_KEY: &str = "Api-Key-0123456789";
const PASSWORD: &str = "Pa55word-never-shown";

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_debug_display_errors_or_trace_logs() {
    let (capture, _guard) = LogCapture::install();

    let server = OAuthServer::builder()
        .client("svc", SECRET)
        .token_lifetime_secs(3600)
        .start()
        .await;
    let environment = Environment::new("secrecy")
        .with_token_url(&server.token_url())
        .unwrap();
    let info = ClientInfo::new("svc", SECRET).with_api_key(API_KEY);
    let authorizer = ServiceAccountAuthorizer::new(info.clone(), environment.clone()).unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();

    let mut tokens = Vec::new();
    let mut printed = Vec::new();

    // Success, then a 401 that forces a renewal and a replay.
    assert_eq!(
        client
            .get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let token = authorizer.access_token().await.unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    printed.push(format!("{token:?} {:?}", *token));
    drop(token);
    server.revoke_all();
    assert_eq!(
        client
            .get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let token = authorizer.access_token().await.unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    drop(token);
    assert_ne!(tokens[0], tokens[1]);

    // Failure paths: wrong secret, server error, timeout.
    let wrong =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", WRONG_SECRET), environment.clone())
            .unwrap();
    let mut errors: Vec<Error> = vec![wrong.access_token().await.unwrap_err()];
    assert!(matches!(errors[0], Error::InvalidClient(_)));
    server.set_behaviour(Behaviour::Fail {
        status: 500,
        body: "{}".into(),
    });
    let failing = ServiceAccountAuthorizer::new(info.clone(), environment.clone()).unwrap();
    errors.push(failing.access_token().await.unwrap_err());
    let middleware_error = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(failing.clone())
        .build()
        .get(server.resource_url())
        .send()
        .await
        .unwrap_err();
    server.set_behaviour(Behaviour::Delay(Duration::from_secs(5)));
    let slow = ServiceAccountAuthorizer::builder(info.clone(), environment.clone())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    errors.push(slow.access_token().await.unwrap_err());

    for e in &errors {
        printed.push(format!("{e} | {e:?}"));
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            printed.push(format!("{s} | {s:?}"));
            source = s.source();
        }
    }
    printed.push(format!("{middleware_error} | {middleware_error:?}"));
    printed.push(format!("{info:?}"));
    printed.push(format!("{authorizer:?}"));
    printed.push(format!("{environment:?}"));
    printed.push(format!(
        "{:?}",
        en_auth_oauth2::core::UserCredentials::new("alice", PASSWORD)
    ));

    drop(_guard);
    let logs = capture.text();
    assert!(logs.contains("token obtained"), "the run was logged at all");
    // The token requests' spans are scanned with all their fields (as they closed), on
    // success, renewal after a 401, and failure.
    for field in [
        "en_auth.token_request",
        "close",
        "trigger=\"rejected\"",
        "outcome=\"ok\"",
        "outcome=\"error\"",
        "error.type=\"invalid_client\"",
        "error.type=\"timeout\"",
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=401",
        "http.response.status_code=500",
    ] {
        assert!(logs.contains(field), "{field} not in the logs: {logs}");
    }
    assert!(
        logs.contains("client_id=svc") || logs.contains("client_id=\"svc\""),
        "{logs}"
    );
    let everything = format!("{logs}\n{}", printed.join("\n"));
    for secret in [SECRET, WRONG_SECRET, API_KEY, PASSWORD]
        .iter()
        .copied()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(
            !everything.contains(secret),
            "a secret of {} characters leaked",
            secret.len()
        );
    }
    // Nor a part of the secret, nor the Basic credential.
    assert!(!everything.contains("Sup3r"));
    // "svc:" in base64 starts with c3Zj: no Basic credential was logged.
    assert!(!everything.contains("c3Zj"));
}

/// The blocking API (`BlockingAuthorizer`): its `Debug`, its errors and the TRACE log of a run
/// (tokens on the I/O runtime, a request, a 401 renewed and replayed, a rejected client) hold no
/// secret, API key or token.
#[test]
fn no_secret_from_the_blocking_api() {
    let (capture, _guard) = LogCapture::install();
    let server = OAuthServer::builder()
        .client("svc", SECRET)
        .start_on_own_thread();
    let environment = Environment::new("secrecy")
        .with_token_url(&server.token_url())
        .unwrap();
    let info = ClientInfo::new("svc", SECRET).with_api_key(API_KEY);
    let authorizer = ServiceAccountAuthorizer::new(info, environment.clone())
        .unwrap()
        .blocking();
    let client = reqwest::blocking::Client::new();

    let mut tokens = Vec::new();
    let mut printed = Vec::new();
    assert_eq!(
        authorizer
            .send(client.get(server.resource_url()))
            .unwrap()
            .status(),
        200
    );
    tokens.push(
        authorizer
            .access_token()
            .unwrap()
            .secret()
            .expose_secret()
            .to_owned(),
    );
    server.revoke_all();
    assert_eq!(
        authorizer
            .send(client.get(server.resource_url()))
            .unwrap()
            .status(),
        200
    );
    let token = authorizer.access_token().unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    assert_ne!(tokens[0], tokens[1]);
    printed.push(format!("{token:?} {authorizer:?}"));

    let wrong = ServiceAccountAuthorizer::new(ClientInfo::new("svc", WRONG_SECRET), environment)
        .unwrap()
        .blocking();
    let error = wrong.access_token().unwrap_err();
    assert!(matches!(error, Error::InvalidClient(_)), "{error:?}");
    let failure = wrong.send(client.get(server.resource_url())).unwrap_err();
    printed.push(format!(
        "{error} | {error:?} | {failure} | {failure:?} | {wrong:?}"
    ));

    drop(_guard);
    let logs = capture.text();
    assert!(
        logs.contains("token obtained"),
        "the I/O runtime's events were captured"
    );
    assert!(logs.contains("replaying once"), "the replay was logged");
    let everything = format!("{logs}\n{}", printed.join("\n"));
    for secret in [SECRET, WRONG_SECRET, API_KEY]
        .iter()
        .copied()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(
            !everything.contains(secret),
            "a secret of {} characters leaked",
            secret.len()
        );
    }
    assert!(!everything.contains("c3Zj"));
}
