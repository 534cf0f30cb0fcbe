//! Call a gRPC service with tonic through `en-auth-tower`'s layer.
//!
//! Self-contained: it starts the testkit's token endpoint and a tonic Greeter server that
//! checks each call's bearer token with it, calls the Greeter through the layer, revokes the
//! token (the server answers UNAUTHENTICATED, the layer invalidates the token) and calls again.
//! It ends with a tonic interceptor that uses the synchronous accessor,
//! `Authorizer::try_current_token`.
//!
//! ```text
//! cargo run -p en-auth-grpc-testserver --example grpc_client
//! ```

use en_auth_grpc_testserver::proto::greeter_client::GreeterClient;
use en_auth_grpc_testserver::proto::HelloRequest;
use en_auth_grpc_testserver::GreeterServer;
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer, TokenUnavailable};
use en_auth_testkit::OAuthServer;
use en_auth_tower::AuthorizerLayer;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;
use tonic::Status;
use tower::Layer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tokens = OAuthServer::builder().client("svc", "secret").start().await;
    let greeter = GreeterServer::start(tokens.resource_url());
    let environment = Environment::new("local").with_token_url(&tokens.token_url())?;
    let authorizer = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment)?;

    // The layer over a tonic Channel; the client is built `with_origin` so that the layer sees
    // where the token goes (https, or plain http to loopback only).
    let channel = Endpoint::from_shared(greeter.url())?.connect().await?;
    let service = AuthorizerLayer::new(authorizer.clone()).layer(channel.clone());
    let client = GreeterClient::with_origin(service, greeter.url().parse()?);

    for name in ["ada", "grace"] {
        let reply = client
            .clone()
            .say_hello(HelloRequest { name: name.into() })
            .await?;
        println!("SayHello({name}): {}", reply.into_inner().message);
    }
    tokens.revoke_all();
    match client
        .clone()
        .say_hello(HelloRequest {
            name: "alan".into(),
        })
        .await
    {
        Ok(reply) => println!("SayHello(alan): {}", reply.into_inner().message),
        Err(status) => println!("SayHello(alan) after a revocation: {:?}", status.code()),
    }
    let reply = client
        .clone()
        .say_hello(HelloRequest {
            name: "alan".into(),
        })
        .await?;
    println!("SayHello(alan) again: {}", reply.into_inner().message);

    // A synchronous tonic interceptor: the current token now, or an error while it is renewed.
    let accessor = authorizer.authorizer().clone();
    let mut intercepted =
        GreeterClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            let token = accessor.try_current_token().map_err(|e| match e {
                TokenUnavailable::Renewing => Status::unavailable("the token is being renewed"),
                other => Status::unauthenticated(other.to_string()),
            })?;
            let mut value = MetadataValue::try_from(token.header_value().as_bytes())
                .map_err(|_| Status::internal("the token is not a header value"))?;
            value.set_sensitive(true);
            request.metadata_mut().insert("authorization", value);
            Ok(request)
        });
    let reply = intercepted
        .say_hello(HelloRequest {
            name: "barbara".into(),
        })
        .await?;
    println!(
        "SayHello(barbara) via an interceptor: {}",
        reply.into_inner().message
    );
    println!(
        "token requests: {}; calls answered UNAUTHENTICATED: {}",
        tokens.token_requests(),
        greeter.unauthenticated()
    );
    Ok(())
}
