//! A fleet of 16 member processes (50 tasks each, a request every 0.5–1.5 s per task) sharing
//! 5-s tokens through Redis while Redis fails: SIGKILLed and restarted, silent (the testkit's
//! proxy stops forwarding), read-only, out of memory, holding a value sealed with another
//! encryption key. No request fails; the fleet renews locally while Redis is gone and shares
//! again once it is back.
//!
//! The members' store settings: 500 ms per store call (`STORE_TIMEOUT_MS`, for CI load), a
//! breaker that opens after 3 failures
//! and probes again after 1 s (so recovery fits in a short test; production default 10 s).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use en_auth_peers::redis::RedisServer;
use en_auth_peers::support::closed_port;
use en_auth_testkit::{OAuthServer, TcpProxy};

const MEMBERS: usize = 16;
const TASKS: usize = 50;
const PACE_MS: u64 = 1000;
const BREAKER_COOLDOWN_MS: u64 = 1000;
/// How long after Redis is back the fleet has to share again, at most: the breaker's
/// cooldown, a reconnection, and one renewal period for every process to have read the
/// shared token (each process's own token must come up for renewal before it consults the
/// store). A correctness bound: the test goes on as soon as the fleet shares.
const RESUME_BOUND: Duration = Duration::from_secs(15);
/// The window after sharing resumed in which the fleet's token requests are counted.
const SHARING_WINDOW: Duration = Duration::from_secs(8);
/// The members' run cap (`FLEET_SECONDS`): the tests stop them when their window ends.
const RUN_CAP_SECS: u64 = 120;

fn server() -> OAuthServer {
    OAuthServer::builder()
        .client("svc", "secret")
        .token_lifetime_secs(LIFETIME_SECS)
        .start_on_own_thread()
}

fn env(server: &OAuthServer, redis_url: &str, seconds: u64) -> Vec<(&'static str, String)> {
    let mut env = member_env(server, Some(redis_url), seconds, TASKS, PACE_MS);
    env.push(("FLEET_BREAKER_COOLDOWN_MS", BREAKER_COOLDOWN_MS.to_string()));
    env.push(("FLEET_LOG", "warn,en_auth_core=info".to_owned()));
    env
}

/// Token requests the fleet makes in the next `window` (a measurement, not a wait for an
/// event), when the window started, and how long it really lasted (a loaded machine oversleeps:
/// bounds are computed from this, not from `window`).
fn requests_in(server: &OAuthServer, window: Duration) -> (u64, Instant, Duration) {
    let (from, start) = (server.token_requests(), Instant::now());
    std::thread::sleep(window);
    let (requests, lasted) = (server.token_requests() - from, start.elapsed());
    (requests, start, lasted)
}

/// The Redis key of the fleet's shared token (one client, one scope: one key), once one is
/// stored.
fn token_key(redis: &RedisServer) -> String {
    let mut key = String::new();
    wait_until("a shared token in Redis", Duration::from_secs(15), || {
        key = redis.cli(&["--scan", "--pattern", "en-auth:v2:*}"]);
        !key.is_empty()
    });
    key.lines().next().unwrap_or_default().to_owned()
}

/// Waits until the fleet shares again after an outage: every breaker that opened has closed
/// ("answers again"), and two tokens that were not there before (`before`: the values seen
/// until the outage ended) were written to Redis one after the other, the second one a
/// renewal period after the first, so every process had a renewal with the store back.
fn wait_for_sharing_again(fleet: &Fleet, redis: &RedisServer, key: &str, before: &HashSet<String>) {
    let mut fresh = HashSet::new();
    wait_until(
        "the fleet sharing again (breakers closed, two new shared tokens)",
        RESUME_BOUND,
        || {
            let value = redis.cli(&["get", key]);
            if !value.is_empty() && !before.contains(&value) {
                fresh.insert(value);
            }
            let logs = fleet.logs();
            let opened = logs.iter().filter(|l| l.contains("circuit open")).count();
            let closed = logs.iter().filter(|l| l.contains("answers again")).count();
            fresh.len() >= 2 && closed >= opened
        },
    );
}

/// Local renewal: every process asks for its own tokens (16 requests in a renewal period where
/// a sharing fleet makes one).
fn wait_for_local_renewal(server: &OAuthServer, what: &str) {
    let from = server.token_requests();
    wait_until(what, Duration::from_secs(15), || {
        server.token_requests() >= from + MEMBERS as u64
    });
}

#[test]
fn redis_killed_then_restarted_no_request_fails_and_sharing_resumes() {
    let _serial = serial();
    let redis = RedisServer::start();
    let server = server();
    let mut fleet = Fleet::spawn_until_stopped(MEMBERS, &env(&server, &redis.url(), RUN_CAP_SECS));
    fleet.wait_ready();
    wait_until("two shared renewals", Duration::from_secs(15), || {
        server.token_requests() >= 3
    });
    let key = token_key(&redis);

    redis.kill();
    wait_for_local_renewal(&server, "local renewal with Redis dead");
    redis.restart();
    let back = Instant::now();

    // The restarted Redis is empty: every token in it was written after the restart.
    wait_for_sharing_again(&fleet, &redis, &key, &HashSet::new());
    let (after, from, lasted) = requests_in(&server, SHARING_WINDOW);
    let (reports, logs) = fleet.finish_with_logs();
    println!(
        "kill/restart: {} requests, {} failed, {} token requests; {after} in the {SHARING_WINDOW:?} from {:.1?} after the restart",
        total(&reports, "requests"),
        total(&reports, "failures"),
        server.token_requests(),
        from - back,
    );
    assert_eq!(total(&reports, "failures"), 0, "{reports:?}");
    assert!(
        after <= shared_bound(lasted),
        "{after} token requests in {lasted:?} after Redis came back: not sharing"
    );
    assert!(
        logs.iter().any(|l| l.contains(&redis.url())),
        "store failures are logged with the store's address"
    );
}

#[test]
fn redis_silent_requests_wait_no_longer_than_the_budget_and_the_breaker_recovers() {
    let _serial = serial();
    let redis = RedisServer::start();
    let proxy = TcpProxy::start(format!("127.0.0.1:{}", redis.port()).parse().unwrap());
    let server = server();
    let mut env = env(
        &server,
        &format!("redis://127.0.0.1:{}", proxy.port()),
        RUN_CAP_SECS,
    );
    // Redis's own response timeout far beyond the run: only the authorizer's budget bounds a
    // call to the silent server.
    env.push(("FLEET_REDIS_RESPONSE_TIMEOUT_MS", "60000".to_owned()));
    let mut fleet = Fleet::spawn_until_stopped(MEMBERS, &env);
    fleet.wait_ready();
    wait_until("two shared renewals", Duration::from_secs(15), || {
        server.token_requests() >= 3
    });
    let key = token_key(&redis);

    // The values stored until Redis speaks again (read around the proxy): not the sign of a
    // fleet sharing again.
    let mut before = HashSet::new();
    let remember = |before: &mut HashSet<String>| {
        let value = redis.cli(&["get", &key]);
        if !value.is_empty() {
            before.insert(value);
        }
    };
    remember(&mut before);
    proxy.set_silent(true);
    wait_for_local_renewal(&server, "local renewal with Redis silent");
    // A token request stops using the store after its first failed call, so a process fails
    // once per renewal: the breaker (3 failures) opens on a process's third renewal.
    wait_until("the breaker open", Duration::from_secs(20), || {
        fleet.logs().iter().any(|l| l.contains("circuit open"))
    });
    remember(&mut before);
    proxy.set_silent(false);
    let back = Instant::now();
    // Writes the proxy held while silent reach Redis now: a value they leave is not new either.
    remember(&mut before);

    wait_for_sharing_again(&fleet, &redis, &key, &before);
    let (after, from, lasted) = requests_in(&server, SHARING_WINDOW);
    let (reports, logs) = fleet.finish_with_logs();
    let max_latency = max(&reports, "max_latency_ms");
    println!(
        "silent: {} requests, {} failed, max latency {max_latency} ms, {} token requests; {after} in the {SHARING_WINDOW:?} from {:.1?} after it spoke again",
        total(&reports, "requests"),
        total(&reports, "failures"),
        server.token_requests(),
        from - back,
    );
    assert_eq!(total(&reports, "failures"), 0, "{reports:?}");
    // That store calls are bounded by the members' budget (the store timeout), not by Redis's
    // own 60-s response timeout, was shown above without a clock: the fleet renewed locally
    // while Redis was silent (a call left to the silent Redis would have held those token
    // requests until it spoke again) and the breaker opened on its counted failures. The
    // latencies are printed, not asserted: speed is for the benchmarks.
    assert!(
        after <= shared_bound(lasted),
        "{after} token requests in {lasted:?} after Redis spoke again: the breaker did not close"
    );
    let opened = logs.iter().filter(|l| l.contains("circuit open")).count();
    let closed = logs.iter().filter(|l| l.contains("answers again")).count();
    println!("silent: the breaker opened {opened} times, closed {closed} times");
    assert!(opened >= 1, "the breaker opened: {:?}", summary(&logs));
    assert!(
        closed >= 1,
        "the breaker closed again: {:?}",
        summary(&logs)
    );
}

#[test]
fn redis_read_only_or_out_of_memory_no_request_fails() {
    let _serial = serial();
    let redis = RedisServer::start();
    let server = server();
    let mut fleet = Fleet::spawn(MEMBERS, &env(&server, &redis.url(), 24));
    fleet.wait_ready();
    wait_until("two shared renewals", Duration::from_secs(15), || {
        server.token_requests() >= 3
    });

    // A replica of a dead primary answers writes with READONLY.
    let dead = closed_port().to_string();
    assert_eq!(redis.cli(&["replicaof", "127.0.0.1", &dead]), "OK");
    wait_for_local_renewal(&server, "local renewal with Redis read-only");
    assert_eq!(redis.cli(&["replicaof", "no", "one"]), "OK");

    // Full, without eviction: OOM.
    assert_eq!(
        redis.cli(&["config", "set", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    assert_eq!(redis.cli(&["config", "set", "maxmemory", "1"]), "OK");
    wait_for_local_renewal(&server, "local renewal with Redis out of memory");
    assert_eq!(redis.cli(&["config", "set", "maxmemory", "0"]), "OK");

    let (reports, logs) = fleet.finish_with_logs();
    println!(
        "read-only / OOM: {} requests, {} failed, {} token requests",
        total(&reports, "requests"),
        total(&reports, "failures"),
        server.token_requests()
    );
    assert_eq!(total(&reports, "failures"), 0, "{reports:?}");
    for code in ["READONLY", "OOM"] {
        assert!(
            logs.iter()
                .any(|l| l.contains(code) && l.contains(&redis.url())),
            "{code} logged with the store's address"
        );
    }
}

#[test]
fn a_value_sealed_with_another_key_is_a_miss_then_overwritten() {
    let _serial = serial();
    let redis = RedisServer::start();
    let server = server();
    // Token keys end with the hash tag's brace; lock keys with `:lock`.
    let token_key = || {
        let mut keys = String::new();
        wait_until("a token in Redis", Duration::from_secs(5), || {
            keys = redis.cli(&["--scan", "--pattern", "en-auth:v2:*}"]);
            !keys.is_empty()
        });
        assert_eq!(keys.lines().count(), 1, "{keys}");
        keys.trim().to_owned()
    };
    // Key names are keyed by the encryption key: learn the fleet's name with one member…
    let probe = Fleet::spawn(1, &env(&server, &redis.url(), 2));
    probe.wait_ready();
    let fleets = token_key();
    probe.finish();
    // (Gone already if its short TTL lapsed.)
    redis.cli(&["del", &fleets]);
    // …then one member with another encryption key leaves its token in Redis, which anyone
    // who can write to Redis copies to the fleet's name.
    let mut other = env(&server, &redis.url(), 2);
    other.retain(|(k, _)| *k != "FLEET_CACHE_KEY");
    other.push((
        "FLEET_CACHE_KEY",
        "HxwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEAAAE=".to_owned(),
    ));
    let first = Fleet::spawn(1, &other);
    first.wait_ready();
    let others = token_key();
    assert_ne!(others, fleets, "another key, another name");
    // Kept past its TTL, so that the fleet meets it (its expiry, in the past by then, makes
    // the fleet's first token newer).
    assert_eq!(redis.cli(&["persist", &others]), "1");
    first.finish();
    assert_eq!(redis.cli(&["copy", &others, &fleets]), "1");
    let keys = fleets;
    let foreign = redis.cli(&["get", keys.trim()]);

    // …which the fleet cannot read: a miss, a new token (one for the fleet), overwritten.
    let before = server.token_requests();
    let start = Instant::now();
    let mut fleet = Fleet::spawn(MEMBERS, &env(&server, &redis.url(), 8));
    fleet.wait_ready();
    let (reports, by_member) = fleet.finish_with_member_logs();
    let requests = server.token_requests() - before;
    assert_eq!(total(&reports, "failures"), 0, "{reports:?}");
    assert!(
        requests <= shared_bound(start.elapsed()),
        "{requests} token requests: the fleet did not share after overwriting"
    );
    assert_ne!(redis.cli(&["get", keys.trim()]), foreign, "overwritten");
    // Each process warns about the unreadable value at most once (once per minute per
    // authorizer, and the first read deletes it), and someone met it.
    let unreadable: Vec<usize> = by_member
        .iter()
        .map(|lines| {
            lines
                .iter()
                .filter(|l| l.contains("could not be read"))
                .count()
        })
        .collect();
    assert!(
        unreadable.iter().all(|&n| n <= 1),
        "logged more than once by a process: {unreadable:?} (per member)"
    );
    assert!(
        unreadable.iter().sum::<usize>() >= 1,
        "the unreadable value was logged: {:?}",
        summary(&by_member.concat())
    );
}
