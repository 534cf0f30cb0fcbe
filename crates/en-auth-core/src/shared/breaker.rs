//! The shared store's circuit breaker: after consecutive failed calls, the store is skipped for
//! a cooldown, then one call probes it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{self, Moment};

/// How long the one probe after a cooldown has before another may go: 1 second.
const PROBE_WINDOW: Duration = Duration::from_secs(1);

/// The circuit breaker: consecutive failures, and until when the store is skipped. Clones
/// share the state (a background call records its outcome in it).
#[derive(Default, Clone)]
pub(super) struct Breaker {
    state: Arc<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    failures: AtomicU32,
    /// The ticks of the [`Moment`] until which the store is skipped; [`Moment::NEVER`]: closed.
    open_until: AtomicU64,
}

impl Breaker {
    /// Whether a call may go to the store: the breaker is closed, or its cooldown is over and
    /// this caller is the one probe (the next probe waits [`PROBE_WINDOW`]).
    pub(super) fn allows(&self) -> bool {
        let until = self.state.open_until.load(Ordering::Acquire);
        if until == Moment::NEVER.ticks() {
            return true;
        }
        let now = clock::moment_now();
        if now < Moment::from_ticks(until) {
            return false;
        }
        // One probe per window: push the reopening out while it runs.
        self.state
            .open_until
            .compare_exchange(
                until,
                now.later_by(PROBE_WINDOW).ticks(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Whether the breaker is open and its cooldown not over (no call would be let through),
    /// without taking the probe.
    pub(super) fn refuses(&self) -> bool {
        let until = Moment::from_ticks(self.state.open_until.load(Ordering::Acquire));
        until != Moment::NEVER && clock::moment_now() < until
    }

    /// Records a success; true if the breaker was open (it closes).
    pub(super) fn succeeded(&self) -> bool {
        self.state.failures.store(0, Ordering::Release);
        self.state
            .open_until
            .swap(Moment::NEVER.ticks(), Ordering::AcqRel)
            != Moment::NEVER.ticks()
    }

    /// Records a failure; true if it opened the breaker (for `cooldown`, after `threshold`
    /// consecutive failures).
    pub(super) fn failed(&self, threshold: u32, cooldown: Duration) -> bool {
        let failures = self.state.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures < threshold.max(1) {
            return false;
        }
        let until = clock::moment_now().later_by(cooldown);
        self.state.open_until.swap(until.ticks(), Ordering::AcqRel) == Moment::NEVER.ticks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_probes_once_after_the_cooldown() {
        let breaker = Breaker::default();
        assert!(breaker.allows());
        assert!(!breaker.failed(3, Duration::ZERO));
        assert!(!breaker.failed(3, Duration::ZERO));
        assert!(breaker.failed(3, Duration::ZERO), "third failure opens it");
        // Cooldown zero: over at once; exactly one probe is let through.
        assert!(breaker.allows());
        assert!(!breaker.allows(), "one probe per cooldown");
        assert!(breaker.succeeded(), "a success closes it");
        assert!(breaker.allows());
        assert!(!breaker.succeeded(), "already closed");
    }

    #[test]
    fn an_open_breaker_skips_the_store_during_its_cooldown() {
        let breaker = Breaker::default();
        assert!(!breaker.refuses());
        assert!(breaker.failed(1, Duration::from_secs(60)));
        assert!(breaker.refuses());
        assert!(!breaker.allows());
        // After its cooldown it no longer refuses, and asking does not take the probe.
        let breaker = Breaker::default();
        assert!(breaker.failed(1, Duration::ZERO));
        assert!(!breaker.refuses());
        assert!(breaker.allows(), "the probe is still there");
    }

    /// The cooldown and the probe window run on en-auth's clock, which Tokio's paused clock
    /// drives (on the coarse clock of old, advancing it changed nothing).
    #[tokio::test(start_paused = true)]
    async fn the_paused_clock_ends_the_cooldown_and_the_probe_window() {
        let breaker = Breaker::default();
        assert!(breaker.failed(1, Duration::from_secs(10)));
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert!(breaker.refuses() && !breaker.allows(), "still cooling down");
        // (A millisecond of slack: readings are rounded to ticks of 2⁻³² s.)
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(!breaker.refuses());
        assert!(breaker.allows(), "the probe");
        assert!(!breaker.allows(), "one probe per window");
        tokio::time::advance(PROBE_WINDOW + Duration::from_millis(1)).await;
        assert!(breaker.allows(), "the next window's probe");
    }
}
