//! The warning about stored values that do not open ([`StoreError::unreadable`]): once per
//! window while they recur, saying how many were met since the last one — never once per
//! process for ever, which would hide a condition that comes back.
//!
//! [`StoreError::unreadable`]: crate::StoreError::unreadable

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::{self, Moment};

/// After a warning about an unreadable value, how long the next ones are only counted: 1 minute.
pub(super) const WARNING_WINDOW: Duration = Duration::from_secs(60);

/// When this authorizer last warned, and what it met since.
#[derive(Default)]
pub(super) struct UnreadableWarnings {
    /// The ticks of the [`Moment`] of the last warning; [`Moment::NEVER`] (0): none yet.
    last: AtomicU64,
    /// Unreadable values met since the last warning, not warned about.
    unwarned: AtomicU64,
}

impl UnreadableWarnings {
    /// Records one unreadable value met in the store at `address`: a `WARN` event if none was
    /// logged in the last [`WARNING_WINDOW`], else a count for the next one. Returns whether
    /// it warned.
    pub(super) fn met(&self, address: &str) -> bool {
        let now = clock::moment_now();
        let last = self.last.load(Ordering::Acquire);
        let due = last == Moment::NEVER.ticks()
            || now >= Moment::from_ticks(last).later_by(WARNING_WINDOW);
        if due
            && self
                .last
                .compare_exchange(last, now.ticks(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let since_last_warning = self.unwarned.swap(0, Ordering::AcqRel);
            tracing::warn!(
                store = %address,
                since_last_warning,
                window_s = WARNING_WINDOW.as_secs(),
                "a shared token could not be read (sealed with another encryption key, tampered with, another format): removed from the store and treated as a miss; warned at most once per window while it recurs"
            );
            true
        } else {
            self.unwarned.fetch_add(1, Ordering::AcqRel);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window runs on en-auth's clock, which Tokio's paused clock drives.
    #[tokio::test(start_paused = true)]
    async fn one_warning_per_window_counting_the_ones_between() {
        let warnings = UnreadableWarnings::default();
        assert!(warnings.met("redis://a"), "the first one warns");
        assert!(!warnings.met("redis://a"));
        tokio::time::advance(WARNING_WINDOW - Duration::from_millis(1)).await;
        assert!(!warnings.met("redis://a"), "still inside the window");
        assert_eq!(warnings.unwarned.load(Ordering::Acquire), 2);
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(warnings.met("redis://a"), "the next window warns again");
        assert_eq!(
            warnings.unwarned.load(Ordering::Acquire),
            0,
            "counted into it"
        );
        assert!(!warnings.met("redis://a"));
    }
}
