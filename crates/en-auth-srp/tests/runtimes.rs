//! An `SrpAuthorizer` shared across Tokio runtimes: a user logged in from one runtime, which
//! then sits idle, is renewed from another at the speed of the Cognito API, not after a
//! timeout on a pooled connection that belongs to the idle runtime.

use std::time::Duration;

use en_auth_srp::{ClientInfo, Environment, RenewalPolicy, SrpAuthorizer, UserCredentials};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};

const POOL: &str = "us-east-1_EnAuthRuntimes";
const PASSWORD: &str = "Corr3ct-Horse!Battery";

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_login_from_an_idle_runtime_is_renewed_from_another_at_once() {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = servers.block_on(
        CognitoServer::builder()
            .pool_id(POOL)
            .client(AppClient::public("app"))
            .user(PoolUser::new("alice", PASSWORD))
            .start(),
    );
    let environment = Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&server.endpoint())
        .unwrap();
    // One attempt and a short timeout: a stalled connection fails the renewal outright.
    let auth = SrpAuthorizer::builder(
        ClientInfo::public("app"),
        UserCredentials::new("alice", PASSWORD),
        environment,
    )
    .renewal_policy(RenewalPolicy::default().with_max_attempts(1))
    .timeout(Duration::from_secs(3))
    .build()
    .unwrap();

    // Runtime A logs in, then stays alive with nothing driving it.
    let a = current_thread();
    let first = a.block_on(auth.access_token()).unwrap().generation();
    assert_eq!(server.verified_logins(), 1);

    // Runtime B renews (with the refresh token).
    auth.invalidate(first);
    let b = current_thread();
    let renewed = b
        .block_on(auth.access_token())
        .expect("renewed from runtime B, not stalled on runtime A's connection");
    assert_ne!(renewed.generation(), first);
    assert_eq!(auth.token_requests(), 2);
    drop(a);
}
