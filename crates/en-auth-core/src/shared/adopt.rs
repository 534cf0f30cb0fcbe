//! Adoption: a token another process stored, taken as this authorizer's own when it is not the
//! one being replaced and this process would not renew it yet (no token request).

use std::time::Duration;

use secrecy::ExposeSecret;

use super::call::StoreReply;
use super::{NewToken, Shared, TokenOrigin};
use crate::clock;
use crate::telemetry::{self, StoreLookup};
use crate::{SharedToken, Token};

/// What a read of the store found.
enum Read {
    /// A token, or nothing.
    Stored(Option<SharedToken>),
    /// A value that does not open.
    Unreadable,
}

impl Shared {
    /// Reads the store: a token to adopt, or none.
    ///
    /// A value that does not open ([`StoreError::unreadable`](crate::StoreError::unreadable), which the store has removed) is
    /// an answer, not a failure: a miss, counted as `unreadable`, warned about once per window,
    /// and no step towards opening the circuit breaker.
    pub(super) async fn lookup(&self, stale: Option<&str>) -> StoreReply<Option<NewToken>> {
        let get = async {
            match self.store.get(&self.key).await {
                Ok(stored) => Ok(Read::Stored(stored)),
                Err(e) if e.is_unreadable() => Ok(Read::Unreadable),
                Err(e) => Err(e),
            }
        };
        let (reply, result) = match self.call("get", get).await {
            StoreReply::Answered(Read::Stored(stored)) => match self.adoptable(stored, stale) {
                Some(adopted) => (StoreReply::Answered(Some(adopted)), StoreLookup::Hit),
                None => (StoreReply::Answered(None), StoreLookup::Miss),
            },
            StoreReply::Answered(Read::Unreadable) => {
                self.unreadable.met(&self.address);
                (StoreReply::Answered(None), StoreLookup::Unreadable)
            }
            StoreReply::NoAnswer => (StoreReply::NoAnswer, StoreLookup::Error),
        };
        telemetry::store_lookup(self.flow, result);
        reply
    }

    /// `stored` as a local token, if it is not the one being replaced and this process would
    /// not renew it yet. Its remaining life comes from its wall-clock expiry stamp (the one
    /// stamp that crosses processes), less the clock-skew margin.
    fn adoptable(&self, stored: Option<SharedToken>, stale: Option<&str>) -> Option<NewToken> {
        let stored = stored?;
        if stale == Some(stored.id.as_str()) {
            return None;
        }
        let remaining = stored.expires_at.duration_since(clock::wall_now()).ok()?;
        let skew = self.skew(remaining);
        let mut token = Token::new(
            stored.access_token.expose_secret().to_owned(),
            Some(remaining.saturating_sub(skew)),
        )
        .with_token_type(stored.token_type);
        if let Some(scope) = stored.scope {
            token = token.with_scope(scope);
        }
        let token = self.jittered(token);
        if token.needs_renewal_at(clock::now()) {
            return None;
        }
        tracing::debug!(store = %self.address, "token adopted from the shared store");
        Some(NewToken {
            token,
            shared_id: Some(stored.id),
            origin: TokenOrigin::SharedStore,
        })
    }

    /// The clock-skew margin for a token with `remaining` life: the configured one, at most a
    /// tenth of it (a 5-second token keeps most of its life).
    pub(super) fn skew(&self, remaining: Duration) -> Duration {
        self.settings.clock_skew.min(remaining / 10)
    }

    /// `token` renewed earlier by a random part of its renewal gap ([`crate::renewal_gap`]), so
    /// that replicas don't all wake at once.
    pub(super) fn jittered(&self, token: Token) -> Token {
        let Some(lifetime) = token.lifetime() else {
            return token;
        };
        let gap = crate::renewal_gap(lifetime);
        let jitter = self.settings.renewal_jitter;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let fraction = jitter * fastrand::f64();
        token.renewing_earlier(gap.mul_f64(fraction))
    }
}
