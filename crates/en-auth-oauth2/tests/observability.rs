//! What operators see of the token machinery (en-auth-core's `telemetry`): the fields of the
//! `en_auth.token_request` span on success and on each kind of failure, captured by a `tracing`
//! layer. The metrics' exact counts are in `metrics.rs` (a global recorder, in a test binary of
//! its own), the metrics feature without a recorder in `no_recorder.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use en_auth_oauth2::telemetry::{self};
use en_auth_oauth2::{ClientInfo, Environment, RenewalPolicy, ServiceAccountAuthorizer};
use en_auth_testkit::{Behaviour, OAuthServer};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

const SECRET: &str = "observability-secret";

/// The fields of every closed `en_auth.token_request` span, as `name → value` (strings without
/// quotes, numbers as digits).
#[derive(Clone, Default)]
struct SpanCapture(Arc<(Mutex<Vec<SpanFields>>, Condvar)>);

/// A closed span's fields, `name → value`.
type SpanFields = HashMap<String, String>;

struct Fields(HashMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> Layer<S> for SpanCapture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields(HashMap::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if span.name() != telemetry::TOKEN_REQUEST_SPAN {
            return;
        }
        let fields = span.extensions_mut().remove::<Fields>();
        if let Some(fields) = fields {
            let (spans, closed) = &*self.0;
            spans
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(fields.0);
            closed.notify_all();
        }
    }
}

impl SpanCapture {
    /// The spans closed so far, once there are `n` of them: a token request's span closes on
    /// en-auth's I/O runtime as its task ends, a moment after its callers have their answer.
    /// Gives up (returning what there is) after 10 seconds.
    fn take(&self, n: usize) -> Vec<HashMap<String, String>> {
        let (spans, closed) = &*self.0;
        let spans = spans.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut spans, _) = closed
            .wait_timeout_while(spans, Duration::from_secs(10), |spans| spans.len() < n)
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *spans)
    }
}

/// Asserts the span's fields: `expected` exactly, `absent` not recorded, `duration_ms` present.
fn assert_fields(span: &HashMap<String, String>, expected: &[(&str, &str)], absent: &[&str]) {
    for (name, value) in expected {
        assert_eq!(
            span.get(*name).map(String::as_str),
            Some(*value),
            "{name} in {span:?}"
        );
    }
    for name in absent {
        assert!(!span.contains_key(*name), "{name} in {span:?}");
    }
    assert!(
        span.get("duration_ms")
            .is_some_and(|d| d.parse::<u64>().is_ok()),
        "{span:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_token_request_span_has_the_semantic_fields() {
    let capture = SpanCapture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = OAuthServer::builder().client("svc", SECRET).start().await;
    let port = server
        .token_url()
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next().map(str::to_owned))
        .unwrap();
    let environment = Environment::new("spans")
        .with_token_url(&server.token_url())
        .unwrap();
    let info = ClientInfo::new("svc", SECRET);
    let common = [
        ("flow", "client_credentials"),
        ("client_id", "svc"),
        ("environment", "spans"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
    ];

    // Success, then a renewal after a rejection.
    let ok = ServiceAccountAuthorizer::new(info.clone(), environment.clone()).unwrap();
    let token = ok.access_token().await.unwrap();
    ok.invalidate(token.generation());
    drop(token);
    ok.access_token().await.unwrap();
    let spans = capture.take(2);
    assert_eq!(spans.len(), 2, "{spans:?}");
    for (span, trigger) in spans.iter().zip(["initial", "rejected"]) {
        assert_fields(span, &common, &["error.type"]);
        assert_fields(
            span,
            &[
                ("trigger", trigger),
                ("attempt", "1"),
                ("outcome", "ok"),
                ("http.response.status_code", "200"),
            ],
            &[],
        );
    }

    // A rejected client: one attempt, the endpoint's 401.
    let wrong = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "wrong"), environment.clone())
        .unwrap();
    wrong.access_token().await.unwrap_err();
    // A failing endpoint: two attempts, its 503.
    server.set_behaviour(Behaviour::Fail {
        status: 503,
        body: "{}".into(),
    });
    let failing = ServiceAccountAuthorizer::builder(info.clone(), environment.clone())
        .renewal_policy(
            RenewalPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(2)),
        )
        .build()
        .unwrap();
    failing.access_token().await.unwrap_err();
    let spans = capture.take(2);
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_fields(&spans[0], &common, &[]);
    assert_fields(
        &spans[0],
        &[
            ("trigger", "initial"),
            ("attempt", "1"),
            ("outcome", "error"),
            ("error.type", "invalid_client"),
            ("http.response.status_code", "401"),
        ],
        &[],
    );
    assert_fields(&spans[1], &common, &[]);
    assert_fields(
        &spans[1],
        &[
            ("attempt", "2"),
            ("outcome", "error"),
            ("error.type", "authorization"),
            ("http.response.status_code", "503"),
        ],
        &[],
    );

    // Nobody listening: a transport error, no HTTP status.
    let closed = en_auth_peers::support::closed_port();
    let nowhere = Environment::new("spans")
        .with_token_url(&format!("http://127.0.0.1:{closed}/token"))
        .unwrap();
    let unreachable = ServiceAccountAuthorizer::builder(info, nowhere)
        .renewal_policy(RenewalPolicy::default().with_max_attempts(1))
        .build()
        .unwrap();
    unreachable.access_token().await.unwrap_err();
    let spans = capture.take(1);
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_fields(
        &spans[0],
        &[
            ("server.address", "127.0.0.1"),
            ("server.port", closed.to_string().as_str()),
            ("outcome", "error"),
            ("error.type", "connect_error"),
        ],
        &["http.response.status_code"],
    );
}
