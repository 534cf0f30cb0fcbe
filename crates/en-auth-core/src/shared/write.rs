//! Sharing a token this process fetched: one conditional write to the store.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::call::StoreReply;
use super::Shared;
use crate::clock;
use crate::telemetry::{self, StoreWrite};
use crate::{SharedToken, Token};

/// The shortest time to live worth a write: a token about to be renewed is not shared.
const MIN_SHARED_TTL: Duration = Duration::from_millis(10);

impl Shared {
    /// Stores `token` under `id` until shortly before this process would renew it (one call,
    /// bounded by the operation timeout). A token of unknown lifetime, or about to be renewed,
    /// is not shared. Its expiry goes to the store as a wall-clock stamp (other processes
    /// cannot read this one's monotonic clock).
    pub(super) async fn put(&self, token: &Token, id: &str) {
        let (Some(expires), Some(renew)) = (token.expires_at(), token.renew_at()) else {
            return;
        };
        let now = clock::now();
        let remaining = expires.saturating_duration_since(now);
        let ttl = renew
            .saturating_duration_since(now)
            .saturating_sub(self.skew(remaining));
        if ttl < MIN_SHARED_TTL {
            return;
        }
        let shared = SharedToken {
            access_token: SecretString::from(token.access_token().expose_secret().to_owned()),
            token_type: token.token_type().to_owned(),
            scope: token.scope().map(str::to_owned),
            expires_at: clock::wall_now() + remaining,
            id: id.to_owned(),
        };
        if self.breaker.refuses() {
            return;
        }
        let result = match self
            .call("put", self.store.put_if_newer(&self.key, &shared, ttl))
            .await
        {
            StoreReply::Answered(true) => StoreWrite::Written,
            StoreReply::Answered(false) => StoreWrite::Stale,
            StoreReply::NoAnswer => StoreWrite::Error,
        };
        telemetry::store_write(self.flow, result);
    }
}
