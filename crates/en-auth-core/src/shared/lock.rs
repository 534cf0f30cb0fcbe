//! The fleet's lock protocol: take the lock, or wait for its holder's token (polling, bounded
//! by [`SharedStoreSettings::lock_wait`]); renew the lock's short time to live while the token
//! request runs; release it — at once, or in the background when its holder can no longer
//! wait.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use super::call::StoreReply;
use super::{NewToken, Shared};
use crate::clock;
use crate::telemetry::{self, StoreLock};
#[cfg(doc)]
use crate::SharedStoreSettings;

/// How long the first wait for a lock holder's token is; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(250);
/// The shortest period of the holder's lock renewals, whatever `lock_ttl` says.
const MIN_RENEWAL_PERIOD: Duration = Duration::from_millis(50);

/// How a wait for the lock holder's token ended.
pub(super) enum HolderWait {
    /// The holder's token arrived: adopted.
    Adopted(NewToken),
    /// The holder let go (or vanished) without a token: this process took the lock.
    LockTaken,
    /// The wait's bound passed, or the store failed: go on without the store.
    GaveUp,
}

impl Shared {
    /// Takes the fleet's lock: whether this process holds it now.
    pub(super) async fn take_lock(&self) -> StoreReply<bool> {
        let ttl = self.settings.lock_ttl;
        let reply = self
            .call("lock", self.store.lock(&self.key, &self.owner, ttl))
            .await;
        let outcome = match reply {
            StoreReply::Answered(true) => StoreLock::Acquired,
            StoreReply::Answered(false) => StoreLock::Contended,
            StoreReply::NoAnswer => {
                // The lock may have been taken and only its answer lost: release it if it is
                // ours (the unlock deletes only our own lock).
                self.release_lock_in_background();
                StoreLock::Error
            }
        };
        telemetry::store_lock(self.flow, outcome);
        reply
    }

    /// Waits for the lock holder's token; takes the lock if the holder lets go (or vanishes)
    /// without one. Polls with a doubling pause, for at most `lock_wait` on en-auth's clock.
    pub(super) async fn wait_for_holder(&self, stale: Option<&str>) -> HolderWait {
        tracing::debug!(store = %self.address, "another process holds the fleet's lock: waiting for its token");
        let started = clock::now();
        let deadline = started + self.settings.lock_wait;
        let waited_ms = || {
            let waited = clock::now().saturating_duration_since(started);
            u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)
        };
        let mut pause = FIRST_POLL;
        loop {
            let now = clock::now();
            if now >= deadline {
                tracing::debug!(store = %self.address, waited_ms = waited_ms(), "gave up waiting for the fleet's token request");
                return HolderWait::GaveUp;
            }
            clock::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_POLL);
            match self.lookup(stale).await {
                StoreReply::NoAnswer => return HolderWait::GaveUp,
                StoreReply::Answered(Some(adopted)) => {
                    tracing::debug!(store = %self.address, waited_ms = waited_ms(), "the lock holder's token arrived");
                    return HolderWait::Adopted(adopted);
                }
                StoreReply::Answered(None) => {}
            }
            match self.take_lock().await {
                StoreReply::NoAnswer => return HolderWait::GaveUp,
                StoreReply::Answered(true) => {
                    tracing::debug!(store = %self.address, waited_ms = waited_ms(), "took the fleet's lock: its holder let go or vanished without a token");
                    return HolderWait::LockTaken;
                }
                StoreReply::Answered(false) => {}
            }
        }
    }

    /// Runs `work` (the holder's token request) while renewing the fleet's lock every third of
    /// its time to live (at least every [`MIN_RENEWAL_PERIOD`]), so that the lock outlives a
    /// slow token request but not a dead holder. Renewal stops when the store fails or the lock
    /// is no longer ours. Returns `work`'s output and whether a renewal call failed (then the
    /// token request goes on without the store, as after any failed call).
    pub(super) async fn renewing_lock<T>(&self, work: impl Future<Output = T>) -> (T, bool) {
        let ttl = self.settings.lock_ttl;
        let renew = async {
            loop {
                clock::sleep((ttl / 3).max(MIN_RENEWAL_PERIOD)).await;
                let renewal = self.store.renew_lock(&self.key, &self.owner, ttl);
                match self.call("renew_lock", renewal).await {
                    StoreReply::Answered(true) => {}
                    StoreReply::Answered(false) => {
                        tracing::debug!(store = %self.address, "the fleet's lock lapsed during the token request");
                        return false;
                    }
                    StoreReply::NoAnswer => return true,
                }
            }
        };
        futures::pin_mut!(work, renew);
        match futures::future::select(work, renew).await {
            futures::future::Either::Left((value, _)) => (value, false),
            futures::future::Either::Right((failed, work)) => (work.await, failed),
        }
    }

    /// Releases the fleet's lock in the background, on the runtime of en-auth's tasks
    /// ([`clock::task_runtime`]), whatever the circuit breaker says (the unlock deletes only
    /// this process's lock): for a lock whose holder can no longer wait for the answer
    /// (dropped, or a lock whose answer was lost).
    fn release_lock_in_background(&self) {
        let Ok(runtime) = clock::task_runtime() else {
            return;
        };
        let (store, key, owner) = (Arc::clone(&self.store), self.key, self.owner.clone());
        let timeout = self.settings.operation_timeout;
        let recorder = self.recorder();
        runtime.spawn(
            async move {
                let result = clock::timeout(timeout, store.unlock(&key, &owner)).await;
                recorder.record("unlock", result);
            }
            .in_current_span()
            .with_current_subscriber(),
        );
    }
}

/// The fleet's lock, held by this process: released by [`HeldLock::release`], or in the
/// background when dropped unreleased (the token request panicked or was cancelled).
pub(super) struct HeldLock<'a> {
    shared: &'a Shared,
    armed: bool,
}

impl<'a> HeldLock<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            armed: true,
        }
    }

    /// Releases the lock now (one call, bounded by the operation timeout; whatever the circuit
    /// breaker says: the unlock deletes only this process's lock, and a lock left behind makes
    /// the next process wait).
    pub(super) async fn release(mut self) {
        let shared = self.shared;
        let unlock = shared.store.unlock(&shared.key, &shared.owner);
        let result = clock::timeout(shared.settings.operation_timeout, unlock).await;
        // Disarmed only now: a caller cancelled during the unlock leaves it to `drop`.
        self.armed = false;
        shared.recorder().record("unlock", result);
    }
}

impl Drop for HeldLock<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.release_lock_in_background();
        }
    }
}
