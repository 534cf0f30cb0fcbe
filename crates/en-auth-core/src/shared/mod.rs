//! The fleet's side of a token request: one authorizer's use of its [`SharedStore`].
//!
//! One job per file: this one runs the steps below (`obtain`); `adopt.rs` takes a stored
//! token as this process's own, `lock.rs` is the fleet lock's protocol, `write.rs` shares a
//! fetched token, `call.rs` bounds and records each store call, `breaker.rs` is the circuit
//! breaker, `unreadable.rs` the warning about stored values that do not open.
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
use std::sync::Arc;

use crate::{Error, SharedKey, SharedStore, SharedStoreSettings, Token};

mod adopt;
mod breaker;
mod call;
mod lock;
mod unreadable;
mod write;

use breaker::Breaker;
use call::StoreReply;
use lock::{HeldLock, HolderWait};

/// One authorizer's shared store, with its key and circuit breaker.
pub(crate) struct Shared {
    store: Arc<dyn SharedStore>,
    settings: SharedStoreSettings,
    key: SharedKey,
    /// This authorizer's lock-owner id: unique per process and authorizer.
    owner: String,
    address: String,
    breaker: Breaker,
    /// The warning about stored values that do not open, once per window.
    unreadable: unreadable::UnreadableWarnings,
    /// The flow, for metrics.
    flow: &'static str,
}

/// The token a token request ends with, before it enters the cache: where it came from and its
/// id in the shared store.
pub(crate) struct NewToken {
    pub(crate) token: Token,
    /// The token's id in the shared store (`None` without a store).
    pub(crate) shared_id: Option<String>,
    pub(crate) origin: TokenOrigin,
}

/// Where a [`NewToken`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenOrigin {
    /// The provider (the token endpoint): a token request was made.
    Provider,
    /// Adopted from the shared store: another process's token request.
    SharedStore,
}

/// The token a token request replaces: its id in the shared store and whether a resource
/// server rejected it.
pub(crate) struct ReplacedToken<'a> {
    pub(crate) shared_id: Option<&'a str>,
    pub(crate) rejected: bool,
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
            unreadable: unreadable::UnreadableWarnings::default(),
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
        replaced: ReplacedToken<'_>,
        fetch: F,
    ) -> Result<NewToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, Error>>,
    {
        // Once a call fails, this token request goes on without the store.
        let mut answering = true;
        if let (true, Some(id)) = (replaced.rejected, replaced.shared_id) {
            let delete = self.store.delete_if_same(&self.key, id);
            answering = matches!(self.call("delete", delete).await, StoreReply::Answered(_));
        }
        let stale = replaced.shared_id;
        // The fleet's lock, if this process holds it: released before this returns, and in the
        // background when dropped early (the token request panicked or was cancelled).
        let mut lock = None;
        if answering {
            match self.lookup(stale).await {
                StoreReply::NoAnswer => answering = false,
                StoreReply::Answered(Some(adopted)) => return Ok(adopted),
                StoreReply::Answered(None) => match self.take_lock().await {
                    StoreReply::NoAnswer => answering = false,
                    StoreReply::Answered(true) => lock = Some(HeldLock::new(self)),
                    StoreReply::Answered(false) => match self.wait_for_holder(stale).await {
                        HolderWait::Adopted(adopted) => return Ok(adopted),
                        HolderWait::LockTaken => lock = Some(HeldLock::new(self)),
                        HolderWait::GaveUp => {}
                    },
                },
            }
        }
        if lock.is_some() {
            // A holder may have stored a token between our read and our lock.
            match self.lookup(stale).await {
                StoreReply::Answered(Some(adopted)) => {
                    if let Some(lock) = lock.take() {
                        lock.release().await;
                    }
                    return Ok(adopted);
                }
                StoreReply::Answered(None) => {}
                StoreReply::NoAnswer => answering = false,
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
        let new = fetched.map(|token| NewToken {
            token,
            shared_id: Some(new_token_id()),
            origin: TokenOrigin::Provider,
        });
        if let (Ok(new), true) = (&new, answering) {
            self.put(&new.token, new.shared_id.as_deref().unwrap_or_default())
                .await;
        }
        // Released after the put: a lock released before the token lands would let a waiter
        // take it, find nothing and ask the token endpoint again.
        if let Some(lock) = lock.take() {
            lock.release().await;
        }
        new.map(|new| NewToken {
            token: self.jittered(new.token),
            ..new
        })
    }
}

/// A random id for a token in the store (not derived from the token).
fn new_token_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}
