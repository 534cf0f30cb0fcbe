//! GET a protected URL as a service account from synchronous code — no `async`, no Tokio in
//! sight — as the Python `en_auth` package's example does with `requests`:
//!
//! ```python
//! client_info = data.ClientInfo(client_id, client_secret)
//! authorizer = auth.ServiceAccountAuthorizer(client_info, environment)
//! response = requests.get('https://envase.protected.url.com/api/resource', auth=authorizer)
//! ```
//!
//! ```text
//! CLIENT_ID=… CLIENT_SECRET=… [API_KEY=…] ENVIRONMENT=dev EN_AUTH_ENVIRONMENTS=envs.toml \
//!     cargo run --example blocking -- https://api.example.com/resource
//! ```
//!
//! Prints the status and the body. On an authorization failure it prints one line naming the
//! client, the environment, the endpoint and the server's error, and exits with status 1.

use std::process::ExitCode;

use en_auth_oauth2::reqwest::blocking::Client;
use en_auth_oauth2::{ClientInfo, IntoEnvironment, ServiceAccountAuthorizer};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("error: the environment variable {name} is not set"))
}

/// The line printed when the request fails: which client tried where, and the en-auth error
/// (which names the endpoint); or the request's own failure when it got as far as being sent.
fn failure_line(
    failure: &en_auth_oauth2::BlockingError,
    client_id: &str,
    environment: &str,
    url: &str,
) -> String {
    match failure.auth_error() {
        // A token request's error names its environment itself.
        Some(error) if error.environment().is_some() => {
            format!("error: client `{client_id}`: {error}")
        }
        Some(error) => format!("error: client `{client_id}`, environment `{environment}`: {error}"),
        None => format!("error: request to {url} failed: {failure}"),
    }
}

/// GETs `url` with `client_info`'s tokens for `environment`: the status and the body.
fn get(
    url: &str,
    client_info: ClientInfo,
    environment: impl IntoEnvironment,
    environment_id: &str,
) -> Result<(u16, String), String> {
    let client_id = client_info.client_id().to_owned();
    let authorizer = ServiceAccountAuthorizer::new(client_info, environment)
        .map_err(|e| format!("error: {e}"))?
        .blocking();
    let client = Client::new();
    let response = authorizer
        .send(client.get(url))
        .map_err(|e| failure_line(&e, &client_id, environment_id, url))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .map_err(|e| format!("error: reading the body: {e}"))?;
    Ok((status, body))
}

fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: blocking <url>  (with CLIENT_ID, CLIENT_SECRET, ENVIRONMENT set)")?;
    let client_info = ClientInfo::new(var("CLIENT_ID")?, var("CLIENT_SECRET")?)
        .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let environment = var("ENVIRONMENT")?;
    let (status, body) = get(&url, client_info, environment.as_str(), &environment)?;
    println!("{status}");
    println!("{body}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
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

    fn server() -> OAuthServer {
        OAuthServer::builder()
            .client("svc", "secret")
            .start_on_own_thread()
    }

    fn emulator(server: &OAuthServer) -> Environment {
        Environment::new("emulator")
            .with_token_url(&server.token_url())
            .unwrap()
    }

    #[test]
    fn gets_the_protected_resource_with_one_token() {
        let server = server();
        let answer = get(
            &server.resource_url(),
            ClientInfo::new("svc", "secret").with_api_key("key-1"),
            emulator(&server),
            "emulator",
        );
        assert_eq!(answer, Ok((200, "hello, svc".to_owned())));
        assert_eq!(server.token_requests(), 1);
        assert_eq!(server.last_api_key().as_deref(), Some("key-1"));
    }

    #[test]
    fn a_rejected_client_or_an_unreachable_endpoint_names_client_environment_and_endpoint() {
        for (secret, reachable) in [("wrong-secret", true), ("secret", false)] {
            let server = server();
            let (environment, token_url, url) =
                (emulator(&server), server.token_url(), server.resource_url());
            if !reachable {
                drop(server);
            }
            let line = get(
                &url,
                ClientInfo::new("svc", secret),
                environment,
                "emulator",
            )
            .unwrap_err();
            for part in ["client `svc`", "environment `emulator`", &token_url] {
                assert!(line.contains(part), "{part:?} missing from {line:?}");
            }
            assert!(!line.contains('\n'), "{line:?}");
        }
    }
}
