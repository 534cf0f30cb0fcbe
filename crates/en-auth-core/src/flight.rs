//! The slow path of the [`Authorizer`](crate::Authorizer): one token request at a time (single
//! flight), retried with backoff on transient errors, and a cooldown after a failure during
//! which callers get the error at once.
//!
//! The token request runs in a task of its own, spawned on the caller's Tokio runtime: waiters
//! share its `JoinHandle`, so cancelling every waiter does not stall it, and a panic in the
//! provider becomes an [`Error::Internal`] for the waiters instead of poisoning the authorizer.
//! A token request whose runtime shut down before it finished (a `static` authorizer shared by
//! several `#[tokio::test]`s) is abandoned, not failed: the next caller starts a new one.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt, Shared};
use tracing::Instrument;

use crate::authorizer::{CurrentToken, Entry, Inner};
use crate::{Cooldown, Error, InternalError, Token, TokenProvider};

/// The shared result of one token request.
type Flight = Shared<BoxFuture<'static, Landing>>;

/// How a token request ended.
#[derive(Clone)]
enum Landing {
    /// It ran to the end: a token, or the error that every waiter gets.
    Done(Result<Arc<Entry>, Error>),
    /// Its task was cancelled before the end (its runtime shut down): nobody failed, ask again.
    Abandoned,
}

/// How many abandoned token requests one caller replaces before giving up.
const MAX_RESTARTS: u32 = 3;

/// The slow path's state, under a mutex that the hot path never takes.
#[derive(Default)]
pub(crate) struct Slot {
    /// The token request under way, with its id.
    flight: Option<(u64, Flight)>,
    /// The last failure, while its cooldown lasts.
    failure: Option<Failure>,
    /// Consecutive failed token requests.
    failures: u32,
}

struct Failure {
    error: Error,
    /// When it failed and until when it is handed out, on Tokio's clock (so that tests can
    /// pause and advance it).
    at: tokio::time::Instant,
    until: tokio::time::Instant,
}

/// Joins or starts the token request that replaces the token of generation `stale`.
pub(crate) async fn renew<P: TokenProvider>(
    inner: &Arc<Inner<P>>,
    stale: u64,
) -> Result<CurrentToken, Error> {
    for _ in 0..=MAX_RESTARTS {
        let flight = match join(inner, stale) {
            Ok(flight) => flight,
            Err(done) => return done,
        };
        match flight.await {
            Landing::Done(result) => return result.map(CurrentToken::new),
            Landing::Abandoned => tracing::debug!(
                "a token request was abandoned (its runtime shut down); starting another"
            ),
        }
    }
    Err(InternalError::new("token requests keep being cancelled (their runtimes shut down)").into())
}

/// The token request to wait for: the one under way, or a new one. `Err` holds the answer
/// when there is nothing to wait for (a newer token, a cooldown, no runtime).
fn join<P: TokenProvider>(
    inner: &Arc<Inner<P>>,
    stale: u64,
) -> Result<Flight, Result<CurrentToken, Error>> {
    let mut slot = inner.slot.lock().unwrap_or_else(PoisonError::into_inner);
    // Another request may have landed between the caller's look and the lock: a newer token
    // that nobody has rejected is the one to use, even if already due (a token with no
    // lifetime), so that each wave of callers costs one token request.
    let current = inner.current.load_full();
    if current.generation != stale && !current.invalidated.load(Ordering::Acquire) {
        return Err(Ok(CurrentToken::new(current)));
    }
    if let Some((_, flight)) = &slot.flight {
        Ok(flight.clone())
    } else {
        if let Some(failure) = &slot.failure {
            let now = tokio::time::Instant::now();
            if now < failure.until {
                return Err(Err(failure.error.clone().during_cooldown(Cooldown {
                    failed_ago: now - failure.at,
                    next_attempt_in: failure.until - now,
                })));
            }
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(Err(InternalError::new(
                "no Tokio runtime: token requests run on Tokio (call from within a runtime)",
            )
            .into()));
        };
        let id = inner.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let flight = start(&runtime, Arc::clone(inner), id);
        slot.flight = Some((id, flight.clone()));
        Ok(flight)
    }
}

/// Spawns the token request `id` and returns its shared result. If the task does not complete,
/// the first waiter to see that clears the slot; if the provider panicked, every waiter gets an
/// [`Error::Internal`], and if the task was cancelled (its runtime shut down), every waiter
/// starts or joins a new token request.
fn start<P: TokenProvider>(
    runtime: &tokio::runtime::Handle,
    inner: Arc<Inner<P>>,
    id: u64,
) -> Flight {
    let task = runtime.spawn(fly(Arc::clone(&inner), id));
    async move {
        let join = match task.await {
            Ok(result) => return Landing::Done(result),
            Err(join) => join,
        };
        let mut slot = inner.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot
            .flight
            .as_ref()
            .is_some_and(|(flight, _)| *flight == id)
        {
            slot.flight = None;
        }
        if !join.is_panic() {
            return Landing::Abandoned;
        }
        let error: Error = InternalError::new("the token provider panicked").into();
        tracing::error!(%error, "token request did not complete");
        Landing::Done(Err(error))
    }
    .boxed()
    .shared()
}

/// One token request: refresh the current token if there is one (a full authorization when
/// the refresh is refused), retrying transient failures; publish the result; clear the slot.
async fn fly<P: TokenProvider>(inner: Arc<Inner<P>>, generation: u64) -> Result<Arc<Entry>, Error> {
    let span = tracing::info_span!(
        "en_auth.token",
        flow = inner.provider.flow(),
        environment = inner.provider.environment_id().unwrap_or(""),
        client_id = inner.provider.client_info().client_id(),
        renewal = tracing::field::Empty,
        attempts = tracing::field::Empty,
        outcome = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = request_with_retries(&inner)
        .instrument(span.clone())
        .await
        .and_then(|token| Entry::new(token, generation).map(Arc::new));
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("latency_ms", latency_ms);

    let mut slot = inner.slot.lock().unwrap_or_else(PoisonError::into_inner);
    match &result {
        Ok(entry) => {
            inner.current.store(Arc::clone(entry));
            slot.failure = None;
            slot.failures = 0;
            span.record("outcome", "ok");
            span.in_scope(|| {
                tracing::info!(
                    lifetime_s = entry.token.lifetime().map(|l| l.as_secs()),
                    latency_ms,
                    "token obtained"
                );
            });
        }
        Err(error) => {
            slot.failures = slot.failures.saturating_add(1);
            let cooldown = inner.policy.cooldown(slot.failures, error);
            let now = tokio::time::Instant::now();
            slot.failure = Some(Failure {
                error: error.clone(),
                at: now,
                until: now
                    .checked_add(cooldown)
                    .unwrap_or(now + crate::MAX_LIFETIME),
            });
            // A token that is still usable may try a background renewal again after the cooldown.
            inner.current.load().retry_background_after(cooldown);
            span.record("outcome", "error");
            span.in_scope(|| {
                tracing::warn!(
                    %error,
                    latency_ms,
                    cooldown_ms = u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX),
                    "token request failed"
                );
            });
        }
    }
    if slot
        .flight
        .as_ref()
        .is_some_and(|(id, _)| *id == generation)
    {
        slot.flight = None;
    }
    result
}

/// Asks the provider, retrying retryable errors as the policy says.
async fn request_with_retries<P: TokenProvider>(inner: &Inner<P>) -> Result<Token, Error> {
    let mut attempt = 1;
    loop {
        let result = request_once(inner).await;
        tracing::Span::current().record("attempts", attempt);
        let error = match result {
            Ok(token) => return Ok(token),
            Err(e) if e.is_retryable() && attempt < inner.policy.max_attempts() => e,
            Err(e) => return Err(e),
        };
        let Some(wait) = inner.policy.backoff(attempt, error.retry_after()) else {
            return Err(error);
        };
        tracing::debug!(
            %error,
            attempt,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "retrying the token request"
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// One call of the provider: `refresh()` when there is a token to renew (falling back to
/// `authorize()` when the refresh is refused), else `authorize()`.
async fn request_once<P: TokenProvider>(inner: &Inner<P>) -> Result<Token, Error> {
    let previous = inner.current.load_full();
    let has_token = previous.generation != 0;
    tracing::Span::current().record("renewal", has_token);
    inner.token_requests.fetch_add(1, Ordering::Relaxed);
    if !has_token {
        return inner.provider.authorize().await;
    }
    match inner.provider.refresh(&previous.token).await {
        Err(e) if e.is_refresh_refused() => {
            tracing::debug!(error = %e, "refresh refused; authorizing from scratch");
            inner.token_requests.fetch_add(1, Ordering::Relaxed);
            inner.provider.authorize().await
        }
        other => other,
    }
}
