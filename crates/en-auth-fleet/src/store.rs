//! The shared store, when `FLEET_REDIS_URL` is set.

use en_auth_oauth2::ServiceAccountAuthorizerBuilder;

/// `builder`, sharing tokens through Redis when `FLEET_REDIS_URL` is set.
pub(crate) fn configure(
    builder: ServiceAccountAuthorizerBuilder,
) -> ServiceAccountAuthorizerBuilder {
    if super::var("FLEET_REDIS_URL").is_some() {
        unimplemented!("the shared store lands with the core side");
    }
    builder
}
