//! The one clock behind every timing decision of en-auth: when a token is due for renewal and
//! until when it may be used while it is renewed, the failure cooldown, the replay hold, the
//! retry of a background renewal, the retries' backoff, the shared store's circuit breaker,
//! its call timeouts and the fleet lock's waits and renewals.
//!
//! # One source: Tokio's clock
//!
//! The source is Tokio's clock ([`tokio::time::Instant::now`]) in the context where the
//! decision is taken. In a program that is the monotonic clock of `std` — Tokio's clock *is*
//! `std::time::Instant::now()` unless a runtime's clock is paused, which only Tokio's
//! `test-util` feature allows. In a test on a paused runtime (`#[tokio::test(start_paused =
//! true)]`, [`tokio::time::pause`]), [`tokio::time::advance`] and the auto-advance of an idle
//! runtime move every one of these decisions at once.
//!
//! Readings are kept as [`Moment`]s: ticks of the coarse monotonic clock (`coarsetime`, a
//! tick is 2⁻³² s), which fit in an `AtomicU64`, so that the cache marks a token (rejected,
//! renewing) without a lock.
//!
//! # The hot path: a coarse reading of the same source
//!
//! A request that finds a fresh token reads the clock once, through [`coarse_now`]: the coarse
//! monotonic clock (`CLOCK_MONOTONIC_COARSE` on Linux: a few nanoseconds, no lock, no shared
//! write, at a resolution of a few milliseconds). An exact reading ([`now`]) becomes a
//! [`Moment`] through one pair of readings of both clocks taken together on first use, so
//! coarse and exact readings compare within the coarse clock's resolution (deadlines read on
//! the coarse clock are brought forward by a margin that covers it: `policy.rs`).
//!
//! Once this process has seen a paused Tokio clock (only possible with Tokio's `test-util`
//! feature, so only in tests), [`coarse_now`] reads Tokio's clock exactly instead — on a paused
//! runtime, its paused time — so that the hot path's decisions (renewal due, still usable)
//! follow the paused clock too. A program never pays for this beyond one relaxed load of a
//! flag nobody writes.
//!
//! # Where en-auth's own tasks run
//!
//! A token request runs as a task of its own, which no caller drives: on en-auth's I/O
//! runtime (`io.rs`), which lives as long as the process. A caller on any runtime — or on
//! none — only awaits its result, so a caller whose runtime goes idle after giving up (a
//! `timeout` around `access_token()`) strands nobody. The one exception is a caller on a
//! runtime whose clock is paused: there the task runs on the caller's runtime, so that the
//! paused clock drives its backoff, cooldown and lock waits deterministically, as the test
//! that paused it expects ([`task_runtime`]).
//!
//! # Wall time
//!
//! The wall clock ([`wall_now`], `SystemTime`) is used only for what crosses processes: the
//! expiry stamps of tokens in the fleet's shared store. No decision of one process is timed
//! by it, so a wall-clock jump never renews a token early or keeps a cooldown going.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::Error;

/// A point on the clock, in ticks of the coarse monotonic clock (2⁻³² s). `Moment::NEVER`
/// (tick 0) stands for "not set" in atomics; a reading is never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Moment(u64);

impl Moment {
    /// Not set: tick 0, before any reading.
    pub(crate) const NEVER: Moment = Moment(0);

    /// The moment of `ticks` (from [`Moment::ticks`], kept in an atomic).
    pub(crate) const fn from_ticks(ticks: u64) -> Self {
        Self(ticks)
    }

    /// This moment's ticks, to keep in an atomic; never 0 for a reading.
    pub(crate) const fn ticks(self) -> u64 {
        self.0
    }

    /// `by` later (saturating: a very long duration is "never" in practice).
    pub(crate) fn later_by(self, by: Duration) -> Self {
        Self(self.0.saturating_add(ticks(by)))
    }

    /// `by` earlier (never before tick 1).
    pub(crate) fn earlier_by(self, by: Duration) -> Self {
        Self(self.0.saturating_sub(ticks(by)).max(1))
    }
}

/// `duration` in coarse ticks (2⁻³² s), saturating.
fn ticks(duration: Duration) -> u64 {
    // Whole seconds above 2³² − 1 (136 years) would shift out of the 64 bits.
    let secs = duration.as_secs().min(u64::from(u32::MAX));
    coarsetime::Duration::new(secs, duration.subsec_nanos()).as_ticks()
}

/// Whether a paused Tokio clock has been seen in this process (never, without Tokio's
/// `test-util` feature): from then on [`coarse_now`] reads Tokio's clock exactly.
static PAUSED_CLOCK_SEEN: AtomicBool = AtomicBool::new(false);

/// One reading of the exact and the coarse clocks, taken together: how an exact reading
/// becomes a [`Moment`].
struct Epoch {
    exact: Instant,
    coarse: u64,
}

fn epoch() -> &'static Epoch {
    static EPOCH: OnceLock<Epoch> = OnceLock::new();
    EPOCH.get_or_init(|| Epoch {
        exact: Instant::now(),
        coarse: coarsetime::Instant::now_without_cache_update().as_ticks(),
    })
}

/// Now, exactly: Tokio's clock in the current context (`std`'s monotonic clock, unless the
/// current runtime's clock is paused). For every decision off the hot path.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Now, as a [`Moment`], exactly (see [`now`]), and never earlier than a moment this function
/// returned before on the real clock.
///
/// [`moment_of`] anchors an instant on a fresh reading of both clocks; a thread held up
/// between reading `now` and that anchor gets a moment a little earlier than the true one, so
/// two readings could go back in time (a breaker opened with no cooldown then refused the
/// next call). The process's latest real-clock moment is kept, and a reading is never earlier.
/// Once a paused Tokio clock has been seen (tests), each runtime's paused clock is its own and
/// readings are exact: nothing is kept.
pub(crate) fn moment_now() -> Moment {
    static LATEST: AtomicU64 = AtomicU64::new(0);
    let moment = moment_of(now());
    if PAUSED_CLOCK_SEEN.load(Ordering::Relaxed) {
        return moment;
    }
    let latest = LATEST.fetch_max(moment.0, Ordering::Relaxed);
    Moment(moment.0.max(latest))
}

/// The [`Moment`] of the exact instant `at` (never tick 0).
///
/// Anchored on a reading of both clocks taken now, as a deadline is converted (a token's, when
/// it is cached), not on one pairing kept for the process: the coarse clock and `std`'s are not
/// the same clock everywhere (on macOS one counts the time asleep and the other does not; on
/// some systems the coarse clock is the wall clock), and a pairing kept for the process would
/// carry their drift into every later deadline — after enough sleep, every token would look
/// due on every request. Once a paused clock has been seen (tests), the process's one pairing
/// is used instead, so that conversions are exact and repeatable on the paused clock.
pub(crate) fn moment_of(at: Instant) -> Moment {
    let (exact, coarse) = if PAUSED_CLOCK_SEEN.load(Ordering::Relaxed) {
        let epoch = epoch();
        (epoch.exact, epoch.coarse)
    } else {
        (
            Instant::now(),
            coarsetime::Instant::now_without_cache_update().as_ticks(),
        )
    };
    let ticks = match at.checked_duration_since(exact) {
        Some(after) => coarse.saturating_add(ticks(after)),
        None => coarse.saturating_sub(ticks(exact.saturating_duration_since(at))),
    };
    Moment(ticks.max(1))
}

/// Now on the coarse clock, for the hot path: a few nanoseconds, no lock, no shared write
/// (see the module docs; it reads Tokio's clock exactly once a paused clock has been seen).
#[inline]
pub(crate) fn coarse_now() -> Moment {
    if PAUSED_CLOCK_SEEN.load(Ordering::Relaxed) {
        return moment_now();
    }
    Moment(
        coarsetime::Instant::now_without_cache_update()
            .as_ticks()
            .max(1),
    )
}

/// The wall clock, only for what crosses processes (the expiry stamps of the shared store).
pub(crate) fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// Waits `duration` on the clock (Tokio's timer of the runtime the caller runs on).
pub(crate) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// `future`, given up after `limit` on the clock.
///
/// # Errors
/// [`tokio::time::error::Elapsed`] when `limit` passed first.
pub(crate) async fn timeout<F: std::future::Future>(
    limit: Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout(limit, future).await
}

/// The runtime that runs en-auth's own tasks (token requests, background renewals, lock
/// releases): en-auth's I/O runtime, or — when the caller is on a runtime whose clock is
/// paused (a test) — the caller's runtime, so that the paused clock drives them.
///
/// # Errors
/// [`Error::Internal`] if the I/O runtime cannot be started.
pub(crate) fn task_runtime() -> Result<Handle, Error> {
    match paused_runtime() {
        Some(paused) => Ok(paused),
        None => crate::io::handle().cloned(),
    }
}

/// The current runtime, if its clock is paused (noting that a paused clock was seen).
///
/// Tokio does not say whether a clock is paused, but it can be told: a paused clock stands
/// still until it is advanced, which cannot happen while this function runs on the runtime's
/// own thread, whereas a running clock is `std`'s and moves on as soon as `std`'s does. Only a
/// current-thread runtime can be paused; any other is answered at once.
pub(crate) fn paused_runtime() -> Option<Handle> {
    let handle = Handle::try_current().ok()?;
    if handle.runtime_flavor() != RuntimeFlavor::CurrentThread {
        return None;
    }
    let before = tokio::time::Instant::now();
    let real = Instant::now();
    // `std`'s clock has nanosecond resolution on every supported platform (100 ns on
    // Windows): a handful of reads see it move. Bounded all the same.
    for _ in 0..100_000 {
        if Instant::now() > real {
            break;
        }
        std::hint::spin_loop();
    }
    let paused = tokio::time::Instant::now() == before;
    if paused {
        PAUSED_CLOCK_SEEN.store(true, Ordering::Relaxed);
    }
    paused.then_some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `a` and `b` are the same moment but for the rounding of nanoseconds to ticks.
    fn same(a: Moment, b: Moment) -> bool {
        a.ticks().abs_diff(b.ticks()) <= 2
    }

    #[test]
    fn moments_follow_the_exact_clock_and_keep_order() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(90);
        // Each conversion is anchored on its own reading of both clocks: equal within the
        // coarse clock's resolution (under 20 ms) plus however long this thread was held up
        // between the readings (a loaded machine), which `elapsed` bounds.
        let (a, b) = (
            moment_of(later),
            moment_of(t0).later_by(Duration::from_secs(90)),
        );
        let elapsed = t0.elapsed();
        assert!(
            a.ticks().abs_diff(b.ticks()) <= ticks(Duration::from_millis(20) + elapsed),
            "{a:?} {b:?} after {elapsed:?}"
        );
        assert!(moment_of(t0) < moment_of(later));
        assert!(Moment::NEVER < moment_of(t0));
        assert!(moment_of(t0).earlier_by(Duration::MAX) > Moment::NEVER);
        let m = moment_of(t0);
        assert_eq!(Moment::from_ticks(m.ticks()), m);
    }

    /// `now()` converted alone was not monotonic: a thread held up between reading the instant
    /// and anchoring it on both clocks got a moment earlier than its previous one, and a
    /// breaker opened with no cooldown then refused its own next call (seen on a loaded
    /// machine). More threads than cores, so that some are held up mid-reading.
    #[test]
    fn moment_now_never_goes_back() {
        let threads: Vec<_> = (0..6)
            .map(|_| {
                std::thread::spawn(|| {
                    let mut last = moment_now();
                    for _ in 0..300_000 {
                        let next = moment_now();
                        if next < last {
                            return Some((last, next));
                        }
                        last = next;
                    }
                    None
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), None, "a later reading was earlier");
        }
    }

    #[test]
    fn huge_durations_saturate() {
        let now = moment_now();
        assert!(now.later_by(Duration::MAX) > now.later_by(Duration::from_secs(3600)));
    }

    #[test]
    fn the_coarse_reading_is_within_its_resolution_of_the_exact_one() {
        let exact = moment_now();
        let coarse = coarse_now();
        let resolution = Duration::from_millis(25);
        assert!(coarse <= exact.later_by(resolution) && exact <= coarse.later_by(resolution));
    }

    #[test]
    fn without_a_runtime_tasks_go_to_the_io_runtime() {
        assert!(paused_runtime().is_none());
        let runtime = task_runtime().unwrap();
        assert_eq!(runtime.runtime_flavor(), RuntimeFlavor::MultiThread);
    }

    #[tokio::test]
    async fn a_running_current_thread_clock_is_not_paused() {
        assert!(paused_runtime().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_is_told_and_drives_the_readings() {
        assert!(paused_runtime().is_some());
        assert_eq!(
            task_runtime().unwrap().runtime_flavor(),
            RuntimeFlavor::CurrentThread
        );
        let (exact, coarse) = (moment_now(), coarse_now());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(same(
            moment_now(),
            exact.later_by(Duration::from_secs(3600))
        ));
        assert!(same(
            coarse_now(),
            coarse.later_by(Duration::from_secs(3600))
        ));
    }
}
