//! `auth_error`: the en-auth error behind a request that failed in reqwest-middleware, taken
//! from real failures of the whole stack (reqwest-middleware → ServiceAccountAuthorizer → the
//! testkit's token endpoint).

use en_auth_oauth2::{auth_error, ClientInfo, Environment, Error, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;

async fn server() -> OAuthServer {
    OAuthServer::builder().client("svc", "secret").start().await
}

fn client(server: &OAuthServer, secret: &str) -> reqwest_middleware::ClientWithMiddleware {
    let environment = Environment::new("test")
        .with_token_url(&server.token_url())
        .unwrap();
    let authorizer =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", secret), environment).unwrap();
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer)
        .build()
}

#[tokio::test]
async fn a_rejected_client_is_found_behind_the_middleware_error() {
    let server = server().await;
    let failure = client(&server, "wrong secret")
        .get(server.resource_url())
        .send()
        .await
        .unwrap_err();
    assert!(failure.is_middleware(), "{failure:?}");
    match auth_error(&failure) {
        Some(Error::InvalidClient(e)) => {
            assert_eq!(e.client_id, "svc");
            assert_eq!(e.endpoint, server.token_url());
        }
        other => panic!("expected InvalidClient, got {other:?}"),
    }
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_requests(), 0);
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_retryable_transport_error() {
    let server = server().await;
    let http = client(&server, "secret");
    let resource = server.resource_url();
    drop(server);
    let failure = http.get(resource).send().await.unwrap_err();
    let error = auth_error(&failure).expect("an en-auth error");
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_failure_of_the_request_itself_is_not_an_auth_error() {
    let server = server().await;
    let http = client(&server, "secret");
    // A token is obtained, then the request goes to a port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let failure = http
        .get(format!("http://{closed}/resource"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(failure, reqwest_middleware::Error::Reqwest(_)),
        "{failure:?}"
    );
    assert!(auth_error(&failure).is_none());
    assert_eq!(server.tokens_issued(), 1);
}
