//! GET a protected URL as a user logged in over Cognito SRP, like the Python `en_auth`
//! package's SRP example.
//!
//! ```text
//! CLIENT_ID=… [CLIENT_SECRET=…] USER_NAME=… USER_PWD=… ENVIRONMENT=dev \
//!     EN_AUTH_ENVIRONMENTS=envs.toml cargo run --example srp_login -- https://api.example.com/me
//! ```
//!
//! Prints the status and the body. On a failure it prints one line naming the user, the
//! client, the environment and Cognito's error (which names the endpoint), and exits with
//! status 1.

use std::process::ExitCode;

use en_auth_srp::{reqwest_middleware, ClientInfo, SrpAuthorizer, UserCredentials};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("error: the environment variable {name} is not set"))
}

/// The line printed when the request fails: who tried where, and the en-auth error; or the
/// request's own failure when it got as far as being sent.
fn failure_line(
    failure: &reqwest_middleware::Error,
    user: &str,
    client_id: &str,
    environment: &str,
    url: &str,
) -> String {
    match en_auth_srp::auth_error(failure) {
        // A token request's error names its environment itself.
        Some(error) if error.environment().is_some() => {
            format!("error: user `{user}`, client `{client_id}`: {error}")
        }
        Some(error) => format!(
            "error: user `{user}`, client `{client_id}`, environment `{environment}`: {error}"
        ),
        None => format!("error: request to {url} failed: {failure}"),
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: srp_login <url>  (with CLIENT_ID, USER_NAME, USER_PWD, ENVIRONMENT set)")?;
    let client_id = var("CLIENT_ID")?;
    let client_info = ClientInfo::new(
        client_id.as_str(),
        std::env::var("CLIENT_SECRET").unwrap_or_default(),
    )
    .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let user = var("USER_NAME")?;
    let credentials = UserCredentials::new(user.as_str(), var("USER_PWD")?);
    let environment = var("ENVIRONMENT")?;
    let authorizer = SrpAuthorizer::new(client_info, credentials, environment.as_str())
        .map_err(|e| format!("error: {e}"))?;
    // Redirects followed only within the origin: the API key never travels elsewhere.
    let http = reqwest::Client::builder()
        .redirect(en_auth_srp::same_origin_redirects())
        .build()
        .map_err(|e| format!("error: {e}"))?;
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(authorizer)
        .build();
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| failure_line(&e, &user, &client_id, &environment, &url))?;
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
    use en_auth_srp::Environment;
    use en_auth_testkit::{AppClient, CognitoServer, PoolUser};

    use super::*;

    /// The failure line for `user` logging in with `password` against the emulator.
    async fn line_for(user: &str, password: &str) -> (String, CognitoServer) {
        let server = CognitoServer::builder()
            .client(AppClient::public("app-client"))
            .user(PoolUser::new("alice", "Corr3ct-Horse!"))
            .start()
            .await;
        let environment = Environment::new("emulator")
            .with_user_pool_id(server.pool_id())
            .with_cognito_endpoint(&server.endpoint())
            .unwrap();
        let authorizer = SrpAuthorizer::new(
            ClientInfo::public("app-client"),
            UserCredentials::new(user, password),
            environment,
        )
        .unwrap();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(authorizer)
            .build();
        let url = server.resource_url();
        let failure = client.get(&url).send().await.unwrap_err();
        let line = failure_line(&failure, user, "app-client", "emulator", &url);
        (line, server)
    }

    #[tokio::test]
    async fn a_wrong_password_or_an_unknown_user_names_user_client_environment_and_endpoint() {
        for (user, password) in [("alice", "wrong-password"), ("nobody", "Corr3ct-Horse!")] {
            let (line, server) = line_for(user, password).await;
            for part in [
                format!("user `{user}`"),
                "client `app-client`".into(),
                "environment `emulator`".into(),
                server.endpoint(),
            ] {
                assert!(line.contains(&part), "{part:?} missing from {line:?}");
            }
            assert!(!line.contains('\n'), "{line:?}");
        }
    }
}
