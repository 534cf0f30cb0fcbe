//! The runtime on which token requests do their network I/O.
//!
//! A pooled connection belongs to the Tokio runtime that opened it: its tasks run there. A
//! `static` authorizer used from several runtimes (one per `#[tokio::test]`, say) would reuse a
//! connection whose runtime is idle or gone, and the token request would stall until it timed
//! out. So the flows send their requests from one small runtime of their own, started on first
//! use and kept for the life of the process: connections always live where they are driven, and
//! one HTTP client (its pool and TLS configuration) can serve every authorizer.
//!
//! The same runtime runs every token request as a whole — retries, backoff and cooldown
//! included — and the background renewals and lock releases (see `clock.rs`): a caller only
//! awaits the result, so a caller's runtime that goes idle never holds up another caller.

use std::future::Future;
use std::sync::OnceLock;

use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use crate::{Error, InternalError};

/// The I/O runtime's worker threads. Token requests are few and light; two threads keep one
/// slow TLS handshake from delaying the others.
const WORKER_THREADS: usize = 2;

/// The name of the I/O runtime's threads (the blocking API refuses to wait on them).
pub(crate) const THREAD_NAME: &str = "en-auth-io";

/// The I/O runtime's handle, to spawn work that must not depend on the caller's runtime (token
/// requests, background renewals, the blocking API's waits).
///
/// # Errors
/// [`Error::Internal`] if the runtime cannot be started.
pub(crate) fn handle() -> Result<&'static tokio::runtime::Handle, Error> {
    runtime().map(tokio::runtime::Runtime::handle)
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .thread_name(THREAD_NAME)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| InternalError::new(format!("cannot start the I/O runtime: {e}")).into())
}

/// Runs `future` on en-auth's I/O runtime and waits for its output, from any runtime (or
/// from none: the returned future can be awaited by any executor).
///
/// The flows (`en-auth-oauth2`, `en-auth-srp`) send every token-endpoint and Cognito request
/// this way; a custom [`TokenProvider`](crate::TokenProvider) that keeps pooled connections can
/// do the same. Dropping the returned future cancels `future`. The caller's `tracing`
/// subscriber and current span go with it.
///
/// The runtime has two worker threads: a `future` that blocks a thread (a synchronous call, a
/// long computation) delays every token request of the process, and their timeouts with them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), en_auth_core::Error> {
/// let answer = en_auth_core::run_on_io_runtime(async { 6 * 7 }).await?;
/// assert_eq!(answer, 42);
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::Internal`] if the runtime cannot be started (the OS refused a thread) or `future`
/// panicked.
pub async fn run_on_io_runtime<F>(future: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // The caller's `tracing` subscriber and span follow the future onto the I/O runtime's
    // threads, so that its events land where the caller's do (and are scanned by the secrecy
    // tests).
    let future = future.in_current_span().with_current_subscriber();
    let task = AbortOnDrop(runtime()?.spawn(future));
    match task.await {
        Ok(output) => Ok(output),
        Err(join) => Err(InternalError::new(if join.is_panic() {
            "a token request's I/O panicked"
        } else {
            "a token request's I/O was cancelled"
        })
        .into()),
    }
}

/// A task handle that cancels its task when dropped (its waiter went away).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}
