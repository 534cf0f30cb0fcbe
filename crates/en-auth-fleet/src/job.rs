//! A short-lived job: the `service_account` example's shape — one `ServiceAccountAuthorizer`
//! from the environments file, one request, then the process exits — as cron jobs, CI steps,
//! Lambdas and Kubernetes Jobs run it. The jobs tests start several in a row and at once.
//!
//! ```text
//! CLIENT_ID=… CLIENT_SECRET=… ENVIRONMENT=jobs EN_AUTH_ENVIRONMENTS=envs.toml \
//!     [JOB_LOG=en_auth_core=debug] en-auth-job <url>
//! ```
//!
//! Prints one JSON line on stdout: `status` (the resource's HTTP status) and `token_requests`
//! (token requests this process made). A failure prints one line on stderr and exits 1.

use std::process::ExitCode;

use en_auth_oauth2::{reqwest_middleware, ClientInfo, ServiceAccountAuthorizer};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))
}

async fn run() -> Result<String, String> {
    let url = std::env::args().nth(1).ok_or("usage: en-auth-job <url>")?;
    let client_info = ClientInfo::new(var("CLIENT_ID")?, var("CLIENT_SECRET")?);
    let environment = var("ENVIRONMENT")?;
    let authorizer = ServiceAccountAuthorizer::new(client_info, environment.as_str())
        .map_err(|e| e.to_string())?;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();
    let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
    Ok(serde_json::json!({
        "status": response.status().as_u16(),
        "token_requests": authorizer.token_requests(),
    })
    .to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if let Ok(filter) = std::env::var("JOB_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    match run().await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(line) => {
            eprintln!("en-auth-job: {line}");
            ExitCode::FAILURE
        }
    }
}
