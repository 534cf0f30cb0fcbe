//! What en-auth tells operators: the `tracing` span of every token request, the events of
//! renewals and cooldowns, and the metrics it records through the
//! [`metrics`](https://docs.rs/metrics) facade.
//!
//! All of it is off the hot path: a request that finds a usable token records nothing. Only
//! token requests, renewals, rejections, cooldown answers and shared-store calls do.
//!
//! # The span
//!
//! Every token request (one per renewal, however many callers wait on it) runs in an
//! `en_auth.token_request` span ([`TOKEN_REQUEST_SPAN`]) at `INFO` level, with the fields:
//!
//! | field | what |
//! |---|---|
//! | `flow` | the provider's flow (`client_credentials`, `cognito_user_srp_auth`, `cognito_custom_auth`, …: each provider's `TokenProvider::flow`) |
//! | `client_id` | the client id (never its secret) |
//! | `environment` | the environment id, or empty |
//! | `trigger` | why the token is requested: a [`RenewalTrigger`] |
//! | `attempt` | the attempt under way, from 1 (retries included) |
//! | `outcome` | `ok`, `shared` (a token adopted from the fleet's shared store: no request to the token endpoint) or `error` |
//! | `error.type` | on error, its kind: [`error_type`] (OpenTelemetry `error.type`) |
//! | `server.address`, `server.port` | the token endpoint's host and port (OpenTelemetry) |
//! | `http.response.status_code` | the token endpoint's last HTTP status (OpenTelemetry) |
//! | `duration_ms` | the whole token request, retries and backoff included, in milliseconds |
//!
//! A flow records the server and the status with [`record_server`] and [`record_http_status`]
//! while it runs (the span is current then, on en-auth's I/O runtime too).
//!
//! # Metrics
//!
//! With the `metrics` cargo feature of `en-auth-core` (forwarded by `en-auth-oauth2` and
//! `en-auth-srp`), en-auth records these through the `metrics` facade; without a recorder
//! installed nothing is recorded, and without the feature nothing is compiled in. Names follow
//! Prometheus conventions (a `_total` counter, a `_seconds` histogram).
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | [`TOKEN_REQUESTS`] | counter | `flow`, `outcome` (`ok`, `shared`, `error`) | token requests that ended (retries inside one count once) |
//! | [`TOKEN_REQUEST_DURATION`] | histogram, seconds | `flow`, `outcome` | their duration, retries and backoff included |
//! | [`TOKEN_ATTEMPT_FAILURES`] | counter | `flow`, `error_type` ([`error_type`]) | failed attempts, retried ones included |
//! | [`RENEWALS`] | counter | `flow`, `trigger` ([`RenewalTrigger::as_str`]) | token requests started, by what started them |
//! | [`COOLDOWN_ANSWERS`] | counter | `flow` | requests answered with the last failure during its cooldown, without a token request |
//! | [`STORE_LOOKUPS`] | counter | `flow`, `result` (`hit`, `miss`, `unreadable`: a stored value that did not open, removed; `error`) | calls of the fleet's shared store ([`SharedStore`](crate::SharedStore)) |
//! | [`STORE_WRITES`] | counter | `flow`, `result` (`written`, `stale`, `error`) | calls of the fleet's shared store ([`SharedStore`](crate::SharedStore)) |
//! | [`STORE_LOCKS`] | counter | `flow`, `outcome` (`acquired`, `contended`, `error`) | calls of the fleet's shared store ([`SharedStore`](crate::SharedStore)) |
//!
//! There is deliberately no per-request counter: the hit ratio of the cache is the HTTP
//! client's request count against [`TOKEN_REQUESTS`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{Error, TransportErrorKind};

/// The name of the span of a token request.
pub const TOKEN_REQUEST_SPAN: &str = "en_auth.token_request";

/// Counter: token requests that ended, by `flow` and `outcome` (`ok`, `shared`: adopted from the shared store, `error`). A token request
/// is one renewal, whatever the number of its attempts or of the callers waiting on it.
pub const TOKEN_REQUESTS: &str = "en_auth_token_requests_total";

/// Histogram: the duration of token requests in seconds, retries and backoff included, by
/// `flow` and `outcome`.
pub const TOKEN_REQUEST_DURATION: &str = "en_auth_token_request_duration_seconds";

/// Counter: failed attempts of token requests, retried ones included, by `flow` and
/// `error_type` (see [`error_type`]).
pub const TOKEN_ATTEMPT_FAILURES: &str = "en_auth_token_attempt_failures_total";

/// Counter: token requests started, by `flow` and `trigger` (see [`RenewalTrigger`]).
pub const RENEWALS: &str = "en_auth_renewals_total";

/// Counter: requests answered with the last failure during its cooldown (no token request
/// made), by `flow`.
pub const COOLDOWN_ANSWERS: &str = "en_auth_cooldown_answers_total";

/// Counter, recorded by an authorizer with a shared token store: lookups, by `flow` and `result` (`hit`,
/// `miss`, `unreadable`: a value was stored but did not open — another encryption key, tampered
/// with, garbage — and was removed, `error`). Recorded by the authorizer for each call of its shared store.
pub const STORE_LOOKUPS: &str = "en_auth_store_lookups_total";

/// Counter, recorded by an authorizer with a shared token store: writes, by `flow` and `result` (`written`,
/// `stale`: a newer token was there, `error`). Recorded by the authorizer for each write.
pub const STORE_WRITES: &str = "en_auth_store_writes_total";

/// Counter, recorded by an authorizer with a shared token store: renewal-lock attempts, by `flow` and
/// `outcome` (`acquired`, `contended`: another process holds it, `error`), one per lock
/// attempt.
pub const STORE_LOCKS: &str = "en_auth_store_locks_total";

/// Why a token request was started: the `trigger` field of the span and label of
/// [`RENEWALS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenewalTrigger {
    /// The authorizer had no token yet.
    Initial,
    /// The token entered its renewal window and was renewed in the background while requests
    /// kept using it.
    Proactive,
    /// Requests found the token expired, or due while background renewal was off or not
    /// possible (too little time left, en-auth's I/O runtime could not start), and waited for
    /// the renewal.
    Expired,
    /// A resource server rejected the token (HTTP 401, or a status named by
    /// [`RequestPolicy::with_rejection_statuses`](crate::RequestPolicy::with_rejection_statuses)):
    /// [`Authorizer::invalidate`](crate::Authorizer::invalidate).
    Rejected,
    /// A gRPC server answered `UNAUTHENTICATED` (status 16): adapters say so with
    /// [`Authorizer::invalidate_with`](crate::Authorizer::invalidate_with).
    GrpcUnauthenticated,
}

impl RenewalTrigger {
    /// The label value: `initial`, `proactive`, `expired`, `rejected`, `grpc_unauthenticated`.
    pub fn as_str(self) -> &'static str {
        match self {
            RenewalTrigger::Initial => "initial",
            RenewalTrigger::Proactive => "proactive",
            RenewalTrigger::Expired => "expired",
            RenewalTrigger::Rejected => "rejected",
            RenewalTrigger::GrpcUnauthenticated => "grpc_unauthenticated",
        }
    }

    fn to_bits(self) -> u64 {
        match self {
            RenewalTrigger::Initial => 1,
            RenewalTrigger::Proactive => 2,
            RenewalTrigger::Expired => 3,
            RenewalTrigger::Rejected => 4,
            RenewalTrigger::GrpcUnauthenticated => 5,
        }
    }

    fn from_bits(bits: u64) -> Self {
        match bits {
            1 => RenewalTrigger::Initial,
            2 => RenewalTrigger::Proactive,
            3 => RenewalTrigger::Expired,
            5 => RenewalTrigger::GrpcUnauthenticated,
            _ => RenewalTrigger::Rejected,
        }
    }
}

impl std::fmt::Display for RenewalTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of `error`, as the `error.type` span field and the `error_type` metric label: a
/// short, fixed string (OpenTelemetry's `error.type` is low-cardinality).
///
/// `authorization`, `invalid_client`, `invalid_credentials`, `timeout`, `connect_error`,
/// `not_tls`, `tls_error`, `body_error`, `transport_error`, `invalid_response`,
/// `configuration`, `refresh_refused`, `user_not_confirmed`, `password_reset_required`,
/// `too_many_failed_attempts`, `challenge`, `internal` (and `other` for kinds added later).
pub fn error_type(error: &Error) -> &'static str {
    match error {
        Error::Authorization(_) => "authorization",
        Error::InvalidClient(_) => "invalid_client",
        Error::InvalidCredentials(_) => "invalid_credentials",
        Error::Transport(e) => match e.kind {
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Connect => "connect_error",
            TransportErrorKind::NotTls => "not_tls",
            TransportErrorKind::Tls => "tls_error",
            TransportErrorKind::Body => "body_error",
            _ => "transport_error",
        },
        Error::InvalidResponse(_) => "invalid_response",
        Error::Configuration(_) => "configuration",
        Error::RefreshRefused(_) => "refresh_refused",
        Error::UserNotConfirmed(_) => "user_not_confirmed",
        Error::PasswordResetRequired(_) => "password_reset_required",
        Error::TooManyFailedAttempts(_) => "too_many_failed_attempts",
        Error::Challenge(_) => "challenge",
        Error::Internal(_) => "internal",
    }
}

/// The current span, if it is a token request's (so that a provider called outside an
/// authorizer never writes into its caller's spans).
fn token_request_span() -> Option<tracing::Span> {
    let span = tracing::Span::current();
    span.metadata()
        .is_some_and(|m| m.name() == TOKEN_REQUEST_SPAN)
        .then_some(span)
}

/// Records the token endpoint's host and port (OpenTelemetry `server.address` and
/// `server.port`) on the current token request's span, from `endpoint` (an absolute URL; the
/// scheme's default port when it has none). Does nothing outside a token request, or if
/// `endpoint` is no absolute URL.
///
/// Flows call it as they send; a custom [`TokenProvider`](crate::TokenProvider) may too.
pub fn record_server(endpoint: &str) {
    let Some(span) = token_request_span() else {
        return;
    };
    let Ok(url) = url::Url::parse(endpoint) else {
        return;
    };
    if let Some(host) = url.host_str() {
        span.record("server.address", host);
    }
    if let Some(port) = url.port_or_known_default() {
        span.record("server.port", port);
    }
}

/// Records the token endpoint's HTTP status (OpenTelemetry `http.response.status_code`) on the
/// current token request's span; the last one recorded stays. Does nothing outside a token
/// request.
pub fn record_http_status(status: u16) {
    if let Some(span) = token_request_span() {
        span.record("http.response.status_code", status);
    }
}

/// The span of a token request, with its fields declared (most filled in later).
pub(crate) fn token_request_span_for(
    flow: &'static str,
    client_id: &str,
    environment: &str,
    trigger: RenewalTrigger,
) -> tracing::Span {
    tracing::info_span!(
        "en_auth.token_request",
        flow,
        client_id,
        environment,
        trigger = trigger.as_str(),
        attempt = tracing::field::Empty,
        outcome = tracing::field::Empty,
        error.type = tracing::field::Empty,
        server.address = tracing::field::Empty,
        server.port = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    )
}

/// A token request was started (in its span).
pub(crate) fn renewal_started(flow: &'static str, trigger: RenewalTrigger) {
    tracing::debug!(trigger = trigger.as_str(), "token request started");
    #[cfg(feature = "metrics")]
    metrics::counter!(RENEWALS, "flow" => flow, "trigger" => trigger.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = flow;
}

/// One attempt of a token request failed with `error` (it may be retried).
pub(crate) fn attempt_failed(flow: &'static str, error: &Error) {
    #[cfg(feature = "metrics")]
    metrics::counter!(TOKEN_ATTEMPT_FAILURES, "flow" => flow, "error_type" => error_type(error))
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (flow, error);
}

/// A token request ended, after `duration`: the span's last fields, and the metrics.
pub(crate) fn token_request_ended(
    span: &tracing::Span,
    flow: &'static str,
    result: Result<bool, &Error>,
    duration: Duration,
) {
    let outcome = match result {
        Ok(false) => "ok",
        Ok(true) => "shared",
        Err(_) => "error",
    };
    span.record("outcome", outcome);
    span.record(
        "duration_ms",
        u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    );
    if let Err(error) = result {
        span.record("error.type", error_type(error));
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(TOKEN_REQUESTS, "flow" => flow, "outcome" => outcome).increment(1);
        metrics::histogram!(TOKEN_REQUEST_DURATION, "flow" => flow, "outcome" => outcome)
            .record(duration.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = flow;
}

/// A request got the last failure again during its cooldown, without a token request.
pub(crate) fn cooldown_answered(flow: &'static str, error: &Error) {
    if let Some(cooldown) = error.cooldown() {
        tracing::debug!(
            flow,
            error.type = error_type(error),
            next_attempt_in_ms =
                u64::try_from(cooldown.next_attempt_in.as_millis()).unwrap_or(u64::MAX),
            "answered with the last failure during its cooldown"
        );
        #[cfg(feature = "metrics")]
        metrics::counter!(COOLDOWN_ANSWERS, "flow" => flow).increment(1);
    }
}

/// A token was marked rejected (it will be renewed by the next request).
pub(crate) fn token_rejected(flow: &'static str, generation: u64, trigger: RenewalTrigger) {
    tracing::debug!(
        flow,
        generation,
        trigger = trigger.as_str(),
        "the token was rejected; the next request renews it"
    );
}

/// What the last rejection of a token said, kept for the renewal that follows: generation and
/// trigger packed in one word (the trigger in the low byte).
#[derive(Default)]
pub(crate) struct LastRejection(AtomicU64);

impl LastRejection {
    pub(crate) fn note(&self, generation: u64, trigger: RenewalTrigger) {
        self.0
            .store((generation << 8) | trigger.to_bits(), Ordering::Relaxed);
    }

    /// The trigger noted for `generation`, else [`RenewalTrigger::Rejected`].
    pub(crate) fn trigger_for(&self, generation: u64) -> RenewalTrigger {
        let bits = self.0.load(Ordering::Relaxed);
        if bits >> 8 == generation & (u64::MAX >> 8) {
            RenewalTrigger::from_bits(bits & 0xff)
        } else {
            RenewalTrigger::Rejected
        }
    }
}

/// A shared-store lookup's result, for [`store_lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum StoreLookup {
    /// A usable token was there.
    Hit,
    /// No usable token was there.
    Miss,
    /// A value was there that does not open ([`StoreError::unreadable`](crate::StoreError::unreadable)).
    Unreadable,
    /// The store failed or timed out.
    Error,
}

/// A shared-store write's result, for [`store_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum StoreWrite {
    /// The token was written.
    Written,
    /// A newer token was there already: nothing written.
    Stale,
    /// The store failed or timed out.
    Error,
}

/// A shared-store renewal lock's outcome, for [`store_lock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum StoreLock {
    /// This process holds the lock and renews.
    Acquired,
    /// Another process holds it.
    Contended,
    /// The store failed or timed out.
    Error,
}

/// Records a shared-store lookup of the `flow`'s token: a `DEBUG` event and [`STORE_LOOKUPS`].
/// The authorizer records every call of its shared store (each read, also while it waits for
/// another process's token); a store adapter must not record its own calls again.
pub(crate) fn store_lookup(flow: &'static str, result: StoreLookup) {
    let result = match result {
        StoreLookup::Hit => "hit",
        StoreLookup::Miss => "miss",
        StoreLookup::Unreadable => "unreadable",
        StoreLookup::Error => "error",
    };
    tracing::debug!(flow, result, "shared token store lookup");
    #[cfg(feature = "metrics")]
    metrics::counter!(STORE_LOOKUPS, "flow" => flow, "result" => result).increment(1);
}

/// Records a shared-store write of the `flow`'s token: a `DEBUG` event and [`STORE_WRITES`].
/// The authorizer records every write of its shared store; an adapter must not record again.
pub(crate) fn store_write(flow: &'static str, result: StoreWrite) {
    let result = match result {
        StoreWrite::Written => "written",
        StoreWrite::Stale => "stale",
        StoreWrite::Error => "error",
    };
    tracing::debug!(flow, result, "shared token store write");
    #[cfg(feature = "metrics")]
    metrics::counter!(STORE_WRITES, "flow" => flow, "result" => result).increment(1);
}

/// Records a shared-store renewal-lock attempt for the `flow`'s token: a `DEBUG` event and
/// [`STORE_LOCKS`]. The authorizer records every lock attempt; an adapter must not record again.
pub(crate) fn store_lock(flow: &'static str, outcome: StoreLock) {
    let outcome = match outcome {
        StoreLock::Acquired => "acquired",
        StoreLock::Contended => "contended",
        StoreLock::Error => "error",
    };
    tracing::debug!(flow, outcome, "shared token store renewal lock");
    #[cfg(feature = "metrics")]
    metrics::counter!(STORE_LOCKS, "flow" => flow, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_rejection_names_its_trigger_for_its_generation_only() {
        let last = LastRejection::default();
        assert_eq!(last.trigger_for(0), RenewalTrigger::Rejected);
        last.note(7, RenewalTrigger::GrpcUnauthenticated);
        assert_eq!(last.trigger_for(7), RenewalTrigger::GrpcUnauthenticated);
        assert_eq!(last.trigger_for(8), RenewalTrigger::Rejected);
        last.note(8, RenewalTrigger::Rejected);
        assert_eq!(last.trigger_for(8), RenewalTrigger::Rejected);
        assert_eq!(last.trigger_for(7), RenewalTrigger::Rejected);
    }

    #[test]
    fn labels_are_fixed_strings() {
        let all = [
            RenewalTrigger::Initial,
            RenewalTrigger::Proactive,
            RenewalTrigger::Expired,
            RenewalTrigger::Rejected,
            RenewalTrigger::GrpcUnauthenticated,
        ];
        for trigger in all {
            assert_eq!(RenewalTrigger::from_bits(trigger.to_bits()), trigger);
        }
        let names: Vec<_> = all.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            names,
            [
                "initial",
                "proactive",
                "expired",
                "rejected",
                "grpc_unauthenticated"
            ]
        );
        let timeout: Error =
            crate::TransportError::new(TransportErrorKind::Timeout, "e", None).into();
        assert_eq!(error_type(&timeout), "timeout");
        let client: Error = crate::InvalidClientError::new("svc", "e", "").into();
        assert_eq!(error_type(&client), "invalid_client");
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn the_store_metrics_record_under_their_names() {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            store_lookup("client_credentials", StoreLookup::Hit);
            store_lookup("client_credentials", StoreLookup::Hit);
            store_lookup("client_credentials", StoreLookup::Miss);
            store_lookup("client_credentials", StoreLookup::Unreadable);
            store_write("client_credentials", StoreWrite::Stale);
            store_lock("client_credentials", StoreLock::Contended);
            store_lock("client_credentials", StoreLock::Error);
        });
        let mut counted: Vec<(String, Vec<String>, u64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let DebugValue::Counter(n) = value else {
                    panic!("{key:?} is not a counter")
                };
                let labels = key
                    .key()
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()));
                (key.key().name().to_owned(), labels.collect(), n)
            })
            .collect();
        counted.sort();
        let expect = |name: &str, label: &str, n: u64| {
            (
                name.to_owned(),
                vec!["flow=client_credentials".to_owned(), label.to_owned()],
                n,
            )
        };
        assert_eq!(
            counted,
            [
                expect(STORE_LOCKS, "outcome=contended", 1),
                expect(STORE_LOCKS, "outcome=error", 1),
                expect(STORE_LOOKUPS, "result=hit", 2),
                expect(STORE_LOOKUPS, "result=miss", 1),
                expect(STORE_LOOKUPS, "result=unreadable", 1),
                expect(STORE_WRITES, "result=stale", 1),
            ]
        );
    }
}
