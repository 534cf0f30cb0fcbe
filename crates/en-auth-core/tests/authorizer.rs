//! The caching Authorizer with a scripted in-process provider: single flight, error delivery,
//! cancellation, refresh fallback and expiry — deterministic, no HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use en_auth_core::{
    AuthorizationError, Authorizer, AuthorizerBuilder, ClientInfo, Error, InvalidClientError,
    RenewalPolicy, RequestPolicy, Token, TokenProvider,
};
use secrecy::ExposeSecret;
use tokio::sync::watch;

/// A provider whose calls are counted and can be held at a gate, failed, or given tokens that
/// are already due.
struct Scripted {
    client: ClientInfo,
    authorize_calls: AtomicUsize,
    refresh_calls: AtomicUsize,
    /// The calls so far (authorize and refresh), for tests to wait on.
    called: watch::Sender<usize>,
    gate: watch::Sender<bool>,
    fail_with: Mutex<Option<Error>>,
    /// Errors returned by the next calls, in order, before `fail_with` applies.
    fail_next: Mutex<Vec<Error>>,
    /// Tokens are due for renewal as soon as issued (but usable for 600 s): the provider says so
    /// through `expired()`, the provider's hook, for `token-1` only.
    due_first: bool,
    panic_next: std::sync::atomic::AtomicBool,
    refuse_refresh: bool,
    stale_tokens: bool,
}

impl Scripted {
    fn new() -> Self {
        Self {
            client: ClientInfo::new("scripted", "secret").with_api_key("key"),
            authorize_calls: AtomicUsize::new(0),
            refresh_calls: AtomicUsize::new(0),
            called: watch::channel(0).0,
            gate: watch::channel(true).0,
            fail_with: Mutex::new(None),
            fail_next: Mutex::new(Vec::new()),
            due_first: false,
            panic_next: std::sync::atomic::AtomicBool::new(false),
            refuse_refresh: false,
            stale_tokens: false,
        }
    }

    async fn issue(&self, n: usize) -> Result<Token, Error> {
        let mut open = self.gate.subscribe();
        let _ = open.wait_for(|open| *open).await;
        if self.panic_next.swap(false, Ordering::SeqCst) {
            panic!("a provider bug");
        }
        if let Some(e) = self.fail_next.lock().unwrap().pop() {
            return Err(e);
        }
        if let Some(e) = self.fail_with.lock().unwrap().clone() {
            return Err(e);
        }
        // A stale token expires as it arrives: it is neither fresh nor usable while renewed.
        let lifetime = if self.stale_tokens {
            Duration::ZERO
        } else {
            Duration::from_secs(600)
        };
        Ok(Token::new(format!("token-{n}"), Some(lifetime)))
    }
}

/// The provider handle the authorizer owns; the test keeps another to script and count.
struct P(Arc<Scripted>);

impl std::ops::Deref for P {
    type Target = Scripted;
    fn deref(&self) -> &Scripted {
        &self.0
    }
}

impl TokenProvider for P {
    async fn authorize(&self) -> Result<Token, Error> {
        let n = self.authorize_calls.fetch_add(1, Ordering::SeqCst)
            + self.refresh_calls.load(Ordering::SeqCst);
        self.called.send_modify(|calls| *calls += 1);
        self.issue(n + 1).await
    }

    async fn refresh(&self, _token: &Token) -> Result<Token, Error> {
        let n = self.refresh_calls.fetch_add(1, Ordering::SeqCst)
            + self.authorize_calls.load(Ordering::SeqCst);
        self.called.send_modify(|calls| *calls += 1);
        if self.refuse_refresh {
            return Err(Error::RefreshRefused(AuthorizationError::new(
                "scripted",
                400,
                Some("invalid_grant".into()),
                "refresh token revoked",
            )));
        }
        self.issue(n + 1).await
    }

    fn expired(&self, token: &Token) -> bool {
        (self.due_first && token.access_token().expose_secret() == "token-1")
            || token.needs_renewal()
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client
    }
}

fn calls(p: &Scripted) -> usize {
    p.authorize_calls.load(Ordering::SeqCst) + p.refresh_calls.load(Ordering::SeqCst)
}

/// How long a test waits for what must happen at once before it fails, rather than hang: a
/// correctness bound, never a measure (on a paused clock, virtual time that only passes while
/// every task is idle, so only a wait that can never end reaches it).
const DEADLINE: Duration = Duration::from_secs(30);

/// Waits (on the provider's signal) until it has been called `n` times in all.
async fn until_called(p: &Scripted, n: usize) {
    let mut called = p.called.subscribe();
    if tokio::time::timeout(DEADLINE, called.wait_for(|calls| *calls >= n))
        .await
        .is_err()
    {
        panic!(
            "the provider was called {} times, not {n}, within {DEADLINE:?}",
            calls(p)
        );
    }
}

/// Waits until `condition` holds, looking at it after each turn of the runtime, for at most
/// [`DEADLINE`] (for what has no signal of its own).
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let waiting = async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    if tokio::time::timeout(DEADLINE, waiting).await.is_err() {
        panic!("{what}: not within {DEADLINE:?}");
    }
}

/// Spawns `n` `access_token()` calls; returns once all of them are waiting (current-thread
/// runtime: a task runs until its first pending await; each says it started, just before).
async fn burst(
    auth: &Authorizer<P>,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<String, Error>>> {
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    let handles = (0..n)
        .map(|_| {
            let auth = auth.clone();
            let started = started.clone();
            tokio::spawn(async move {
                let _ = started.send(());
                auth.access_token()
                    .await
                    .map(|t| t.secret().expose_secret().to_owned())
            })
        })
        .collect();
    for i in 0..n {
        if tokio::time::timeout(DEADLINE, starts.recv()).await.is_err() {
            panic!("{i} of {n} calls started within {DEADLINE:?}");
        }
    }
    handles
}

#[tokio::test]
async fn cold_and_stale_bursts_make_one_call_each() {
    let provider = Arc::new(Scripted {
        stale_tokens: true,
        ..Scripted::new()
    });
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    provider.gate.send_replace(false);
    let handles = burst(&auth, 1000).await;
    provider.gate.send_replace(true);
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), "token-1");
    }
    assert_eq!(calls(&provider), 1);
    assert_eq!(auth.token_requests(), 1);

    // The token it got is already due: the next burst renews it, once, through refresh().
    provider.gate.send_replace(false);
    let handles = burst(&auth, 1000).await;
    provider.gate.send_replace(true);
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), "token-2");
    }
    assert_eq!(provider.authorize_calls.load(Ordering::SeqCst), 1);
    assert_eq!(provider.refresh_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_fresh_token_is_served_from_the_cache() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    for _ in 0..100 {
        assert_eq!(
            auth.access_token().await.unwrap().secret().expose_secret(),
            "token-1"
        );
    }
    assert_eq!(calls(&provider), 1);
    assert_eq!(auth.client_id(), "scripted");
}

/// One attempt per token request and no cooldown: the bare single-flight semantics.
fn bare() -> RenewalPolicy {
    RenewalPolicy::default()
        .with_max_attempts(1)
        .with_failure_cooldown(Duration::ZERO, Duration::ZERO)
}

fn unavailable() -> Error {
    AuthorizationError::new("scripted", 503, None, "down").into()
}

#[tokio::test]
async fn a_failure_reaches_every_waiter_and_the_next_call_retries() {
    let provider = Arc::new(Scripted::new());
    let auth = AuthorizerBuilder::new()
        .renewal_policy(bare())
        .build(P(Arc::clone(&provider)));
    *provider.fail_with.lock().unwrap() =
        Some(AuthorizationError::new("scripted", 503, None, "down").into());
    provider.gate.send_replace(false);
    let handles = burst(&auth, 1000).await;
    provider.gate.send_replace(true);
    for h in handles {
        let err = h.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::Authorization(e) if e.status_code == 503),
            "{err}"
        );
    }
    assert_eq!(calls(&provider), 1);

    *provider.fail_with.lock().unwrap() = None;
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-2"
    );
    assert_eq!(calls(&provider), 2);
}

#[tokio::test]
async fn cancelling_the_leader_does_not_strand_the_followers() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    provider.gate.send_replace(false);
    let leader = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.access_token().await.map(|_| ()) })
    };
    until_called(&provider, 1).await;
    let followers = burst(&auth, 100).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    provider.gate.send_replace(true);
    for h in followers {
        assert_eq!(h.await.unwrap().unwrap(), "token-1");
    }
    assert_eq!(calls(&provider), 1);
}

#[tokio::test]
async fn when_every_waiter_is_cancelled_the_next_caller_finishes_the_same_request() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    provider.gate.send_replace(false);
    let first = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.access_token().await.map(|_| ()) })
    };
    until_called(&provider, 1).await;
    first.abort();
    let _ = first.await;
    provider.gate.send_replace(true);
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-1"
    );
    assert_eq!(calls(&provider), 1);
}

#[tokio::test]
async fn a_refused_refresh_falls_back_to_authorize() {
    let provider = Arc::new(Scripted {
        refuse_refresh: true,
        stale_tokens: true,
        ..Scripted::new()
    });
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-1"
    );
    // token-1 is already due: refresh() is refused with invalid_grant, authorize() is used.
    let token = auth.access_token().await.unwrap();
    assert_eq!(provider.refresh_calls.load(Ordering::SeqCst), 1);
    assert_eq!(provider.authorize_calls.load(Ordering::SeqCst), 2);
    assert_eq!(token.secret().expose_secret(), "token-3");
    assert_eq!(auth.token_requests(), 3);
}

#[tokio::test]
async fn invalidate_only_affects_the_named_generation() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let first = auth.access_token().await.unwrap().generation();
    auth.invalidate(first);
    let second = auth.access_token().await.unwrap().generation();
    assert_ne!(first, second);
    assert_eq!(calls(&provider), 2);
    auth.invalidate(first); // stale 401 for the old token: no effect
    assert_eq!(auth.access_token().await.unwrap().generation(), second);
    assert_eq!(calls(&provider), 2);
}

#[tokio::test]
async fn authorize_request_sets_bearer_and_api_key_as_sensitive_headers() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let mut request =
        reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/".parse().unwrap());
    auth.authorize(&mut request).await.unwrap();
    let authorization = request
        .headers()
        .get(en_auth_core::AUTHORIZATION_HEADER)
        .unwrap();
    assert_eq!(authorization.as_bytes(), b"Bearer token-1");
    assert!(authorization.is_sensitive());
    let key = request.headers().get(en_auth_core::API_KEY_HEADER).unwrap();
    assert_eq!(key.as_bytes(), b"key");
    assert!(key.is_sensitive());
    let mut scan = en_auth_peers::secrecy::Scan::new();
    scan.secret("the token", "token-1")
        .debug("the request's headers", request.headers());
    scan.assert_clean();
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_within_one_token_request() {
    let provider = Arc::new(Scripted::new());
    *provider.fail_next.lock().unwrap() = vec![unavailable(), unavailable()];
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    provider.gate.send_replace(false);
    let handles = burst(&auth, 1000).await;
    provider.gate.send_replace(true);
    for h in handles {
        assert_eq!(
            h.await.unwrap().unwrap(),
            "token-3",
            "every waiter gets the token of the third attempt"
        );
    }
    assert_eq!(calls(&provider), 3);
    assert_eq!(auth.token_requests(), 3);
}

#[tokio::test(start_paused = true)]
async fn rejected_clients_are_not_retried() {
    let provider = Arc::new(Scripted::new());
    *provider.fail_with.lock().unwrap() =
        Some(InvalidClientError::new("scripted", "e", "invalid_client").into());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    assert!(matches!(
        auth.access_token().await,
        Err(Error::InvalidClient(_))
    ));
    assert_eq!(calls(&provider), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_for_and_too_long_a_one_ends_the_retries() {
    let provider = Arc::new(Scripted::new());
    let throttled = |secs| -> Error {
        AuthorizationError::new("scripted", 429, None, "slow down")
            .with_retry_after(Some(Duration::from_secs(secs)))
            .into()
    };
    *provider.fail_next.lock().unwrap() = vec![throttled(7)];
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let started = tokio::time::Instant::now();
    auth.access_token().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(calls(&provider), 2);

    let provider = Arc::new(Scripted::new());
    *provider.fail_next.lock().unwrap() = vec![throttled(3600)];
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let err = auth.access_token().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(
        calls(&provider),
        1,
        "a Retry-After over the cap is not waited for"
    );
}

#[tokio::test(start_paused = true)]
async fn during_an_outage_callers_get_the_error_at_once_and_requests_stay_bounded() {
    let provider = Arc::new(Scripted::new());
    *provider.fail_with.lock().unwrap() = Some(unavailable());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    assert!(auth.access_token().await.is_err());
    assert_eq!(calls(&provider), 3, "one token request of three attempts");
    // 10 000 calls during the cooldown: errors at once, no new token request.
    for _ in 0..10_000 {
        let err = auth.access_token().await.unwrap_err();
        assert!(matches!(&err, Error::Authorization(e) if e.status_code == 503));
    }
    assert_eq!(calls(&provider), 3);
    // The repeated error says it is the earlier failure, and when the next attempt is made.
    tokio::time::advance(Duration::from_millis(400)).await;
    let err = auth.access_token().await.unwrap_err();
    let cooldown = err
        .cooldown()
        .expect("marked as repeated during the cooldown");
    assert_eq!(cooldown.failed_ago, Duration::from_millis(400));
    assert_eq!(cooldown.next_attempt_in, Duration::from_millis(600));
    let text = err.to_string();
    assert!(
        text.contains("0.4 s ago") && text.contains("next attempt is made in 0.6 s"),
        "{text}"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    // After the cooldown (1 s) one more token request; then the cooldown doubles.
    tokio::time::advance(Duration::from_millis(600)).await;
    let fresh = auth.access_token().await.unwrap_err();
    assert_eq!(
        fresh.cooldown(),
        None,
        "a new failure is not marked: {fresh}"
    );
    assert_eq!(calls(&provider), 6);
    tokio::time::advance(Duration::from_millis(1500)).await;
    assert!(auth.access_token().await.is_err());
    assert_eq!(
        calls(&provider),
        6,
        "still cooling down (2 s after the second failure)"
    );
    // Recovery: the first request after the cooldown succeeds.
    *provider.fail_with.lock().unwrap() = None;
    tokio::time::advance(Duration::from_millis(600)).await;
    assert!(auth.access_token().await.is_ok());
    assert_eq!(calls(&provider), 7);
}

#[tokio::test]
async fn a_due_token_is_used_while_it_is_renewed_in_the_background() {
    // token-1 is due (the provider's expired() says so) but has 600 s to live.
    let provider = Arc::new(Scripted {
        due_first: true,
        ..Scripted::new()
    });
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-1"
    );
    provider.gate.send_replace(false);
    for _ in 0..1000 {
        // Served at once, from the cache, while the renewal waits at the gate.
        let token = auth.cached_token().expect("the due token is still usable");
        assert_eq!(token.secret().expose_secret(), "token-1");
    }
    until_called(&provider, 2).await;
    assert_eq!(calls(&provider), 2, "one background renewal");
    provider.gate.send_replace(true);
    // The renewal lands in the cache (no signal for that: looked at, with a deadline); until
    // then token-1 is served.
    until("the background renewal's token in the cache", || {
        auth.cached_token()
            .is_ok_and(|token| token.secret().expose_secret() == "token-2")
    })
    .await;
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-2"
    );
    assert_eq!(provider.refresh_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn if_the_background_renewal_fails_the_old_token_is_kept() {
    let provider = Arc::new(Scripted {
        due_first: true,
        ..Scripted::new()
    });
    let auth = AuthorizerBuilder::new()
        .renewal_policy(RenewalPolicy::default().with_max_attempts(1))
        .build(P(Arc::clone(&provider)));
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-1"
    );
    *provider.fail_with.lock().unwrap() = Some(unavailable());
    let _ = auth.cached_token().unwrap();
    until_called(&provider, 2).await;
    // (Turns of the runtime for a second attempt, if there were one, to happen: the
    // assertion below is that there is none.)
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-1"
    );
    assert_eq!(
        calls(&provider),
        2,
        "no second background attempt for the same token"
    );
}

#[tokio::test]
async fn without_proactive_renewal_a_due_token_is_waited_for() {
    let provider = Arc::new(Scripted {
        due_first: true,
        ..Scripted::new()
    });
    let auth = AuthorizerBuilder::new()
        .renewal_policy(RenewalPolicy::default().with_proactive_renewal(false))
        .build(P(Arc::clone(&provider)));
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-1"
    );
    assert!(
        auth.cached_token().is_err(),
        "due, and not used while renewing"
    );
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-2"
    );
}

#[tokio::test]
async fn a_panicking_provider_fails_its_waiters_and_the_authorizer_recovers() {
    let provider = Arc::new(Scripted::new());
    let auth = AuthorizerBuilder::new()
        .renewal_policy(bare())
        .build(P(Arc::clone(&provider)));
    provider.panic_next.store(true, Ordering::SeqCst);
    provider.gate.send_replace(false);
    let handles = burst(&auth, 100).await;
    provider.gate.send_replace(true);
    for h in handles {
        let err = h
            .await
            .expect("the waiter itself does not panic")
            .unwrap_err();
        assert!(
            matches!(&err, Error::Internal(e) if e.message.contains("panicked")),
            "{err:?}"
        );
    }
    assert_eq!(
        auth.access_token().await.unwrap().secret().expose_secret(),
        "token-2"
    );
}

#[tokio::test]
async fn a_panicking_provider_is_not_run_again_during_the_failure_cooldown() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    provider.panic_next.store(true, Ordering::SeqCst);
    let err = auth.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Internal(e) if e.message.contains("panicked")),
        "{err:?}"
    );
    assert_eq!(err.cooldown(), None);
    // The next wave gets the failure, marked, without running the provider again.
    let again = auth.access_token().await.unwrap_err();
    assert!(again.cooldown().is_some(), "{again:?}");
    assert_eq!(calls(&provider), 1);
}

#[tokio::test]
async fn a_wrong_password_is_not_asked_again_during_the_fatal_cooldown() {
    let provider = Arc::new(Scripted::new());
    *provider.fail_with.lock().unwrap() = Some(
        en_auth_core::InvalidCredentialsError::new("alice", "e", "Incorrect username or password.")
            .into(),
    );
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    for _ in 0..1000 {
        assert!(matches!(
            auth.access_token().await,
            Err(Error::InvalidCredentials(_))
        ));
    }
    assert_eq!(
        calls(&provider),
        1,
        "one attempt; the account is not hammered"
    );
}

#[test]
fn outside_a_tokio_runtime_a_token_request_runs_on_en_auths_own() {
    // The token request runs on en-auth's I/O runtime: the caller needs none, and any executor
    // (here a plain thread that parks) can await it.
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    assert!(tokio::runtime::Handle::try_current().is_err());
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut asking = std::pin::pin!(auth.access_token());
    // Woken by the waker; the deadline only turns a lost wake-up into a failure, not a hang.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let token = loop {
        if let std::task::Poll::Ready(result) = std::future::Future::poll(asking.as_mut(), &mut cx)
        {
            break result.unwrap();
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "the token request never woke its waiter");
        std::thread::park_timeout(left);
    };
    assert_eq!(token.secret().expose_secret(), "token-1");
    assert_eq!(calls(&provider), 1);
}

#[test]
fn a_token_request_abandoned_by_its_runtime_is_started_again_by_the_next_caller() {
    // A `static` authorizer shared by two `#[tokio::test(start_paused = true)]`s: the first
    // test's runtime, whose paused clock runs the token request (a running clock's goes to
    // en-auth's own runtime and outlives it: tests/clock_and_runtime.rs), ends while it is
    // under way.
    let provider = Arc::new(Scripted::new());
    provider.gate.send_replace(false);
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    first.block_on(async {
        let waiting = tokio::spawn({
            let auth = auth.clone();
            async move { auth.access_token().await.map(|_| ()) }
        });
        until_called(&provider, 1).await;
        waiting.abort();
    });
    drop(first);
    assert_eq!(calls(&provider), 1);

    provider.gate.send_replace(true);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = second
        .block_on(auth.access_token())
        .expect("a new token request, not the abandoned one's error");
    assert_eq!(token.secret().expose_secret(), "token-2");
    assert_eq!(calls(&provider), 2);
}

#[tokio::test]
async fn tokens_go_over_https_or_to_loopback_unless_plain_http_is_allowed() {
    let provider = Arc::new(Scripted::new());
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let request = |url: &str| reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
    for url in [
        "https://api.example.com/r",
        "http://127.0.0.1:8080/r",
        "http://localhost/r",
        "http://[::1]:9/r",
    ] {
        let mut r = request(url);
        auth.authorize(&mut r).await.unwrap();
        assert!(r.headers().contains_key("authorization"), "{url}");
    }
    let calls_before = calls(&provider);
    let mut remote = request("http://api.example.com/r");
    let err = auth.authorize(&mut remote).await.unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("api.example.com") && text.contains("with_insecure_http"),
        "{text}"
    );
    assert!(!remote.headers().contains_key("authorization"));
    assert!(!remote.headers().contains_key("x-api-key"));
    let mut typo = request("http://localhots:8080/r");
    let text = auth.authorize(&mut typo).await.unwrap_err().to_string();
    assert!(text.contains("did you mean localhost?"), "{text}");
    assert_eq!(
        calls(&provider),
        calls_before,
        "no token request for a refused URL"
    );

    let mesh = AuthorizerBuilder::new()
        .request_policy(RequestPolicy::default().with_insecure_http(true))
        .build(P(Arc::clone(&provider)));
    let mut remote = request("http://api.example.com/r");
    mesh.authorize(&mut remote).await.unwrap();
    assert!(remote.headers().contains_key("authorization"));
}
