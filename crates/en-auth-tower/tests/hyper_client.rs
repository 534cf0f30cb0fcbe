//! A hyper-util client through the layer against the testkit's token endpoint and protected
//! resource (real servers on loopback): headers, one token request for many requests, the
//! renew-and-replay rule per body kind, the https rule, and `poll_ready` with a concurrency
//! limit.

use std::task::{Context, Poll};

use bytes::Bytes;
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;
use en_auth_tower::{AuthorizerLayer, AuthorizerService, BoxError, ReplayClone};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceExt};

type HyperClient = Client<HttpConnector, Full<Bytes>>;

async fn server() -> OAuthServer {
    OAuthServer::builder().client("svc", "secret").start().await
}

/// The flow's authorizer itself: `AuthorizerLayer::new` takes it as it is.
fn authorizer(server: &OAuthServer) -> ServiceAccountAuthorizer {
    let environment = Environment::new("local")
        .with_token_url(&server.token_url())
        .unwrap();
    ServiceAccountAuthorizer::new(
        ClientInfo::new("svc", "secret").with_api_key("key"),
        environment,
    )
    .unwrap()
}

fn client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).unwrap()
}

fn post(url: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post(url)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn send<S>(service: &mut S, request: Request<Full<Bytes>>) -> (StatusCode, String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<Incoming>, Error = BoxError>,
{
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn concurrent_requests_are_authorized_with_one_token_request() {
    let server = server().await;
    let service = AuthorizerLayer::new(authorizer(&server)).layer(client());
    let calls = (0..20).map(|_| {
        let mut service = service.clone();
        let url = server.resource_url();
        async move { send(&mut service, get(&url)).await }
    });
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "hello, svc");
    }
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_authorized(), 20);
    assert_eq!(server.missing_authorization(), 0);
    assert_eq!(server.last_api_key().as_deref(), Some("key"));
}

#[tokio::test]
async fn a_rejected_get_is_renewed_and_replayed_once() {
    let server = server().await;
    let mut service = AuthorizerLayer::new(authorizer(&server)).layer(client());
    assert_eq!(send(&mut service, get(&server.resource_url())).await.0, 200);
    server.revoke_all();
    let (status, body) = send(&mut service, get(&server.resource_url())).await;
    assert_eq!(status, StatusCode::OK, "replayed with a new token");
    assert_eq!(body, "hello, svc");
    assert_eq!(server.token_requests(), 2);
    assert_eq!(
        server.resource_requests(),
        3,
        "one request, one rejected, its replay"
    );
}

#[tokio::test]
async fn a_rejected_post_is_returned_by_default_and_the_next_request_renews() {
    let server = server().await;
    let mut service = AuthorizerLayer::new(authorizer(&server)).layer(client());
    assert_eq!(send(&mut service, get(&server.resource_url())).await.0, 200);
    server.revoke_all();
    let (status, _) = send(&mut service, post(&server.resource_url(), "payload")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a body is not replayed");
    assert_eq!(
        server.token_requests(),
        1,
        "nothing renewed until it is needed"
    );
    let (status, _) = send(&mut service, post(&server.resource_url(), "payload")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the next request waits for a new token"
    );
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn replay_clone_replays_a_post_with_its_body() {
    let server = server().await;
    let mut service = AuthorizerLayer::new(authorizer(&server))
        .with_replay(ReplayClone)
        .layer(client());
    assert_eq!(send(&mut service, get(&server.resource_url())).await.0, 200);
    server.revoke_all();
    let (status, _) = send(&mut service, post(&server.resource_url(), "payload")).await;
    assert_eq!(status, StatusCode::OK, "replayed with a new token");
    assert_eq!(server.token_requests(), 2);
    assert_eq!(server.resource_requests(), 3);
}

#[tokio::test]
async fn plain_http_to_another_host_and_relative_uris_are_refused_before_any_token_request() {
    let server = server().await;
    let mut service = AuthorizerLayer::new(authorizer(&server)).layer(client());
    for uri in ["http://api.example.com/resource", "/resource"] {
        let error = service
            .ready()
            .await
            .unwrap()
            .call(get(uri))
            .await
            .expect_err(uri);
        let error = error
            .downcast_ref::<en_auth_core::Error>()
            .expect("an en-auth error");
        assert!(
            matches!(error, en_auth_core::Error::Configuration(_)),
            "{error}"
        );
    }
    assert_eq!(server.token_requests(), 0);
}

/// A service whose readiness is a permit it holds (tower's `ConcurrencyLimit`, one at a time).
#[tokio::test]
async fn a_request_waiting_for_its_token_keeps_the_readiness_it_was_given() {
    let server = server().await;
    let limited = tower::limit::ConcurrencyLimitLayer::new(1).layer(client());
    let mut first: AuthorizerService<_, _> =
        AuthorizerLayer::new(authorizer(&server)).layer(limited);
    let mut second = first.clone();

    server.hold_token_requests();
    let waiting = first
        .ready()
        .await
        .unwrap()
        .call(get(&server.resource_url()));
    let waiting = tokio::spawn(waiting);
    // The permit went with the waiting request: the other handle is not ready until it ends.
    let pending = std::future::poll_fn(|cx: &mut Context<'_>| {
        Poll::Ready(second.poll_ready(cx).is_pending())
    })
    .await;
    assert!(
        pending,
        "the permit is held by the request waiting for a token"
    );
    // The clone left in `first` holds no permit either: the waiting request keeps the only one.
    let pending =
        std::future::poll_fn(|cx: &mut Context<'_>| Poll::Ready(first.poll_ready(cx).is_pending()))
            .await;
    assert!(pending);

    server.release_token_requests();
    let response = waiting.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    assert_eq!(send(&mut second, get(&server.resource_url())).await.0, 200);
    assert_eq!(server.token_requests(), 1);
}
