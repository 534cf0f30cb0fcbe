//! DPoP (RFC 9449) through the layer with a hyper-util client, against the real peers:
//! oidc-provider requiring nonces (`peers/oidc/dpop.mjs`) and the resource server that checks
//! each proof with jwcrypto and the token's `cnf.jkt` by introspection
//! (`peers/dpop/resource.py`).

use bytes::Bytes;
use en_auth_oauth2::{ClientInfo, DpopConfig, Environment, ServiceAccountAuthorizer};
use en_auth_peers::{dpop_resource, field, oidc_dpop};
use en_auth_tower::{AuthorizerLayer, ReplayClone};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceExt};

fn authorizer() -> ServiceAccountAuthorizer {
    let environment = Environment::new("oidc-dpop")
        .with_token_url(field(oidc_dpop(), "token_endpoint"))
        .unwrap()
        .with_dpop(DpopConfig::new())
        .unwrap();
    ServiceAccountAuthorizer::new(
        ClientInfo::new(
            field(oidc_dpop(), "clients/dpop/id"),
            field(oidc_dpop(), "clients/dpop/secret"),
        ),
        environment,
    )
    .unwrap()
}

fn url(path: &str) -> String {
    format!("{}{path}", field(dpop_resource(), "url"))
}

async fn stats(prefix: &str) -> serde_json::Value {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!("{}?prefix={prefix}", url("/_stats")))
        .body(Full::default())
        .unwrap();
    let body = client.request(request).await.unwrap().into_body();
    serde_json::from_slice(&body.collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn hyper_requests_carry_proofs_and_answer_the_resource_nonce() {
    let authorizer = authorizer();
    let jkt = authorizer.dpop().unwrap().jwk_thumbprint().to_owned();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    // ReplayClone: a POST's body is kept, so that the nonce challenge can be answered for it
    // too.
    let mut service = AuthorizerLayer::new(authorizer.clone())
        .with_replay(ReplayClone)
        .layer(client);
    for (i, method) in [http::Method::GET, http::Method::POST]
        .into_iter()
        .enumerate()
    {
        let request = Request::builder()
            .method(method.clone())
            .uri(url(&format!("/tower/{i}?q=1")))
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["jkt"], jkt.as_str());
        assert_eq!(body["method"], method.as_str());
    }
    let counts = stats("/tower/").await;
    assert_eq!(counts["ok"], 2, "{counts}");
    // The first request met the resource's nonce challenge (a new client knows no nonce):
    // exactly one replay, the token kept; the nonce is this path segment's, which no other
    // test rotates.
    assert_eq!(counts["use_dpop_nonce"], 1, "{counts}");
    assert_eq!(authorizer.token_requests(), 1, "a nonce is no renewal");
}
