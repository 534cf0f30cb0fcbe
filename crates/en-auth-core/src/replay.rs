//! The decisions of the rejection rule — a rejected token is invalidated, the request replayed
//! once with a renewed token, a replay rejected again holds off renewals — written once for
//! the `reqwest-middleware` adapter and the blocking API, which differ only in how they send.

use http::StatusCode;

use crate::{Authorizer, Error, TokenProvider};

impl<P: TokenProvider> Authorizer<P> {
    /// Whether `status`, the answer to a request that carried the token of `generation`,
    /// rejects the token (see [`RequestPolicy`](crate::RequestPolicy)); if so the token is
    /// invalidated, so that the next request renews it.
    pub(crate) fn rejected(&self, status: StatusCode, generation: u64) -> bool {
        if !self.request_policy().is_rejection(status) {
            return false;
        }
        self.invalidate(generation);
        true
    }

    /// The generation to replay with, after authorizing the replay (`renewal`): `None` when
    /// the first answer is to be returned — the renewal failed (the request itself completed,
    /// so its rejection is the answer, not the renewal error), or the token was not renewed (a
    /// replay with it was rejected before).
    pub(crate) fn replay_with(&self, renewal: Result<u64, Error>, generation: u64) -> Option<u64> {
        match renewal {
            Ok(renewed) if renewed != generation => Some(renewed),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "renewing a rejected token failed; returning the rejection");
                None
            }
        }
    }

    /// Records the replay's answer: rejected again, the token is not the problem.
    pub(crate) fn replay_answered(&self, status: StatusCode, renewed: u64) {
        if self.request_policy().is_rejection(status) {
            tracing::warn!(%status, "a request replayed with a new token was rejected again: the token is not the problem");
            self.replay_rejected(renewed);
        }
    }
}
