//! Discovery's edge cases (RFC 8414 §3, OpenID Connect Discovery 1.0 §4) against httpmock:
//! where the well-known segment goes for an issuer with a path, the fallback to the OpenID
//! document, malformed, oversized and redirecting documents, the TTL, the refetch after a failed
//! token request, one fetch for 50 concurrent authorizers; and the token request's `resource`
//! and `audience` parameters and the cache/store keys they (and the issuer) make. The real
//! server's side is in `peer_oidc.rs`.
//!
//! httpmock hands out pooled servers (a port is reused by later tests), so every issuer here has
//! a path of its own ([`unique`]): the process-wide metadata cache is never shared between tests.

use std::time::Duration;

use en_auth_oauth2::{
    shared_token_http_client, ClientCredentials, ClientInfo, Environment, Error,
    ServiceAccountAuthorizer, TokenEndpointAuthMethod, TokenProvider, DEFAULT_CONNECT_TIMEOUT,
};
use httpmock::prelude::*;
use serde_json::json;

const RFC8414: &str = "/.well-known/oauth-authorization-server";
const OIDC: &str = "/.well-known/openid-configuration";

/// A new issuer on `server` — `…/i<n>` — and the paths of its RFC 8414 and OpenID documents.
fn unique(server: &MockServer) -> (String, String, String) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (
        server.url(format!("/i{n}")),
        format!("{RFC8414}/i{n}"),
        format!("/i{n}{OIDC}"),
    )
}

fn token_body() -> serde_json::Value {
    json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600})
}

/// A metadata document for `issuer` with its token endpoint at `server`'s `/token`.
fn document(server: &MockServer, issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "token_endpoint": server.url("/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["client_credentials"],
    })
}

async fn token_mock(server: &MockServer) -> httpmock::Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(POST).path("/token");
            then.status(200).json_body(token_body());
        })
        .await
}

fn environment(issuer: &str) -> Environment {
    Environment::new("discovery").with_issuer(issuer).unwrap()
}

fn provider(environment: Environment) -> ClientCredentials {
    ClientCredentials::new(
        ClientInfo::new("svc", "secret"),
        environment,
        shared_token_http_client(DEFAULT_CONNECT_TIMEOUT).unwrap(),
    )
    .unwrap()
}

async fn first_error(environment: Environment) -> Error {
    provider(environment).authorize().await.unwrap_err()
}

#[tokio::test]
async fn an_issuer_with_a_path_is_looked_up_where_rfc_8414_puts_the_segment() {
    let server = MockServer::start_async().await;
    let issuer = server.url("/tenant");
    let body = document(&server, &issuer);
    let rfc = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("{RFC8414}/tenant"))
                .header("accept", "application/json");
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    provider(environment(&issuer)).authorize().await.unwrap();
    assert_eq!(rfc.calls_async().await, 1);
    assert_eq!(token.calls_async().await, 1);
}

#[tokio::test]
async fn without_an_rfc_8414_document_the_openid_one_is_read_appended_to_the_path() {
    let server = MockServer::start_async().await;
    let issuer = server.url("/realms/a");
    let body = document(&server, &issuer);
    let rfc = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{RFC8414}/realms/a"));
            then.status(404);
        })
        .await;
    let oidc = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/realms/a{OIDC}"));
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    provider(environment(&issuer)).authorize().await.unwrap();
    assert_eq!((rfc.calls_async().await, oidc.calls_async().await), (1, 1));
    assert_eq!(token.calls_async().await, 1);
}

/// A catch-all route that answers the RFC 8414 URL with 200 and an HTML page does not hide the
/// OpenID Connect document (a review finding: the first 2xx used to end the lookup).
#[tokio::test]
async fn a_2xx_that_is_no_document_does_not_hide_the_openid_one() {
    let server = MockServer::start_async().await;
    let (issuer, rfc_path, oidc_path) = unique(&server);
    let body = document(&server, &issuer);
    let rfc = server
        .mock_async(|when, then| {
            when.method(GET).path(rfc_path.as_str());
            then.status(200).body("<html>the app's home page</html>");
        })
        .await;
    let oidc = server
        .mock_async(|when, then| {
            when.method(GET).path(oidc_path.as_str());
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    provider(environment(&issuer)).authorize().await.unwrap();
    assert_eq!((rfc.calls_async().await, oidc.calls_async().await), (1, 1));
    assert_eq!(token.calls_async().await, 1);
}

#[tokio::test]
async fn a_malformed_document_is_an_invalid_response_naming_it() {
    for (body, expected) in [
        ("<html>not json</html>".to_owned(), "not JSON"),
        (r#"{"issuer": 7}"#.to_owned(), "wrong type"),
        (r#"{"token_endpoint": "x"}"#.to_owned(), "missing"),
        (String::new(), "truncated"),
    ] {
        let server = MockServer::start_async().await;
        let (issuer, rfc, oidc) = unique(&server);
        // Both well-known URLs answer 200 with it: the last one's error is returned.
        for path in [&rfc, &oidc] {
            server
                .mock_async(|when, then| {
                    when.method(GET).path(path.as_str());
                    then.status(200).body(body.as_str());
                })
                .await;
        }
        match first_error(environment(&issuer)).await {
            Error::InvalidResponse(e) => {
                assert_eq!(e.endpoint, server.url(&oidc));
                assert!(e.to_string().contains(expected), "{body:?}: {e}");
            }
            other => panic!("{body:?}: expected InvalidResponse, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_document_without_a_usable_token_endpoint_is_an_invalid_response() {
    for (endpoint, expected) in [
        (None, "no `token_endpoint`"),
        (Some("not a url"), "not a URL"),
        (
            Some("http://auth.example.com/token"),
            "neither https nor http on loopback",
        ),
        (
            Some("ftp://127.0.0.1/token"),
            "neither https nor http on loopback",
        ),
    ] {
        let server = MockServer::start_async().await;
        let (issuer, rfc, _) = unique(&server);
        let mut body = json!({ "issuer": issuer });
        if let Some(endpoint) = endpoint {
            body["token_endpoint"] = json!(endpoint);
        }
        server
            .mock_async(|when, then| {
                when.method(GET).path(rfc.as_str());
                then.status(200).json_body(body);
            })
            .await;
        match first_error(environment(&issuer)).await {
            Error::InvalidResponse(e) => assert!(e.to_string().contains(expected), "{e}"),
            other => panic!("{endpoint:?}: expected InvalidResponse, got {other:?}"),
        }
    }
}

/// `mtls_endpoint_aliases.token_endpoint` (RFC 8705 §5) is checked as the token endpoint is,
/// and used only by a client that presents a certificate (the aliased requests of one that
/// does are in `peer_mtls.rs`): without one, requests go to `token_endpoint`.
#[tokio::test]
async fn the_mtls_alias_is_checked_and_unused_without_a_certificate() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let mut body = document(&server, &issuer);
    body["mtls_endpoint_aliases"] = json!({ "token_endpoint": server.url("/mtls/token") });
    server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    let alias = server
        .mock_async(|when, then| {
            when.method(POST).path("/mtls/token");
            then.status(200).json_body(token_body());
        })
        .await;
    provider(environment(&issuer)).authorize().await.unwrap();
    assert_eq!(
        (token.calls_async().await, alias.calls_async().await),
        (1, 0)
    );

    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let mut body = document(&server, &issuer);
    body["mtls_endpoint_aliases"] = json!({ "token_endpoint": "http://auth.example.com/token" });
    server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    match first_error(environment(&issuer)).await {
        Error::InvalidResponse(e) => assert!(
            e.to_string()
                .contains("`mtls_endpoint_aliases.token_endpoint` http://auth.example.com/token is neither https nor http on loopback"),
            "{e}"
        ),
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn a_document_over_the_size_cap_is_refused() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let mut body = document(&server, &issuer);
    body["padding"] = json!("x".repeat(en_auth_oauth2::DEFAULT_MAX_RESPONSE_BYTES));
    server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    match first_error(environment(&issuer)).await {
        Error::InvalidResponse(e) => assert!(e.to_string().contains("byte cap"), "{e}"),
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    assert_eq!(token.calls_async().await, 0);
}

#[tokio::test]
async fn a_redirecting_document_is_not_followed() {
    let server = MockServer::start_async().await;
    let elsewhere = MockServer::start_async().await;
    let (issuer, rfc, oidc) = unique(&server);
    let body = document(&elsewhere, &issuer);
    let moved = elsewhere
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(body);
        })
        .await;
    let target = elsewhere.url("/metadata");
    let redirects = server
        .mock_async(move |when, then| {
            when.method(GET);
            then.status(302).header("location", target.as_str());
        })
        .await;
    match first_error(environment(&issuer)).await {
        Error::InvalidResponse(e) => {
            let text = e.to_string();
            assert!(text.contains("HTTP 302"), "{text}");
            assert!(text.contains("redirects are not followed"), "{text}");
            assert!(text.contains(&server.url(&rfc)), "{text}");
            assert!(text.contains(&server.url(&oidc)), "{text}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    assert_eq!(redirects.calls_async().await, 2);
    assert_eq!(moved.calls_async().await, 0);
}

#[tokio::test]
async fn a_document_is_fetched_again_once_its_ttl_has_passed() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let body = document(&server, &issuer);
    let metadata = server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    token_mock(&server).await;
    // Within the TTL (the default hour): one fetch for three token requests.
    let cached = provider(environment(&issuer));
    for _ in 0..3 {
        cached.authorize().await.unwrap();
    }
    assert_eq!(metadata.calls_async().await, 1);
    // A TTL of zero: every token request finds the document too old.
    let expiring = provider(environment(&issuer)).with_discovery_ttl(Duration::ZERO);
    for _ in 0..3 {
        expiring.authorize().await.unwrap();
    }
    assert_eq!(metadata.calls_async().await, 4);
}

#[tokio::test]
async fn a_failed_token_request_makes_the_next_one_fetch_the_document_again() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    // The document names an endpoint that has gone away…
    let mut old = document(&server, &issuer);
    old["token_endpoint"] = json!(server.url("/old-token"));
    let old_metadata = server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(old);
        })
        .await;
    let gone = server
        .mock_async(|when, then| {
            when.method(POST).path("/old-token");
            then.status(404);
        })
        .await;
    let token = token_mock(&server).await;
    let provider = provider(environment(&issuer));
    let err = provider.authorize().await.unwrap_err();
    assert!(err.to_string().contains("/old-token"), "{err}");
    // …and the server now publishes the new one.
    old_metadata.delete_async().await;
    let body = document(&server, &issuer);
    let new_metadata = server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    provider.authorize().await.unwrap();
    provider.authorize().await.unwrap();
    assert_eq!(gone.calls_async().await, 1);
    assert_eq!(new_metadata.calls_async().await, 1);
    assert_eq!(token.calls_async().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_authorizers_fetch_the_document_once() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let body = document(&server, &issuer);
    // The document is slow, so that every authorizer asks while the first fetch is under way:
    // without a single flight each would fetch it.
    let metadata = server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200)
                .delay(Duration::from_millis(300))
                .json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    let authorizers: Vec<_> = (0..50)
        .map(|_| {
            ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment(&issuer))
                .unwrap()
        })
        .collect();
    let tokens = futures::future::join_all(authorizers.iter().map(|a| a.access_token())).await;
    assert!(tokens.iter().all(Result::is_ok));
    assert_eq!(metadata.calls_async().await, 1);
    assert_eq!(token.calls_async().await, 50);
}

/// Two authorizers of one issuer, each with its own HTTP client — standing for two proxies or
/// CA settings that reach two different networks (here a header each client sends, which the
/// server answers with a different document) — each use the document fetched through their own
/// client, and send their token requests where it says; authorizers on the shared client share
/// one fetch. Regression: the per-issuer cache served the first authorizer's fetch to all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorizers_with_their_own_http_clients_do_not_share_a_fetched_document() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let with_token_endpoint = |path: &str| {
        let mut body = document(&server, &issuer);
        body["token_endpoint"] = json!(server.url(path));
        body
    };
    let mut documents = Vec::new();
    let mut tokens = Vec::new();
    for net in ["a", "b"] {
        let body = with_token_endpoint(&format!("/token-{net}"));
        let rfc = rfc.clone();
        documents.push(
            server
                .mock_async(move |when, then| {
                    when.method(GET).path(rfc).header("x-net", net);
                    then.status(200).json_body(body);
                })
                .await,
        );
        tokens.push(
            server
                .mock_async(move |when, then| {
                    when.method(POST)
                        .path(format!("/token-{net}"))
                        .header("x-net", net);
                    then.status(200).json_body(token_body());
                })
                .await,
        );
    }
    let client = |net: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-net", net.parse().unwrap());
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap()
    };
    for net in ["a", "b"] {
        let authorizer = ServiceAccountAuthorizer::builder(
            ClientInfo::new("svc", "secret"),
            environment(&issuer),
        )
        .http_client(client(net))
        .build()
        .unwrap();
        authorizer.access_token().await.unwrap();
    }
    assert_eq!(documents[0].calls_async().await, 1);
    assert_eq!(tokens[0].calls_async().await, 1);
    assert_eq!(
        documents[1].calls_async().await,
        1,
        "b fetched its own document"
    );
    assert_eq!(
        tokens[1].calls_async().await,
        1,
        "b's token request where b's document says"
    );
    // Authorizers on the shared client (which sends no such header) fetch once between them,
    // and are not served a's or b's document.
    let unheaded = server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str()).header_missing("x-net");
            then.status(200)
                .json_body(with_token_endpoint("/token-none"));
        })
        .await;
    let token_none = server
        .mock_async(|when, then| {
            when.method(POST).path("/token-none");
            then.status(200).json_body(token_body());
        })
        .await;
    for _ in 0..3 {
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment(&issuer))
            .unwrap()
            .access_token()
            .await
            .unwrap();
    }
    assert_eq!(
        unheaded.calls_async().await,
        1,
        "one fetch for the shared client"
    );
    assert_eq!(token_none.calls_async().await, 3);
}

#[tokio::test]
async fn a_failed_fetch_is_shared_by_those_waiting_and_retried_by_the_next() {
    let server = MockServer::start_async().await;
    let (issuer, _, _) = unique(&server);
    let missing = server
        .mock_async(|when, then| {
            when.method(GET);
            then.status(503).delay(Duration::from_millis(300));
        })
        .await;
    // Authorizers on the shared client share fetches (providers given a client do not: see
    // authorizers_with_their_own_http_clients_do_not_share_a_fetched_document); their
    // providers are called directly, without the authorizer's retries.
    let authorizers: Vec<_> = (0..10)
        .map(|_| {
            ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), environment(&issuer))
                .unwrap()
        })
        .collect();
    let providers: Vec<_> = authorizers
        .iter()
        .map(|a| a.authorizer().provider())
        .collect();
    let outcomes = futures::future::join_all(providers.iter().map(|p| p.authorize())).await;
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Err(Error::InvalidResponse(_)))));
    // One fetch (both URLs) for the ten waiting; the next token request tries again.
    assert_eq!(missing.calls_async().await, 2);
    providers[0].authorize().await.unwrap_err();
    assert_eq!(missing.calls_async().await, 4);
}

#[tokio::test]
async fn without_a_methods_list_only_client_secret_basic_is_supported() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let body = json!({"issuer": issuer, "token_endpoint": server.url("/token")});
    server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    let post = environment(&issuer)
        .with_token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretPost);
    match first_error(post).await {
        Error::Configuration(e) => {
            assert_eq!(e.field.as_deref(), Some("token_endpoint_auth_method"));
            assert!(e.message.contains("lists: client_secret_basic"), "{e}");
        }
        other => panic!("expected Configuration, got {other:?}"),
    }
    assert_eq!(token.calls_async().await, 0);
    provider(environment(&issuer)).authorize().await.unwrap();
    assert_eq!(token.calls_async().await, 1);
}

#[tokio::test]
async fn resources_and_audience_are_sent_with_every_token_request() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/token")
                .body_includes("resource=https%3A%2F%2Fapi.example.com%2Fv1")
                .body_includes("resource=urn%3Aexample%3Areports")
                .form_urlencoded_tuple("audience", "https://api.example.com");
            then.status(200).json_body(token_body());
        })
        .await;
    let environment = Environment::new("resources")
        .with_token_url(&server.url("/token"))
        .unwrap()
        .with_resources(["https://api.example.com/v1", "urn:example:reports"])
        .unwrap()
        .with_audience("https://api.example.com")
        .unwrap();
    let provider = provider(environment);
    provider.authorize().await.unwrap();
    provider.authorize().await.unwrap();
    assert_eq!(token.calls_async().await, 2);
}

#[test]
fn resource_or_audience_also_in_extra_params_is_refused() {
    let base = || {
        Environment::new("twice")
            .with_token_url("https://auth.example.com/token")
            .unwrap()
    };
    for (environment, field) in [
        (
            base()
                .with_resources(["https://a.example/"])
                .unwrap()
                .with_extra_param("resource", "https://b.example/"),
            "resource",
        ),
        (
            base()
                .with_audience("a")
                .unwrap()
                .with_extra_param("audience", "b"),
            "audience",
        ),
    ] {
        let err = ClientCredentials::new(
            ClientInfo::new("svc", "secret"),
            environment,
            reqwest::Client::new(),
        )
        .unwrap_err();
        match err {
            Error::Configuration(e) => assert_eq!(e.field.as_deref(), Some(field)),
            other => panic!("expected Configuration, got {other:?}"),
        }
    }
}

/// The shared-store key of `environment`'s token requests for one client.
fn key(environment: Environment) -> en_auth_oauth2::core::SharedKey {
    provider(environment).shared_identity().unwrap().key()
}

#[test]
fn resources_audience_and_issuer_are_part_of_the_cache_key() {
    let token_url = || {
        Environment::new("keys")
            .with_token_url("https://auth.example.com/token")
            .unwrap()
    };
    let keys = [
        key(token_url()),
        key(token_url().with_resources(["https://a.example/"]).unwrap()),
        key(token_url().with_resources(["https://b.example/"]).unwrap()),
        key(token_url()
            .with_resources(["https://a.example/", "https://b.example/"])
            .unwrap()),
        key(token_url().with_audience("https://a.example/").unwrap()),
        key(token_url().with_audience("https://b.example/").unwrap()),
        key(Environment::new("keys")
            .with_issuer("https://auth.example.com")
            .unwrap()),
        key(Environment::new("keys")
            .with_issuer("https://other.example.com")
            .unwrap()),
    ];
    for (i, a) in keys.iter().enumerate() {
        for (j, b) in keys.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "environments {i} and {j} share a key");
        }
    }
    // The same request, the same key (resources in any order: the fields are sorted).
    assert_eq!(
        key(token_url()
            .with_resources(["https://b.example/", "https://a.example/"])
            .unwrap()),
        keys[3]
    );
    // An environment without the new fields keeps the key it had before they existed: the
    // digest of exactly these fields.
    let before = en_auth_oauth2::core::SharedIdentity::new("client_credentials")
        .with("token_url", "https://auth.example.com/token")
        .with("client_id", "svc")
        .with("token_endpoint_auth_method", "client_secret_basic")
        .with_credential("client_secret", &secrecy::SecretString::from("secret"));
    assert_eq!(keys[0], before.key());
}

/// The jwt-bearer grant's token is the assertion subject's (RFC 7523 §2.1): two processes with
/// an assertion file at the same path may hold two subjects, so such tokens are never shared
/// (as token exchange's are not). Regression: the identity named the file's path only, and two
/// workloads of one client, with different subjects, would have shared one token.
#[test]
fn the_jwt_bearer_grant_shares_no_token() {
    use en_auth_oauth2::core::{ClientAssertionConfig, GrantType};
    let mut config = ClientAssertionConfig::default();
    config.assertion_file = Some("/var/run/secrets/tokens/assertion".into());
    let bearer = Environment::new("keys")
        .with_token_url("https://auth.example.com/token")
        .unwrap()
        .with_grant_type(GrantType::JwtBearer)
        .with_client_assertion(config)
        .unwrap();
    assert!(provider(bearer).shared_identity().is_none());
    // The client-credentials grant of the same client still shares.
    assert!(provider(
        Environment::new("keys")
            .with_token_url("https://auth.example.com/token")
            .unwrap()
    )
    .shared_identity()
    .is_some());
}

/// The Redis store's key names are a keyed HMAC of the shared key: different resources,
/// different Redis keys (the store is built, never connected).
#[cfg(feature = "redis")]
#[test]
fn resources_make_different_redis_keys() {
    let store = en_auth_oauth2::RedisStore::builder("redis://127.0.0.1:6379")
        .encryption_key([7u8; 32])
        .build()
        .unwrap();
    let with = |resource: &str| {
        key(Environment::new("keys")
            .with_token_url("https://auth.example.com/token")
            .unwrap()
            .with_resources([resource])
            .unwrap())
    };
    let (a, b) = (with("https://a.example/"), with("https://b.example/"));
    assert_ne!(store.redis_key(&a), store.redis_key(&b));
    assert_ne!(store.lock_key(&a), store.lock_key(&b));
}

/// An unusable endpoint that only people's sign-in uses (here a plain-http revocation endpoint
/// on a remote host, and an authorization endpoint that is no URL) does not make the document
/// unusable for a service account: it was refused whole, and every client-credentials
/// authorizer of the issuer failed (review finding).
#[tokio::test]
async fn an_unusable_sign_in_endpoint_does_not_stop_a_service_account() {
    let server = MockServer::start_async().await;
    let (issuer, rfc, _) = unique(&server);
    let mut body = document(&server, &issuer);
    body["revocation_endpoint"] = json!("http://internal.example:8080/revoke");
    body["authorization_endpoint"] = json!("not a url");
    server
        .mock_async(|when, then| {
            when.method(GET).path(rfc.as_str());
            then.status(200).json_body(body);
        })
        .await;
    let token = token_mock(&server).await;
    provider(environment(&issuer)).authorize().await.unwrap();
    assert_eq!(token.calls_async().await, 1);
}
