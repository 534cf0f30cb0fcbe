//! The metrics of a scripted run against the testkit's token endpoint, counted exactly on a
//! `metrics-util` debugging recorder installed as the global recorder: token requests run on
//! en-auth's I/O runtime, whose threads a thread-local recorder (`with_local_recorder`) does not
//! reach. This file holds one test, so that no other test's metrics mix in.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use en_auth_oauth2::core::{Authorizer, AuthorizerBuilder, Token, TokenProvider};
use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::telemetry::{self, RenewalTrigger};
use en_auth_oauth2::{
    ClientCredentials, ClientInfo, Environment, Error, RenewalPolicy, ServiceAccountAuthorizer,
};
use en_auth_peers::wait::{until_async, DEADLINE};
use en_auth_testkit::{Behaviour, OAuthServer};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;

const SECRET: &str = "observability-secret";

/// A metric as the test looks it up: name and `label=value` pairs, sorted.
type MetricId = (String, Vec<String>);

/// Counters and histograms (their sample counts) of a snapshot.
#[derive(Debug, Default)]
struct Observed {
    counters: BTreeMap<MetricId, u64>,
    histograms: BTreeMap<MetricId, Vec<f64>>,
}

impl Observed {
    fn of(snapshotter: &Snapshotter) -> Self {
        let mut observed = Self::default();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let id = (key.key().name().to_owned(), labels);
            match (key.kind(), value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    observed.counters.insert(id, n);
                }
                (MetricKind::Histogram, DebugValue::Histogram(samples)) => {
                    observed
                        .histograms
                        .insert(id, samples.into_iter().map(|s| s.into_inner()).collect());
                }
                other => panic!("unexpected metric {id:?}: {other:?}"),
            }
        }
        observed
    }

    fn counter(&self, name: &str, labels: &[&str]) -> u64 {
        let mut labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        labels.sort();
        self.counters
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0)
    }

    /// The sum of every series of counter `name`.
    fn total(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, v)| v)
            .sum()
    }
}

const FLOW: &str = "flow=client_credentials";

/// `ClientCredentials` with tokens the test declares due: the provider's `expired()` hook says
/// so for the tokens in `due` (as a provider that knows better than `expires_in` does), the
/// token's own renewal time for the others. The test makes a token due when it chooses, without
/// waiting for a clock, so which trigger a renewal has never depends on how fast the test runs.
struct DueOnDemand {
    inner: ClientCredentials,
    due: Arc<Mutex<HashSet<String>>>,
}

impl TokenProvider for DueOnDemand {
    async fn authorize(&self) -> Result<Token, Error> {
        self.inner.authorize().await
    }

    async fn refresh(&self, token: &Token) -> Result<Token, Error> {
        self.inner.refresh(token).await
    }

    fn expired(&self, token: &Token) -> bool {
        let value = token.access_token().expose_secret();
        self.due
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(value)
            || self.inner.expired(token)
    }

    fn client_info(&self) -> &en_auth_oauth2::ClientInfo {
        self.inner.client_info()
    }

    fn flow(&self) -> &'static str {
        self.inner.flow()
    }

    fn environment_id(&self) -> Option<&str> {
        self.inner.environment_id()
    }
}

/// An authorizer over [`DueOnDemand`] with `policy`, and the set of tokens it is told are due.
fn due_on_demand(
    info: &ClientInfo,
    environment: &Environment,
    policy: RenewalPolicy,
) -> (Authorizer<DueOnDemand>, Arc<Mutex<HashSet<String>>>) {
    let due = Arc::default();
    let inner =
        ClientCredentials::new(info.clone(), environment.clone(), reqwest::Client::new()).unwrap();
    let provider = DueOnDemand {
        inner,
        due: Arc::clone(&due),
    };
    (
        AuthorizerBuilder::new()
            .renewal_policy(policy)
            .build(provider),
        due,
    )
}

/// Makes the token `authorizer` holds now due for renewal (but still usable: it lives an hour).
async fn make_due(authorizer: &Authorizer<DueOnDemand>, due: &Mutex<HashSet<String>>) -> String {
    let token = authorizer.access_token().await.unwrap();
    let value = token.secret().expose_secret().to_owned();
    due.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(value.clone());
    value
}

/// The scripted run: 8 token requests (6 succeed, 2 fail), one of each trigger, a cooldown
/// answer. The expected counts are asserted by the caller. No step waits for a clock: tokens
/// live an hour, and are made due by the provider's hook (`DueOnDemand`).
async fn scripted_run() {
    let server = OAuthServer::builder()
        .client("svc", SECRET)
        .token_lifetime_secs(3600)
        .start()
        .await;
    let environment = Environment::new("metrics")
        .with_token_url(&server.token_url())
        .unwrap();
    let info = ClientInfo::new("svc", SECRET);

    // A: proactive renewal (the default), through the middleware.
    let (a, a_due) = due_on_demand(&info, &environment, RenewalPolicy::default());
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(a.clone())
        .build();
    let get = || async {
        let response = client.get(server.resource_url()).send().await.unwrap();
        assert_eq!(response.status(), 200);
    };
    // B: no background renewal: requests wait once the token is due.
    let (b, b_due) = due_on_demand(
        &info,
        &environment,
        RenewalPolicy::default().with_proactive_renewal(false),
    );

    get().await; // A: initial
    b.access_token().await.unwrap(); // B: initial

    // Due: A's request goes on with the token and renews it in the background; B waits.
    let first = make_due(&a, &a_due).await;
    make_due(&b, &b_due).await;
    get().await; // A: proactive
    b.access_token().await.unwrap(); // B: expired (due, and not renewed in the background)
                                     // A's background renewal lands (no signal for it: looked at, with a deadline).
    until_async("A's background renewal", DEADLINE, || {
        a.cached_token()
            .is_ok_and(|token| token.secret().expose_secret() != first)
    })
    .await;

    // The resource rejects A's token: the middleware renews it and replays.
    server.revoke_all();
    get().await; // A: rejected

    // A gRPC adapter says UNAUTHENTICATED.
    let token = a.access_token().await.unwrap();
    a.invalidate_with(token.generation(), RenewalTrigger::GrpcUnauthenticated);
    drop(token);
    a.access_token().await.unwrap(); // A: grpc_unauthenticated
    assert_eq!(server.tokens_issued(), 6);

    // C: the endpoint fails with 500 twice (two attempts), then C's callers get the failure
    // during its cooldown without a token request.
    server.set_behaviour(Behaviour::Fail {
        status: 500,
        body: "{}".into(),
    });
    let c = ServiceAccountAuthorizer::builder(info.clone(), environment.clone())
        .renewal_policy(
            RenewalPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
                .with_failure_cooldown(Duration::from_secs(60), Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    assert!(matches!(
        c.access_token().await.unwrap_err(),
        Error::Authorization(_)
    )); // C: initial, 2 failed attempts
    let again = c.access_token().await.unwrap_err();
    assert!(again.cooldown().is_some(), "{again}"); // a cooldown answer
    server.set_behaviour(Behaviour::Normal);

    // D: a wrong secret, not retried.
    let d = ServiceAccountAuthorizer::new(ClientInfo::new("svc", "wrong"), environment).unwrap();
    assert!(matches!(
        d.access_token().await.unwrap_err(),
        Error::InvalidClient(_)
    ));
    assert_eq!(server.token_requests(), 6 + 2 + 1);
}

#[test]
fn a_scripted_run_records_exact_counts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(scripted_run());
    let observed = Observed::of(&snapshotter);
    println!("observed: {observed:#?}");

    let renewals = |trigger: &str| {
        observed.counter(
            telemetry::RENEWALS,
            &[FLOW, format!("trigger={trigger}").as_str()],
        )
    };
    assert_eq!(renewals("initial"), 4, "A, B, C and D");
    assert_eq!(renewals("proactive"), 1);
    assert_eq!(renewals("expired"), 1);
    assert_eq!(renewals("rejected"), 1);
    assert_eq!(renewals("grpc_unauthenticated"), 1);
    assert_eq!(observed.total(telemetry::RENEWALS), 8);

    let requests = |outcome: &str| {
        observed.counter(
            telemetry::TOKEN_REQUESTS,
            &[FLOW, format!("outcome={outcome}").as_str()],
        )
    };
    assert_eq!(requests("ok"), 6);
    assert_eq!(requests("error"), 2);
    assert_eq!(observed.total(telemetry::TOKEN_REQUESTS), 8);

    let failures = |kind: &str| {
        observed.counter(
            telemetry::TOKEN_ATTEMPT_FAILURES,
            &[FLOW, format!("error_type={kind}").as_str()],
        )
    };
    assert_eq!(failures("authorization"), 2, "C's two attempts");
    assert_eq!(failures("invalid_client"), 1, "D's one attempt");
    assert_eq!(observed.total(telemetry::TOKEN_ATTEMPT_FAILURES), 3);

    assert_eq!(
        observed.counter(telemetry::COOLDOWN_ANSWERS, &[FLOW]),
        1,
        "C's second caller"
    );

    let durations = |outcome: &str| {
        let labels = vec![FLOW.to_owned(), format!("outcome={outcome}")];
        observed
            .histograms
            .get(&(telemetry::TOKEN_REQUEST_DURATION.to_owned(), labels))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(durations("ok").len(), 6);
    assert_eq!(durations("error").len(), 2);
    assert!(durations("ok").iter().all(|s| *s > 0.0 && *s < 60.0));

    // Nothing else: no per-request metric, no store metric (no store).
    let names: std::collections::BTreeSet<&str> = observed
        .counters
        .keys()
        .chain(observed.histograms.keys())
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            telemetry::COOLDOWN_ANSWERS,
            telemetry::RENEWALS,
            telemetry::TOKEN_ATTEMPT_FAILURES,
            telemetry::TOKEN_REQUEST_DURATION,
            telemetry::TOKEN_REQUESTS,
        ]
    );
}
