//! GET a protected URL as a service account, like the seed's example.
//!
//! ```text
//! CLIENT_ID=… CLIENT_SECRET=… [API_KEY=…] ENVIRONMENT=dev EN_AUTH_ENVIRONMENTS=envs.toml \
//!     cargo run --example service_account -- https://api.example.com/resource
//! ```
//!
//! Prints the status and the body. On an authorization failure it prints one line naming the
//! client, the environment, the endpoint and the server's error, and exits with status 1.

use std::process::ExitCode;

use en_auth_oauth2::{ClientInfo, ServiceAccountAuthorizer};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("error: the environment variable {name} is not set"))
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: service_account <url>  (with CLIENT_ID, CLIENT_SECRET, ENVIRONMENT set)")?;
    let client_info = ClientInfo::new(var("CLIENT_ID")?, var("CLIENT_SECRET")?)
        .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let environment = var("ENVIRONMENT")?;
    let authorizer = ServiceAccountAuthorizer::new(client_info, environment.as_str())
        .map_err(|e| format!("error: {e}"))?;
    let client = en_auth_oauth2::reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer)
        .build();
    let response = client.get(&url).send().await.map_err(|e| match e {
        en_auth_oauth2::reqwest_middleware::Error::Middleware(e) => {
            format!("error: environment `{environment}`: {e}")
        }
        other => format!("error: request to {url} failed: {other}"),
    })?;
    println!("{}", response.status());
    let body = response
        .text()
        .await
        .map_err(|e| format!("error: reading the body: {e}"))?;
    println!("{body}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}
