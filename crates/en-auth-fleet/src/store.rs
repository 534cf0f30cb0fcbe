//! The shared store, when `FLEET_REDIS_URL` is set.

use std::time::Duration;

use base64::Engine as _;
use en_auth_oauth2::{RedisStore, ServiceAccountAuthorizerBuilder, SharedStoreSettings};

use super::{number, var};

/// `builder`, sharing tokens through Redis when `FLEET_REDIS_URL` is set: the key from
/// `FLEET_CACHE_KEY`, the settings' defaults except what `FLEET_STORE_TIMEOUT_MS`,
/// `FLEET_BREAKER_COOLDOWN_MS` and `FLEET_LOCK_WAIT_MS` set, and Redis's own response timeout
/// from `FLEET_REDIS_RESPONSE_TIMEOUT_MS`.
pub(crate) fn configure(
    builder: ServiceAccountAuthorizerBuilder,
) -> ServiceAccountAuthorizerBuilder {
    let Some(url) = var("FLEET_REDIS_URL") else {
        return builder;
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(var("FLEET_CACHE_KEY").expect("FLEET_CACHE_KEY"))
        .expect("FLEET_CACHE_KEY is base64");
    let mut store = RedisStore::builder(url).encryption_key(key);
    if let Some(ms) = var("FLEET_REDIS_RESPONSE_TIMEOUT_MS") {
        store = store.response_timeout(Duration::from_millis(ms.parse().expect("a number")));
    }
    let mut settings = SharedStoreSettings::default();
    let ms = |name: &str, default: Duration| {
        Duration::from_secs_f64(number(name, default.as_secs_f64() * 1000.0) / 1000.0)
    };
    settings.operation_timeout = ms("FLEET_STORE_TIMEOUT_MS", settings.operation_timeout);
    settings.breaker_cooldown = ms("FLEET_BREAKER_COOLDOWN_MS", settings.breaker_cooldown);
    settings.lock_wait = ms("FLEET_LOCK_WAIT_MS", settings.lock_wait);
    builder
        .shared_store(store.build().expect("a Redis store"))
        .shared_store_settings(settings)
}
