//! The zero-configuration demo: an in-process token endpoint and protected resource on
//! loopback, and a `ServiceAccountAuthorizer` fetching, caching and renewing tokens across a few
//! short expiries. No network, no setup: `cargo xtask demo` (or `cargo run --example demo`).

use std::time::{Duration, Instant};

use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::OAuthServer;

const LIFETIME_SECS: u64 = 3;
const RUN_FOR: Duration = Duration::from_secs(7);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
