//! `RedisStore` through the `SharedStore` trait against a real `redis-server` (and a real
//! 3-node Redis Cluster), started per test by en-auth-peers: round trips, put-if-newer,
//! delete-if-same, the lock, encryption (another key, tampering, nothing in clear), values that
//! do not open (reported and deleted) or claim a far-future expiry (replaced), real
//! `READONLY`/`OOM` errors, a silent server (through the testkit's proxy), a killed and
//! restarted server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use en_auth_core::secrecy::{ExposeSecret, SecretString};
use en_auth_core::{SharedIdentity, SharedKey, SharedStore, SharedToken};
use en_auth_peers::redis::{RedisCluster, RedisServer};
use en_auth_peers::secrecy::{Capture, Scan};
use en_auth_peers::support::closed_port;
use en_auth_redis::RedisStore;
use en_auth_testkit::TcpProxy;

const CLIENT_ID: &str = "svc-client-id-7f3a";
const SECRET: &str = "client-secret-d41d8cd98f00";
const SCOPE: &str = "orders:read-scope-x";
const TTL: Duration = Duration::from_secs(60);

fn store(url: &str, key: [u8; 32]) -> RedisStore {
    RedisStore::builder(url)
        .key_prefix("test")
        .encryption_key(key)
        .build()
        .expect("a store")
}

fn shared_key(scope: &str) -> SharedKey {
    // As the client-credentials flow names its token: the secret as a keyed fingerprint.
    SharedIdentity::new("client_credentials")
        .with("token_url", "http://127.0.0.1:1/token")
        .with("client_id", CLIENT_ID)
        .with("auth_method", "client_secret_basic")
        .with("scope", scope)
        .with_credential("client_secret", &SecretString::from(SECRET))
        .key()
}

fn token(access_token: &str, expires_in_secs: u64, id: &str) -> SharedToken {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    SharedToken {
        access_token: SecretString::from(access_token.to_owned()),
        token_type: "Bearer".into(),
        scope: Some(SCOPE.into()),
        expires_at: UNIX_EPOCH + Duration::from_secs(now + expires_in_secs),
        id: id.into(),
    }
}

fn access(token: &Option<SharedToken>) -> Option<&str> {
    token.as_ref().map(|t| t.access_token.expose_secret())
}

/// Copies the raw value at the Redis key `from` to the Redis key `to`: what another fleet
/// (another encryption key) wrote, or anyone who can write to Redis, put at the place a store
/// reads. Names are keyed by the encryption key, so without this another key's value is never
/// seen.
fn plant(url: &str, from: &str, to: &str) {
    let mut raw = raw(url);
    let value: Vec<u8> = redis::cmd("GET").arg(from).query(&mut raw).unwrap();
    let _: () = redis::cmd("SET")
        .arg(to)
        .arg(value)
        .arg("EX")
        .arg(300)
        .query(&mut raw)
        .unwrap();
}

/// Every key in the Redis at `url` (each test has a server of its own), sorted. The tests find
/// the store's keys here, by what each call added, not with the store's own naming functions.
fn keys(url: &str) -> std::collections::BTreeSet<String> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut raw(url)).unwrap();
    keys.into_iter().collect()
}

/// The one key in Redis that is not in `before`.
fn added_key(url: &str, before: &std::collections::BTreeSet<String>) -> String {
    let added: Vec<String> = keys(url).difference(before).cloned().collect();
    assert_eq!(added.len(), 1, "one key added: {added:?}");
    added.into_iter().next().unwrap()
}

/// A raw connection to look at (and tamper with) what the store wrote.
fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .unwrap()
        .get_connection()
        .expect("a raw Redis connection")
}

#[tokio::test]
async fn round_trip_put_if_newer_and_delete_if_same() {
    let redis = RedisServer::start();
    let store = store(&redis.url(), [1; 32]);
    let key = shared_key(SCOPE);
    assert!(store.get(&key).await.unwrap().is_none());

    assert!(store
        .put_if_newer(&key, &token("at-one", 300, "id-1"), TTL)
        .await
        .unwrap());
    let got = store.get(&key).await.unwrap();
    assert_eq!(access(&got), Some("at-one"));
    let got = got.unwrap();
    assert_eq!(got.token_type, "Bearer");
    assert_eq!(got.scope.as_deref(), Some(SCOPE));
    assert_eq!(got.id, "id-1");
    assert_eq!(got.expires_at, token("at-one", 300, "id-1").expires_at);

    // An older token does not replace a newer one; a newer one does.
    assert!(!store
        .put_if_newer(&key, &token("at-older", 100, "id-0"), TTL)
        .await
        .unwrap());
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-one"));
    assert!(store
        .put_if_newer(&key, &token("at-two", 600, "id-2"), TTL)
        .await
        .unwrap());
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-two"));

    // A late delete of the rejected first token leaves the newer one; its own id deletes it.
    assert!(!store.delete_if_same(&key, "id-1").await.unwrap());
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-two"));
    assert!(store.delete_if_same(&key, "id-2").await.unwrap());
    assert!(store.get(&key).await.unwrap().is_none());
    assert!(!store.delete_if_same(&key, "id-2").await.unwrap());

    // The value's TTL is the caller's.
    assert!(keys(&redis.url()).is_empty(), "deleted: nothing left");
    assert!(store
        .put_if_newer(
            &key,
            &token("at-three", 600, "id-3"),
            Duration::from_millis(40_000)
        )
        .await
        .unwrap());
    let name = added_key(&redis.url(), &Default::default());
    // The name the store says it uses (for operators' `redis-cli --scan`) is the one it used.
    assert_eq!(store.redis_key(&key), name);
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&name)
        .query(&mut raw(&redis.url()))
        .unwrap();
    assert!(pttl > 0 && pttl <= 40_000, "PTTL {pttl}");
    // Other scopes are other keys.
    assert!(store.get(&shared_key("other")).await.unwrap().is_none());
}

#[tokio::test]
async fn the_lock_is_exclusive_released_and_renewed_by_its_owner_only_and_expires() {
    let redis = RedisServer::start();
    let store = store(&redis.url(), [1; 32]);
    let key = shared_key(SCOPE);
    assert!(store
        .lock(&key, "owner-a", Duration::from_secs(30))
        .await
        .unwrap());
    assert!(!store
        .lock(&key, "owner-b", Duration::from_secs(30))
        .await
        .unwrap());
    assert!(!store
        .lock(&key, "owner-a", Duration::from_secs(30))
        .await
        .unwrap());
    store.unlock(&key, "owner-b").await.unwrap();
    assert!(!store
        .lock(&key, "owner-b", Duration::from_secs(30))
        .await
        .unwrap());
    store.unlock(&key, "owner-a").await.unwrap();
    assert!(store
        .lock(&key, "owner-b", Duration::from_secs(30))
        .await
        .unwrap());

    // Nothing but the lock is in Redis.
    let lock = added_key(&redis.url(), &Default::default());
    assert_eq!(store.lock_key(&key), lock);
    let mut raw = raw(&redis.url());
    let pttl: i64 = redis::cmd("PTTL").arg(&lock).query(&mut raw).unwrap();
    assert!(pttl > 0 && pttl <= 30_000, "PTTL {pttl}");
    // Renewed by its holder only: the TTL set anew (60 s here), and another owner's renewal
    // changes nothing.
    assert!(store
        .renew_lock(&key, "owner-b", Duration::from_secs(60))
        .await
        .unwrap());
    let renewed: i64 = redis::cmd("PTTL").arg(&lock).query(&mut raw).unwrap();
    assert!(renewed > 30_000 && renewed <= 60_000, "PTTL {renewed}");
    assert!(!store
        .renew_lock(&key, "owner-a", Duration::from_secs(90))
        .await
        .unwrap());
    let unchanged: i64 = redis::cmd("PTTL").arg(&lock).query(&mut raw).unwrap();
    assert!(unchanged <= 60_000, "PTTL {unchanged}");
    // A lapsed (or released) lock is not renewed.
    assert!(!store
        .renew_lock(
            &shared_key("never-locked"),
            "owner-b",
            Duration::from_secs(60)
        )
        .await
        .unwrap());
    // The lock doesn't touch the token, and the two share the Cluster slot: the token's key
    // is the lock's up to its hash tag's closing brace.
    assert!(store.get(&key).await.unwrap().is_none());
    let before = keys(&redis.url());
    assert!(store
        .put_if_newer(&key, &token("at-beside-the-lock", 300, "id-l"), TTL)
        .await
        .unwrap());
    let token_key = added_key(&redis.url(), &before);
    assert!(
        token_key.ends_with('}') && lock.starts_with(&token_key),
        "token {token_key}, lock {lock}"
    );

    // A dead holder's lock expires: a 1 ms lock is gone once Redis says so (polled, with a
    // deadline), and then taken again.
    let other = shared_key("expiring");
    let before = keys(&redis.url());
    assert!(store
        .lock(&other, "dead-holder", Duration::from_millis(1))
        .await
        .unwrap());
    // (Redis may have dropped it already: then no key was added.)
    let expiring: Vec<String> = keys(&redis.url()).difference(&before).cloned().collect();
    assert!(expiring.len() <= 1, "{expiring:?}");
    en_auth_peers::wait::until_async(
        "the 1-ms lock gone from Redis",
        en_auth_peers::wait::DEADLINE,
        || keys(&redis.url()) == before,
    )
    .await;
    assert!(
        store
            .lock(&other, "next", Duration::from_secs(30))
            .await
            .unwrap(),
        "the expired lock was taken again"
    );
}

/// `get`'s answer for a value that does not open: `unreadable`, and the value gone from Redis.
async fn assert_unreadable_and_deleted(store: &RedisStore, key: &SharedKey, url: &str, name: &str) {
    let e = store
        .get(key)
        .await
        .expect_err("a value that does not open");
    assert!(e.is_unreadable(), "{e}");
    assert!(e.to_string().contains(url), "with the store's address: {e}");
    assert!(!keys(url).contains(name), "{name} still in Redis");
    // Gone: the next read is an ordinary miss.
    assert!(store.get(key).await.unwrap().is_none());
}

#[tokio::test]
async fn another_encryption_key_or_tampering_is_unreadable_and_deleted() {
    let redis = RedisServer::start();
    let url = redis.url();
    let old = store(&url, [1; 32]);
    let new = store(&url, [2; 32]);
    let key = shared_key(SCOPE);
    assert!(old
        .put_if_newer(&key, &token("at-old-key", 300, "id-1"), TTL)
        .await
        .unwrap());
    let old_name = added_key(&url, &Default::default());
    // Another key names keys apart: the new store does not even see the old value.
    assert!(new.get(&key).await.unwrap().is_none());
    // The new store's name for the same token: where a value of its own lands.
    let before = keys(&url);
    assert!(new
        .put_if_newer(&key, &token("at-placeholder", 1, "id-0"), TTL)
        .await
        .unwrap());
    let new_name = added_key(&url, &before);
    assert_ne!(old_name, new_name);
    // The old value planted there (a later expiry than the placeholder's) does not open: the
    // read reports it, and deletes it.
    plant(&url, &old_name, &new_name);
    assert_unreadable_and_deleted(&new, &key, &url, &new_name).await;

    // The next token lands, and reads back.
    assert!(new
        .put_if_newer(&key, &token("at-new-key", 600, "id-2"), TTL)
        .await
        .unwrap());
    assert_eq!(access(&new.get(&key).await.unwrap()), Some("at-new-key"));
    // The old store's own value is untouched; the new one's, planted there, does not open.
    assert_eq!(access(&old.get(&key).await.unwrap()), Some("at-old-key"));
    plant(&url, &new_name, &old_name);
    assert_unreadable_and_deleted(&old, &key, &url, &old_name).await;

    // Tampering: a flipped bit in the ciphertext, a header claiming a later expiry, a value
    // copied under another key, garbage. Each is reported and deleted.
    let mut raw = raw(&url);
    let original: Vec<u8> = redis::cmd("GET").arg(&new_name).query(&mut raw).unwrap();
    assert!(original.starts_with(b"1|"));
    let mut flipped = original.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    let forged = [&b"1|9"[..], &original[2..]].concat();
    for (what, value) in [
        ("a flipped bit", flipped),
        ("a forged expiry", forged),
        ("garbage", b"garbage".to_vec()),
    ] {
        let _: () = redis::cmd("SET")
            .arg(&new_name)
            .arg(&value)
            .query(&mut raw)
            .unwrap();
        let e = new.get(&key).await.expect_err(what);
        assert!(e.is_unreadable(), "{what}: {e}");
        assert!(!keys(&url).contains(&new_name), "{what}: not deleted");
    }
    let elsewhere = shared_key("elsewhere");
    let before = keys(&url);
    assert!(new
        .put_if_newer(&elsewhere, &token("at-elsewhere", 1, "id-e"), TTL)
        .await
        .unwrap());
    let elsewhere_name = added_key(&url, &before);
    let _: () = redis::cmd("SET")
        .arg(&elsewhere_name)
        .arg(&original)
        .query(&mut raw)
        .unwrap();
    assert_unreadable_and_deleted(&new, &elsewhere, &url, &elsewhere_name).await;
}

/// The header put-if-newer compares is not authenticated: a value claiming an expiry beyond
/// what any token of this process could have (now + en-auth's `MAX_LIFETIME`) does not hold
/// the next token back — garbage behind a valid header, or a real token sealed under another
/// encryption key by a replica whose clock runs years ahead. Within the bound, put-if-newer
/// still keeps a good newer token; an unreadable value within it is deleted by the next read.
#[tokio::test]
async fn a_value_claiming_an_expiry_beyond_the_bound_is_replaced_by_the_next_put() {
    let redis = RedisServer::start();
    let url = redis.url();
    let store = store(&url, [1; 32]);
    let key = shared_key(SCOPE);
    assert!(store
        .put_if_newer(&key, &token("at-first", 60, "id-1"), TTL)
        .await
        .unwrap());
    let name = added_key(&url, &Default::default());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let two_years = 2 * 365 * 24 * 3600;
    let set = |value: &[u8]| {
        let _: () = redis::cmd("SET")
            .arg(&name)
            .arg(value)
            .arg("EX")
            .arg(3600)
            .query(&mut raw(&url))
            .unwrap();
    };

    // A valid header two years ahead, garbage behind it.
    set(format!("1|{}|00|not-a-sealed-token", now + two_years).as_bytes());
    assert!(
        store
            .put_if_newer(&key, &token("at-after-garbage", 300, "id-2"), TTL)
            .await
            .unwrap(),
        "a far-future header held the token back"
    );
    assert_eq!(
        access(&store.get(&key).await.unwrap()),
        Some("at-after-garbage")
    );

    // A real token, sealed under another key by a writer whose clock runs two years ahead,
    // copied to this store's name.
    let ahead = self::store(&url, [2; 32]);
    let before = keys(&url);
    assert!(ahead
        .put_if_newer(&key, &token("at-from-the-future", two_years, "id-f"), TTL)
        .await
        .unwrap());
    plant(&url, &added_key(&url, &before), &name);
    assert!(
        store
            .put_if_newer(&key, &token("at-after-future", 300, "id-3"), TTL)
            .await
            .unwrap(),
        "a far-future value of another key held the token back"
    );
    assert_eq!(
        access(&store.get(&key).await.unwrap()),
        Some("at-after-future")
    );

    // Within the bound (one day ahead), an unreadable value wins put-if-newer — until the next
    // read deletes it; then the next token lands and reads back.
    set(format!("1|{}|00|not-a-sealed-token", now + 24 * 3600).as_bytes());
    assert!(!store
        .put_if_newer(&key, &token("at-held-back", 300, "id-4"), TTL)
        .await
        .unwrap());
    assert_unreadable_and_deleted(&store, &key, &url, &name).await;
    assert!(store
        .put_if_newer(&key, &token("at-after-delete", 300, "id-5"), TTL)
        .await
        .unwrap());
    assert_eq!(
        access(&store.get(&key).await.unwrap()),
        Some("at-after-delete")
    );

    // A good newer token is kept: ten minutes against five, and 300 days (within the bound)
    // against ten minutes.
    assert!(store
        .put_if_newer(&key, &token("at-ten-minutes", 600, "id-6"), TTL)
        .await
        .unwrap());
    assert!(!store
        .put_if_newer(&key, &token("at-five-minutes", 300, "id-7"), TTL)
        .await
        .unwrap());
    assert_eq!(
        access(&store.get(&key).await.unwrap()),
        Some("at-ten-minutes")
    );
    assert!(store
        .put_if_newer(&key, &token("at-300-days", 300 * 24 * 3600, "id-8"), TTL)
        .await
        .unwrap());
    assert!(!store
        .put_if_newer(&key, &token("at-ten-minutes-again", 600, "id-9"), TTL)
        .await
        .unwrap());
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-300-days"));
}

#[tokio::test]
async fn nothing_readable_in_redis() {
    let redis = RedisServer::start();
    let store = store(&redis.url(), [3; 32]);
    for scope in [SCOPE, "second-scope"] {
        let key = shared_key(scope);
        assert!(store
            .put_if_newer(&key, &token("at-confidential-4242", 300, "id-c"), TTL)
            .await
            .unwrap());
        assert!(store
            .lock(&key, "owner-1", Duration::from_secs(30))
            .await
            .unwrap());
    }
    let mut raw = raw(&redis.url());
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut raw).unwrap();
    assert_eq!(keys.len(), 4, "two tokens, two locks");
    for key in keys {
        let value: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut raw).unwrap();
        let key_text = String::from_utf8(key.clone()).unwrap();
        let shape = key_text
            .strip_prefix("test:v2:{")
            .and_then(|rest| rest.get(..65));
        assert!(
            shape.is_some_and(|s| s.ends_with('}') && s[..64].bytes().all(|b| b.is_ascii_hexdigit())),
            "key {key_text}"
        );
        for haystack in [&key[..], &value[..]] {
            let text = String::from_utf8_lossy(haystack);
            for needle in [
                "at-confidential",
                CLIENT_ID,
                SECRET,
                SCOPE,
                "second-scope",
                "orders",
                "Bearer",
                "127.0.0.1",
            ] {
                assert!(!text.contains(needle), "{needle} in clear in {key_text}");
            }
        }
    }
}

#[tokio::test]
async fn readonly_and_out_of_memory_are_store_errors() {
    // A replica of a dead primary: real READONLY answers to writes.
    let redis = RedisServer::start();
    let store = store(&redis.url(), [1; 32]);
    let key = shared_key(SCOPE);
    assert!(store
        .put_if_newer(&key, &token("at-before", 300, "id-1"), TTL)
        .await
        .unwrap());
    assert_eq!(
        redis.cli(&["replicaof", "127.0.0.1", &closed_port().to_string()]),
        "OK"
    );
    let e = store
        .put_if_newer(&key, &token("at-secret-ro", 600, "id-2"), TTL)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("READONLY"), "{e}");
    assert!(!e.to_string().contains("at-secret-ro"));
    let e = store.lock(&key, "owner", TTL).await.unwrap_err();
    assert!(e.to_string().contains("READONLY"), "{e}");
    assert!(store
        .delete_if_same(&key, "id-1")
        .await
        .unwrap_err()
        .to_string()
        .contains("READONLY"));

    // Out of memory, no eviction: real OOM answers to writes.
    let redis = RedisServer::start();
    let store = self::store(&redis.url(), [1; 32]);
    assert_eq!(
        redis.cli(&["config", "set", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    assert_eq!(redis.cli(&["config", "set", "maxmemory", "1"]), "OK");
    let e = store
        .put_if_newer(&key, &token("at-secret-oom", 600, "id-2"), TTL)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("OOM"), "{e}");
    assert!(!e.to_string().contains("at-secret-oom"));
    assert!(store
        .lock(&key, "owner", TTL)
        .await
        .unwrap_err()
        .to_string()
        .contains("OOM"));
    // Reads still work: a miss.
    assert!(store.get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn a_silent_server_never_answers_ok_and_the_callers_timeout_bounds_the_call() {
    let redis = RedisServer::start();
    let proxy = TcpProxy::start(format!("127.0.0.1:{}", redis.port()).parse().unwrap());
    let store = store(&format!("redis://127.0.0.1:{}", proxy.port()), [1; 32]);
    let key = shared_key(SCOPE);
    assert!(store
        .put_if_newer(&key, &token("at-proxied", 300, "id-1"), TTL)
        .await
        .unwrap());

    proxy.set_silent(true);
    let bound = Duration::from_millis(100);
    for _ in 0..3 {
        let get = tokio::time::timeout(bound, store.get(&key)).await;
        assert!(
            !matches!(get, Ok(Ok(_))),
            "a silent Redis answered: {get:?}"
        );
        let lock = tokio::time::timeout(bound, store.lock(&key, "owner", TTL)).await;
        assert!(
            !matches!(lock, Ok(Ok(_))),
            "a silent Redis answered: {lock:?}"
        );
    }

    // Speaking again, the same store (and connection) works.
    proxy.set_silent(false);
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-proxied"));
    // The lock requests that timed out were held by the proxy, not lost: Redis ran them when
    // it spoke again (which is why a lock has a TTL). Their owner releases it.
    store.unlock(&key, "owner").await.unwrap();
    assert!(store.lock(&key, "owner-2", TTL).await.unwrap());
}

#[tokio::test]
async fn a_killed_server_fails_calls_and_a_restarted_one_serves_again() {
    let redis = RedisServer::start();
    let store = store(&redis.url(), [1; 32]);
    let key = shared_key(SCOPE);
    assert!(store
        .put_if_newer(&key, &token("at-before-kill", 300, "id-1"), TTL)
        .await
        .unwrap());

    redis.kill();
    for _ in 0..3 {
        let get = tokio::time::timeout(Duration::from_secs(10), store.get(&key))
            .await
            .expect("a call to a dead Redis fails rather than hangs");
        assert!(get.is_err(), "{get:?}");
    }

    redis.restart();
    // The connection manager reconnects: poll until a call succeeds, for at most 10 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let got = loop {
        match store.get(&key).await {
            Ok(got) => break got,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("no reconnection after the restart: {e}"),
        }
    };
    assert!(
        got.is_none(),
        "a restarted Redis is empty (nothing persisted)"
    );
    assert!(store
        .put_if_newer(&key, &token("at-after", 300, "id-2"), TTL)
        .await
        .unwrap());
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-after"));
}

/// One store, used from several runtimes one after the other (as from several
/// `#[tokio::test]`s): its connection lives on en-auth's I/O runtime, so it outlives them.
#[test]
fn one_store_serves_callers_on_many_runtimes() {
    let redis = RedisServer::start();
    let store = store(&redis.url(), [1; 32]);
    let key = shared_key(SCOPE);
    for round in 0..3u64 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let at = format!("at-round-{round}");
            assert!(store
                .put_if_newer(&key, &token(&at, 300 + round, "id"), TTL)
                .await
                .unwrap());
            assert_eq!(access(&store.get(&key).await.unwrap()), Some(at.as_str()));
        });
    }
}

#[tokio::test]
async fn the_whole_round_trip_on_a_cluster_with_key_and_lock_in_one_slot() {
    let cluster = RedisCluster::start();
    let store = store(&cluster.urls(), [5; 32]);
    let node = &cluster.nodes()[0];
    // Every key on every node (each node's own keys: no `-c`).
    let cluster_keys = || -> std::collections::BTreeSet<String> {
        cluster
            .nodes()
            .iter()
            .flat_map(|node| {
                node.cli(&["--scan"])
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let added = |before: &std::collections::BTreeSet<String>| {
        let added: Vec<String> = cluster_keys().difference(before).cloned().collect();
        assert_eq!(added.len(), 1, "one key added: {added:?}");
        added.into_iter().next().unwrap()
    };
    let mut slots = std::collections::HashSet::new();
    for scope in ["a", "b", "c", "d", "e", "f"] {
        let key = shared_key(scope);
        let before = cluster_keys();
        assert!(store
            .put_if_newer(&key, &token(&format!("at-{scope}"), 300, "id-1"), TTL)
            .await
            .unwrap());
        let token_key = added(&before);
        assert_eq!(
            access(&store.get(&key).await.unwrap()).map(str::to_owned),
            Some(format!("at-{scope}"))
        );
        assert!(!store
            .put_if_newer(&key, &token("at-older", 100, "id-0"), TTL)
            .await
            .unwrap());
        let before = cluster_keys();
        assert!(store.lock(&key, "owner-a", TTL).await.unwrap());
        let lock_key = added(&before);
        // Key and lock in one slot (the hash tag), whichever node serves it.
        let slot = node.cli(&["cluster", "keyslot", &token_key]);
        assert_eq!(slot, node.cli(&["cluster", "keyslot", &lock_key]));
        slots.insert(slot);
        assert!(!store.lock(&key, "owner-b", TTL).await.unwrap());
        store.unlock(&key, "owner-a").await.unwrap();
        assert!(store.lock(&key, "owner-b", TTL).await.unwrap());
        assert!(!store.delete_if_same(&key, "id-0").await.unwrap());
        assert!(store.delete_if_same(&key, "id-1").await.unwrap());
        assert!(store.get(&key).await.unwrap().is_none());
    }
    assert!(slots.len() > 1, "the keys spread over slots");
}

/// A first Cluster connect slower than the caller's bound (as a cold TLS connect to a far
/// Cluster is): every call is bounded at 100 ms as the authorizer bounds it, and the seed is
/// behind a proxy that holds each chunk 300 ms, so the connect (seed, `CLUSTER SLOTS`) takes
/// several times the bound. It must still finish, in the background, and the calls after it
/// get through; cancelled with each timed-out call, it would never finish.
#[tokio::test]
async fn a_cluster_connect_slower_than_the_callers_bound_finishes_and_serves() {
    let cluster = RedisCluster::start();
    let seed = &cluster.nodes()[0];
    let proxy = TcpProxy::start(format!("127.0.0.1:{}", seed.port()).parse().unwrap());
    proxy.set_delay(Duration::from_millis(300));
    let store = RedisStore::builder(format!("redis://127.0.0.1:{}", proxy.port()))
        .cluster(true)
        .key_prefix("test")
        .encryption_key([6; 32])
        .build()
        .unwrap();
    let key = shared_key(SCOPE);
    let bound = Duration::from_millis(100);
    // A correctness bound, not a measure: far above the connect's few round trips of 300 ms.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut cut_short = 0;
    loop {
        match tokio::time::timeout(bound, store.get(&key)).await {
            Ok(Ok(got)) => {
                assert!(got.is_none(), "an empty Cluster");
                break;
            }
            Ok(Err(e)) => panic!("the connect failed: {e}"),
            Err(_) => cut_short += 1,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after {cut_short} calls cut short at {bound:?}, none got through: the connect never finished"
        );
    }
    assert!(
        cut_short > 0,
        "the first call got through within {bound:?}: the proxy did not slow the connect, so this test proves nothing"
    );
    // Connected: the commands go to the nodes the Cluster announced, not through the slow
    // seed. Shown without a clock: the proxy goes silent, and the calls still get through (a
    // call through it would wait for ever; the deadline is a hang guard, not a measure).
    proxy.set_silent(true);
    let put = tokio::time::timeout(
        en_auth_peers::wait::DEADLINE,
        store.put_if_newer(&key, &token("at-slow-connect", 300, "id-1"), TTL),
    )
    .await;
    assert!(matches!(put, Ok(Ok(true))), "{put:?}");
    let got = tokio::time::timeout(en_auth_peers::wait::DEADLINE, store.get(&key)).await;
    assert!(
        matches!(&got, Ok(Ok(t)) if access(t) == Some("at-slow-connect")),
        "{got:?}"
    );
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let redis = RedisServer::start_tls();
    assert!(redis.url().starts_with("rediss://"));
    let store = RedisStore::builder(redis.url())
        .encryption_key([4; 32])
        .tls_root_certificate(redis.ca_pem())
        .build()
        .unwrap();
    let key = shared_key(SCOPE);
    assert!(store
        .put_if_newer(&key, &token("at-over-tls", 300, "id-1"), TTL)
        .await
        .unwrap());
    assert_eq!(access(&store.get(&key).await.unwrap()), Some("at-over-tls"));
    // Without the CA (the system's roots only), the server's certificate is refused.
    let untrusting = RedisStore::builder(redis.url())
        .encryption_key([4; 32])
        .build()
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), untrusting.get(&key))
        .await
        .expect("a refused handshake fails rather than hangs");
    assert!(refused.is_err(), "{refused:?}");
}

/// `Debug`, errors and a TRACE-level log of success and failure paths hold no token, no
/// encryption key and no Redis password.
#[tokio::test(flavor = "current_thread")]
async fn nothing_secret_in_debug_errors_or_logs() {
    // Every event on every thread (the store's connection lives on en-auth's I/O runtime),
    // `log` records and panic messages.
    let capture = Capture::install();
    let redis = RedisServer::start();
    let key_bytes = [0x5a; 32];
    let mut scan = Scan::new();
    scan.secret("a token", "at-very-secret-1")
        .secret("another token", "at-very-secret-2")
        .secret("the Redis password", "hunter2-pass")
        .secret(
            "the encryption key (base64)",
            base64::engine::general_purpose::STANDARD.encode(key_bytes),
        )
        .secret("the encryption key (hex)", "5a".repeat(32))
        .secret(
            "the encryption key (its bytes as text)",
            String::from_utf8(key_bytes.to_vec()).unwrap(),
        )
        .secret("the client secret in the identity", SECRET);
    let store = store(&redis.url(), key_bytes);
    let key = shared_key(SCOPE);
    scan.debug("the store", &store);
    assert!(store
        .put_if_newer(&key, &token("at-very-secret-1", 300, "id-1"), TTL)
        .await
        .unwrap());
    let name = added_key(&redis.url(), &Default::default());
    let got = store.get(&key).await.unwrap().unwrap();
    scan.debug("the token read back", &got);
    // Unreadable (another key's value planted at its name), refused (a password the server
    // does not know), dead.
    let other = self::store(&redis.url(), [1; 32]);
    let before = keys(&redis.url());
    assert!(other
        .put_if_newer(&key, &token("at-placeholder", 1, "id-0"), TTL)
        .await
        .unwrap());
    plant(&redis.url(), &name, &added_key(&redis.url(), &before));
    let e = other.get(&key).await.unwrap_err();
    assert!(e.is_unreadable(), "{e}");
    scan.error("the unreadable value's error", &e);
    let with_password = format!("redis://:hunter2-pass@127.0.0.1:{}", redis.port());
    let refused = RedisStore::builder(&with_password)
        .encryption_key(key_bytes)
        .build()
        .unwrap();
    scan.debug("a store with a password", &refused)
        .output("its address", refused.address());
    let e = refused.get(&key).await.unwrap_err();
    scan.error("the refused call's error", &e);
    redis.kill();
    let e = store
        .put_if_newer(&key, &token("at-very-secret-2", 600, "id-2"), TTL)
        .await
        .unwrap_err();
    scan.error("the dead server's error", &e);
    let builder = RedisStore::builder(&with_password).encryption_key(key_bytes);
    scan.debug("a builder with a password and a key", &builder);

    scan.logs(capture);
    scan.assert_clean();
}
