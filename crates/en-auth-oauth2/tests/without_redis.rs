//! Built without the `redis` feature (`cargo test -p en-auth-oauth2 --no-default-features
//! --test without_redis`, a step of `cargo xtask ci`): an environments file whose
//! `shared_cache` table names Redis is a configuration error that names the feature, and a
//! local directory (`path`) needs no feature. In a workspace build, where another member turns
//! `redis` on, this file compiles to nothing.
#![cfg(not(feature = "redis"))]

use en_auth_oauth2::{ClientInfo, Environment, Error, ServiceAccountAuthorizer};

fn environment(shared_cache: &str) -> Environment {
    Environment::from_toml_str(
        &format!(
            "[dev]\ntoken_url = \"https://auth.example.com/oauth2/token\"\n\n\
             [dev.shared_cache]\n{shared_cache}\n"
        ),
        "dev",
    )
    .unwrap()
}

#[test]
fn a_redis_table_names_the_missing_feature() {
    let env =
        environment("url = \"rediss://:hunter2@cache.internal:6379\"\nencryption_key_env = \"K\"");
    let error = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), env).unwrap_err();
    let Error::Configuration(config) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(config.field.as_deref(), Some("shared_cache"));
    let text = error.to_string();
    assert!(text.contains("`redis` feature"), "{text}");
    assert!(
        text.contains("cache.internal") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn a_directory_needs_no_feature() {
    let dir = std::env::temp_dir().join(format!("en-auth-without-redis-{}", std::process::id()));
    let env = environment(&format!("path = \"{}\"", dir.display()));
    let authorizer = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "secret"), env).unwrap();
    assert_eq!(
        authorizer.shared_store(),
        Some(format!("file://{}", dir.display()).as_str())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
