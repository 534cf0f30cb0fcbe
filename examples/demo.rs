//! The zero-configuration demo, on loopback, with no network and no setup:
//! `cargo xtask demo` (or `cargo run --example demo`).
//!
//! 1. A service account: an in-process OAuth2 token endpoint and protected resource, and a
//!    `ServiceAccountAuthorizer` fetching, caching and renewing tokens across a few short
//!    expiries under concurrent traffic.
//! 2. A user: an in-process Cognito user pool that verifies SRP proofs, and an `SrpAuthorizer`
//!    logging a user in over SRP and renewing the session with its refresh token.

use std::time::{Duration, Instant};

use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_srp::{SrpAuthorizer, UserCredentials};
use en_auth_testkit::{AppClient, CognitoServer, OAuthServer, PoolUser};

const LIFETIME_SECS: u64 = 3;
const RUN_FOR: Duration = Duration::from_secs(7);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. A service account: OAuth2 client credentials ==\n");
    service_account().await?;
    println!("\n== 2. A user: Cognito USER_SRP_AUTH ==\n");
    srp_user().await
}

async fn service_account() -> Result<(), Box<dyn std::error::Error>> {
    let server = OAuthServer::builder()
        .client("demo-service", "demo-secret")
        .token_lifetime_secs(LIFETIME_SECS)
        .start()
        .await;
    println!("token endpoint:     {}", server.token_url());
    println!("protected resource: {}", server.resource_url());
    println!(
        "token lifetime:     {LIFETIME_SECS} s (expires_in); relied on for {} s, renewed after 3/4 of that\n",
        LIFETIME_SECS - 1
    );

    let environment = Environment::new("demo").with_token_url(&server.token_url())?;
    let authorizer =
        ServiceAccountAuthorizer::new(ClientInfo::new("demo-service", "demo-secret"), environment)?;
    let client = en_auth_oauth2::reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();

    let started = Instant::now();
    let mut sent = 0_u64;
    let mut last_second = u64::MAX;
    while started.elapsed() < RUN_FOR {
        // Eight concurrent requests at a time, as a busy service would send them.
        let batch: Vec<_> = (0..8)
            .map(|_| client.get(server.resource_url()).send())
            .collect();
        for response in futures::future::join_all(batch).await {
            let response = response?;
            if !response.status().is_success() {
                return Err(format!("resource answered {}", response.status()).into());
            }
            sent += 1;
        }
        let second = started.elapsed().as_secs();
        if second != last_second {
            last_second = second;
            println!(
                "t={second}s  requests sent: {sent:5}  token requests: {}",
                authorizer.token_requests()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "\n{sent} requests, all authorized ({} accepted by the resource); {} token requests made: one per renewal, not one per request.",
        server.resource_authorized(),
        server.token_requests()
    );
    Ok(())
}

async fn srp_user() -> Result<(), Box<dyn std::error::Error>> {
    let pool = CognitoServer::builder()
        .pool_id("us-east-1_DemoPool")
        .client(AppClient::confidential("demo-app", "demo-app-secret"))
        .user(PoolUser::new("alice", "Corr3ct-Horse!Battery").email("alice@example.com"))
        .access_token_lifetime_secs(LIFETIME_SECS)
        .start()
        .await;
    println!(
        "Cognito user pool:  {} (verifies SRP proofs; the password never leaves the client)",
        pool.endpoint()
    );
    let environment = Environment::new("demo")
        .with_user_pool_id(pool.pool_id())
        .with_cognito_endpoint(&pool.endpoint())?;
    let authorizer = SrpAuthorizer::new(
        en_auth_srp::ClientInfo::new("demo-app", "demo-app-secret"),
        UserCredentials::new("alice@example.com", "Corr3ct-Horse!Battery"),
        environment,
    )?;
    let client = en_auth_srp::reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();
    let started = Instant::now();
    let mut sent = 0_u64;
    while started.elapsed() < RUN_FOR {
        let response = client.get(pool.resource_url()).send().await?;
        if !response.status().is_success() {
            return Err(format!("resource answered {}", response.status()).into());
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{sent} requests as alice: {} SRP login(s), {} renewal(s) with the refresh token (InitiateAuth calls: {}).",
        pool.verified_logins(),
        authorizer.token_requests() - pool.verified_logins(),
        pool.calls("InitiateAuth"),
    );
    Ok(())
}
