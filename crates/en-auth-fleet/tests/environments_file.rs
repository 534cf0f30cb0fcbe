//! `ServiceAccountAuthorizer::new(client_info, "fleet")` — the `service_account` example's
//! call — shares through Redis when the environments file has a `shared_cache` table (the
//! `redis` feature, on by default), and a key variable that is not set is an error naming
//! `encryption_key_env`.
//!
//! A binary of its own with a single test: it sets process variables (`EN_AUTH_ENVIRONMENTS`,
//! the key's), which is sound only while no other thread may read the environment. It sets
//! them first, before it starts any server or runtime thread, and never changes them after.

use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{ClientInfo, ServiceAccountAuthorizer};
use en_auth_peers::redis::RedisServer;
use en_auth_testkit::OAuthServer;

const KEY_VARIABLE: &str = "EN_AUTH_ENVIRONMENTS_FILE_TEST_CACHE_KEY";
/// Named by the second environment's table, and never set.
const UNSET_KEY_VARIABLE: &str = "EN_AUTH_ENVIRONMENTS_FILE_TEST_UNSET_KEY";

#[test]
fn the_environments_file_alone_turns_sharing_on() {
    // Only this thread runs yet (libtest's main thread waits for it): set the variables now.
    let dir = std::env::temp_dir().join(format!("en-auth-environments-{}", std::process::id()));
    let file = dir.join("environments.toml");
    std::env::set_var("EN_AUTH_ENVIRONMENTS", &file);
    std::env::set_var(KEY_VARIABLE, "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=");
    assert!(std::env::var_os(UNSET_KEY_VARIABLE).is_none());

    let redis = RedisServer::start();
    let server = OAuthServer::builder()
        .client("svc-isolation-client", "isolation-secret-5ee7")
        .token_lifetime_secs(3600)
        .start_on_own_thread();
    std::fs::create_dir_all(&dir).unwrap();
    let table = |id: &str, key_prefix: &str, variable: &str| {
        format!(
            "[{id}]\ntoken_url = \"{}\"\nscopes = [\"orders:read\"]\n\n\
             [{id}.shared_cache]\nurl = \"{}\"\nkey_prefix = \"{key_prefix}\"\n\
             encryption_key_env = \"{variable}\"\noperation_timeout_ms = 500\n\n",
            server.token_url(),
            redis.url()
        )
    };
    std::fs::write(
        &file,
        table("fleet", "from-file", KEY_VARIABLE) + &table("no-key", "none", UNSET_KEY_VARIABLE),
    )
    .unwrap();

    let client = || ClientInfo::new("svc-isolation-client", "isolation-secret-5ee7");
    let first = ServiceAccountAuthorizer::new(client(), "fleet").unwrap();
    let second = ServiceAccountAuthorizer::new(client(), "fleet").unwrap();
    assert_eq!(first.shared_store(), Some(redis.url().as_str()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = |authorizer: &ServiceAccountAuthorizer| {
        runtime.block_on(async {
            authorizer
                .access_token()
                .await
                .unwrap()
                .secret()
                .expose_secret()
                .to_owned()
        })
    };
    assert_eq!(token(&first), token(&second));
    assert_eq!(server.token_requests(), 1, "one token for both");
    let keys = redis.cli(&["--scan", "--pattern", "from-file:v2:*}"]);
    assert_eq!(keys.lines().count(), 1, "{keys}");

    // A key variable that is not set is a configuration error naming the field, not a silent
    // fallback.
    let error = ServiceAccountAuthorizer::new(client(), "no-key").unwrap_err();
    assert!(error.to_string().contains("encryption_key_env"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
