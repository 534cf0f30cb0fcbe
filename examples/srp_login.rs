//! GET a protected URL as a user logged in over Cognito SRP, like the seed's SRP example.
//!
//! ```text
//! CLIENT_ID=… [CLIENT_SECRET=…] USER_NAME=… USER_PWD=… ENVIRONMENT=dev \
//!     EN_AUTH_ENVIRONMENTS=envs.toml cargo run --example srp_login -- https://api.example.com/me
//! ```
//!
//! Prints the status and the body. On a failure it prints one line naming the user, the
//! client, the environment and Cognito's error, and exits with status 1.

use std::process::ExitCode;

use en_auth_srp::{ClientInfo, SrpAuthorizer, UserCredentials};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("error: the environment variable {name} is not set"))
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: srp_login <url>  (with CLIENT_ID, USER_NAME, USER_PWD, ENVIRONMENT set)")?;
    let client_info = ClientInfo::new(
        var("CLIENT_ID")?,
        std::env::var("CLIENT_SECRET").unwrap_or_default(),
    )
    .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let credentials = UserCredentials::new(var("USER_NAME")?, var("USER_PWD")?);
    let environment = var("ENVIRONMENT")?;
    let authorizer = SrpAuthorizer::new(client_info, credentials, environment.as_str())
        .map_err(|e| format!("error: {e}"))?;
    let client = en_auth_srp::reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer)
        .build();
    let response = client.get(&url).send().await.map_err(|e| match e {
        en_auth_srp::reqwest_middleware::Error::Middleware(e) => {
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
