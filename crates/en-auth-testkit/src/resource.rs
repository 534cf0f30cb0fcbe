//! The protected resource both emulators serve at `/resource` (RFC 6750): it accepts the live
//! bearer tokens its emulator issued and counts what it saw.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A protected resource's body and counters.
pub(crate) struct ProtectedResource {
    body: Option<String>,
    requests: AtomicU64,
    authorized: AtomicU64,
    missing_authorization: AtomicU64,
    last_api_key: Mutex<Option<String>>,
}

impl ProtectedResource {
    /// A resource answering authorized requests with `body`, or `hello, <owner>` when `None`.
    pub(crate) fn new(body: Option<String>) -> Self {
        Self {
            body,
            requests: AtomicU64::new(0),
            authorized: AtomicU64::new(0),
            missing_authorization: AtomicU64::new(0),
            last_api_key: Mutex::new(None),
        }
    }

    /// Answers a request with `headers`: `200` and the body when `owner_of(token)` names the
    /// owner of its bearer token (live tokens only), else `401` with `WWW-Authenticate: Bearer`
    /// (and `error="invalid_token"` when a token was sent).
    pub(crate) fn answer(
        &self,
        headers: &HeaderMap,
        owner_of: impl FnOnce(&str) -> Option<String>,
    ) -> Response {
        self.requests.fetch_add(1, Ordering::SeqCst);
        *self
            .last_api_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(authorization) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            self.missing_authorization.fetch_add(1, Ordering::SeqCst);
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "",
            )
                .into_response();
        };
        match authorization.strip_prefix("Bearer ").and_then(owner_of) {
            Some(owner) => {
                self.authorized.fetch_add(1, Ordering::SeqCst);
                let body = self
                    .body
                    .clone()
                    .unwrap_or_else(|| format!("hello, {owner}"));
                (StatusCode::OK, body).into_response()
            }
            None => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
                "",
            )
                .into_response(),
        }
    }

    /// Requests received.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests answered `200`.
    pub(crate) fn authorized(&self) -> u64 {
        self.authorized.load(Ordering::SeqCst)
    }

    /// Requests without an `Authorization` header.
    pub(crate) fn missing_authorization(&self) -> u64 {
        self.missing_authorization.load(Ordering::SeqCst)
    }

    /// The `X-Api-Key` of the last request, if it had one.
    pub(crate) fn last_api_key(&self) -> Option<String> {
        self.last_api_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
