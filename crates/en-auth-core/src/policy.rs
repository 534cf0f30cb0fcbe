//! When tokens are renewed, and how failed token requests are retried: the one place that
//! decides *when*.
//!
//! - The timing rules every token follows: renewal [`EXPIRATION_GAP`] before expiry (at most a
//!   quarter of the lifetime), the margin that keeps the hot path's coarse clock on the safe
//!   side, and the margin a token must have left to be used while it is renewed. The clock
//!   they are read on is `clock.rs`.
//! - [`RenewalPolicy`]: proactive renewal, retries with backoff and `Retry-After`, cooldowns.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::clock::{self, Moment};
use crate::{Error, EXPIRATION_GAP};

/// The largest fraction of a token's lifetime given up to the [`EXPIRATION_GAP`]: a quarter.
/// A token that lives 4 s is renewed after 3 s, not on every request.
pub const MAX_GAP_FRACTION: u32 = 4;

/// How much earlier than its exact renewal time the hot path may consider a token due: 25 ms,
/// a bound on the coarse monotonic clock's lag behind the exact one.
const COARSE_MARGIN: Duration = Duration::from_millis(25);

/// The least time a token must have left to be used while it is renewed in the background:
/// 5 seconds, or an eighth of its lifetime if that is shorter — time for the request to reach
/// the resource server.
const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(5);

/// How long rejections of a token are ignored after a request replayed with it, just after a
/// rejection, was rejected again: 30 seconds. Within that time the token is not the problem
/// (a wrong audience, a forbidden resource) and renewing it would only load the token
/// endpoint; after it, a rejection renews again (the token may have been revoked since).
pub(crate) const REPLAY_REJECTION_HOLD: Duration = Duration::from_secs(30);

/// How long before its expiry a token that lives `lifetime` is renewed: the
/// [`EXPIRATION_GAP`] (60 s), or a quarter of the lifetime ([`MAX_GAP_FRACTION`]) if that is
/// shorter — so a 4-s token is renewed after 3 s, not on every request. The one place this
/// rule is written; the `en-auth` command line's default `--min-validity` is the same.
///
/// ```
/// use std::time::Duration;
/// use en_auth_core::renewal_gap;
///
/// assert_eq!(renewal_gap(Duration::from_secs(3600)), Duration::from_secs(60));
/// assert_eq!(renewal_gap(Duration::from_secs(4)), Duration::from_secs(1));
/// ```
pub fn renewal_gap(lifetime: Duration) -> Duration {
    EXPIRATION_GAP.min(lifetime / MAX_GAP_FRACTION)
}

/// When a token received at `received` that lives `lifetime` is due for renewal: its expiry
/// less the [`renewal_gap`].
pub(crate) fn renewal_time(received: Instant, lifetime: Duration) -> Instant {
    received
        .checked_add(lifetime - renewal_gap(lifetime))
        .unwrap_or(received)
}

/// `at` as a [`Moment`] for the hot path's coarse reading, brought forward by
/// [`COARSE_MARGIN`] so that a check on the coarse clock never answers "not yet" after `at`.
pub(crate) fn coarse_deadline(at: Instant) -> Moment {
    clock::moment_of(at).earlier_by(COARSE_MARGIN)
}

/// Until when a token expiring at `expires_at` after living `lifetime` may still be used while
/// it is renewed in the background: its expiry less [`IN_FLIGHT_MARGIN`] (an eighth of the
/// lifetime, if that is shorter), as a deadline for the coarse reading ([`coarse_deadline`]:
/// a token with no time left is never "still usable" on a coarse clock that lags).
pub(crate) fn usable_until(expires_at: Instant, lifetime: Duration) -> Moment {
    let margin = IN_FLIGHT_MARGIN.min(lifetime / 8);
    coarse_deadline(expires_at.checked_sub(margin).unwrap_or(expires_at))
}

/// How an [`Authorizer`](crate::Authorizer) renews tokens and retries failed token requests.
///
/// ```
/// use std::time::Duration;
/// use en_auth_core::RenewalPolicy;
///
/// let policy = RenewalPolicy::default().with_max_attempts(5).with_proactive_renewal(false);
/// assert_eq!(policy.max_attempts(), 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalPolicy {
    proactive: bool,
    max_attempts: u32,
    base_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    failure_cooldown: Duration,
    max_failure_cooldown: Duration,
    fatal_cooldown: Duration,
}

impl Default for RenewalPolicy {
    /// Proactive renewal on; 3 attempts per token request with jittered exponential backoff from
    /// 200 ms up to 5 s; `Retry-After` honoured up to 30 s; after a token request has failed,
    /// callers get its error at once for 1 s, doubling with each further failure up to 30 s (or
    /// the server's `Retry-After`, if longer) — and for 5 minutes after a fatal error (a
    /// rejected client or password: asking again at once would only lock the account).
    fn default() -> Self {
        Self {
            proactive: true,
            max_attempts: 3,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            failure_cooldown: Duration::from_secs(1),
            max_failure_cooldown: Duration::from_secs(30),
            fatal_cooldown: Duration::from_secs(300),
        }
    }
}

impl RenewalPolicy {
    /// Whether a token that enters its renewal window ([`Token::renew_at`](crate::Token::renew_at))
    /// is renewed in the background while requests keep using it until it expires (`true`,
    /// the default), or requests wait for the renewal (`false`). Background renewals run on
    /// en-auth's own I/O runtime: the caller needs no runtime of its own.
    #[must_use]
    pub fn with_proactive_renewal(mut self, proactive: bool) -> Self {
        self.proactive = proactive;
        self
    }

    /// How many times one token request is tried when it fails with a retryable error
    /// ([`Error::is_retryable`](crate::Error::is_retryable)); at least 1. Default 3.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff before the second attempt (doubled for each further one, with full jitter,
    /// up to `max`). Default 200 ms, up to 5 s.
    #[must_use]
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_backoff = base;
        self.max_backoff = max.max(base);
        self
    }

    /// The longest `Retry-After` honoured; a longer one ends the retries. Default 30 s.
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// After a token request has failed (all its attempts), requests get its error at once,
    /// without a new token request, for `base` (doubled for each consecutive failure, up to
    /// `max`). `Duration::ZERO` turns this off. Default 1 s, up to 30 s.
    #[must_use]
    pub fn with_failure_cooldown(mut self, base: Duration, max: Duration) -> Self {
        self.failure_cooldown = base;
        self.max_failure_cooldown = max.max(base);
        self
    }

    /// After a fatal error ([`Error::is_fatal`](crate::Error::is_fatal): a rejected client or
    /// password, an account that cannot log in), requests get the error at once for `cooldown`
    /// before the credentials are tried again. Default 5 minutes. A server's `Retry-After`
    /// lengthens any cooldown up to the longer of this and the failure cooldown's maximum.
    #[must_use]
    pub fn with_fatal_error_cooldown(mut self, cooldown: Duration) -> Self {
        self.fatal_cooldown = cooldown;
        self
    }

    /// Whether renewal is proactive.
    pub fn proactive(&self) -> bool {
        self.proactive
    }

    /// The attempts per token request.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed: the
    /// server's `Retry-After` if it gave one (`None` if it exceeds the cap: give up), else a
    /// jittered exponential backoff.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(wait) = retry_after {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let exp = self
            .base_backoff
            .saturating_mul(1_u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        // Full jitter: uniformly in [exp/2, exp].
        let half = exp / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        Some(half + Duration::from_nanos(fastrand::u64(0..=nanos)))
    }

    /// Runs `attempt` until it succeeds, fails with an error that is not retryable, or has
    /// been tried [`RenewalPolicy::max_attempts`] times, waiting [`RenewalPolicy::backoff`]
    /// (on en-auth's clock, `clock.rs`) between attempts. `attempt` gets the 1-based attempt number.
    pub(crate) async fn retry<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut number = 1;
        loop {
            let error = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_retryable() && number < self.max_attempts => e,
                Err(e) => return Err(e),
            };
            let Some(wait) = self.backoff(number, error.retry_after()) else {
                return Err(error);
            };
            tracing::debug!(
                %error,
                attempt = number,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying the token request"
            );
            clock::sleep(wait).await;
            number += 1;
        }
    }

    /// How long requests get `error` at once after `consecutive` failed token requests: the
    /// fatal-error cooldown, or the doubling one — at least the server's `Retry-After`.
    pub(crate) fn cooldown(&self, consecutive: u32, error: &Error) -> Duration {
        let cooldown = if error.is_fatal() {
            self.fatal_cooldown
        } else {
            self.failure_cooldown
                .saturating_mul(1_u32 << consecutive.saturating_sub(1).min(16))
                .min(self.max_failure_cooldown)
        };
        // A server's (or a proxy's) Retry-After lengthens the cooldown, but never beyond the
        // longest cooldown the policy has: `Retry-After: 86400` must not stop token requests
        // for a day.
        let ceiling = self.fatal_cooldown.max(self.max_failure_cooldown);
        cooldown.max(error.retry_after().unwrap_or_default().min(ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coarse clock lags the exact one by up to its resolution: a token with no time left
    /// must not look usable on it (it did, now and then, before the deadline was brought
    /// forward by the margin that bounds the lag).
    #[test]
    fn a_token_with_no_time_left_is_not_usable_on_the_coarse_clock() {
        let now = Instant::now();
        let until = usable_until(now, Duration::ZERO);
        // Each conversion is anchored on its own reading of both clocks: two conversions of
        // one instant differ by the coarse clock's resolution (under 25 ms) plus however long
        // this thread was held up between the readings, which `elapsed` bounds.
        let again = clock::moment_of(now).earlier_by(COARSE_MARGIN);
        let elapsed = now.elapsed();
        assert!(
            until <= again.later_by(Duration::from_millis(25) + elapsed),
            "{until:?} {again:?} after {elapsed:?}"
        );
        let coarse = coarsetime::Instant::now_without_cache_update().as_ticks();
        assert!(coarse >= until.ticks(), "{coarse} < {}", until.ticks());
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_bounded() {
        let p = RenewalPolicy::default();
        for attempt in 1..40 {
            let wait = p.backoff(attempt, None).unwrap();
            let exp = (Duration::from_millis(200) * 2_u32.pow((attempt - 1).min(16)))
                .min(Duration::from_secs(5));
            assert!(
                wait >= exp / 2 && wait <= exp,
                "attempt {attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RenewalPolicy::default();
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(p.backoff(1, Some(Duration::from_secs(31))), None);
    }

    #[test]
    fn cooldown_doubles_to_its_cap_and_respects_retry_after_and_fatal_errors() {
        use crate::{AuthorizationError, Error, InvalidCredentialsError};
        let p = RenewalPolicy::default();
        let down: Error = AuthorizationError::new("e", 503, None, "down").into();
        let secs: Vec<u64> = (1..=7).map(|n| p.cooldown(n, &down).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        let off = p
            .clone()
            .with_failure_cooldown(Duration::ZERO, Duration::ZERO);
        assert_eq!(off.cooldown(3, &down), Duration::ZERO);
        let throttled: Error = AuthorizationError::new("e", 429, None, "slow")
            .with_retry_after(Some(Duration::from_secs(3600)))
            .into();
        assert_eq!(
            p.cooldown(1, &throttled),
            Duration::from_secs(300),
            "capped"
        );
        let polite: Error = AuthorizationError::new("e", 429, None, "slow")
            .with_retry_after(Some(Duration::from_secs(90)))
            .into();
        assert_eq!(p.cooldown(1, &polite), Duration::from_secs(90));
        let wrong: Error =
            InvalidCredentialsError::new("alice", "e", "Incorrect username or password.").into();
        assert_eq!(p.cooldown(1, &wrong), Duration::from_secs(300));
    }
}
