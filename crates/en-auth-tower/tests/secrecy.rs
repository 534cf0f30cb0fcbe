//! No secret, API key or token reaches the layer's `Debug`, its errors (and their source
//! chains), a `tracing` event on any thread (TRACE level), a `log` record or a panic message, on
//! success, on a 401 replay, on a 401 returned, and on a refused URI. The scan is
//! `en_auth_peers::secrecy`, shared by every crate's tests. (Its capture is process-wide: this
//! binary holds this test only.)

use bytes::Bytes;
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_peers::secrecy::{Capture, Scan};
use en_auth_testkit::OAuthServer;
use en_auth_tower::AuthorizerLayer;
use http::Request;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::ExposeSecret;
use tower::{Layer, Service, ServiceExt};

const SECRET: &str = "Sup3r-S3cret+/=value";
const API_KEY: &str = "Api-Key-0123456789";

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_debug_errors_or_trace_logs() {
    let capture = Capture::install();
    let mut scan = Scan::new();
    scan.basic_credential("svc", SECRET)
        .secret("the API key", API_KEY);
    let server = OAuthServer::builder().client("svc", SECRET).start().await;
    let environment = Environment::new("secrecy")
        .with_token_url(&server.token_url())
        .unwrap();
    let authorizer = ServiceAccountAuthorizer::new(
        ClientInfo::new("svc", SECRET).with_api_key(API_KEY),
        environment,
    )
    .unwrap()
    .authorizer()
    .clone();
    let layer = AuthorizerLayer::new(authorizer.clone());
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut service = layer.layer(client);
    scan.debug("the layer", &layer);
    let mut tokens = Vec::new();

    let get = || {
        Request::get(server.resource_url())
            .body(Full::default())
            .unwrap()
    };
    let post = || {
        Request::post(server.resource_url())
            .body(Full::new(Bytes::from_static(b"body")))
            .unwrap()
    };
    for (request, status) in [(get(), 200), (get(), 200), (post(), 401)] {
        if tokens.len() == 1 || tokens.len() == 2 {
            server.revoke_all();
        }
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), status);
        let token = authorizer.access_token().await.unwrap();
        tokens.push(token.secret().expose_secret().to_owned());
        scan.debug("the token", &token)
            .debug("the service", &service);
    }
    let refused = service
        .ready()
        .await
        .unwrap()
        .call(
            Request::get("http://api.example.com/")
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap_err();
    scan.error("the refused request's error", &*refused);

    let logs = capture.events();
    assert!(
        logs.contains("replaying once") && logs.contains("cannot be replayed"),
        "the layer's events were captured: {logs}"
    );
    // Each revocation gave a new token: three different tokens were in play (and are scanned
    // for).
    let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "three requests, two revocations: three tokens"
    );
    for (i, token) in tokens.iter().enumerate() {
        scan.secret(format!("access token {i}"), token);
    }
    scan.logs(capture);
    scan.assert_clean();
}
