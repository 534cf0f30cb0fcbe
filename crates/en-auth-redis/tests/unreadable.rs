//! A value in Redis that does not open, met by an authorizer through a real `RedisStore`
//! against a real `redis-server`: a miss counted as `unreadable` (not an ordinary miss), a
//! warning with the store's address once per window (not once per store for ever, not once
//! per read), the value deleted so that the fleet's next token lands and is shared, and the
//! circuit breaker left closed. The metrics are counted exactly on a `metrics-util` debugging
//! recorder installed as the global recorder (the store calls run on en-auth's I/O runtime),
//! so this file holds one test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use en_auth_core::secrecy::ExposeSecret;
use en_auth_core::telemetry::{STORE_LOOKUPS, STORE_WRITES};
use en_auth_core::{
    AuthorizerBuilder, ClientInfo, Error, RenewalPolicy, SharedIdentity, SharedStoreSettings,
    Token, TokenProvider,
};
use en_auth_peers::redis::RedisServer;
use en_auth_peers::secrecy::Capture;
use en_auth_redis::RedisStore;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// A token endpoint: counts its token requests, each token a new one.
struct Provider {
    client: ClientInfo,
    requests: Arc<AtomicUsize>,
}

impl TokenProvider for Provider {
    async fn authorize(&self) -> Result<Token, Error> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Token::new(
            format!("at-unreadable-test-{n}"),
            Some(Duration::from_secs(3600)),
        ))
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client
    }

    fn shared_identity(&self) -> Option<SharedIdentity> {
        Some(SharedIdentity::new("unreadable_test").with("client_id", "fleet-client"))
    }
}

/// Counter totals: a debugging recorder's snapshot drains its counters, so every snapshot is
/// added up here.
struct Tally {
    snapshotter: Snapshotter,
    totals: Mutex<HashMap<(String, Vec<String>), u64>>,
}

impl Tally {
    /// The total of counter `name` over the series labelled `label`.
    fn count(&self, name: &str, label: &str) -> u64 {
        let mut totals = self.totals.lock().unwrap();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let DebugValue::Counter(n) = value else {
                continue;
            };
            let labels = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            *totals
                .entry((key.key().name().to_owned(), labels))
                .or_default() += n;
        }
        totals
            .iter()
            .filter(|((n, labels), _)| n == name && labels.iter().any(|l| l == label))
            .map(|(_, v)| v)
            .sum()
    }
}

fn keys(url: &str) -> Vec<String> {
    let mut raw = redis::Client::open(url)
        .unwrap()
        .get_connection()
        .expect("a raw Redis connection");
    redis::cmd("KEYS").arg("*").query(&mut raw).unwrap()
}

fn set(url: &str, name: &str, value: &[u8]) {
    let mut raw = redis::Client::open(url)
        .unwrap()
        .get_connection()
        .expect("a raw Redis connection");
    let _: () = redis::cmd("SET")
        .arg(name)
        .arg(value)
        .arg("EX")
        .arg(3600)
        .query(&mut raw)
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreadable_value_is_counted_warned_once_per_window_deleted_and_replaced() {
    let recorder = DebuggingRecorder::new();
    let tally = Tally {
        snapshotter: recorder.snapshotter(),
        totals: Mutex::default(),
    };
    recorder.install().expect("the only global recorder");
    let capture = Capture::install();
    let redis = RedisServer::start();
    let url = redis.url();
    let requests = Arc::new(AtomicUsize::new(0));
    let process = || {
        let store = RedisStore::builder(&url)
            .key_prefix("test")
            .encryption_key([9; 32])
            .build()
            .expect("a store");
        // A generous bound per store call (the default 100 ms is shorter than a first connect
        // on a loaded machine, and a token request stops using a store whose call failed).
        let mut settings = SharedStoreSettings::default();
        settings.operation_timeout = Duration::from_secs(5);
        AuthorizerBuilder::new()
            .renewal_policy(RenewalPolicy::default().with_max_attempts(1))
            .shared_store(store)
            .shared_store_settings(settings)
            .build(Provider {
                client: ClientInfo::new("fleet-client", "secret"),
                requests: Arc::clone(&requests),
            })
    };
    let warnings = || capture.events().matches("could not be read").count();
    let unreadable = || tally.count(STORE_LOOKUPS, "result=unreadable");
    let written = || tally.count(STORE_WRITES, "result=written");

    // One process shares its token: the one token key in Redis.
    let first = process();
    first.access_token().await.unwrap();
    let names: Vec<String> = keys(&url)
        .into_iter()
        .filter(|k| !k.ends_with(":lock"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];

    // Someone who can write to Redis puts garbage behind a valid header there, claiming an
    // expiry an hour after the real token's (within the bound: put-if-newer alone would keep it).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let planted = format!("1|{}|00|garbage", now + 7200);
    set(&url, name, planted.as_bytes());
    assert_eq!((unreadable(), warnings()), (0, 0));

    // A second process meets it: an unreadable lookup (not a miss), a warning with the
    // store's address, a token request — and its token written over the deleted value.
    let second = process();
    let second_token = second.access_token().await.unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(unreadable(), 1, "counted as unreadable");
    assert_eq!(warnings(), 1, "{}", capture.events());
    assert!(
        capture.events().contains(&url),
        "the warning names the store"
    );
    assert_eq!(written(), 2);
    // A third process adopts it: the fleet shares again.
    let third = process();
    assert_eq!(
        third.access_token().await.unwrap().secret().expose_secret(),
        second_token.secret().expose_secret()
    );
    assert_eq!(requests.load(Ordering::SeqCst), 2, "adopted, not fetched");

    // It comes back, three times, for the second process (its token rejected each time, so
    // that it reads the store again): counted each time, warned about no more within the
    // window, and the breaker stays closed (three would open it if they were failures) — every
    // renewal still reads and writes the store.
    let mut token = second_token;
    for round in 1..=3 {
        set(&url, name, planted.as_bytes());
        second.invalidate(token.generation());
        token = second.access_token().await.unwrap();
        assert_eq!(unreadable(), 1 + round, "round {round}");
        assert_eq!(
            warnings(),
            1,
            "round {round}: warned again within the window"
        );
        assert_eq!(
            written(),
            2 + round,
            "round {round}: the token written (breaker closed)"
        );
    }
    // Another process has a window of its own.
    set(&url, name, planted.as_bytes());
    process().access_token().await.unwrap();
    assert_eq!(warnings(), 2, "{}", capture.events());
    assert!(
        !capture.events().contains("garbage"),
        "the value itself is never logged"
    );
}
