//! GET a protected URL as a user logged in over Cognito SRP, like the Python `en_auth`
//! package's SRP example.
//!
//! ```text
//! CLIENT_ID=… [CLIENT_SECRET=…] USER_NAME=… USER_PWD=… ENVIRONMENT=dev \
//!     EN_AUTH_ENVIRONMENTS=envs.toml cargo run --example srp_login -- https://api.example.com/me
//! ```
//!
//! With `SESSION_DIR` (a directory, created with mode 0700 if missing) and `SESSION_KEY_FILE`
//! (a file of mode 0600 holding base64 of 32 random bytes: `openssl rand -base64 32 > key;
//! chmod 600 key`) set, the session (refresh token and remembered device) is kept in that
//! directory, sealed with AES-256-GCM, and a later run renews it: no password proof, and no MFA
//! code in a pool that tracks devices. A TOTP code, when Cognito asks for one, is read from
//! `MFA_CODE` or, if that is not set, from a line of stdin.
//!
//! Prints the status and the body. On a failure it prints one line naming the user, the
//! client, the environment and Cognito's error (which names the endpoint), and exits with
//! status 1.

use std::process::ExitCode;

use en_auth_srp::{
    reqwest_middleware, Challenge, ChallengeResponses, ClientInfo, FileSessionStore, SrpAuthorizer,
    UserCredentials, SOFTWARE_TOKEN_MFA,
};

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

/// A TOTP code: `MFA_CODE`, else a line of stdin (`None` if there is none: the login then
/// fails naming the challenge).
fn mfa_code(challenge: &Challenge) -> Option<ChallengeResponses> {
    if challenge.name() != SOFTWARE_TOKEN_MFA {
        return None;
    }
    let code = std::env::var("MFA_CODE").ok().or_else(|| {
        eprint!("TOTP code: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok()?;
        Some(line.trim().to_owned()).filter(|code| !code.is_empty())
    })?;
    Some(ChallengeResponses::totp(code))
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: srp_login <url>  (with CLIENT_ID, USER_NAME, USER_PWD, ENVIRONMENT set)")?;
    get(url).await
}

/// GETs `url` as the user the variables name, printing the status and the body.
async fn get(url: String) -> Result<(), String> {
    let client_id = var("CLIENT_ID")?;
    let client_info = ClientInfo::new(
        client_id.as_str(),
        std::env::var("CLIENT_SECRET").unwrap_or_default(),
    )
    .with_api_key(std::env::var("API_KEY").unwrap_or_default());
    let user = var("USER_NAME")?;
    let credentials = UserCredentials::new(user.as_str(), var("USER_PWD")?);
    let environment = var("ENVIRONMENT")?;
    let mut builder = SrpAuthorizer::builder(client_info, credentials, environment.as_str())
        .challenge_handler(mfa_code);
    if let (Ok(dir), Ok(key_file)) = (var("SESSION_DIR"), var("SESSION_KEY_FILE")) {
        let store = FileSessionStore::open_with_key_file(dir, key_file)
            .map_err(|e| format!("error: {e}"))?;
        builder = builder.session_store(store);
    }
    let authorizer = builder.build().map_err(|e| format!("error: {e}"))?;
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
    use en_auth_testkit::{AppClient, CognitoServer, PoolUser, ScriptedChallenge};

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

    const PASSWORD: &str = "Corr3ct-Horse!";
    const CODE: &str = "123456";

    /// The example's own code (`get`) in a child process of this test binary (the variables
    /// are the process's), against `server` as user alice, keeping the session in `dir` with
    /// the key in `key_file`; `code` in `MFA_CODE`, stdin closed. Panics unless it succeeds.
    async fn run_child(
        server: &CognitoServer,
        dir: &std::path::Path,
        key_file: &std::path::Path,
        code: Option<&str>,
    ) -> String {
        let environments = dir.join("environments.toml");
        std::fs::write(
            &environments,
            format!(
                "[emulator]\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\n",
                server.pool_id(),
                server.endpoint()
            ),
        )
        .unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                "tests::child_get",
                "--include-ignored",
                "--nocapture",
            ])
            .stdin(std::process::Stdio::null())
            .env("EN_AUTH_ENVIRONMENTS", &environments)
            .env("ENVIRONMENT", "emulator")
            .env("CLIENT_ID", "app-client")
            .env_remove("CLIENT_SECRET")
            .env_remove("API_KEY")
            .env("USER_NAME", "alice")
            .env("USER_PWD", PASSWORD)
            .env("SESSION_DIR", dir.join("sessions"))
            .env("SESSION_KEY_FILE", key_file)
            .env("SRP_LOGIN_TEST_URL", server.resource_url());
        match code {
            Some(code) => child.env("MFA_CODE", code),
            None => child.env_remove("MFA_CODE"),
        };
        let output = tokio::task::spawn_blocking(move || child.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// A pool with device tracking "Always" and a user who must answer a TOTP code: the
    /// example run twice with the same session directory and key answers the code the first
    /// time and, in the second process, with no code and a closed stdin, renews the stored
    /// session — no password proof, no MFA answer — and the resource gets each request with a
    /// live token.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_run_with_the_same_session_store_asks_for_no_code() {
        use std::os::unix::fs::PermissionsExt as _;
        let server = CognitoServer::builder()
            .client(AppClient::public("app-client"))
            .user(
                PoolUser::new("alice", PASSWORD)
                    .challenge_after_password(ScriptedChallenge::software_token_mfa(CODE)),
            )
            .device_tracking_always(true)
            .resource_body("hello alice")
            .start()
            .await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("session.key");
        // base64 of 32 bytes of 0x5a.
        std::fs::write(&key_file, "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n").unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();

        let first = run_child(&server, dir.path(), &key_file, Some(CODE)).await;
        assert!(
            first.contains("200 OK") && first.contains("hello alice"),
            "{first}"
        );
        assert_eq!(server.verified_logins(), 1, "the first run logs in");
        let answers = server.calls("RespondToAuthChallenge");
        assert!(
            answers >= 2,
            "the password proof and the MFA code: {answers}"
        );
        assert_eq!(
            server.confirmed_devices("alice").len(),
            1,
            "the device confirmed"
        );
        assert_eq!(
            (server.resource_requests(), server.resource_authorized()),
            (1, 1)
        );

        let second = run_child(&server, dir.path(), &key_file, None).await;
        assert!(
            second.contains("200 OK") && second.contains("hello alice"),
            "{second}"
        );
        assert_eq!(
            server.verified_logins(),
            1,
            "the second run renews, no login"
        );
        assert_eq!(
            server.calls("RespondToAuthChallenge"),
            answers,
            "the second run answers no challenge (no MFA code)"
        );
        assert_eq!(
            (server.resource_requests(), server.resource_authorized()),
            (2, 2),
            "each request with a live token"
        );
        assert_eq!(server.missing_authorization(), 0);
    }

    /// Run by the test above in a child process: the example's `get`.
    #[tokio::test]
    #[ignore = "run by run_child, in a child process with the variables it sets"]
    async fn child_get() {
        let url = std::env::var("SRP_LOGIN_TEST_URL").expect("run by its parent test");
        get(url).await.unwrap();
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
