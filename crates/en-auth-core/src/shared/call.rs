//! One call of the shared store: bounded by the operation timeout, through the circuit
//! breaker, its outcome recorded (the breaker, the log) — also from a background task.

use std::future::Future;

use super::breaker::Breaker;
use super::Shared;
use crate::clock;
use crate::{SharedStoreSettings, StoreError};

/// What a store call came to: the store's answer, or none — it failed, timed out, or the open
/// breaker skipped it — and the token request goes on without the store.
pub(super) enum StoreReply<T> {
    Answered(T),
    NoAnswer,
}

impl Shared {
    /// One store call, bounded by the operation timeout, through the breaker.
    pub(super) async fn call<T>(
        &self,
        op: &'static str,
        future: impl Future<Output = Result<T, StoreError>>,
    ) -> StoreReply<T> {
        if !self.breaker.allows() {
            return StoreReply::NoAnswer;
        }
        let result = clock::timeout(self.settings.operation_timeout, future).await;
        match self.recorder().record(op, result) {
            Some(value) => StoreReply::Answered(value),
            None => StoreReply::NoAnswer,
        }
    }

    /// What records a call's outcome (the breaker, the log), also from another task.
    pub(super) fn recorder(&self) -> CallRecorder {
        CallRecorder {
            address: self.address.clone(),
            breaker: self.breaker.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// What a store call needs to record its outcome, also from a background task.
pub(super) struct CallRecorder {
    address: String,
    breaker: Breaker,
    settings: SharedStoreSettings,
}

impl CallRecorder {
    /// Records the outcome of call `op` (`Err(Elapsed)`: no answer within the operation
    /// timeout); returns its value if it answered.
    pub(super) fn record<T>(
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
