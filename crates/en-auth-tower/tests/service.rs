//! The service's rules with a scripted inner service and provider (no HTTP): the headers it
//! inserts, `grpc-status: 16` invalidating the token (and other gRPC statuses not), the replay
//! policies' copies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
use en_auth_tower::{AuthorizerLayer, NoReplay, Replay, ReplayClone, ReplayEmpty};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use tower::{service_fn, Layer, Service, ServiceExt};

/// Issues `token-1`, `token-2`, … and counts them.
struct Counting {
    client: ClientInfo,
    issued: Arc<AtomicUsize>,
}

impl TokenProvider for Counting {
    async fn authorize(&self) -> Result<Token, Error> {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Token::new(
            format!("token-{n}"),
            Some(Duration::from_secs(600)),
        ))
    }
    fn client_info(&self) -> &ClientInfo {
        &self.client
    }
}

fn authorizer() -> (Authorizer<Counting>, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let provider = Counting {
        client: ClientInfo::new("svc", "secret").with_api_key("key"),
        issued: Arc::clone(&issued),
    };
    (Authorizer::new(provider), issued)
}

fn grpc_answer(status: &'static str) -> Response<String> {
    let mut response = Response::new(String::new());
    response
        .headers_mut()
        .insert("grpc-status", status.parse().unwrap());
    response
}

#[tokio::test]
async fn headers_are_inserted_sensitive_and_grpc_unauthenticated_invalidates_the_token() {
    let (authorizer, issued) = authorizer();
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let answers = Arc::new(Mutex::new(vec![
        grpc_answer("0"),
        grpc_answer("16"),
        grpc_answer("0"),
    ]));
    let inner = {
        let seen = Arc::clone(&seen);
        service_fn(move |request: Request<String>| {
            seen.lock().unwrap().push(request.headers().clone());
            let answer = answers.lock().unwrap().remove(0);
            async move { Ok::<_, std::convert::Infallible>(answer) }
        })
    };
    let mut service = AuthorizerLayer::new(authorizer.clone()).layer(inner);
    for _ in 0..3 {
        let request = Request::post("https://grpc.example.com/pkg.Svc/Call")
            .body("frame".to_owned())
            .unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let seen = seen.lock().unwrap();
    let authorization: Vec<_> = seen
        .iter()
        .map(|h| h.get("authorization").unwrap().clone())
        .collect();
    assert!(authorization.iter().all(|v| v.is_sensitive()));
    assert!(seen
        .iter()
        .all(|h| h["x-api-key"] == "key" && h["x-api-key"].is_sensitive()));
    // grpc-status 0 keeps the token; 16 invalidates it: the third call carries a new one.
    assert_eq!(authorization[0], "Bearer token-1");
    assert_eq!(authorization[1], "Bearer token-1");
    assert_eq!(authorization[2], "Bearer token-2");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[test]
fn replay_policies_copy_what_they_can() {
    let get = Request::get("https://api.example.com/a")
        .header("accept", "text/plain")
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    let copy = ReplayEmpty.copy(&get).expect("no body: replayable");
    assert_eq!(copy.method(), get.method());
    assert_eq!(copy.uri(), get.uri());
    assert_eq!(copy.headers(), get.headers());

    let post = Request::post("https://api.example.com/a")
        .body(Full::new(bytes::Bytes::from_static(b"payload")))
        .unwrap();
    assert!(ReplayEmpty.copy(&post).is_none(), "a body is not replayed");
    assert!(NoReplay.copy(&get).is_none());
    let string_post = Request::post("https://api.example.com/a")
        .body("payload".to_owned())
        .unwrap();
    assert_eq!(ReplayClone.copy(&string_post).unwrap().body(), "payload");
}
