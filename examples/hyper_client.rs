//! GET a protected resource with a hyper-util client through `en-auth-tower`'s layer.
//!
//! Self-contained: it starts the testkit's token endpoint and protected resource on loopback,
//! sends a few requests (one token request for all of them), revokes the token to show the
//! renew-and-replay of a GET, and prints what happened.
//!
//! ```text
//! cargo run -p en-auth-examples --example hyper_client
//! ```

use bytes::Bytes;
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;
use en_auth_tower::AuthorizerLayer;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = OAuthServer::builder().client("svc", "secret").start().await;
    let environment = Environment::new("local").with_token_url(&server.token_url())?;
    let authorizer = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment)?;

    // Any hyper-util client: the layer adds `Authorization: Bearer …` to each request.
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut service = AuthorizerLayer::new(authorizer.clone()).layer(client);

    for round in 1..=3 {
        if round == 3 {
            server.revoke_all();
            println!("(the token endpoint revoked every token)");
        }
        let request = http::Request::get(server.resource_url()).body(Full::default())?;
        let response = service.ready().await?.call(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        println!("GET /resource: {status} {}", String::from_utf8_lossy(&body));
    }
    println!(
        "token requests: {} (one, and one more after the revocation)",
        server.token_requests()
    );
    Ok(())
}
