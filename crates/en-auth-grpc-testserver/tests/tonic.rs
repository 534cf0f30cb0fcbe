//! A tonic client through `en-auth-tower`'s layer against a real tonic server that checks
//! every call's bearer token with the testkit (real servers on loopback): every call
//! authorized across several token renewals with one token request per renewal (the test
//! declares each token due, a signal, not a clock); a server that
//! starts answering UNAUTHENTICATED (gRPC status 16) for the current token causes one renewal;
//! the synchronous accessor in a tonic interceptor.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use en_auth_core::secrecy::ExposeSecret;
use en_auth_core::{
    Authorizer, AuthorizerBuilder, RenewalPolicy, Token, TokenProvider, TokenUnavailable,
};
use en_auth_grpc_testserver::proto::greeter_client::GreeterClient;
use en_auth_grpc_testserver::proto::HelloRequest;
use en_auth_grpc_testserver::GreeterServer;
use en_auth_oauth2::{ClientCredentials, ClientInfo, Environment, Error, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;
use en_auth_tower::AuthorizerLayer;
use tonic::transport::{Channel, Endpoint};
use tower::Layer;

async fn token_server(lifetime_secs: u64) -> OAuthServer {
    OAuthServer::builder()
        .client("svc", "secret")
        .token_lifetime_secs(lifetime_secs)
        .start()
        .await
}

fn authorizer(server: &OAuthServer) -> Authorizer<ClientCredentials> {
    let environment = Environment::new("local")
        .with_token_url(&server.token_url())
        .unwrap();
    ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment)
        .unwrap()
        .authorizer()
        .clone()
}

async fn channel(greeter: &GreeterServer) -> Channel {
    Endpoint::from_shared(greeter.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

type Client = GreeterClient<en_auth_tower::AuthorizerService<Channel, ClientCredentials>>;

async fn client(greeter: &GreeterServer, authorizer: &Authorizer<ClientCredentials>) -> Client {
    let service = AuthorizerLayer::new(authorizer.clone()).layer(channel(greeter).await);
    // An absolute origin, so that the layer can check where the token goes.
    GreeterClient::with_origin(service, greeter.url().parse().unwrap())
}

async fn hello(client: &Client, name: &str) -> Result<String, tonic::Status> {
    let reply = client
        .clone()
        .say_hello(HelloRequest { name: name.into() })
        .await?;
    Ok(reply.into_inner().message)
}

/// `ClientCredentials` whose tokens the test declares due: the provider's `expired()` hook says
/// so for the tokens in `due`. Tokens live an hour, so nothing else renews them: how fast the
/// test runs never changes how many token requests it sees.
struct DueOnDemand {
    inner: ClientCredentials,
    due: Arc<Mutex<HashSet<String>>>,
}

impl TokenProvider for DueOnDemand {
    async fn authorize(&self) -> Result<Token, Error> {
        self.inner.authorize().await
    }

    fn expired(&self, token: &Token) -> bool {
        let value = token.access_token().expose_secret();
        self.due
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(value)
            || self.inner.expired(token)
    }

    fn client_info(&self) -> &ClientInfo {
        self.inner.client_info()
    }

    fn flow(&self) -> &'static str {
        self.inner.flow()
    }
}

#[tokio::test]
async fn every_call_is_authorized_across_renewals_with_one_token_request_per_renewal() {
    let tokens = token_server(3600).await;
    let greeter = GreeterServer::start(tokens.resource_url());
    let environment = Environment::new("local")
        .with_token_url(&tokens.token_url())
        .unwrap();
    let due = Arc::new(Mutex::new(HashSet::new()));
    let provider = DueOnDemand {
        inner: ClientCredentials::new(
            ClientInfo::new("svc", "secret"),
            environment,
            en_auth_oauth2::reqwest::Client::new(),
        )
        .unwrap(),
        due: Arc::clone(&due),
    };
    // No background renewal: once its token is due, every call waits for the one new token.
    let authorizer = AuthorizerBuilder::new()
        .renewal_policy(RenewalPolicy::default().with_proactive_renewal(false))
        .build(provider);
    let service = AuthorizerLayer::new(authorizer.clone()).layer(channel(&greeter).await);
    let client = GreeterClient::with_origin(service, greeter.url().parse().unwrap());

    const ROUNDS: u64 = 3;
    const CALLS: u64 = 10;
    for round in 1..=ROUNDS {
        // Ten concurrent calls find no usable token (none yet, or the last one due).
        let calls = (0..CALLS).map(|i| {
            let mut client = client.clone();
            async move {
                client
                    .say_hello(HelloRequest {
                        name: format!("caller {i}"),
                    })
                    .await
                    .map(|reply| reply.into_inner().message)
            }
        });
        for (i, reply) in futures::future::join_all(calls)
            .await
            .into_iter()
            .enumerate()
        {
            assert_eq!(reply.unwrap(), format!("hello, caller {i}"));
        }
        assert_eq!(
            tokens.token_requests(),
            round,
            "one token request per renewal"
        );
        // The token is due: the next round needs a new one.
        let current = authorizer.cached_token().unwrap();
        due.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(current.secret().expose_secret().to_owned());
    }
    assert_eq!(greeter.authorized(), ROUNDS * CALLS);
    assert_eq!(greeter.unauthenticated(), 0);
    assert_eq!(tokens.token_requests(), ROUNDS);
}

#[tokio::test]
async fn unauthenticated_for_the_current_token_causes_one_renewal() {
    let tokens = token_server(3600).await;
    let greeter = GreeterServer::start(tokens.resource_url());
    let authorizer = authorizer(&tokens);
    let client = client(&greeter, &authorizer).await;
    assert_eq!(hello(&client, "a").await.unwrap(), "hello, a");

    // The server stops accepting the current token: a burst of calls carrying it.
    tokens.revoke_all();
    let calls = (0..5).map(|_| {
        let client = client.clone();
        async move { hello(&client, "b").await }
    });
    for reply in futures::future::join_all(calls).await {
        let status = reply.expect_err("the token was revoked");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    }
    assert_eq!(greeter.unauthenticated(), 5);

    // Later calls carry one new token.
    let calls = (0..5).map(|_| {
        let client = client.clone();
        async move { hello(&client, "c").await }
    });
    for reply in futures::future::join_all(calls).await {
        assert_eq!(reply.unwrap(), "hello, c");
    }
    assert_eq!(
        tokens.token_requests(),
        2,
        "one renewal for five rejections"
    );
    assert_eq!(greeter.authorized(), 6);
}

#[tokio::test]
async fn a_tonic_interceptor_uses_the_synchronous_accessor() {
    let tokens = token_server(3600).await;
    let greeter = GreeterServer::start(tokens.resource_url());
    let authorizer = authorizer(&tokens);
    let accessor = authorizer.clone();
    let client = GreeterClient::with_interceptor(
        channel(&greeter).await,
        move |mut request: tonic::Request<()>| {
            let token = accessor.try_current_token().map_err(|e| match e {
                TokenUnavailable::Renewing => Status::unavailable("no token yet"),
                other => Status::unauthenticated(other.to_string()),
            })?;
            let mut value =
                tonic::metadata::MetadataValue::try_from(token.header_value().as_bytes())
                    .map_err(|_| Status::internal("not a header value"))?;
            value.set_sensitive(true);
            request.metadata_mut().insert("authorization", value);
            Ok(request)
        },
    );
    use tonic::Status;

    // No token yet: the interceptor refuses the call, and the renewal starts in the background.
    let status = client
        .clone()
        .say_hello(HelloRequest { name: "a".into() })
        .await
        .expect_err("no token yet");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    // Wait for that renewal (joining it), then calls go through.
    authorizer.access_token().await.unwrap();
    for _ in 0..3 {
        let reply = client
            .clone()
            .say_hello(HelloRequest { name: "a".into() })
            .await
            .unwrap();
        assert_eq!(reply.into_inner().message, "hello, a");
    }
    assert_eq!(tokens.token_requests(), 1);
    assert_eq!(greeter.authorized(), 3);
    assert_eq!(greeter.calls(), 3, "the refused call never left the client");
}
