//! GET a protected URL as a service account, like the Python `en_auth` package's example.
//!
//! ```text
//! CLIENT_ID=… CLIENT_SECRET=… [API_KEY=…] ENVIRONMENT=dev EN_AUTH_ENVIRONMENTS=envs.toml \
//!     cargo run --example service_account -- https://api.example.com/resource
//! ```
//!
//! Prints the status and the body. On an authorization failure it prints one line naming the
//! client, the environment, the endpoint and the server's error, and exits with status 1.

use std::process::ExitCode;

use en_auth_oauth2::{reqwest_middleware, ClientInfo, ServiceAccountAuthorizer};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("error: the environment variable {name} is not set"))
}

/// The line printed when the request fails: which client tried where, and the en-auth error
/// (which names the endpoint); or the request's own failure when it got as far as being sent.
fn failure_line(
    failure: &reqwest_middleware::Error,
    client_id: &str,
    environment: &str,
    url: &str,
) -> String {
    match en_auth_oauth2::auth_error(failure) {
        // A token request's error names its environment itself.
        Some(error) if error.environment().is_some() => {
            format!("error: client `{client_id}`: {error}")
        }
        Some(error) => format!("error: client `{client_id}`, environment `{environment}`: {error}"),
        None => format!("error: request to {url} failed: {failure}"),
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: service_account <url>  (with CLIENT_ID, CLIENT_SECRET, ENVIRONMENT set)")?;
    let client_id = var("CLIENT_ID")?;
    let client_info = ClientInfo::new(client_id.as_str(), var("CLIENT_SECRET")?)
        .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let environment = var("ENVIRONMENT")?;
    let authorizer = ServiceAccountAuthorizer::new(client_info, environment.as_str())
        .map_err(|e| format!("error: {e}"))?;
    // Redirects followed only within the origin: the API key never travels elsewhere.
    let http = reqwest::Client::builder()
        .redirect(en_auth_oauth2::same_origin_redirects())
        .build()
        .map_err(|e| format!("error: {e}"))?;
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(authorizer)
        .build();
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| failure_line(&e, &client_id, &environment, &url))?;
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

#[cfg(test)]
mod tests {
    use en_auth_oauth2::Environment;
    use en_auth_testkit::OAuthServer;

    use super::*;

    /// The failure line for client `svc` with `secret`, its token endpoint reachable or not.
    async fn line_for(secret: &str, reachable: bool) -> (String, String) {
        let server = OAuthServer::builder().client("svc", "secret").start().await;
        let (token_url, url) = (server.token_url(), server.resource_url());
        let environment = Environment::new("emulator")
            .with_token_url(&token_url)
            .unwrap();
        let authorizer =
            ServiceAccountAuthorizer::new(ClientInfo::new("svc", secret), environment).unwrap();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(authorizer)
            .build();
        if !reachable {
            drop(server);
        }
        let failure = client.get(&url).send().await.unwrap_err();
        (failure_line(&failure, "svc", "emulator", &url), token_url)
    }

    #[tokio::test]
    async fn a_rejected_client_or_an_unreachable_endpoint_names_client_environment_and_endpoint() {
        for (secret, reachable) in [("wrong-secret", true), ("secret", false)] {
            let (line, token_url) = line_for(secret, reachable).await;
            for part in ["client `svc`", "environment `emulator`", &token_url] {
                assert!(line.contains(part), "{part:?} missing from {line:?}");
            }
            assert!(!line.contains('\n'), "{line:?}");
        }
    }
}
