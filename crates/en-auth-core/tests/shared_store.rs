//! The Authorizer with a shared store, against an in-memory [`SharedStore`] that can fail, fall
//! silent or hold its lock: adoption across "processes" (authorizers), one token request for
//! many, compare-and-delete on rejection, the lock's bounded wait, failing open with a circuit
//! breaker, and no store use by providers that do not share. The real Redis store is tested in
//! `en-auth-redis` and `en-auth-fleet`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use en_auth_core::{
    Authorizer, AuthorizerBuilder, ClientInfo, Error, RenewalPolicy, SharedIdentity, SharedKey,
    SharedStore, SharedStoreSettings, SharedToken, StoreError, StoreResult, Token, TokenProvider,
};
use en_auth_peers::secrecy::Scan;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

/// How the in-memory store behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Healthy,
    Failing,
    Silent,
    /// Every read finds a value that does not open (and removes it, as a store must); the
    /// other calls are healthy.
    Unreadable,
}

#[derive(Debug)]
struct MemoryStore {
    tokens: Mutex<HashMap<SharedKey, SharedToken>>,
    locks: Mutex<HashMap<SharedKey, String>>,
    mode: Mutex<Mode>,
    /// Takes the lock, then never answers (the answer is lost).
    lose_lock_answers: AtomicBool,
    calls: AtomicUsize,
    /// Reads.
    gets: AtomicUsize,
    /// Lock renewals that found the lock held by their caller.
    renewals: AtomicUsize,
    /// Lock requests refused because another owner held the lock.
    refused_locks: AtomicUsize,
    /// Signalled on every write, and on every refused lock request.
    written: Notify,
}

impl MemoryStore {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            tokens: Mutex::default(),
            locks: Mutex::default(),
            mode: Mutex::new(Mode::Healthy),
            lose_lock_answers: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            renewals: AtomicUsize::new(0),
            refused_locks: AtomicUsize::new(0),
            written: Notify::new(),
        })
    }

    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    async fn enter(&self) -> StoreResult<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Healthy | Mode::Unreadable => Ok(()),
            Mode::Failing => Err(StoreError::new(
                "READONLY You can't write against a read only replica.",
            )),
            Mode::Silent => std::future::pending().await,
        }
    }

    fn stored_ids(&self) -> Vec<String> {
        self.tokens
            .lock()
            .unwrap()
            .values()
            .map(|t| t.id.clone())
            .collect()
    }

    /// Waits until a write (or a refused lock request) lands (a signal, not a sleep); a test
    /// that would wait for ever fails instead, after 20 s.
    async fn wait_for<F: Fn(&Self) -> bool>(&self, done: F) {
        let waiting = async {
            loop {
                let notified = self.written.notified();
                if done(self) {
                    return;
                }
                notified.await;
            }
        };
        // 20 s of real time, not of a paused test clock (which would jump to the deadline as
        // soon as this runtime idles, while the writes land on en-auth's I/O runtime): kept by
        // a thread of its own, so that this runtime's thread is never blocked.
        let deadline = RealDeadline::after(Duration::from_secs(20));
        tokio::select! {
            () = waiting => {}
            () = deadline.passed() => panic!("the store never reached the expected state"),
        }
    }
}

/// A deadline on the monotonic clock, kept by a thread of its own: it passes after its time
/// even on a runtime whose clock is paused, without blocking that runtime's thread. Dropped,
/// it ends its thread.
struct RealDeadline {
    _cancel: std::sync::mpsc::Sender<()>,
    passed: tokio::sync::oneshot::Receiver<()>,
}

impl RealDeadline {
    fn after(time: Duration) -> Self {
        let (cancel, cancelled) = std::sync::mpsc::channel::<()>();
        let (pass, passed) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(time) {
                let _ = pass.send(());
            }
        });
        Self {
            _cancel: cancel,
            passed,
        }
    }

    /// Completes once the deadline has passed.
    async fn passed(self) {
        let Self { _cancel, passed } = self;
        let _ = passed.await;
    }
}

/// The test keeps one handle, the authorizers another.
#[derive(Debug, Clone)]
struct Store(Arc<MemoryStore>);

#[async_trait]
impl SharedStore for Store {
    async fn get(&self, key: &SharedKey) -> StoreResult<Option<SharedToken>> {
        self.0.gets.fetch_add(1, Ordering::SeqCst);
        self.0.enter().await?;
        if *self.0.mode.lock().unwrap() == Mode::Unreadable {
            self.0.tokens.lock().unwrap().remove(key);
            return Err(StoreError::unreadable("a value that does not open"));
        }
        Ok(self.0.tokens.lock().unwrap().get(key).cloned())
    }

    async fn put_if_newer(
        &self,
        key: &SharedKey,
        token: &SharedToken,
        _ttl: Duration,
    ) -> StoreResult<bool> {
        self.0.enter().await?;
        let written = {
            let mut tokens = self.0.tokens.lock().unwrap();
            let newer = tokens
                .get(key)
                .is_none_or(|old| old.expires_at <= token.expires_at);
            if newer {
                tokens.insert(*key, token.clone());
            }
            newer
        };
        self.0.written.notify_waiters();
        Ok(written)
    }

    async fn delete_if_same(&self, key: &SharedKey, id: &str) -> StoreResult<bool> {
        self.0.enter().await?;
        let deleted = {
            let mut tokens = self.0.tokens.lock().unwrap();
            let same = tokens.get(key).is_some_and(|t| t.id == id);
            if same {
                tokens.remove(key);
            }
            same
        };
        self.0.written.notify_waiters();
        Ok(deleted)
    }

    async fn lock(&self, key: &SharedKey, owner: &str, _ttl: Duration) -> StoreResult<bool> {
        self.0.enter().await?;
        {
            let mut locks = self.0.locks.lock().unwrap();
            if locks.contains_key(key) {
                drop(locks);
                self.0.refused_locks.fetch_add(1, Ordering::SeqCst);
                self.0.written.notify_waiters();
                return Ok(false);
            }
            locks.insert(*key, owner.to_owned());
        }
        self.0.written.notify_waiters();
        if self.0.lose_lock_answers.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(true)
    }

    async fn renew_lock(&self, key: &SharedKey, owner: &str, _ttl: Duration) -> StoreResult<bool> {
        self.0.enter().await?;
        let held = self
            .0
            .locks
            .lock()
            .unwrap()
            .get(key)
            .is_some_and(|o| o == owner);
        if held {
            self.0.renewals.fetch_add(1, Ordering::SeqCst);
        }
        Ok(held)
    }

    async fn unlock(&self, key: &SharedKey, owner: &str) -> StoreResult<()> {
        self.0.enter().await?;
        let mut locks = self.0.locks.lock().unwrap();
        if locks.get(key).is_some_and(|o| o == owner) {
            locks.remove(key);
        }
        drop(locks);
        self.0.written.notify_waiters();
        Ok(())
    }

    fn address(&self) -> String {
        "memory://test".to_owned()
    }
}

/// A token endpoint shared by every "process": counts its token requests.
struct Endpoint {
    requests: AtomicUsize,
    /// Holds token requests until opened.
    held: AtomicBool,
    open: Notify,
}

impl Endpoint {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            requests: AtomicUsize::new(0),
            held: AtomicBool::new(false),
            open: Notify::new(),
        })
    }
}

struct Provider {
    panic: bool,
    client: ClientInfo,
    endpoint: Arc<Endpoint>,
    scope: &'static str,
    shares: bool,
}

impl TokenProvider for Provider {
    async fn authorize(&self) -> Result<Token, Error> {
        while self.endpoint.held.load(Ordering::SeqCst) {
            let opened = self.endpoint.open.notified();
            if !self.endpoint.held.load(Ordering::SeqCst) {
                break;
            }
            opened.await;
        }
        let n = self.endpoint.requests.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(!self.panic, "a provider bug");
        Ok(Token::new(
            format!("{}-token-{n}", self.scope),
            Some(Duration::from_secs(3600)),
        )
        .with_scope(self.scope))
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client
    }

    fn shared_identity(&self) -> Option<SharedIdentity> {
        self.shares.then(|| {
            SharedIdentity::new("test")
                .with("client_id", self.client.client_id())
                .with("scope", self.scope)
        })
    }
}

fn settings() -> SharedStoreSettings {
    let mut settings = SharedStoreSettings::default();
    settings.operation_timeout = Duration::from_millis(50);
    settings.lock_wait = Duration::from_secs(2);
    settings
}

/// One "process" of the fleet.
fn process(
    endpoint: &Arc<Endpoint>,
    store: &Arc<MemoryStore>,
    scope: &'static str,
) -> Authorizer<Provider> {
    process_with(endpoint, store, |p| p.scope = scope, settings())
}

/// A process whose provider `adjust` changes, with `settings`.
fn process_with(
    endpoint: &Arc<Endpoint>,
    store: &Arc<MemoryStore>,
    adjust: impl FnOnce(&mut Provider),
    settings: SharedStoreSettings,
) -> Authorizer<Provider> {
    let mut provider = Provider {
        panic: false,
        client: ClientInfo::new("fleet-client", "secret"),
        endpoint: Arc::clone(endpoint),
        scope: "read",
        shares: true,
    };
    adjust(&mut provider);
    AuthorizerBuilder::new()
        .renewal_policy(RenewalPolicy::default().with_max_attempts(1))
        .shared_store(Store(Arc::clone(store)))
        .shared_store_settings(settings)
        .build(provider)
}

fn secret(token: &en_auth_core::CurrentToken) -> String {
    token.secret().expose_secret().to_owned()
}

#[tokio::test]
async fn a_second_process_adopts_the_first_ones_token() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let first = process(&endpoint, &store, "read");
    let token = secret(&first.access_token().await.unwrap());
    store.wait_for(|s| !s.stored_ids().is_empty()).await;

    let second = process(&endpoint, &store, "read");
    assert_eq!(secret(&second.access_token().await.unwrap()), token);
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
    assert_eq!((first.token_requests(), second.token_requests()), (1, 0));
    assert_eq!(second.shared_store(), Some("memory://test"));
}

#[tokio::test]
async fn different_identities_never_share() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let read = process(&endpoint, &store, "read");
    let write = process(&endpoint, &store, "write");
    let r = secret(&read.access_token().await.unwrap());
    store.wait_for(|s| s.stored_ids().len() == 1).await;
    let w = secret(&write.access_token().await.unwrap());
    assert!(r.starts_with("read-") && w.starts_with("write-"), "{r} {w}");
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_cold_processes_make_one_token_request() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    endpoint.held.store(true, Ordering::SeqCst);
    let fleet: Vec<_> = (0..20)
        .map(|_| process(&endpoint, &store, "read"))
        .collect();
    let waiting: Vec<_> = fleet
        .iter()
        .cloned()
        .map(|p| tokio::spawn(async move { secret(&p.access_token().await.unwrap()) }))
        .collect();
    // Open the endpoint once one process holds the fleet's lock.
    store
        .wait_for(|s| !s.locks.lock().unwrap().is_empty())
        .await;
    endpoint.held.store(false, Ordering::SeqCst);
    endpoint.open.notify_waiters();
    let mut tokens = Vec::new();
    for task in waiting {
        tokens.push(task.await.unwrap());
    }
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    let asked: u64 = fleet.iter().map(Authorizer::token_requests).sum();
    assert_eq!(asked, 1);
}

#[tokio::test]
async fn a_rejection_renews_once_for_the_fleet_and_a_late_one_keeps_the_newer_token() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let a = process(&endpoint, &store, "read");
    let b = process(&endpoint, &store, "read");
    let old = a.access_token().await.unwrap();
    store.wait_for(|s| s.stored_ids().len() == 1).await;
    let old_b = b.access_token().await.unwrap();
    assert_eq!(secret(&old), secret(&old_b));

    // The resource server revokes the token: A sees a 401 first.
    a.invalidate(old.generation());
    let renewed = secret(&a.access_token().await.unwrap());
    assert_ne!(renewed, secret(&old));
    store
        .wait_for(|s| {
            s.tokens
                .lock()
                .unwrap()
                .values()
                .any(|t| t.access_token.expose_secret() == renewed)
        })
        .await;
    let newer_id = store.stored_ids();

    // B's 401 for the old token comes later: it adopts A's token and deletes nothing.
    b.invalidate(old_b.generation());
    assert_eq!(secret(&b.access_token().await.unwrap()), renewed);
    assert_eq!(
        endpoint.requests.load(Ordering::SeqCst),
        2,
        "one renewal for the fleet"
    );
    assert_eq!(store.stored_ids(), newer_id, "the newer token stays stored");
}

#[tokio::test]
async fn a_rejected_token_still_stored_is_deleted() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let a = process(&endpoint, &store, "read");
    let old = a.access_token().await.unwrap();
    store.wait_for(|s| s.stored_ids().len() == 1).await;
    let old_id = store.stored_ids();
    endpoint.held.store(true, Ordering::SeqCst);
    a.invalidate(old.generation());
    let renewal = tokio::spawn({
        let a = a.clone();
        async move { secret(&a.access_token().await.unwrap()) }
    });
    // While the renewal is held at the endpoint, the rejected token leaves the store.
    store.wait_for(|s| s.stored_ids().is_empty()).await;
    endpoint.held.store(false, Ordering::SeqCst);
    endpoint.open.notify_waiters();
    let renewed = renewal.await.unwrap();
    store.wait_for(|s| !s.stored_ids().is_empty()).await;
    assert_ne!(store.stored_ids(), old_id);
    assert_ne!(renewed, secret(&old));
}

#[tokio::test]
async fn a_held_lock_is_waited_for_then_the_holders_token_adopted() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let key = SharedIdentity::new("test")
        .with("client_id", "fleet-client")
        .with("scope", "read")
        .key();
    store
        .locks
        .lock()
        .unwrap()
        .insert(key, "another-process".into());
    let waiter = process(&endpoint, &store, "read");
    let waiting = tokio::spawn({
        let waiter = waiter.clone();
        async move { secret(&waiter.access_token().await.unwrap()) }
    });
    // The waiter finds the store empty and the lock held by the other process, and waits.
    store
        .wait_for(|s| s.refused_locks.load(Ordering::SeqCst) >= 1)
        .await;
    assert!(!waiting.is_finished(), "the waiter waits for the holder");
    // The other process finishes its token request: stores the token, releases the lock.
    let holder = Store(Arc::clone(&store));
    let token = SharedToken {
        access_token: SecretString::from("from-the-holder".to_owned()),
        token_type: "Bearer".into(),
        scope: None,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        id: "holder-1".into(),
    };
    holder
        .put_if_newer(&key, &token, Duration::from_secs(3000))
        .await
        .unwrap();
    holder.unlock(&key, "another-process").await.unwrap();
    assert_eq!(waiting.await.unwrap(), "from-the-holder");
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 0);
}

/// The holder renews its lock every third of `lock_ttl` while its token request runs (so a
/// slow token endpoint does not lose it), and has stored its token and released the lock by the
/// time the token reaches the caller: a process that exits right after its request leaves
/// both done.
#[tokio::test(start_paused = true)]
async fn the_holder_renews_its_lock_and_stores_its_token_before_returning() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    endpoint.held.store(true, Ordering::SeqCst);
    let holder = process(&endpoint, &store, "read");
    let asking = tokio::spawn({
        let holder = holder.clone();
        async move { secret(&holder.access_token().await.unwrap()) }
    });
    // Ten seconds of a token request that does not answer (the paused clock jumps from timer
    // to timer): renewed at 1, 2, … 9 s (a 3-s TTL), and still held.
    tokio::time::sleep(Duration::from_millis(9_500)).await;
    let ttl = SharedStoreSettings::default().lock_ttl;
    assert_eq!(ttl, Duration::from_secs(3));
    assert_eq!(store.renewals.load(Ordering::SeqCst), 9);
    assert_eq!(store.locks.lock().unwrap().len(), 1);
    endpoint.held.store(false, Ordering::SeqCst);
    endpoint.open.notify_waiters();
    let token = asking.await.unwrap();
    // No waiting for a background write: stored and unlocked already.
    assert_eq!(store.stored_ids().len(), 1);
    assert!(store.locks.lock().unwrap().is_empty(), "lock released");
    let renewals = store.renewals.load(Ordering::SeqCst);
    assert_eq!(
        secret(
            &process(&endpoint, &store, "read")
                .access_token()
                .await
                .unwrap()
        ),
        token
    );
    assert_eq!(
        store.renewals.load(Ordering::SeqCst),
        renewals,
        "renewal stopped"
    );
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lock_never_released_is_waited_for_a_bounded_time() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let key = SharedIdentity::new("test")
        .with("client_id", "fleet-client")
        .with("scope", "read")
        .key();
    store
        .locks
        .lock()
        .unwrap()
        .insert(key, "a-dead-process".into());
    let waiter = process(&endpoint, &store, "read");
    let started = tokio::time::Instant::now();
    let token = secret(&waiter.access_token().await.unwrap());
    assert!(token.starts_with("read-token-"));
    let waited = started.elapsed();
    assert!(waited >= settings().lock_wait, "{waited:?}");
    assert!(
        waited < settings().lock_wait + Duration::from_secs(1),
        "{waited:?}"
    );
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_store_fails_nothing_and_opens_the_breaker() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    store.set_mode(Mode::Failing);
    let a = process(&endpoint, &store, "read");
    for round in 1..=6 {
        let token = a.access_token().await.unwrap();
        assert!(secret(&token).starts_with("read-token-"));
        a.invalidate(token.generation());
        assert_eq!(endpoint.requests.load(Ordering::SeqCst), round);
    }
    // Three consecutive failures (a read per token request, and the background delete of
    // the rejected token) open the breaker: later token requests skip the store.
    let gets = store.gets.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&gets),
        "{gets} reads before the breaker opened"
    );
    for _ in 0..3 {
        let token = a.access_token().await.unwrap();
        a.invalidate(token.generation());
    }
    assert_eq!(
        store.gets.load(Ordering::SeqCst),
        gets,
        "the breaker is open"
    );
}

/// A value that does not open is an answer, not a failure: however many in a row, the breaker
/// stays closed, every token request reads the store and shares its token.
#[tokio::test]
async fn unreadable_values_never_open_the_breaker() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    store.set_mode(Mode::Unreadable);
    let a = process(&endpoint, &store, "read");
    for round in 1..=6 {
        let token = a.access_token().await.unwrap();
        // Each token request read the store twice (before and after taking the lock), each
        // read unreadable, and stored its token.
        assert_eq!(
            store.gets.load(Ordering::SeqCst),
            2 * round,
            "round {round}"
        );
        store
            .wait_for(|s| {
                s.tokens
                    .lock()
                    .unwrap()
                    .values()
                    .any(|t| t.access_token.expose_secret() == secret(&token))
            })
            .await;
        a.invalidate(token.generation());
    }
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 6);
}

#[tokio::test(start_paused = true)]
async fn a_silent_store_delays_a_token_request_by_one_timeout() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    store.set_mode(Mode::Silent);
    let a = process(&endpoint, &store, "read");
    let started = tokio::time::Instant::now();
    a.access_token().await.unwrap();
    assert_eq!(started.elapsed(), settings().operation_timeout);
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_store_recovers_after_the_breaker_cooldown() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    store.set_mode(Mode::Failing);
    let mut s = settings();
    s.breaker_threshold = 1;
    s.breaker_cooldown = Duration::ZERO;
    let a = process_with(&endpoint, &store, |_| {}, s);
    let token = a.access_token().await.unwrap();
    assert!(store.stored_ids().is_empty());
    store.set_mode(Mode::Healthy);
    // The cooldown is over: the next call probes the store (the background delete of the
    // rejected token, or the read), and its success closes the breaker.
    a.invalidate(token.generation());
    let token = a.access_token().await.unwrap();
    store
        .wait_for(|s| s.calls.load(Ordering::SeqCst) >= 2)
        .await;
    a.invalidate(token.generation());
    a.access_token().await.unwrap();
    store.wait_for(|s| s.stored_ids().len() == 1).await;
}

#[tokio::test]
async fn a_provider_that_does_not_share_never_calls_the_store() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let a = process_with(&endpoint, &store, |p| p.shares = false, settings());
    let token = a.access_token().await.unwrap();
    a.invalidate(token.generation());
    a.access_token().await.unwrap();
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);
    assert_eq!(a.shared_store(), None);
}

#[test]
fn the_store_and_its_tokens_print_no_secret() {
    let token = SharedToken {
        access_token: SecretString::from("very-secret-token".to_owned()),
        token_type: "Bearer".into(),
        scope: Some("secret-scope".into()),
        expires_at: SystemTime::now(),
        id: "id".into(),
    };
    let identity = SharedIdentity::new("f").with("client_id", "my-client-id");
    let mut scan = Scan::new();
    scan.secret("the access token", "very-secret-token")
        .secret("the scope", "secret-scope")
        .secret("the client id", "my-client-id")
        .debug("the shared token", &token)
        .debug("the identity", &identity)
        .debug("its key", &identity.key())
        .error(
            "an unreadable value's error",
            &StoreError::unreadable("at memory://test"),
        );
    scan.assert_clean();
}

#[tokio::test]
async fn a_token_request_that_panics_releases_the_fleets_lock() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let a = process_with(&endpoint, &store, |p| p.panic = true, settings());
    let error = a.access_token().await.unwrap_err();
    assert!(matches!(error, Error::Internal(_)), "{error:?}");
    assert_eq!(
        endpoint.requests.load(Ordering::SeqCst),
        1,
        "it held the lock"
    );
    store.wait_for(|s| s.locks.lock().unwrap().is_empty()).await;
}

#[tokio::test]
async fn a_lock_whose_answer_was_lost_is_released() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    store.lose_lock_answers.store(true, Ordering::SeqCst);
    let a = process(&endpoint, &store, "read");
    a.access_token().await.unwrap();
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
    store.wait_for(|s| s.locks.lock().unwrap().is_empty()).await;
}

#[tokio::test]
async fn a_nonsense_jitter_setting_is_ignored_not_a_panic() {
    let (endpoint, store) = (Endpoint::new(), MemoryStore::new());
    let mut s = settings();
    s.renewal_jitter = f64::NAN;
    let a = process_with(&endpoint, &store, |_| {}, s);
    let token = a.access_token().await.unwrap();
    assert!(!token.needs_renewal());
}

/// An environments file's `shared_cache.path` opens a `LocalStore`; a directory it cannot use
/// is a configuration error naming the environment, the file and the field.
#[test]
fn the_environments_directory_opens_a_local_store_or_names_where_it_is_wrong() {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("en-auth-shared-path-{}", std::process::id()));
    let private = root.join("private");
    let open = root.join("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = root.join("environments.toml");
    std::fs::write(
        &file,
        format!(
            "[good]\n[good.shared_cache]\npath = \"{}\"\n\n[bad]\n[bad.shared_cache]\npath = \"{}\"\n",
            private.display(),
            open.display()
        ),
    )
    .unwrap();
    let build = |id: &str| {
        let environment = en_auth_core::Environment::from_file(&file, id).unwrap();
        let endpoint = Endpoint::new();
        let provider = Provider {
            panic: false,
            client: ClientInfo::new("fleet-client", "secret"),
            endpoint,
            scope: "read",
            shares: true,
        };
        en_auth_core::AuthorizerBuilder::new()
            .with_environment(environment)
            .build_sharing(provider, |_| panic!("no Redis here"))
    };
    let authorizer = build("good").unwrap();
    assert_eq!(
        authorizer.shared_store(),
        Some(format!("file://{}", private.display()).as_str())
    );
    let Err(Error::Configuration(e)) = build("bad") else {
        panic!("a directory open to others is refused")
    };
    assert_eq!(e.environment(), Some("bad"));
    assert_eq!(e.file.as_deref(), Some(file.as_path()));
    assert_eq!(e.field.as_deref(), Some("shared_cache.path"));
    assert!(e.message.contains("open to other users"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}
