//! Authorizers in one process standing for the processes of a fleet (each has its own cache,
//! so a second one with the same configuration is a process that has not fetched yet), on one
//! real Redis: authorizers that would get different tokens — another scope, another audience,
//! other extra parameters, another client — never receive each other's tokens, while one with
//! the same configuration adopts the stored token; and nothing readable is left in Redis.
//! (An environments file's `shared_cache` table alone turning sharing on is in
//! `environments_file.rs`, a binary of its own: it sets process variables.)

use std::collections::HashSet;

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{ClientInfo, Environment, RedisStore, ServiceAccountAuthorizer};
use en_auth_peers::redis::RedisServer;
use en_auth_testkit::OAuthServer;

const KEY: [u8; 32] = [42; 32];

fn server() -> OAuthServer {
    OAuthServer::builder()
        .client("svc-isolation-client", "isolation-secret-5ee7")
        .client("other-client-9d1", "other-secret-77aa")
        .token_lifetime_secs(3600)
        .start_on_own_thread()
}

fn authorizer(
    redis: &RedisServer,
    client: &str,
    environment: Environment,
) -> ServiceAccountAuthorizer {
    let secret = if client == "svc-isolation-client" {
        "isolation-secret-5ee7"
    } else {
        "other-secret-77aa"
    };
    let store = RedisStore::builder(redis.url())
        .encryption_key(KEY)
        .build()
        .unwrap();
    ServiceAccountAuthorizer::builder(ClientInfo::new(client, secret), environment)
        .shared_store(store)
        .build()
        .unwrap()
}

async fn token(authorizer: &ServiceAccountAuthorizer) -> String {
    authorizer
        .access_token()
        .await
        .unwrap()
        .secret()
        .expose_secret()
        .to_owned()
}

#[tokio::test]
async fn authorizers_that_would_get_different_tokens_never_share_one() {
    let redis = RedisServer::start();
    let server = server();
    let base = || {
        Environment::new("iso")
            .with_token_url(&server.token_url())
            .unwrap()
    };
    let configurations: Vec<(&str, &str, Environment)> = vec![
        (
            "read scope",
            "svc-isolation-client",
            base().with_scopes(["orders:read"]),
        ),
        (
            "write scope",
            "svc-isolation-client",
            base().with_scopes(["orders:write"]),
        ),
        (
            "both scopes",
            "svc-isolation-client",
            base().with_scopes(["orders:read", "orders:write"]),
        ),
        (
            "audience a",
            "svc-isolation-client",
            base()
                .with_scopes(["orders:read"])
                .with_extra_param("audience", "https://a.example"),
        ),
        (
            "audience b",
            "svc-isolation-client",
            base()
                .with_scopes(["orders:read"])
                .with_extra_param("audience", "https://b.example"),
        ),
        (
            "resource parameter",
            "svc-isolation-client",
            base()
                .with_scopes(["orders:read"])
                .with_extra_param("resource", "urn:orders"),
        ),
        (
            "another client",
            "other-client-9d1",
            base().with_scopes(["orders:read"]),
        ),
    ];

    let mut tokens = HashSet::new();
    for (i, (what, client, environment)) in configurations.iter().enumerate() {
        // A "process" with this configuration: its own token request, its own token.
        let first = authorizer(&redis, client, environment.clone());
        let fetched = token(&first).await;
        assert_eq!(
            server.token_requests(),
            i as u64 + 1,
            "{what}: a token request of its own, not another configuration's token"
        );
        assert!(
            tokens.insert(fetched.clone()),
            "{what}: a token no other configuration has"
        );
        // Another "process" with the same configuration adopts it from Redis.
        let second = authorizer(&redis, client, environment.clone());
        assert_eq!(
            token(&second).await,
            fetched,
            "{what}: shared with its own kind"
        );
        assert_eq!(
            server.token_requests(),
            i as u64 + 1,
            "{what}: adopted, not fetched"
        );
        assert_eq!(second.shared_store(), Some(redis.url().as_str()));
    }

    // Seven tokens and nothing readable: no token, client id, secret, scope, audience or URL.
    let keys = redis.cli(&["--scan", "--pattern", "*"]);
    assert_eq!(
        keys.lines().filter(|k| k.ends_with('}')).count(),
        configurations.len(),
        "{keys}"
    );
    for key in keys.lines() {
        let value = redis.cli(&["get", key]);
        for text in [key, value.as_str()] {
            for needle in tokens.iter().map(String::as_str).chain([
                "svc-isolation-client",
                "other-client-9d1",
                "isolation-secret",
                "other-secret",
                "orders",
                "a.example",
                "urn:",
                "127.0.0.1",
                "Bearer",
            ]) {
                assert!(!text.contains(needle), "{needle} in clear under {key}");
            }
        }
    }
}
