//! Fleets of 16 `en-auth-fleet-member` processes, each with 200 tasks calling a protected
//! resource through the middleware, against a token endpoint issuing 5-s tokens: with a shared
//! Redis store and without, side by side; the same on a 3-node Redis Cluster; and a revoked
//! token replaced by one token request for the whole fleet.
//!
//! Pace: each task sends a request every 2–6 s (4 s on average): 16 × 200 tasks make about 800
//! requests a second per fleet, 1 600 for the two side by side, which two CI cores serve
//! beside the fleets' 32 debug-build processes without starving them (at twice that, store
//! calls missed even a 500-ms timeout and processes fell back to fetching their own tokens).
//! The token-request counts do not depend on the pace (every process keeps asking for its
//! token), only on the lifetime.

mod common;

use std::time::{Duration, Instant};

use common::*;
use en_auth_peers::redis::{RedisCluster, RedisServer};
use en_auth_peers::secrecy::Scan;
use en_auth_testkit::OAuthServer;

const MEMBERS: usize = 16;
const TASKS: usize = 200;
const PACE_MS: u64 = 4000;

fn token_server(lifetime_secs: u64) -> OAuthServer {
    OAuthServer::builder()
        .client("svc", "secret")
        .token_lifetime_secs(lifetime_secs)
        .start_on_own_thread()
}

#[test]
fn a_fleet_sharing_through_redis_makes_one_token_request_per_renewal() {
    let _serial = serial();
    let redis = RedisServer::start();
    let shared = token_server(LIFETIME_SECS);
    let alone = token_server(LIFETIME_SECS);
    let seconds = 30;

    let start = Instant::now();
    let mut env = member_env(&shared, Some(&redis.url()), seconds, TASKS, PACE_MS);
    env.push(("FLEET_LOG", "warn,en_auth_core::shared=debug".to_owned()));
    let mut with_store = Fleet::spawn(MEMBERS, &env);
    let without_store = Fleet::spawn(MEMBERS, &member_env(&alone, None, seconds, TASKS, PACE_MS));
    with_store.wait_ready();
    without_store.wait_ready();
    let (with_reports, logs) = with_store.finish_with_logs();
    let events = summary(&logs);
    let without_reports = without_store.finish();
    let elapsed = start.elapsed();

    let (with_requests, without_requests) = (shared.token_requests(), alone.token_requests());
    println!(
        "fleet of {MEMBERS} × {TASKS} tasks, {seconds} s, 5-s tokens, in {elapsed:.1?}: \
         with the store {} requests, {} failed, {with_requests} token requests; \
         without {} requests, {} failed, {without_requests} token requests",
        total(&with_reports, "requests"),
        total(&with_reports, "failures"),
        total(&without_reports, "requests"),
        total(&without_reports, "failures"),
    );
    println!("store events: {events:?}");
    println!(
        "max latency with the store {} ms (p99 up to {} ms), without {} ms (p99 up to {} ms)",
        max(&with_reports, "max_latency_ms"),
        max(&with_reports, "p99_latency_ms"),
        max(&without_reports, "max_latency_ms"),
        max(&without_reports, "p99_latency_ms"),
    );
    assert_eq!(total(&with_reports, "failures"), 0, "{with_reports:?}");
    assert_eq!(
        total(&without_reports, "failures"),
        0,
        "{without_reports:?}"
    );
    // Every request a member counted was authorized by the resource exactly once (none lost,
    // none counted twice). A request may also have been refused first and replayed: on a
    // loaded machine one can reach the resource after its token's last second there.
    assert_eq!(
        total(&with_reports, "requests"),
        shared.resource_authorized(),
        "requests counted by the members with the store and authorized by the resource"
    );
    assert_eq!(
        total(&without_reports, "requests"),
        alone.resource_authorized(),
        "requests counted by the members without the store and authorized by the resource"
    );
    println!(
        "refused and replayed: {} with the store, {} without",
        shared.resource_requests() - shared.resource_authorized(),
        alone.resource_requests() - alone.resource_authorized()
    );
    let bound = shared_bound(elapsed);
    assert!(
        with_requests <= bound,
        "{with_requests} token requests with the store, more than one per renewal period ({bound}); store events: {events:?}"
    );
    // Without the store every process renews its own: at least one token each per renewal
    // period of the run after their first (they live 5 s, the run 30).
    assert!(
        without_requests >= MEMBERS as u64 * 5,
        "{without_requests} token requests without the store"
    );
}

#[test]
fn a_fleet_on_a_redis_cluster_shares_one_token_per_renewal() {
    // 15 s, not 30: the cluster adds routing, not a new renewal behaviour, and CI time counts.
    let _serial = serial();
    let cluster = RedisCluster::start();
    let server = token_server(LIFETIME_SECS);
    let start = Instant::now();
    let mut env = member_env(&server, Some(&cluster.urls()), 15, TASKS, PACE_MS);
    env.push(("FLEET_LOG", "warn,en_auth_core::shared=debug".to_owned()));
    let mut fleet = Fleet::spawn(MEMBERS, &env);
    fleet.wait_ready();
    let (reports, logs) = fleet.finish_with_logs();
    let events = summary(&logs);
    println!("cluster store events: {events:?}");
    let elapsed = start.elapsed();
    let requests = server.token_requests();
    println!(
        "cluster fleet of {MEMBERS} × {TASKS} tasks, 15 s, in {elapsed:.1?}: {} requests, {} failed, {requests} token requests",
        total(&reports, "requests"),
        total(&reports, "failures"),
    );
    assert_eq!(total(&reports, "failures"), 0, "{reports:?}");
    assert!(
        requests <= shared_bound(elapsed),
        "{requests} token requests"
    );
    // The fleet's token lives in the cluster, under the store's key format.
    let keys: Vec<String> = cluster
        .nodes()
        .iter()
        .flat_map(|node| {
            node.cli(&["--scan", "--pattern", "en-auth:v2:*"])
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    // One client, one scope: one token key, `en-auth:v2:{<64 hex digits>}`, and at most its
    // lock (`…}:lock`) beside it.
    let shape = |key: &str| {
        key.strip_prefix("en-auth:v2:{")
            .and_then(|rest| rest.strip_suffix(":lock").or(Some(rest)))
            .and_then(|rest| rest.strip_suffix('}'))
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    assert!(keys.iter().all(|k| shape(k)), "{keys:?}");
    let tokens: Vec<&String> = keys.iter().filter(|k| k.ends_with('}')).collect();
    assert_eq!(tokens.len(), 1, "the fleet's one token key: {keys:?}");
}

/// The members' client secret in the revocation test, whose stderr is scanned for it.
const SCANNED_SECRET: &str = "fleet-s3cret+/=never-logged";

#[test]
fn a_revoked_token_costs_the_fleet_one_token_request_and_every_process_converges() {
    let _serial = serial();
    let redis = RedisServer::start();
    // Hour-long tokens: the only renewal is the revocation's.
    let server = OAuthServer::builder()
        .client("svc", SCANNED_SECRET)
        .token_lifetime_secs(3600)
        .start_on_own_thread();
    let mut env = member_env(&server, Some(&redis.url()), 12, 50, 500);
    env.push(("FLEET_CLIENT_SECRET", SCANNED_SECRET.to_owned()));
    // Everything en-auth logs, at every level, and reqwest's and Redis's debug: scanned below.
    env.push((
        "FLEET_LOG",
        "warn,en_auth_core=trace,en_auth_oauth2=trace,en_auth_redis=trace,reqwest=debug,redis=debug"
            .to_owned(),
    ));
    let mut fleet = Fleet::spawn(MEMBERS, &env);
    fleet.wait_ready();
    assert_eq!(
        server.token_requests(),
        1,
        "the fleet's first token: one request for all {MEMBERS} processes"
    );
    server.revoke_all();
    wait_until(
        "a new token after the revocation",
        Duration::from_secs(10),
        || server.token_requests() >= 2,
    );
    let (reports, logs) = fleet.finish_with_logs();
    assert_eq!(server.token_requests(), 2, "one new token for the fleet");
    // No member's stderr holds the secret, the store's key or a token (the revoked one, the new
    // one).
    assert!(
        logs.iter().any(|l| l.contains("token obtained")),
        "the members logged their token requests: {:?}",
        summary(&logs)
    );
    let mut scan = Scan::new();
    scan.basic_credential("svc", SCANNED_SECRET)
        .secret("the store's encryption key", CACHE_KEY);
    for (i, token) in server.issued_tokens().iter().enumerate() {
        scan.secret(format!("token {i}"), token);
    }
    scan.output("the members' stderr", logs.join("\n"));
    scan.assert_clean();
    assert_eq!(total(&reports, "failures"), 0, "{reports:?}");
    let finals: std::collections::HashSet<_> = reports
        .iter()
        .map(|r| r["final_token"].to_string())
        .collect();
    assert_eq!(
        finals.len(),
        1,
        "every process ends on the same token: {finals:?}"
    );
}
