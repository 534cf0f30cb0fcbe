//! Single flight through the whole stack: reqwest-middleware → ServiceAccountAuthorizer → HTTP
//! token endpoint (the testkit emulator) → protected resource.
//!
//! These tests run on a current-thread runtime so that "every task is waiting for the token" is
//! an observable fact rather than a hope: a spawned task runs until its first `.await` that is
//! pending, which for a request is the token request shared by all of them.

use en_auth_oauth2::{ClientInfo, Environment, Error, RenewalPolicy, ServiceAccountAuthorizer};
use en_auth_peers::wait::{until_async, DEADLINE};
use en_auth_testkit::{Behaviour, OAuthServer};
use reqwest_middleware::ClientWithMiddleware;

const TASKS: usize = 1000;

async fn setup(
    lifetime_secs: u64,
) -> (OAuthServer, ServiceAccountAuthorizer, ClientWithMiddleware) {
    setup_with(lifetime_secs, RenewalPolicy::default()).await
}

async fn setup_with(
    lifetime_secs: u64,
    policy: RenewalPolicy,
) -> (OAuthServer, ServiceAccountAuthorizer, ClientWithMiddleware) {
    let server = OAuthServer::builder()
        .client("svc", "secret")
        .token_lifetime_secs(lifetime_secs)
        .start()
        .await;
    let environment = Environment::new("test")
        .with_token_url(&server.token_url())
        .unwrap();
    let authorizer =
        ServiceAccountAuthorizer::builder(ClientInfo::new("svc", "secret"), environment)
            .renewal_policy(policy)
            .build()
            .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();
    (server, authorizer, client)
}

/// Spawns `n` requests to the resource and returns their handles once every one of them has
/// started (and so, on this current-thread runtime, is waiting on the shared token request):
/// each says so just before it sends.
async fn burst(
    n: usize,
    client: &ClientWithMiddleware,
    url: &str,
) -> Vec<tokio::task::JoinHandle<Result<u16, reqwest_middleware::Error>>> {
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            let started = started.clone();
            tokio::spawn(async move {
                let _ = started.send(());
                client.get(&url).send().await.map(|r| r.status().as_u16())
            })
        })
        .collect();
    for i in 0..n {
        if tokio::time::timeout(DEADLINE, starts.recv()).await.is_err() {
            panic!("{i} of {n} requests started within {DEADLINE:?}");
        }
    }
    handles
}

#[tokio::test]
async fn one_token_request_for_a_cold_burst_and_one_per_expiry() {
    // Without proactive renewal, so that the burst after expiry really waits for the renewal.
    // Hour-long tokens for the bursts: however long 1000 requests take, their token does not
    // come up for renewal during them.
    let policy = RenewalPolicy::default().with_proactive_renewal(false);
    let (server, authorizer, client) = setup_with(3600, policy).await;
    server.hold_token_requests();
    let handles = burst(TASKS, &client, &server.resource_url()).await;
    server.release_token_requests();
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), 200);
    }
    assert_eq!(server.token_requests(), 1, "cold burst of {TASKS}");
    assert_eq!(server.resource_authorized(), TASKS as u64);

    // An expiry: a fresh authorizer gets a 2-s token (due after 0.75 s), waits until it needs
    // renewal, and bursts. The token the burst waits for is an hour-long one again.
    let (expiring, expiring_client) = {
        let environment = Environment::new("test")
            .with_token_url(&server.token_url())
            .unwrap();
        let authorizer =
            ServiceAccountAuthorizer::builder(ClientInfo::new("svc", "secret"), environment)
                .renewal_policy(RenewalPolicy::default().with_proactive_renewal(false))
                .build()
                .unwrap();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(authorizer.clone())
            .build();
        (authorizer, client)
    };
    server.set_token_lifetime_secs(2);
    let renew_at = expiring.access_token().await.unwrap().renew_at().unwrap();
    server.set_token_lifetime_secs(3600);
    tokio::time::sleep_until(renew_at.into()).await;
    let before = server.token_requests();
    server.hold_token_requests();
    let handles = burst(TASKS, &expiring_client, &server.resource_url()).await;
    server.release_token_requests();
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), 200);
    }
    assert_eq!(
        server.token_requests() - before,
        1,
        "burst of {TASKS} on an expired token"
    );
    assert_eq!(authorizer.token_requests(), 1);
    assert_eq!(
        expiring.token_requests(),
        2,
        "its short token, then one renewal"
    );
    assert_eq!(
        server.missing_authorization(),
        0,
        "no request went out without its header"
    );
    assert_eq!(server.resource_authorized(), 2 * TASKS as u64);
}

#[tokio::test]
async fn a_failed_token_request_fails_every_waiter_once_and_recovery_works() {
    // One attempt, no cooldown: the bare single-flight behaviour (retries and the cooldown are
    // tested in en-auth-core's authorizer tests).
    let bare = RenewalPolicy::default()
        .with_max_attempts(1)
        .with_failure_cooldown(std::time::Duration::ZERO, std::time::Duration::ZERO);
    let (server, _authorizer, client) = setup_with(60, bare).await;
    server.set_behaviour(Behaviour::Fail {
        status: 503,
        body: r#"{"error":"temporarily_unavailable"}"#.to_owned(),
    });
    server.hold_token_requests();
    let handles = burst(TASKS, &client, &server.resource_url()).await;
    server.release_token_requests();
    for h in handles {
        let err = h
            .await
            .expect("no task panics")
            .expect_err("every waiter gets the error");
        let reqwest_middleware::Error::Middleware(inner) = err else {
            panic!("not a middleware error")
        };
        assert!(
            matches!(inner.downcast_ref::<Error>(), Some(Error::Authorization(e)) if e.status_code == 503),
            "{inner}"
        );
    }
    assert_eq!(
        server.token_requests(),
        1,
        "one token request for {TASKS} waiters"
    );
    assert_eq!(
        server.resource_requests(),
        0,
        "nothing reached the resource"
    );

    server.set_behaviour(Behaviour::Normal);
    let status = client
        .get(server.resource_url())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "the first request after recovery succeeds");
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn aborting_the_task_that_leads_the_token_request_strands_nobody() {
    let (server, _authorizer, client) = setup(60).await;
    server.hold_token_requests();
    let leader = {
        let client = client.clone();
        let url = server.resource_url();
        tokio::spawn(async move { client.get(&url).send().await.map(|r| r.status()) })
    };
    until_async("the leader's token request", DEADLINE, || {
        server.token_requests() == 1
    })
    .await;
    let followers = burst(100, &client, &server.resource_url()).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    server.release_token_requests();
    for h in followers {
        assert_eq!(h.await.unwrap().unwrap(), 200);
    }
    assert_eq!(
        server.token_requests(),
        1,
        "the followers used the leader's token request"
    );
    assert_eq!(server.tokens_issued(), 1);
}

#[tokio::test]
async fn a_burst_of_401s_for_one_token_costs_one_renewal() {
    let (server, _authorizer, client) = setup(3600).await;
    assert_eq!(
        client
            .get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.revoke_all();
    server.hold_token_requests();
    let handles = burst(200, &client, &server.resource_url()).await;
    // Every request is sent with the revoked token, rejected, and then waits for the renewal.
    until_async(
        "200 rejections and the renewal they wait for",
        DEADLINE,
        || server.resource_requests() == 201 && server.token_requests() == 2,
    )
    .await;
    server.release_token_requests();
    for h in handles {
        assert_eq!(
            h.await.unwrap().unwrap(),
            200,
            "replayed with the new token"
        );
    }
    assert_eq!(server.token_requests(), 2, "one renewal for 200 rejections");
    assert_eq!(server.resource_requests(), 1 + 200 + 200);
}
