//! A single flight with a failure cooldown: however many callers want a new value at once, one
//! task computes it and every caller gets its result; after a failure, callers get that error
//! at once for a while instead of starting another.
//!
//! It knows nothing of tokens or authorizers: the caller says how to tell that a value is
//! already fresh, how to start the work, how to publish its result and how long a failure
//! cools down.
//!
//! The work — retries, backoff and the landing of its cooldown included — runs in a task of
//! its own on en-auth's I/O runtime ([`clock::task_runtime`](crate::clock::task_runtime)),
//! never on a caller's: waiters on any runtime, or on none, only await its `JoinHandle`, so a
//! caller that gives up (a `timeout`) and leaves its runtime idle strands nobody, and
//! cancelling every waiter does not stall it. A panic in the work becomes an
//! [`Error::Internal`] for the waiters instead of poisoning the flight.
//!
//! On a test's runtime whose clock is paused the work runs on that runtime instead, so that
//! the paused clock drives it; work whose runtime shut down before it finished (a `static`
//! authorizer shared by several such tests) is abandoned, not failed: the next caller starts
//! it again.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use tracing::instrument::WithSubscriber;

use crate::clock;
use crate::{Cooldown, Error, InternalError};

/// How many abandoned flights one caller replaces before giving up.
const MAX_RESTARTS: u32 = 3;

/// One value at a time, with the cooldown of its last failure.
pub(crate) struct SingleFlight<T: Clone> {
    slot: Mutex<Slot<T>>,
    /// The ids of the flights, from 1.
    ids: AtomicU64,
}

struct Slot<T: Clone> {
    /// The flight under way, with its id.
    flight: Option<(u64, Flight<T>)>,
    /// The last failure, while its cooldown lasts.
    failure: Option<Failure>,
    /// Consecutive failed flights.
    failures: u32,
}

struct Failure {
    error: Error,
    /// When it failed and until when it is handed out (`clock.rs`: tests can pause and
    /// advance it).
    at: std::time::Instant,
    until: std::time::Instant,
}

/// The shared result of one flight.
type Flight<T> = Shared<BoxFuture<'static, Landing<T>>>;

/// How a flight ended.
#[derive(Clone)]
enum Landing<T> {
    /// It ran to the end: a value, or the error that every waiter gets.
    Completed(Result<T, Error>),
    /// Its task was cancelled before the end (its runtime shut down): nobody failed, ask again.
    Abandoned,
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    pub(crate) fn new() -> Self {
        Self {
            slot: Mutex::new(Slot {
                flight: None,
                failure: None,
                failures: 0,
            }),
            ids: AtomicU64::new(0),
        }
    }

    /// The value: `fresh()` if it gives one (asked under the flight's lock, so that a flight
    /// that just landed is seen), else the result of the flight under way, else — outside a
    /// failure's cooldown — of a new flight running `work(id)`. The work must end with
    /// [`SingleFlight::land`] for its id.
    ///
    /// The returned future needs no Tokio runtime: any executor can await it.
    ///
    /// # Errors
    /// The flight's error (every waiter gets a clone); during a cooldown, the last failure
    /// marked with its [`Cooldown`]; [`Error::Internal`] if en-auth's I/O runtime cannot be
    /// started, or if the work panicked.
    pub(crate) async fn get<Fresh, Work, Fut>(&self, fresh: Fresh, work: Work) -> Result<T, Error>
    where
        Fresh: Fn() -> Option<T>,
        Work: Fn(u64) -> Fut,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        for _ in 0..=MAX_RESTARTS {
            let (id, flight) = match self.join(&fresh, &work) {
                Ok(flight) => flight,
                Err(answer) => return answer,
            };
            let landing = flight.await;
            // Work that ended without landing (a panic, a runtime shut down) left its flight in
            // the slot: clear it for the next caller.
            self.forget(id);
            match landing {
                Landing::Completed(result) => return result,
                Landing::Abandoned => tracing::debug!(
                    "a token request was abandoned (its test runtime shut down); starting another"
                ),
            }
        }
        Err(
            InternalError::new("token requests keep being cancelled (their runtimes shut down)")
                .into(),
        )
    }

    /// The flight to wait for: the one under way, or a new one. `Err` holds the answer when
    /// there is nothing to wait for (a fresh value, a cooldown, no runtime to run it on).
    fn join<Fut>(
        &self,
        fresh: &impl Fn() -> Option<T>,
        work: &impl Fn(u64) -> Fut,
    ) -> Result<(u64, Flight<T>), Result<T, Error>>
    where
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = fresh() {
            return Err(Ok(value));
        }
        if let Some((id, flight)) = &slot.flight {
            return Ok((*id, flight.clone()));
        }
        if let Some(failure) = &slot.failure {
            let now = clock::now();
            if now < failure.until {
                return Err(Err(failure.error.clone().during_cooldown(Cooldown {
                    failed_ago: now - failure.at,
                    next_attempt_in: failure.until - now,
                })));
            }
        }
        let runtime = match clock::task_runtime() {
            Ok(runtime) => runtime,
            Err(error) => return Err(Err(error)),
        };
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        // The caller's `tracing` subscriber goes with the work onto the I/O runtime's threads, so
        // that its events land with the caller's.
        let task = runtime.spawn(work(id).with_current_subscriber());
        let flight = async move {
            match task.await {
                Ok(result) => Landing::Completed(result),
                Err(join) if join.is_panic() => {
                    let error: Error = InternalError::new("the token provider panicked").into();
                    tracing::error!(%error, "token request did not complete");
                    Landing::Completed(Err(error))
                }
                Err(_) => Landing::Abandoned,
            }
        }
        .boxed()
        .shared();
        slot.flight = Some((id, flight.clone()));
        Ok((id, flight))
    }

    /// Clears flight `id` from the slot, if it is still there.
    fn forget(&self, id: u64) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot
            .flight
            .as_ref()
            .is_some_and(|(flight, _)| *flight == id)
        {
            slot.flight = None;
        }
    }

    /// Ends flight `id` with `result`, under the flight's lock: on success `publish` runs and
    /// the failures are forgotten; on failure the error is handed out for `cooldown(consecutive
    /// failures, error)`. Returns that cooldown (zero on success).
    pub(crate) fn land(
        &self,
        id: u64,
        result: &Result<T, Error>,
        publish: impl FnOnce(&T),
        cooldown: impl FnOnce(u32, &Error) -> Duration,
    ) -> Duration {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let cooled = match result {
            Ok(value) => {
                publish(value);
                slot.failure = None;
                slot.failures = 0;
                Duration::ZERO
            }
            Err(error) => {
                slot.failures = slot.failures.saturating_add(1);
                let cooldown = cooldown(slot.failures, error);
                let now = clock::now();
                slot.failure = Some(Failure {
                    error: error.clone(),
                    at: now,
                    until: now
                        .checked_add(cooldown)
                        .unwrap_or(now + crate::MAX_LIFETIME),
                });
                cooldown
            }
        };
        if slot
            .flight
            .as_ref()
            .is_some_and(|(flight, _)| *flight == id)
        {
            slot.flight = None;
        }
        cooled
    }
}
