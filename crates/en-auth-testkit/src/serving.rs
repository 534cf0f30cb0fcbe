//! Where an emulator's accept loop runs, and how it is stopped.
//!
//! `start().await` spawns the loop as a task of the caller's Tokio runtime: it stops when the
//! server value is dropped, and also when that runtime shuts down (the end of a
//! `#[tokio::test]`, say). `start_on_own_thread()` runs it on a thread of its own with its own
//! runtime, which serves until the server value is dropped (a `static` server: until the process
//! exits), whichever runtime — or none — the callers use.

use std::future::Future;

/// Keeps an emulator serving; dropping it stops the emulator.
pub(crate) enum Serving {
    /// A task on the runtime that started the emulator; aborted on drop.
    Task(tokio::task::JoinHandle<()>),
    /// A thread of its own: dropping the sender ends the thread's runtime, and with it every
    /// task of the emulator.
    Thread {
        _stop: tokio::sync::oneshot::Sender<()>,
    },
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Serving::Task(task) = self {
            task.abort();
        }
    }
}

/// Starts an emulator with `start` on a new thread named `name`, with a current-thread Tokio
/// runtime of its own, and returns `parts(&server)` once it listens. The server stays on that
/// thread until the returned [`Serving`] is dropped.
///
/// Blocks the calling thread only until the listener is bound.
///
/// # Panics
/// If the thread or its runtime cannot be created, or `start` panics (no loopback port).
pub(crate) fn on_own_thread<S, T, Fut>(
    name: &str,
    start: impl FnOnce() -> Fut + Send + 'static,
    parts: impl FnOnce(&S) -> T + Send + 'static,
) -> (T, Serving)
where
    Fut: Future<Output = S>,
    T: Send + 'static,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a Tokio runtime for the emulator thread");
            runtime.block_on(async move {
                let server = start().await;
                if ready_tx.send(parts(&server)).is_err() {
                    return;
                }
                // Serve until the handle is dropped (the sender with it: `Err`).
                let _ = stop_rx.await;
                drop(server);
            });
        })
        .expect("spawn the emulator thread");
    let parts = ready_rx
        .recv()
        .unwrap_or_else(|_| panic!("the {name} thread failed to start its server"));
    (parts, Serving::Thread { _stop: stop_tx })
}
