//! The fleet's side of a token request: one authorizer's use of its [`SharedStore`].
//!
//! Consulted only inside a token request (the slow path), never on the hot path:
//!
//! 1. A token rejected by a resource server is deleted from the store if it is still the one
//!    there (compare-and-delete), so a late rejection never evicts a newer token.
//! 2. A stored token that is not the one being replaced, and that this process would not renew
//!    yet, is adopted: no token request.
//! 3. Otherwise the process takes the fleet's lock, reads again (a holder may just have
//!    finished), asks the token endpoint, stores the token and releases the lock — all before
//!    the request that needed the token goes on, so that a process that exits right after its
//!    request (a job, a CLI) has shared its token and left no lock behind. While its token
//!    request runs, the holder renews the lock's short time to live
//!    ([`SharedStoreSettings::lock_ttl`]); a holder that dies (killed, crashed) stops renewing
//!    it, and the lock lapses within that time. A process that finds the lock taken waits for
//!    the holder's token (polling, bounded by [`SharedStoreSettings::lock_wait`]; it takes the
//!    lock itself as soon as the holder lets go or vanishes without a token), then asks the
//!    token endpoint itself.
//!
//! The store fails open: every call is bounded by [`SharedStoreSettings::operation_timeout`];
//! after the first failed call a token request stops using the store (so a dead or silent store
//! delays a token request by one timeout at most, and its writes by two more); after
//! [`SharedStoreSettings::breaker_threshold`] consecutive failures a circuit breaker skips the
//! store for [`SharedStoreSettings::breaker_cooldown`], then lets one call probe it.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use crate::policy::coarse_now;
use crate::telemetry::{self, StoreLock, StoreLookup, StoreWrite};
use crate::{Error, SharedKey, SharedStore, SharedStoreSettings, SharedToken, StoreError, Token};

/// How long the first wait for a lock holder's token is; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(20);
const MAX_POLL: Duration = Duration::from_millis(250);
/// The shortest period of the holder's lock renewals, whatever `lock_ttl` says.
const MIN_RENEWAL_PERIOD: Duration = Duration::from_millis(50);

/// One authorizer's shared store, with its key and circuit breaker.
pub(crate) struct Shared {
    store: Arc<dyn SharedStore>,
    settings: SharedStoreSettings,
    key: SharedKey,
    /// This authorizer's lock-owner id: unique per process and authorizer.
    owner: String,
    address: String,
    breaker: Breaker,
    /// The flow, for metrics.
    flow: &'static str,
}

/// A token obtained through the store: adopted from it, or fetched and (being) stored.
pub(crate) struct Obtained {
    pub(crate) token: Token,
    /// The token's id in the store.
    pub(crate) shared_id: Option<String>,
    /// Whether it came from the store (no token request).
    pub(crate) adopted: bool,
}

/// What a token request replaces: the id of the token it renews and whether that token was
/// rejected by a resource server.
pub(crate) struct Replacing<'a> {
    pub(crate) id: Option<&'a str>,
    pub(crate) rejected: bool,
}

/// A store call's result: a value, or the store is not to be used now.
enum Call<T> {
    Done(T),
    Unavailable,
}

impl Shared {
    pub(crate) fn new(
        store: Arc<dyn SharedStore>,
        settings: SharedStoreSettings,
        key: SharedKey,
        flow: &'static str,
    ) -> Self {
        let address = store.address();
        Self {
            flow,
            store,
            key,
            owner: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
            address,
            breaker: Breaker::default(),
            settings,
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// A token for this authorizer through the store, calling `fetch` (the token endpoint, with
    /// its retries) when the store has none to give. A token fetched is stored, and the fleet's
    /// lock released, before this returns.
    pub(crate) async fn obtain<F, Fut>(
        &self,
        replacing: Replacing<'_>,
        fetch: F,
    ) -> Result<Obtained, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, Error>>,
    {
        // Once a call fails, this token request goes on without the store.
        let mut answering = true;
        if let (true, Some(id)) = (replacing.rejected, replacing.id) {
            let delete = self.store.delete_if_same(&self.key, id);
            answering = matches!(self.call("delete", delete).await, Call::Done(_));
        }
        let stale = replacing.id;
        // The fleet's lock, if this process holds it: released before this returns, and in the
        // background when dropped early (the token request panicked or was cancelled).
        let mut lock = None;
        if answering {
            match self.lookup(stale).await {
                Call::Unavailable => answering = false,
                Call::Done(Some(adopted)) => return Ok(adopted),
                Call::Done(None) => match self.take_lock().await {
                    Call::Unavailable => answering = false,
                    Call::Done(true) => lock = Some(HeldLock::new(self)),
                    Call::Done(false) => match self.wait_for_holder(stale).await {
                        Waited::Adopted(adopted) => return Ok(adopted),
                        Waited::Holding => lock = Some(HeldLock::new(self)),
                        Waited::GaveUp => {}
                    },
                },
            }
        }
        if lock.is_some() {
            // A holder may have stored a token between our read and our lock.
            match self.lookup(stale).await {
                Call::Done(Some(adopted)) => {
                    if let Some(lock) = lock.take() {
                        lock.release().await;
                    }
                    return Ok(adopted);
                }
                Call::Done(None) => {}
                Call::Unavailable => answering = false,
            }
        }
        let fetched = match &lock {
            Some(_) => {
                let (fetched, store_failed) = self.renewing_lock(fetch()).await;
                answering &= !store_failed;
                fetched
            }
            None => fetch().await,
        };
        let obtained = fetched.map(|token| Obtained {
            token,
            shared_id: Some(new_token_id()),
            adopted: false,
        });
        if let (Ok(obtained), true) = (&obtained, answering) {
            self.put(
                &obtained.token,
                obtained.shared_id.as_deref().unwrap_or_default(),
            )
            .await;
        }
        // Released after the put: a lock released before the token lands would let a waiter
        // take it, find nothing and ask the token endpoint again.
        if let Some(lock) = lock.take() {
            lock.release().await;
        }
        obtained.map(|obtained| Obtained {
            token: self.jittered(obtained.token),
            ..obtained
        })
    }

    /// Runs `work` (the holder's token request) while renewing the fleet's lock every third of
    /// its time to live (at least every [`MIN_RENEWAL_PERIOD`]), so that the lock outlives a
    /// slow token request but not a dead holder. Renewal stops when the store fails or the lock
    /// is no longer ours. Returns `work`'s output and whether a renewal call failed (then the
    /// token request goes on without the store, as after any failed call).
    async fn renewing_lock<T>(&self, work: impl Future<Output = T>) -> (T, bool) {
        let ttl = self.settings.lock_ttl;
        let renew = async {
            loop {
                tokio::time::sleep((ttl / 3).max(MIN_RENEWAL_PERIOD)).await;
                let renewal = self.store.renew_lock(&self.key, &self.owner, ttl);
                match self.call("renew_lock", renewal).await {
                    Call::Done(true) => {}
                    Call::Done(false) => {
                        tracing::debug!(store = %self.address, "the fleet's lock lapsed during the token request");
                        return false;
                    }
                    Call::Unavailable => return true,
                }
            }
        };
        futures::pin_mut!(work, renew);
        match futures::future::select(work, renew).await {
            futures::future::Either::Left((value, _)) => (value, false),
            futures::future::Either::Right((failed, work)) => (work.await, failed),
        }
    }

    /// Reads the store: a token to adopt, or none.
    async fn lookup(&self, stale: Option<&str>) -> Call<Option<Obtained>> {
        let call = self.call("get", self.store.get(&self.key)).await;
        let (call, result) = match call {
            Call::Done(stored) => match self.adoptable(stored, stale) {
                Some(adopted) => (Call::Done(Some(adopted)), StoreLookup::Hit),
                None => (Call::Done(None), StoreLookup::Miss),
            },
            Call::Unavailable => (Call::Unavailable, StoreLookup::Error),
        };
        telemetry::store_lookup(self.flow, result);
        call
    }

    /// `stored` as a local token, if it is not the one being replaced and this process would
    /// not renew it yet.
    fn adoptable(&self, stored: Option<SharedToken>, stale: Option<&str>) -> Option<Obtained> {
        let stored = stored?;
        if stale == Some(stored.id.as_str()) {
            return None;
        }
        let remaining = stored.expires_at.duration_since(SystemTime::now()).ok()?;
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
        if token.needs_renewal_at(Instant::now()) {
            return None;
        }
        tracing::debug!(store = %self.address, "token adopted from the shared store");
        Some(Obtained {
            token,
            shared_id: Some(stored.id),
            adopted: true,
        })
    }

    /// The clock-skew margin for a token with `remaining` life: the configured one, at most a
    /// tenth of it (a 5-second token keeps most of its life).
    fn skew(&self, remaining: Duration) -> Duration {
        self.settings.clock_skew.min(remaining / 10)
    }

    /// `token` renewed earlier by a random part of its renewal gap, so that replicas don't all
    /// wake at once.
    fn jittered(&self, token: Token) -> Token {
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

    /// Takes the fleet's lock.
    async fn take_lock(&self) -> Call<bool> {
        let ttl = self.settings.lock_ttl;
        let call = self
            .call("lock", self.store.lock(&self.key, &self.owner, ttl))
            .await;
        let outcome = match call {
            Call::Done(true) => StoreLock::Acquired,
            Call::Done(false) => StoreLock::Contended,
            Call::Unavailable => {
                // The lock may have been taken and only its answer lost: release it if it is
                // ours (the unlock deletes only our own lock).
                self.release_lock();
                StoreLock::Error
            }
        };
        telemetry::store_lock(self.flow, outcome);
        call
    }

    /// Waits for the lock holder's token; takes the lock if the holder lets go (or vanishes)
    /// without one.
    async fn wait_for_holder(&self, stale: Option<&str>) -> Waited {
        tracing::debug!(store = %self.address, "another process holds the fleet's lock: waiting for its token");
        let started = tokio::time::Instant::now();
        let deadline = started + self.settings.lock_wait;
        let waited_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut pause = FIRST_POLL;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                tracing::debug!(store = %self.address, waited_ms = waited_ms(), "gave up waiting for the fleet's token request");
                return Waited::GaveUp;
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_POLL);
            match self.lookup(stale).await {
                Call::Unavailable => return Waited::GaveUp,
                Call::Done(Some(adopted)) => {
                    tracing::debug!(store = %self.address, waited_ms = waited_ms(), "the lock holder's token arrived");
                    return Waited::Adopted(adopted);
                }
                Call::Done(None) => {}
            }
            match self.take_lock().await {
                Call::Unavailable => return Waited::GaveUp,
                Call::Done(true) => {
                    tracing::debug!(store = %self.address, waited_ms = waited_ms(), "took the fleet's lock: its holder let go or vanished without a token");
                    return Waited::Holding;
                }
                Call::Done(false) => {}
            }
        }
    }

    /// Stores `token` until shortly before this process would renew it (one call, bounded by
    /// the operation timeout). A token of unknown lifetime, or about to be renewed, is not
    /// shared.
    async fn put(&self, token: &Token, id: &str) {
        let (Some(expires), Some(renew)) = (token.expires_at(), token.renew_at()) else {
            return;
        };
        let now = Instant::now();
        let remaining = expires.saturating_duration_since(now);
        let ttl = renew
            .saturating_duration_since(now)
            .saturating_sub(self.skew(remaining));
        if ttl < Duration::from_millis(10) {
            return;
        }
        let shared = SharedToken {
            access_token: SecretString::from(token.access_token().expose_secret().to_owned()),
            token_type: token.token_type().to_owned(),
            scope: token.scope().map(str::to_owned),
            expires_at: SystemTime::now() + remaining,
            id: id.to_owned(),
        };
        if self.breaker.refuses() {
            return;
        }
        let result = match self
            .call("put", self.store.put_if_newer(&self.key, &shared, ttl))
            .await
        {
            Call::Done(true) => StoreWrite::Written,
            Call::Done(false) => StoreWrite::Stale,
            Call::Unavailable => StoreWrite::Error,
        };
        telemetry::store_write(self.flow, result);
    }

    /// Releases the fleet's lock in the background, on en-auth's I/O runtime (whatever the
    /// circuit breaker says: the unlock deletes only this process's lock): for a lock whose
    /// holder can no longer wait for the answer (dropped, or a lock whose answer was lost).
    fn release_lock(&self) {
        let Ok(runtime) = crate::io::handle() else {
            return;
        };
        let (store, key, owner) = (Arc::clone(&self.store), self.key, self.owner.clone());
        let timeout = self.settings.operation_timeout;
        let recorder = self.recorder();
        runtime.spawn(
            async move {
                let result = tokio::time::timeout(timeout, store.unlock(&key, &owner)).await;
                recorder.record("unlock", result);
            }
            .in_current_span()
            .with_current_subscriber(),
        );
    }

    /// What records a call's outcome (the breaker, the log), also from another task.
    fn recorder(&self) -> Recorder {
        Recorder {
            address: self.address.clone(),
            breaker: self.breaker.clone_handle(),
            settings: self.settings.clone(),
        }
    }

    /// One store call, bounded by the operation timeout, through the breaker.
    async fn call<T>(
        &self,
        op: &'static str,
        future: impl Future<Output = Result<T, StoreError>>,
    ) -> Call<T> {
        if !self.breaker.allows() {
            return Call::Unavailable;
        }
        let result = tokio::time::timeout(self.settings.operation_timeout, future).await;
        match self.recorder().record(op, result) {
            Some(value) => Call::Done(value),
            None => Call::Unavailable,
        }
    }
}

/// The fleet's lock, held by this process: released by [`HeldLock::release`], or in the
/// background when dropped unreleased (the token request panicked or was cancelled).
struct HeldLock<'a> {
    shared: &'a Shared,
    armed: bool,
}

impl<'a> HeldLock<'a> {
    fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            armed: true,
        }
    }

    /// Releases the lock now (one call, bounded by the operation timeout; whatever the circuit
    /// breaker says: the unlock deletes only this process's lock, and a lock left behind makes
    /// the next process wait).
    async fn release(mut self) {
        let shared = self.shared;
        let unlock = shared.store.unlock(&shared.key, &shared.owner);
        let result = tokio::time::timeout(shared.settings.operation_timeout, unlock).await;
        // Disarmed only now: a caller cancelled during the unlock leaves it to `drop`.
        self.armed = false;
        shared.recorder().record("unlock", result);
    }
}

impl Drop for HeldLock<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.release_lock();
        }
    }
}

enum Waited {
    Adopted(Obtained),
    Holding,
    GaveUp,
}

/// A random id for a token in the store (not derived from the token).
fn new_token_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// What a store call needs to record its outcome, also from a background task.
struct Recorder {
    address: String,
    breaker: Breaker,
    settings: SharedStoreSettings,
}

impl Recorder {
    fn record<T>(
        &self,
        op: &'static str,
        result: Result<Result<T, StoreError>, tokio::time::error::Elapsed>,
    ) -> Option<T> {
        match result {
            Ok(Ok(value)) => {
                if self.breaker.succeeded() {
                    tracing::info!(store = %self.address, "the shared token store answers again; using it");
                }
                Some(value)
            }
            Ok(Err(error)) => {
                self.failed(op, &error.to_string());
                None
            }
            Err(_) => {
                let timeout = self.settings.operation_timeout;
                self.failed(op, &format!("no answer within {timeout:?}"));
                None
            }
        }
    }

    fn failed(&self, op: &'static str, error: &str) {
        let opened = self.breaker.failed(
            self.settings.breaker_threshold,
            self.settings.breaker_cooldown,
        );
        tracing::warn!(
            store = %self.address,
            op,
            error,
            "shared token store call failed; going on without it"
        );
        if opened {
            tracing::warn!(
                store = %self.address,
                cooldown_ms = u64::try_from(self.settings.breaker_cooldown.as_millis()).unwrap_or(u64::MAX),
                "shared token store keeps failing: not using it for a while (circuit open)"
            );
        }
    }
}

/// The circuit breaker: consecutive failures, and until when the store is skipped.
#[derive(Default)]
struct Breaker {
    state: Arc<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    failures: AtomicU32,
    /// Coarse-clock ticks until which the store is skipped; 0: closed.
    open_until: AtomicU64,
}

impl Breaker {
    fn clone_handle(&self) -> Self {
        Self {
            state: Arc::clone(&self.state),
        }
    }

    /// Whether a call may go to the store: the breaker is closed, or its cooldown is over and
    /// this caller is the one probe (the next probe waits another cooldown).
    fn allows(&self) -> bool {
        let until = self.state.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = coarse_now().as_ticks();
        if now < until {
            return false;
        }
        // One probe per cooldown: push the reopening out while it runs.
        let probe_window = coarsetime::Duration::from_secs(1).as_ticks();
        self.state
            .open_until
            .compare_exchange(
                until,
                now + probe_window,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Whether the breaker is open and its cooldown not over (no call would be let through),
    /// without taking the probe.
    fn refuses(&self) -> bool {
        let until = self.state.open_until.load(Ordering::Acquire);
        until != 0 && coarse_now().as_ticks() < until
    }

    /// Records a success; true if the breaker was open (it closes).
    fn succeeded(&self) -> bool {
        self.state.failures.store(0, Ordering::Release);
        self.state.open_until.swap(0, Ordering::AcqRel) != 0
    }

    /// Records a failure; true if it opened the breaker.
    fn failed(&self, threshold: u32, cooldown: Duration) -> bool {
        let failures = self.state.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures < threshold.max(1) {
            return false;
        }
        let until = (coarse_now() + coarsetime::Duration::from(cooldown)).as_ticks();
        self.state.open_until.swap(until.max(1), Ordering::AcqRel) == 0
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
}
