//! No password, client secret, MFA code or token (access, id, refresh) reaches `Debug`,
//! `Display`, an error or a TRACE-level log of an SRP login, its renewal and its failure.
//! (Alone in its test binary: tracing's per-thread subscriber is unreliable beside other tests
//! running on other threads.)

use en_auth_peers::support::LogCapture;
use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, SrpAuthorizer, UserCredentials,
};
use en_auth_testkit::{self as testkit, AppClient, CognitoServer, PoolUser};
use secrecy::ExposeSecret;

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::confidential("confidential", SECRET))
        .user(PoolUser::new("alice", PASSWORD))
        .user(
            PoolUser::new("totp", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::software_token_mfa("123456")),
        )
        .start()
        .await
}

fn environment(server: &CognitoServer) -> Environment {
    Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&server.endpoint())
        .unwrap()
}

fn client(id: &str) -> ClientInfo {
    ClientInfo::new(id, SECRET)
}

fn auth(server: &CognitoServer, client_id: &str, user: &str, password: &str) -> SrpAuthorizer {
    SrpAuthorizer::new(
        client(client_id),
        UserCredentials::new(user, password),
        environment(server),
    )
    .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn no_password_secret_code_or_token_is_printed() {
    let (capture, _guard) = LogCapture::install();

    let server = server().await;
    let mut printed = Vec::new();
    let mut secrets: Vec<String> = vec![
        en_auth_srp::srp::secret_hash("confidential", SECRET, "totp"),
        en_auth_srp::srp::secret_hash("confidential", SECRET, "alice"),
        PASSWORD.into(),
        SECRET.into(),
        "123456".into(),
        "wrong-password-xyz".into(),
    ];

    let a = SrpAuthorizer::builder(
        client("confidential"),
        UserCredentials::new("totp", PASSWORD),
        environment(&server),
    )
    .challenge_handler(|_: &Challenge| Some(ChallengeResponses::totp("123456")))
    .build()
    .unwrap();
    let token = a.access_token().await.unwrap();
    secrets.push(token.secret().expose_secret().to_owned());
    secrets.push(token.id_token().unwrap().expose_secret().to_owned());
    secrets.push(token.refresh_token().unwrap().expose_secret().to_owned());
    printed.push(format!("{token:?} {:?} {a:?}", *token));
    let generation = token.generation();
    drop(token);
    a.invalidate(generation);
    let renewed = a.access_token().await.unwrap();
    secrets.push(renewed.secret().expose_secret().to_owned());
    drop(renewed);

    let wrong = auth(&server, "confidential", "alice", "wrong-password-xyz");
    let e = wrong.access_token().await.unwrap_err();
    printed.push(format!("{e} {e:?}"));
    printed.push(format!("{:?}", ChallengeResponses::totp("123456")));
    printed.push(format!("{:?}", UserCredentials::new("alice", PASSWORD)));
    printed.push(format!("{:?}", en_auth_srp::srp::SrpClient::new().unwrap()));

    drop(_guard);
    let logs = capture.text();
    assert!(logs.contains("token obtained"), "the run was logged");
    // The token requests' spans are scanned with all their fields (as they closed), on
    // success and on failure.
    for field in [
        "en_auth.token_request",
        "close",
        "outcome=\"ok\"",
        "outcome=\"error\"",
        "error.type=\"invalid_credentials\"",
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=400",
    ] {
        assert!(logs.contains(field), "{field} not in the logs: {logs}");
    }
    let everything = format!("{logs}\n{}", printed.join("\n"));
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "a secret leaked: {} chars starting {:?}",
            secret.len(),
            &secret[..4.min(secret.len())]
        );
    }
}
