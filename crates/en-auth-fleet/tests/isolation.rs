//! Authorizers in one process standing for the processes of a fleet (each has its own cache,
//! so a second one with the same configuration is a process that has not fetched yet), on one
//! real Redis: authorizers that would get different tokens — another scope, another audience,
//! other extra parameters, another client — never receive each other's tokens, while one with
//! the same configuration adopts the stored token; nothing readable is left in Redis; and an
//! environments file's `shared_cache` table alone turns sharing on.

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

/// `ServiceAccountAuthorizer::new(client_info, "fleet")` — the `service_account` example's
/// call — shares through Redis when the environment has a `shared_cache` table (the `redis`
/// feature, on by default). It sets process-wide variables, which no other test of this
/// binary reads.
#[tokio::test]
async fn the_environments_file_alone_turns_sharing_on() {
    let redis = RedisServer::start();
    let server = server();
    let dir = std::env::temp_dir().join(format!("en-auth-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("environments.toml");
    std::fs::write(
        &file,
        format!(
            "[fleet]\ntoken_url = \"{}\"\nscopes = [\"orders:read\"]\n\n\
             [fleet.shared_cache]\nurl = \"{}\"\nkey_prefix = \"from-file\"\n\
             encryption_key_env = \"EN_AUTH_ISOLATION_CACHE_KEY\"\noperation_timeout_ms = 500\n",
            server.token_url(),
            redis.url()
        ),
    )
    .unwrap();
    std::env::set_var("EN_AUTH_ENVIRONMENTS", &file);
    std::env::set_var(
        "EN_AUTH_ISOLATION_CACHE_KEY",
        "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
    );
    let client = || ClientInfo::new("svc-isolation-client", "isolation-secret-5ee7");
    let first = ServiceAccountAuthorizer::new(client(), "fleet").unwrap();
    let second = ServiceAccountAuthorizer::new(client(), "fleet").unwrap();
    assert_eq!(first.shared_store(), Some(redis.url().as_str()));
    assert_eq!(token(&first).await, token(&second).await);
    assert_eq!(server.token_requests(), 1, "one token for both");
    let keys = redis.cli(&["--scan", "--pattern", "from-file:v1:*}"]);
    assert_eq!(keys.lines().count(), 1, "{keys}");

    // A missing key variable is a configuration error naming the field, not a silent
    // fallback.
    std::env::remove_var("EN_AUTH_ISOLATION_CACHE_KEY");
    let error = ServiceAccountAuthorizer::new(client(), "fleet").unwrap_err();
    assert!(error.to_string().contains("encryption_key_env"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
