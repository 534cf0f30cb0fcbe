//! Where the emulators run: a server started with `start().await` lives on the caller's runtime
//! and dies with it; one started with `start_on_own_thread()` serves every runtime (and
//! synchronous code) until it is dropped — the way to share one between tests.

use std::net::{SocketAddr, TcpStream};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use en_auth_testkit::{Behaviour, FaultyEndpoint, OAuthServer, Reply};

/// Shared by the two `#[tokio::test]`s below, each of which has a runtime of its own.
static SHARED: LazyLock<OAuthServer> = LazyLock::new(|| {
    OAuthServer::builder()
        .client("svc", "secret")
        .start_on_own_thread()
});

/// A token from `server`, then the protected resource with it: the body.
async fn token_then_resource(server: &OAuthServer) -> String {
    let http = reqwest::Client::new();
    let response = http
        .post(server.token_url())
        .basic_auth("svc", Some("secret"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let resource = http
        .get(server.resource_url())
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resource.status(), 200);
    resource.text().await.unwrap()
}

#[tokio::test]
async fn a_static_server_on_its_own_thread_serves_a_first_test() {
    assert_eq!(token_then_resource(&SHARED).await, "hello, svc");
}

#[tokio::test]
async fn a_static_server_on_its_own_thread_serves_a_second_test() {
    assert_eq!(token_then_resource(&SHARED).await, "hello, svc");
}

fn addr_of(url: &str) -> SocketAddr {
    let authority = url.strip_prefix("http://").unwrap();
    authority.split('/').next().unwrap().parse().unwrap()
}

fn refuses_connections(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
}

/// Polls for up to 5 s: a server on its own thread stops shortly after its handle is dropped.
fn stops_refusing_within_5s(addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if refuses_connections(addr) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_server_started_on_a_runtime_stops_with_that_runtime() {
    let first = runtime();
    let server = first.block_on(OAuthServer::builder().client("svc", "secret").start());
    let addr = addr_of(&server.token_url());
    assert!(!refuses_connections(addr));
    drop(first);
    // The handle is still alive, but the task serving it went with its runtime.
    assert!(refuses_connections(addr));
    let second = runtime();
    let sent = second.block_on(reqwest::Client::new().post(server.token_url()).send());
    assert!(sent.unwrap_err().is_connect());
}

#[test]
fn a_server_on_its_own_thread_is_driven_from_sync_code_and_stops_when_dropped() {
    let server = OAuthServer::builder()
        .client("svc", "secret")
        .start_on_own_thread();
    let addr = addr_of(&server.token_url());
    server.set_behaviour(Behaviour::Fail {
        status: 503,
        body: "{}".into(),
    });
    // Two runtimes, one after the other, both served.
    for _ in 0..2 {
        let status = runtime().block_on(async {
            reqwest::Client::new()
                .post(server.token_url())
                .basic_auth("svc", Some("secret"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status, 503);
    }
    assert_eq!(server.token_requests(), 2);
    drop(server);
    assert!(stops_refusing_within_5s(addr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_endpoint_on_its_own_thread_outlives_a_runtime_and_stops_when_dropped() {
    let endpoint = FaultyEndpoint::start_on_own_thread();
    endpoint.push([Reply::json(502, "{}")]);
    let url = endpoint.url();
    // Used from another runtime, which then ends.
    let status = std::thread::spawn(move || {
        runtime().block_on(async {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .unwrap()
                .status()
        })
    })
    .join()
    .unwrap();
    assert_eq!(status, 502);
    // And from this one: the fallback, a token response.
    let response = reqwest::Client::new()
        .post(endpoint.url())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(endpoint.requests(), 2);
    let addr = addr_of(&endpoint.url());
    drop(endpoint);
    assert!(
        tokio::task::spawn_blocking(move || stops_refusing_within_5s(addr))
            .await
            .unwrap()
    );
}
