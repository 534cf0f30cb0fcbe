//! `cargo xtask emulators` (the `emulators` example): its environments file and demo
//! credentials work with `en-auth` — a client-credentials token and a Cognito user's token,
//! each accepted by its emulator's protected resource — and its instructions say how.

mod common;

use common::Sandbox;
use en_auth_testkit::emulators::{self, Emulators};

async fn accepted(resource: &str, token: &str) -> bool {
    reqwest::Client::new()
        .get(resource)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn en_auth_gets_tokens_from_the_emulators() {
    let emulators = Emulators::start().await;
    let sandbox = Sandbox::new("emulators", &emulators.environments_toml());

    // Both environments are valid, as `en-auth envs` reads them.
    let envs = sandbox.cmd(["envs"]).run().await.ok();
    for id in [emulators::OAUTH_ENVIRONMENT, emulators::COGNITO_ENVIRONMENT] {
        assert!(envs.contains(id), "{envs}");
    }

    let token = sandbox
        .cmd(["token", "--env", emulators::OAUTH_ENVIRONMENT])
        .env("CLIENT_ID", emulators::CLIENT_ID)
        .env("CLIENT_SECRET", emulators::CLIENT_SECRET)
        .run()
        .await
        .ok();
    assert!(accepted(&emulators.oauth.resource_url(), token.trim_end()).await);
    assert_eq!(emulators.oauth.token_requests(), 1);

    // The user, with the same client variables (the app client is confidential).
    let token = sandbox
        .cmd([
            "token",
            "--env",
            emulators::COGNITO_ENVIRONMENT,
            "--user",
            emulators::USER,
        ])
        .env("CLIENT_ID", emulators::CLIENT_ID)
        .env("CLIENT_SECRET", emulators::CLIENT_SECRET)
        .env("USER_PWD", emulators::PASSWORD)
        .run()
        .await
        .ok();
    assert!(accepted(&emulators.cognito.resource_url(), token.trim_end()).await);
    assert_eq!(emulators.cognito.verified_logins(), 1);
    // A token of one is no good at the other.
    assert!(!accepted(&emulators.oauth.resource_url(), token.trim_end()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instructions_name_the_file_the_variables_and_the_endpoints() {
    let emulators = Emulators::start().await;
    let path = std::path::Path::new("/tmp/en-auth-emulators-test.toml");
    let text = emulators.instructions(path);
    for part in [
        format!("export EN_AUTH_ENVIRONMENTS={}", path.display()),
        format!(
            "export CLIENT_ID={} CLIENT_SECRET={}",
            emulators::CLIENT_ID,
            emulators::CLIENT_SECRET
        ),
        format!("en-auth token --env {}", emulators::OAUTH_ENVIRONMENT),
        format!("--user {}", emulators::USER),
        emulators.oauth.token_url(),
        emulators.oauth.resource_url(),
        emulators.cognito.endpoint(),
        emulators.cognito.resource_url(),
    ] {
        assert!(text.contains(&part), "{part}:\n{text}");
    }
}
