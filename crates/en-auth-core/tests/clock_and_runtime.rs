//! One clock and en-auth's own runtime: a token request runs on en-auth's I/O runtime, so a
//! caller whose runtime goes idle strands nobody; Tokio's paused clock drives every timing
//! decision (renewal, replay hold) in tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use en_auth_core::{
    Authorizer, AuthorizerBuilder, ClientInfo, Error, SharedIdentity, SharedKey, SharedStore,
    SharedStoreSettings, SharedToken, StoreError, StoreResult, Token, TokenProvider, Verdict,
};
use secrecy::ExposeSecret;
use tokio::sync::watch;

/// Issues `token-1`, `token-2`, … (living 600 s) once its gate is open; says when it is called.
struct Gated {
    client: ClientInfo,
    calls: AtomicUsize,
    gate: watch::Sender<bool>,
    called: watch::Sender<usize>,
}

impl Gated {
    fn new(open: bool) -> Arc<Self> {
        Arc::new(Self {
            client: ClientInfo::new("gated", "secret"),
            calls: AtomicUsize::new(0),
            gate: watch::channel(open).0,
            called: watch::channel(0).0,
        })
    }
}

struct P(Arc<Gated>);

impl TokenProvider for P {
    async fn authorize(&self) -> Result<Token, Error> {
        let n = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.called.send_replace(n);
        let _ = self.0.gate.subscribe().wait_for(|open| *open).await;
        Ok(Token::new(
            format!("token-{n}"),
            Some(Duration::from_secs(600)),
        ))
    }

    fn client_info(&self) -> &ClientInfo {
        &self.0.client
    }

    fn shared_identity(&self) -> Option<SharedIdentity> {
        Some(SharedIdentity::new("test").with("client_id", "gated"))
    }
}

/// A shared store that fails every call, counting them.
#[derive(Debug, Default, Clone)]
struct FailingStore {
    calls: Arc<AtomicUsize>,
}

impl FailingStore {
    fn fail<T>(&self) -> StoreResult<T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(StoreError::new(
            "READONLY You can't write against a read only replica.",
        ))
    }
}

#[async_trait::async_trait]
impl SharedStore for FailingStore {
    async fn get(&self, _: &SharedKey) -> StoreResult<Option<SharedToken>> {
        self.fail()
    }
    async fn put_if_newer(&self, _: &SharedKey, _: &SharedToken, _: Duration) -> StoreResult<bool> {
        self.fail()
    }
    async fn delete_if_same(&self, _: &SharedKey, _: &str) -> StoreResult<bool> {
        self.fail()
    }
    async fn lock(&self, _: &SharedKey, _: &str, _: Duration) -> StoreResult<bool> {
        self.fail()
    }
    async fn renew_lock(&self, _: &SharedKey, _: &str, _: Duration) -> StoreResult<bool> {
        self.fail()
    }
    async fn unlock(&self, _: &SharedKey, _: &str) -> StoreResult<()> {
        self.fail()
    }
    fn address(&self) -> String {
        "memory://failing".into()
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Issue 16, item 4: a caller on runtime A starts a token request, gives up (`timeout`) and
/// leaves A alive but idle. A caller on runtime B must get the token once the provider answers
/// — when the request ran on A, B waited for it forever (here: until its 10-s bound).
#[test]
fn a_caller_that_gives_up_and_leaves_its_runtime_idle_strands_nobody() {
    let provider = Gated::new(false);
    let auth = Authorizer::new(P(Arc::clone(&provider)));

    let a = current_thread();
    a.block_on(async {
        let gave_up = tokio::time::timeout(Duration::from_millis(5), auth.access_token()).await;
        assert!(gave_up.is_err(), "the provider is held: A gives up");
    });
    // A stays alive, but nothing drives it from here on.

    let b = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let token = b.block_on(async {
        // The token request A started is under way (no second one is started below).
        let mut called = provider.called.subscribe();
        tokio::time::timeout(Duration::from_secs(10), called.wait_for(|n| *n >= 1))
            .await
            .expect("the provider is asked")
            .unwrap();
        provider.gate.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), auth.access_token())
            .await
            .expect("B gets the token of the request A started, not a stranded wait")
            .unwrap()
    });
    assert_eq!(token.secret().expose_secret(), "token-1");
    assert_eq!(
        provider.calls.load(Ordering::SeqCst),
        1,
        "one token request"
    );
    drop(token);
    drop(a);
}

/// A token request outlives the runtime of the caller that started it: the next caller, on
/// another runtime, gets its token (no second request).
#[test]
fn a_token_request_outlives_the_runtime_of_the_caller_that_started_it() {
    let provider = Gated::new(false);
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    let first = current_thread();
    first.block_on(async {
        let waiting = tokio::spawn({
            let auth = auth.clone();
            async move { auth.access_token().await.map(|_| ()) }
        });
        let mut called = provider.called.subscribe();
        called.wait_for(|n| *n >= 1).await.unwrap();
        waiting.abort();
    });
    drop(first);
    provider.gate.send_replace(true);
    let token = current_thread()
        .block_on(auth.access_token())
        .expect("the first request's token");
    assert_eq!(token.secret().expose_secret(), "token-1");
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
}

/// The replay hold (30 s without renewals after a replay was rejected too) runs on the paused
/// clock: on the coarse clock of old, advancing it changed nothing and the hold never ended.
#[tokio::test(start_paused = true)]
async fn the_paused_clock_drives_the_replay_hold() {
    let provider = Gated::new(true);
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    // A request rejected, replayed with a new token, rejected again: the hold starts.
    let mut request = http::Request::get("https://api.example.com/")
        .body(())
        .unwrap();
    let first = auth.authorize(&mut request).await.unwrap();
    let rejected = http::StatusCode::UNAUTHORIZED;
    let headers = http::HeaderMap::new();
    assert_eq!(
        auth.verdict(&first, rejected, &headers, true),
        Verdict::Replay
    );
    let replay = auth.authorize_replay(&first, &mut request).await.unwrap();
    assert_eq!(
        auth.verdict(&replay, rejected, &headers, true),
        Verdict::Return
    );
    let generation = replay.generation();

    tokio::time::advance(Duration::from_secs(29)).await;
    auth.invalidate(generation);
    assert_eq!(
        auth.cached_token()
            .expect("held: not the token")
            .generation(),
        generation
    );

    tokio::time::advance(Duration::from_secs(2)).await;
    auth.invalidate(generation);
    assert!(auth.cached_token().is_err(), "the hold is over: renewed");
    let renewed = auth.access_token().await.unwrap();
    assert_eq!(renewed.secret().expose_secret(), "token-3");
}

/// When a token is due for renewal is read on the paused clock too, hot path included: a
/// 600-s token is renewed 60 s before it expires, not before.
#[tokio::test(start_paused = true)]
async fn the_paused_clock_drives_the_renewal_time() {
    let provider = Gated::new(true);
    let auth = Authorizer::new(P(Arc::clone(&provider)));
    auth.access_token().await.unwrap();

    tokio::time::advance(Duration::from_secs(530)).await;
    assert!(!auth.cached_token().unwrap().needs_renewal());
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1, "not due yet");

    tokio::time::advance(Duration::from_secs(11)).await;
    let due = auth.cached_token().expect("due, and usable while renewed");
    assert!(due.needs_renewal());
    assert_eq!(due.secret().expose_secret(), "token-1");
    drop(due);
    let mut called = provider.called.subscribe();
    called.wait_for(|n| *n >= 2).await.unwrap();
    // The background renewal lands within a bounded number of turns of the runtime.
    for turn in 0.. {
        let token = auth.access_token().await.unwrap();
        if token.secret().expose_secret() == "token-2" {
            break;
        }
        assert!(turn < 10_000, "the background renewal never landed");
        drop(token);
        tokio::task::yield_now().await;
    }
}

/// The shared store's circuit breaker runs on the paused clock, through the authorizer: open
/// after a failure, it skips the store for its cooldown and lets one call probe it after. On
/// the coarse clock of old, advancing the paused clock never ended the cooldown.
#[tokio::test(start_paused = true)]
async fn the_paused_clock_drives_the_shared_stores_breaker() {
    let provider = Gated::new(true);
    let store = FailingStore::default();
    let mut settings = SharedStoreSettings::default();
    settings.breaker_threshold = 1;
    settings.breaker_cooldown = Duration::from_secs(10);
    let auth = AuthorizerBuilder::new()
        .shared_store(store.clone())
        .shared_store_settings(settings)
        .build(P(Arc::clone(&provider)));
    let calls = || store.calls.load(Ordering::SeqCst);
    // The first read fails: the breaker opens, the token comes from the provider.
    let mut generation = auth.access_token().await.unwrap().generation();
    assert_eq!(calls(), 1);
    for advance in [Duration::ZERO, Duration::from_millis(9_990)] {
        tokio::time::advance(advance).await;
        auth.invalidate(generation);
        generation = auth.access_token().await.unwrap().generation();
        assert_eq!(calls(), 1, "the open breaker skips the store");
    }
    tokio::time::advance(Duration::from_millis(20)).await;
    auth.invalidate(generation);
    auth.access_token().await.unwrap();
    assert_eq!(calls(), 2, "after the cooldown one call probes the store");
    assert_eq!(provider.calls.load(Ordering::SeqCst), 4);
}
