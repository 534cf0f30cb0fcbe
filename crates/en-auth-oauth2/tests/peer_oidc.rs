//! Integration with a real, certified OAuth2 server: oidc-provider (npm, pinned in
//! `peers/oidc`), started on loopback with a 3-second token lifetime.

use std::time::{Duration, Instant};

use en_auth_oauth2::{
    ClientInfo, Environment, Error, ServiceAccountAuthorizer, TokenEndpointAuthMethod,
};
use en_auth_peers::support::{IntrospectedResource, Introspection};
use en_auth_peers::{field, oidc, TOKEN_TTL_SECONDS};
use secrecy::ExposeSecret;
use serde_json::Value;

fn environment(method: TokenEndpointAuthMethod) -> Environment {
    Environment::new("oidc-provider")
        .with_token_url(field(oidc(), "token_endpoint"))
        .unwrap()
        .with_scopes([field(oidc(), "scope")])
        .with_token_endpoint_auth_method(method)
}

fn client(name: &str) -> ClientInfo {
    ClientInfo::new(
        field(oidc(), &format!("clients/{name}/id")),
        field(oidc(), &format!("clients/{name}/secret")),
    )
}

/// RFC 7662 introspection, as the resource server.
fn introspection() -> Introspection {
    Introspection {
        endpoint: field(oidc(), "introspection_endpoint").to_owned(),
        client_id: field(oidc(), "clients/introspector/id").to_owned(),
        secret: field(oidc(), "clients/introspector/secret").to_owned(),
    }
}

async fn introspect(token: &str) -> Value {
    introspection()
        .introspect(&reqwest::Client::new(), token)
        .await
}

#[tokio::test]
async fn client_secret_basic_with_special_characters() {
    // The secret contains + = $ ! : % / space & ? ~ : it only works if form-encoded (§2.3.1).
    assert!(field(oidc(), "clients/basic/secret").contains('%'));
    let auth = ServiceAccountAuthorizer::new(
        client("basic"),
        environment(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    let token = auth.access_token().await.unwrap();
    // expires_in less its one-second resolution.
    assert_eq!(
        token.lifetime(),
        Some(Duration::from_secs(TOKEN_TTL_SECONDS - 1))
    );
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/basic/id"));
    assert_eq!(info["scope"], field(oidc(), "scope"));
}

#[tokio::test]
async fn client_secret_post() {
    let auth = ServiceAccountAuthorizer::new(
        client("post"),
        environment(TokenEndpointAuthMethod::ClientSecretPost),
    )
    .unwrap();
    let token = auth.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/post/id"));
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_client_error() {
    for method in [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
    ] {
        let info = ClientInfo::new(field(oidc(), "clients/basic/id"), "wrong-secret");
        let err = ServiceAccountAuthorizer::new(info, environment(method))
            .unwrap()
            .access_token()
            .await
            .unwrap_err();
        match &err {
            Error::InvalidClient(e) => {
                assert_eq!(e.client_id, field(oidc(), "clients/basic/id"));
                assert_eq!(e.endpoint, field(oidc(), "token_endpoint"));
            }
            other => panic!("{method:?}: expected InvalidClient, got {other:?}"),
        }
        assert!(!err.to_string().contains("wrong-secret"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_sees_only_active_tokens_across_several_expiries() {
    let resource = IntrospectedResource::start(introspection(), None).await;
    let url = resource.url().to_owned();

    let auth = ServiceAccountAuthorizer::new(
        client("basic"),
        environment(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();

    // Traffic until the resource has seen four different tokens (three renewals of the 3-s
    // tokens), for at most a minute.
    let lifetime = Duration::from_secs(TOKEN_TTL_SECONDS);
    let started = Instant::now();
    let mut sent = 0_u64;
    while resource.distinct_tokens() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} tokens of {lifetime:?} seen in a minute ({sent} requests)",
            resource.distinct_tokens()
        );
        let batch = (0..4).map(|_| http.get(&url).send());
        for response in futures::future::join_all(batch).await {
            assert_eq!(response.unwrap().status(), 200);
            sent += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(
        resource.inactive(),
        0,
        "an expired token reached the resource"
    );
    assert_eq!(resource.active(), sent);
    // Renewals per lifetime, not per request, bounded by how long the run really took: a 3-s
    // token is relied on for 2 s (expires_in has one-second resolution) and renewed at 3/4 of
    // that, 1.5 s after it arrived (no shared store, so no renewal jitter): at most one token
    // request per 1.5 s after the first (counted per 1.25 s, to be safe). And each batch of four concurrent requests
    // makes at most one (they share it), so at least four requests per token request.
    let token_requests = auth.token_requests();
    let bound = 1 + (elapsed.as_secs_f64() / 1.25).ceil() as u64;
    assert!(
        token_requests <= bound,
        "{token_requests} token requests in {elapsed:?} (at most {bound}) for {sent} requests"
    );
    assert!(
        sent >= 4 * token_requests,
        "{sent} requests, {token_requests} token requests"
    );
}

// ---------------------------------------------------------------------------------------------
// Discovery (RFC 8414 / OpenID Connect Discovery 1.0) and resource indicators (RFC 8707).

/// An environment with only the issuer: the token endpoint comes from discovery.
fn discovered(issuer: &str, method: TokenEndpointAuthMethod) -> Environment {
    Environment::new("oidc-provider")
        .with_issuer(issuer)
        .unwrap()
        .with_scopes([field(oidc(), "scope")])
        .with_token_endpoint_auth_method(method)
}

#[tokio::test]
async fn an_issuer_alone_discovers_the_token_endpoint() {
    for (name, method) in [
        ("basic", TokenEndpointAuthMethod::ClientSecretBasic),
        ("post", TokenEndpointAuthMethod::ClientSecretPost),
    ] {
        let environment = discovered(field(oidc(), "issuer"), method);
        assert!(environment.token_url().is_none());
        let auth = ServiceAccountAuthorizer::new(client(name), environment).unwrap();
        let token = auth.access_token().await.unwrap();
        let info = introspect(token.secret().expose_secret()).await;
        assert_eq!(info["active"], true, "{info}");
        assert_eq!(
            info["client_id"],
            field(oidc(), &format!("clients/{name}/id"))
        );
        assert_eq!(info["iss"], field(oidc(), "issuer"));
    }
}

/// The claims of a JWT access token, verified with the server's JWKS for `audience`.
async fn verified_claims(token: &str, audience: &str) -> Value {
    let body = reqwest::get(field(oidc(), "jwks_uri"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&body).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[field(oidc(), "issuer")]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap_or_else(|e| panic!("not a JWT for {audience}: {e}"))
    .claims
}

#[tokio::test]
async fn a_resource_indicator_gets_a_token_for_that_resource() {
    let resource = field(oidc(), "jwt_resource");
    let environment = discovered(
        field(oidc(), "issuer"),
        TokenEndpointAuthMethod::ClientSecretBasic,
    )
    .with_resources([resource])
    .unwrap();
    let auth = ServiceAccountAuthorizer::new(client("basic"), environment).unwrap();
    let token = auth.access_token().await.unwrap();
    let claims = verified_claims(token.secret().expose_secret(), resource).await;
    assert_eq!(claims["aud"], resource, "{claims}");
    assert_eq!(claims["client_id"], field(oidc(), "clients/basic/id"));

    // Without the resource indicator the server issues an opaque token, no JWT.
    let plain = ServiceAccountAuthorizer::new(
        client("basic"),
        discovered(
            field(oidc(), "issuer"),
            TokenEndpointAuthMethod::ClientSecretBasic,
        ),
    )
    .unwrap();
    let token = plain.access_token().await.unwrap();
    assert!(jsonwebtoken::decode_header(token.secret().expose_secret()).is_err());
}

#[tokio::test]
async fn a_resource_the_server_does_not_know_is_an_invalid_target_error() {
    let environment = environment(TokenEndpointAuthMethod::ClientSecretBasic)
        .with_resources(["https://unknown.example/api"])
        .unwrap();
    let err = ServiceAccountAuthorizer::new(client("basic"), environment)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    match &err {
        Error::Authorization(e) => assert_eq!(e.code.as_deref(), Some("invalid_target"), "{err}"),
        other => panic!("expected Authorization(invalid_target), got {other:?}"),
    }
}

/// Two authorizers sharing one store (a local directory), one for the resource and one
/// without: each gets its own token, under its own key — never the other's.
#[tokio::test]
async fn authorizers_for_different_resources_never_share_a_token() {
    let dir = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let store = en_auth_oauth2::LocalStore::open(dir.path()).unwrap();
    let resource = field(oidc(), "jwt_resource");
    let with_resource = environment(TokenEndpointAuthMethod::ClientSecretBasic)
        .with_resources([resource])
        .unwrap();
    let without = environment(TokenEndpointAuthMethod::ClientSecretBasic);
    let build = |environment: Environment| {
        ServiceAccountAuthorizer::builder(client("basic"), environment)
            .shared_store(store.clone())
            .build()
            .unwrap()
    };
    let key = |environment: &Environment| {
        use en_auth_oauth2::TokenProvider as _;
        en_auth_oauth2::ClientCredentials::new(
            client("basic"),
            environment.clone(),
            reqwest::Client::new(),
        )
        .unwrap()
        .shared_identity()
        .unwrap()
        .key()
        .to_hex()
    };
    let expected_keys: std::collections::BTreeSet<String> =
        [key(&with_resource), key(&without)].into();
    assert_eq!(expected_keys.len(), 2);
    let (for_resource, plain) = (build(with_resource), build(without));
    let a = for_resource.access_token().await.unwrap();
    let b = plain.access_token().await.unwrap();
    assert_ne!(a.secret().expose_secret(), b.secret().expose_secret());
    verified_claims(a.secret().expose_secret(), resource).await;
    assert!(jsonwebtoken::decode_header(b.secret().expose_secret()).is_err());
    assert_eq!(for_resource.token_requests(), 1);
    assert_eq!(plain.token_requests(), 1);
    // Two tokens stored, each under its authorizer's key (`<key>.token`).
    let stored: std::collections::BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".token")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(stored, expected_keys);
}

#[tokio::test]
async fn an_issuer_that_is_not_the_documents_own_is_a_configuration_error() {
    let issuer = field(oidc(), "issuer");
    // A trailing slash, and the same server by another name: both reach the server's
    // metadata, which names `issuer` exactly.
    let localhost = issuer.replace("127.0.0.1", "localhost");
    for configured in [format!("{issuer}/"), localhost] {
        let err = ServiceAccountAuthorizer::new(
            client("basic"),
            discovered(&configured, TokenEndpointAuthMethod::ClientSecretBasic),
        )
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
        match &err {
            Error::Configuration(e) => assert_eq!(e.field.as_deref(), Some("issuer"), "{err}"),
            other => panic!("{configured}: expected Configuration, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&format!("`{issuer}`")), "{text}");
        assert!(text.contains("RFC 8414"), "{text}");
    }
}

#[tokio::test]
async fn a_method_the_server_does_not_support_is_a_configuration_error() {
    let basic_only = en_auth_peers::oidc_basic_only();
    let environment = Environment::new("basic-only")
        .with_issuer(field(basic_only, "issuer"))
        .unwrap()
        .with_token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretPost);
    let info = ClientInfo::new(
        field(basic_only, "clients/basic/id"),
        field(basic_only, "clients/basic/secret"),
    );
    let auth = ServiceAccountAuthorizer::new(info.clone(), environment.clone()).unwrap();
    let err = auth.access_token().await.unwrap_err();
    match &err {
        Error::Configuration(e) => {
            assert_eq!(
                e.field.as_deref(),
                Some("token_endpoint_auth_method"),
                "{err}"
            )
        }
        other => panic!("expected Configuration, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`client_secret_post`"), "{text}");
    assert!(text.contains("lists: client_secret_basic"), "{text}");
    // The supported method, same server, same client: a token.
    let auth = ServiceAccountAuthorizer::new(
        info,
        environment.with_token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    auth.access_token().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_transport_error_naming_the_document() {
    let issuer = format!("http://127.0.0.1:{}", en_auth_peers::support::closed_port());
    let err = ServiceAccountAuthorizer::new(
        client("basic"),
        discovered(&issuer, TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    match &err {
        Error::Transport(e) => assert_eq!(
            e.endpoint,
            format!("{issuer}/.well-known/oauth-authorization-server")
        ),
        other => panic!("expected Transport, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Token exchange (RFC 8693): oidc-provider's registered grant accepts an active access token of
// its own as the subject, issues the exchanging client (`svc-exchanger`) an hour-long token,
// and records for introspection the subject's client, a SHA-256 of the subject token, the
// actor's client and the requested audience and resources.

/// base64url(SHA-256(token)), as the server records the subject token.
fn sha256(token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token))
}

fn exchange_environment() -> Environment {
    Environment::new("exchange")
        .with_issuer(field(oidc(), "issuer"))
        .unwrap()
        .with_audience("urn:en-auth:reports")
        .unwrap()
}

fn token_http() -> reqwest::Client {
    en_auth_oauth2::shared_token_http_client(en_auth_oauth2::DEFAULT_CONNECT_TIMEOUT).unwrap()
}

#[tokio::test]
async fn a_subject_from_another_authorizer_is_exchanged_and_renewed_when_it_renews() {
    use en_auth_oauth2::{Authorizer, SubjectToken, TokenExchange};
    let subject = ServiceAccountAuthorizer::new(
        client("basic"),
        environment(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    let exchange = Authorizer::new(
        TokenExchange::new(
            client("exchanger"),
            exchange_environment(),
            SubjectToken::from_authorizer(subject.authorizer().clone()),
            token_http(),
        )
        .unwrap(),
    );
    let first = exchange.access_token().await.unwrap();
    let first_value = first.secret().expose_secret().to_owned();
    let subject_token = subject.access_token().await.unwrap();
    let info = introspect(&first_value).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/exchanger/id"));
    assert_eq!(info["subject_client_id"], field(oidc(), "clients/basic/id"));
    assert_eq!(info["exchanged_audience"], "urn:en-auth:reports");
    assert_eq!(
        info["subject_token_sha256"],
        sha256(subject_token.secret().expose_secret())
    );
    // The exchanged token lives an hour: while the subject keeps its token, it is the cached one.
    drop(first);
    assert_eq!(
        exchange
            .access_token()
            .await
            .unwrap()
            .secret()
            .expose_secret(),
        first_value
    );

    // The subject renews its token: the exchanged token is stale. Still usable for its hour, it
    // is handed out while it is exchanged again in the background, with the subject's new token.
    subject.invalidate(subject_token.generation());
    drop(subject_token);
    let renewed_subject = subject.access_token().await.unwrap();
    let stale = exchange.access_token().await.unwrap();
    assert_eq!(stale.secret().expose_secret(), first_value);
    drop(stale);
    en_auth_peers::wait::until_async(
        "the exchanged token renewed",
        Duration::from_secs(30),
        || {
            exchange
                .try_current_token()
                .is_ok_and(|t| t.secret().expose_secret() != first_value)
        },
    )
    .await;
    let second = exchange.access_token().await.unwrap();
    assert_ne!(second.secret().expose_secret(), first_value);
    let info = introspect(second.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(
        info["subject_token_sha256"],
        sha256(renewed_subject.secret().expose_secret())
    );
}

#[tokio::test]
async fn a_subject_from_a_closure_with_an_actor_and_resources() {
    use en_auth_oauth2::{token_types, Authorizer, SubjectToken, TokenExchange};
    let post = ServiceAccountAuthorizer::new(
        client("post"),
        environment(TokenEndpointAuthMethod::ClientSecretPost),
    )
    .unwrap();
    let actor = ServiceAccountAuthorizer::new(
        client("basic"),
        environment(TokenEndpointAuthMethod::ClientSecretBasic),
    )
    .unwrap();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let subject = SubjectToken::from_fn(token_types::ACCESS_TOKEN, move || {
        let post = post.clone();
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            let token = post.access_token().await?;
            Ok(token.secret().clone())
        }
    });
    let environment = exchange_environment()
        .with_resources(["urn:en-auth:reports", "urn:en-auth:archive"])
        .unwrap();
    let exchange = Authorizer::new(
        TokenExchange::new(client("exchanger"), environment, subject, token_http())
            .unwrap()
            .with_actor_token(SubjectToken::from_authorizer(actor.authorizer().clone()))
            .with_requested_token_type(token_types::ACCESS_TOKEN),
    );
    let token = exchange.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["subject_client_id"], field(oidc(), "clients/post/id"));
    assert_eq!(info["actor_client_id"], field(oidc(), "clients/basic/id"));
    assert_eq!(
        info["exchanged_resource"],
        serde_json::json!(["urn:en-auth:reports", "urn:en-auth:archive"])
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// The environments file alone: `subject_token_file` makes `ServiceAccountAuthorizer::new`
/// exchange the file's token, re-read at every exchange; a token the server refuses is an
/// `invalid_grant` authorization error; a missing file a configuration error naming it.
#[tokio::test]
async fn a_subject_token_file_from_the_environments_file() {
    use en_auth_oauth2::TokenProvider as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subject");
    let post = ServiceAccountAuthorizer::new(
        client("post"),
        environment(TokenEndpointAuthMethod::ClientSecretPost),
    )
    .unwrap();
    let subject = post.access_token().await.unwrap();
    std::fs::write(&file, format!("{}\n", subject.secret().expose_secret())).unwrap();
    let toml = format!(
        "[exchange]\nissuer = \"{}\"\naudience = \"urn:en-auth:reports\"\nsubject_token_file = \"{}\"\n",
        field(oidc(), "issuer"),
        file.display()
    );
    let environment = Environment::from_toml_str(&toml, "exchange").unwrap();
    assert_eq!(
        environment.token_exchange().unwrap().subject_token_type,
        en_auth_oauth2::token_types::ACCESS_TOKEN
    );
    let exchange = ServiceAccountAuthorizer::new(client("exchanger"), environment.clone()).unwrap();
    assert_eq!(exchange.provider().flow(), "token_exchange");
    let token = exchange.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["subject_client_id"], field(oidc(), "clients/post/id"));
    assert_eq!(
        info["subject_token_sha256"],
        sha256(subject.secret().expose_secret())
    );

    // A token the server does not know, read at the next exchange.
    std::fs::write(&file, "not-a-token-of-this-server-0123456789").unwrap();
    exchange.invalidate(token.generation());
    drop(token);
    let err = exchange.access_token().await.unwrap_err();
    match &err {
        Error::Authorization(e) => assert_eq!(e.code.as_deref(), Some("invalid_grant"), "{err}"),
        other => panic!("expected Authorization(invalid_grant), got {other:?}"),
    }

    // No file: a configuration error naming it, and no request.
    std::fs::remove_file(&file).unwrap();
    let fresh = ServiceAccountAuthorizer::new(client("exchanger"), environment).unwrap();
    match fresh.access_token().await.unwrap_err() {
        Error::Configuration(e) => {
            assert_eq!(e.field.as_deref(), Some("subject_token_file"));
            assert!(e.message.contains(&file.display().to_string()), "{e}");
        }
        other => panic!("expected Configuration, got {other:?}"),
    }
}
