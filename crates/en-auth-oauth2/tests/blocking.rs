//! The blocking API (`BlockingAuthorizer`) through HTTP: `ServiceAccountAuthorizer::blocking()`
//! against the testkit's token endpoint and protected resource, from every calling context — a
//! plain thread, `spawn_blocking`, inside a `current_thread` runtime's `block_on`, on a
//! `multi_thread` runtime's worker — with the 401 → renew → replay-once rule, the https-only
//! rule, typed errors, and many threads sharing one token request.
//!
//! The servers run on threads of their own (`start_on_own_thread`), so that no test's runtime
//! has to be driven for them to answer.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{
    BlockingAuthorizer, BlockingError, ClientCredentials, ClientInfo, Environment, Error,
    ServiceAccountAuthorizer,
};
use en_auth_testkit::{FaultyEndpoint, OAuthServer, Reply};
use reqwest::blocking::{Body, Client};

/// Long enough never to end a test's wait on a healthy token request; short enough that a
/// token request stranded on an undriven runtime fails the test instead of hanging it.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

fn server() -> OAuthServer {
    OAuthServer::builder()
        .client("svc", "secret")
        .start_on_own_thread()
}

fn authorizer(server: &OAuthServer, secret: &str) -> BlockingAuthorizer<ClientCredentials> {
    let environment = Environment::new("test")
        .with_token_url(&server.token_url())
        .unwrap();
    ServiceAccountAuthorizer::new(ClientInfo::new("svc", secret), environment)
        .unwrap()
        .blocking()
        .with_wait_limit(WAIT_LIMIT)
}

/// A `reqwest::blocking` client, created on a thread outside any runtime (where reqwest allows
/// it), usable from any thread through the authorizer.
fn client() -> Client {
    std::thread::spawn(Client::new).join().unwrap()
}

#[test]
fn on_a_plain_thread_one_token_serves_headers_and_requests() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let first = auth.access_token().unwrap();
    assert_eq!(
        auth.access_token().unwrap().generation(),
        first.generation()
    );

    let mut headers = http::HeaderMap::new();
    assert_eq!(auth.authorize(&mut headers).unwrap(), first.generation());
    let authorization = &headers[http::header::AUTHORIZATION];
    assert!(authorization.is_sensitive());
    assert_eq!(
        authorization.to_str().unwrap(),
        format!("Bearer {}", first.secret().expose_secret())
    );

    let response = auth.send(client().get(server.resource_url())).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), "hello, svc");
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_authorized(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_spawn_blocking() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let url = server.resource_url();
    let body = tokio::task::spawn_blocking(move || {
        auth.access_token().unwrap();
        let response = auth.send(Client::new().get(url)).unwrap();
        assert_eq!(response.status(), 200);
        response.text().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(body, "hello, svc");
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_authorized(), 1);
}

/// The thread that drives a `current_thread` runtime blocks in the call: had the token request
/// been started on that runtime, nothing would run it (a deadlock, ended by the wait limit
/// with an error). Cold cache, so the call really waits for a token request.
#[test]
fn inside_a_current_thread_runtime() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let client = client();
    let url = server.resource_url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (generation, response) = runtime.block_on(async {
        let generation = auth.access_token().unwrap().generation();
        (generation, auth.send(client.get(&url)).unwrap())
    });
    assert_eq!(response.status(), 200);
    // The body is read outside the runtime, as reqwest::blocking requires.
    assert_eq!(response.text().unwrap(), "hello, svc");
    assert_eq!(auth.access_token().unwrap().generation(), generation);
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_authorized(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_worker() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let client = client();
    let token = auth.access_token().unwrap();
    let mut headers = http::HeaderMap::new();
    assert_eq!(auth.authorize(&mut headers).unwrap(), token.generation());
    let response = auth.send(client.get(server.resource_url())).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_authorized(), 1);
    // The async API of the same authorizer shares the cache.
    let shared = auth.authorizer().access_token().await.unwrap();
    assert_eq!(shared.generation(), token.generation());
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_test_runtime() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let client = client();
    let response = auth.send(client.get(server.resource_url())).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.token_requests(), 1);
    drop(response);
}

/// 32 threads on a cold cache while the token endpoint holds the first request: one token
/// request (counted at the server), one token for all, every request authorized.
#[test]
fn many_threads_share_one_token_request() {
    const THREADS: usize = 32;
    let server = Arc::new(server());
    let auth = authorizer(&server, "secret");
    let client = client();
    server.hold_token_requests();
    let start = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (auth, client, server, start) =
                (auth.clone(), client.clone(), server.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let token = auth.access_token().unwrap();
                let status = auth
                    .send(client.get(server.resource_url()))
                    .unwrap()
                    .status();
                (token.secret().expose_secret().to_owned(), status)
            })
        })
        .collect();
    start.wait();
    // The first caller's token request has reached the endpoint (and waits there): release it.
    let give_up = std::time::Instant::now() + WAIT_LIMIT;
    while server.token_requests() == 0 {
        assert!(
            std::time::Instant::now() < give_up,
            "no token request arrived"
        );
        std::thread::yield_now();
    }
    server.release_token_requests();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(answers.iter().all(|(token, _)| *token == answers[0].0));
    assert!(answers.iter().all(|(_, status)| *status == 200));
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_authorized(), THREADS as u64);
}

/// A token the resource no longer accepts: the 401 renews it and the request is replayed once,
/// transparently.
#[test]
fn a_rejected_token_is_renewed_and_the_request_replayed_once() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let client = client();
    assert_eq!(
        auth.send(client.get(server.resource_url()))
            .unwrap()
            .status(),
        200
    );
    server.revoke_all();
    let response = auth.send(client.get(server.resource_url())).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.token_requests(), 2);
    // The first request, the rejected one, and its replay.
    assert_eq!(server.resource_requests(), 3);
    assert_eq!(server.resource_authorized(), 2);
}

/// A body read from a stream (a reader) cannot be replayed: the 401 comes back as it is, and the token is
/// invalidated, so the next request carries a new one.
#[test]
fn an_unreplayable_body_gets_the_rejection_and_the_next_request_a_new_token() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let client = client();
    let generation = auth.access_token().unwrap().generation();
    server.revoke_all();
    // A streaming body (from a reader), empty: the resource answers without reading a body,
    // and a body still being sent then would fail the request (as reqwest reports it).
    let streaming = Body::new(std::io::empty());
    let response = auth
        .send(client.post(server.resource_url()).body(streaming))
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.resource_requests(), 1);

    let response = auth.send(client.get(server.resource_url())).unwrap();
    assert_eq!(response.status(), 200);
    assert_ne!(auth.access_token().unwrap().generation(), generation);
    assert_eq!(server.token_requests(), 2);
}

/// A resource that rejects every token (a wrong audience, say): the first 401 renews and
/// replays once; the replay's 401 shows the token is not the problem, so the next 401s renew
/// nothing and replay nothing.
#[test]
fn a_replay_rejected_again_stops_the_renewals() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let client = client();
    let resource = FaultyEndpoint::start_on_own_thread();
    resource.set_fallback(Reply::json(401, "{}"));
    assert_eq!(auth.send(client.get(resource.url())).unwrap().status(), 401);
    assert_eq!(server.token_requests(), 2);
    assert_eq!(resource.requests(), 2);
    for _ in 0..5 {
        assert_eq!(auth.send(client.get(resource.url())).unwrap().status(), 401);
    }
    assert_eq!(server.token_requests(), 2);
    assert_eq!(resource.requests(), 7);
}

#[test]
fn invalidate_renews_on_the_next_call() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let first = auth.access_token().unwrap().generation();
    auth.invalidate(first);
    let second = auth.access_token().unwrap().generation();
    assert_ne!(second, first);
    // A stale generation does nothing.
    auth.invalidate(first);
    assert_eq!(auth.access_token().unwrap().generation(), second);
    assert_eq!(server.token_requests(), 2);
}

#[test]
fn no_bearer_token_over_plain_http_to_a_remote_host() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let failure = auth
        .send(client().get("http://api.example.com/resource"))
        .unwrap_err();
    match failure.auth_error() {
        Some(Error::Configuration(e)) => assert!(e.message.contains("plain http"), "{e}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(server.token_requests(), 0);
}

#[test]
fn a_rejected_client_is_a_typed_error_and_nothing_is_sent() {
    let server = server();
    let auth = authorizer(&server, "wrong secret");
    match auth.access_token() {
        Err(Error::InvalidClient(e)) => assert_eq!(e.client_id, "svc"),
        other => panic!("expected InvalidClient, got {other:?}"),
    }
    let failure = auth.send(client().get(server.resource_url())).unwrap_err();
    assert!(
        matches!(failure.auth_error(), Some(Error::InvalidClient(_))),
        "{failure:?}"
    );
    let mut headers = http::HeaderMap::new();
    assert!(auth.authorize(&mut headers).is_err());
    assert!(headers.is_empty());
    assert_eq!(server.resource_requests(), 0);
}

#[test]
fn an_unreachable_resource_is_the_request_s_own_error() {
    let server = server();
    let auth = authorizer(&server, "secret");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/resource", listener.local_addr().unwrap())
    };
    let failure = auth.send(client().get(closed)).unwrap_err();
    assert!(matches!(failure, BlockingError::Request(_)), "{failure:?}");
    assert!(failure.auth_error().is_none());
    // It prints as what it is, not as a middleware's error.
    assert!(
        failure.to_string().starts_with("the request failed"),
        "{failure}"
    );
    assert_eq!(server.token_requests(), 1);
}
