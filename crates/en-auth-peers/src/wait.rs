//! Waiting in tests: for a signal where the code gives one, otherwise by polling a condition —
//! always with a deadline that fails the test with a clear message instead of hanging it. The
//! deadlines are correctness bounds far above what the wait takes on a loaded machine, never a
//! measure of speed (speed is for the benchmarks).

use std::time::{Duration, Instant};

/// How often [`until`] and [`until_async`] look at their condition.
pub const POLL: Duration = Duration::from_millis(5);

/// The deadline the suites use for a wait that should end at once: 30 s.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `condition` holds, looking every [`POLL`], for at most `within` (the monotonic
/// clock): a plain thread's wait.
///
/// # Panics
/// If `condition` does not hold within `within`, saying `what` was waited for.
pub fn until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(POLL);
    }
}

/// Waits until `condition` holds, looking every [`POLL`] on the runtime's timer, for at most
/// `within` of the runtime's clock (on a paused test clock, virtual time: the wait auto-advances
/// only while every task is idle).
///
/// # Panics
/// If `condition` does not hold within `within`, saying `what` was waited for.
pub async fn until_async(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let waiting = async {
        while !condition() {
            tokio::time::sleep(POLL).await;
        }
    };
    if tokio::time::timeout(within, waiting).await.is_err() {
        panic!("{what}: not within {within:?}");
    }
}
