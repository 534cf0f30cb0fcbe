//! The Cognito emulator against the official JS client, amazon-cognito-identity-js 6.3.21
//! (`peers/cognito-js/login.mjs`): if the emulator's SRP verifier, challenge shapes or user-name
//! handling differed from real Cognito's, the official client could not sign in.
//!
//! Needs `node` and `peers/cognito-js/node_modules` (installed by `cargo xtask peers install`);
//! without them these tests FAIL, they never pass by skipping.

use std::path::PathBuf;
use std::process::Command;

use en_auth_testkit::{CognitoServer, PoolUser, Script, ScriptedChallenge, UserStatus};
use serde_json::Value;

const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SUB: &str = "7d3f9a10-2b4c-4d5e-8f60-718293a4b5c6";
const INSTALL: &str = "run `cargo xtask peers install` (it runs `npm ci` in peers/cognito-js)";

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers/cognito-js")
}

/// The login script, after checking that node and the pinned package are installed.
fn login_script() -> PathBuf {
    let dir = peer_dir();
    let script = dir.join("login.mjs");
    assert!(
        script.is_file(),
        "{} is missing (it belongs to the repository)",
        script.display()
    );
    let node = Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`node --version` failed ({}): Node.js 20+ is needed for the official Cognito client peer; {INSTALL}",
            out.status
        ),
        Err(e) => panic!(
            "cannot run `node` ({e}): Node.js 20+ is needed for the official Cognito client peer; {INSTALL}"
        ),
    }
    let package = dir.join("node_modules/amazon-cognito-identity-js/package.json");
    let manifest = std::fs::read_to_string(&package).unwrap_or_else(|e| {
        panic!(
            "amazon-cognito-identity-js is not installed ({}: {e}); {INSTALL}",
            package.display()
        )
    });
    let manifest: Value = serde_json::from_str(&manifest).expect("package.json is JSON");
    assert_eq!(
        manifest["version"], "6.3.21",
        "peers/cognito-js/node_modules holds another amazon-cognito-identity-js; {INSTALL}"
    );
    script
}

/// Runs `login.mjs` against the emulator and returns its JSON line.
async fn js_login(
    server: &CognitoServer,
    client_id: &str,
    username: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Value {
    let script = login_script();
    let mut command = Command::new("node");
    command
        .arg(&script)
        .current_dir(peer_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ENDPOINT", server.endpoint())
        .env("POOL_ID", server.pool_id())
        .env("CLIENT_ID", client_id)
        .env("USERNAME", username)
        .env("PASSWORD", password);
    for (name, value) in extra {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the node runner task")
        .expect("spawn node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "login.mjs crashed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("login.mjs printed no JSON line ({e}): {stdout}\n{stderr}"))
}

fn alice() -> PoolUser {
    PoolUser::new("alice", PASSWORD)
        .email("alice@example.com")
        .sub(SUB)
}

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id("eu-west-1_Official")
        .public_client("js-client")
        .user(alice())
        .user(PoolUser::new("dave", "temporary-Pa55").status(UserStatus::ForceChangePassword))
        .access_token_lifetime_secs(120)
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_password_signs_in() {
    let server = server().await;
    let out = js_login(&server, "js-client", "alice", PASSWORD, &[]).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["username"], "alice", "{out}");
    assert_eq!(out["user_id_for_srp"], "alice", "{out}");
    assert_eq!(out["access_token_use"], "access", "{out}");
    assert_eq!(out["expires_in"], 120, "{out}");
    assert_eq!(out["has_refresh_token"], true, "{out}");
    assert_eq!(server.verified_logins(), 1);
    assert_eq!(server.failed_proofs(), 0);
    assert_eq!(server.calls("InitiateAuth"), 1);
    assert_eq!(server.calls("RespondToAuthChallenge"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_not_authorized() {
    let server = server().await;
    let out = js_login(&server, "js-client", "alice", "Wrong-Horse!Battery", &[]).await;
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(out["code"], "NotAuthorizedException", "{out}");
    assert_eq!(out["message"], "Incorrect username or password.", "{out}");
    assert_eq!(server.failed_proofs(), 1);
    assert_eq!(server.verified_logins(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_alias_signs_in() {
    let server = server().await;
    let out = js_login(&server, "js-client", "alice@example.com", PASSWORD, &[]).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["username"], "alice", "{out}");
    // The client continues as USER_ID_FOR_SRP, the canonical user name.
    assert_eq!(out["user_id_for_srp"], "alice", "{out}");
    assert_eq!(server.verified_logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_as_username_pool_signs_in_as_the_sub() {
    let server = CognitoServer::builder()
        .pool_id("eu-west-1_Official")
        .public_client("js-client")
        .user(alice())
        .email_as_username(true)
        .start()
        .await;
    let out = js_login(&server, "js-client", "alice@example.com", PASSWORD, &[]).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["username"], SUB, "{out}");
    assert_eq!(out["user_id_for_srp"], SUB, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_and_client_errors_reach_the_client() {
    let server = server().await;
    let out = js_login(&server, "js-client", "mallory", PASSWORD, &[]).await;
    assert_eq!(out["code"], "UserNotFoundException", "{out}");
    assert_eq!(out["message"], "User does not exist.", "{out}");
    let out = js_login(&server, "no-such-client", "alice", PASSWORD, &[]).await;
    assert_eq!(out["code"], "ResourceNotFoundException", "{out}");
    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        1,
    );
    let out = js_login(&server, "js-client", "alice", PASSWORD, &[]).await;
    assert_eq!(out["code"], "TooManyRequestsException", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_and_challenges_work_with_the_official_client() {
    // A server that returns (and requires) a Session with PASSWORD_VERIFIER.
    let server = CognitoServer::builder()
        .pool_id("eu-west-1_Official")
        .public_client("js-client")
        .user(alice())
        .user(PoolUser::new("dave", "temporary-Pa55").status(UserStatus::ForceChangePassword))
        .require_session(true)
        .start()
        .await;
    let out = js_login(&server, "js-client", "alice", PASSWORD, &[]).await;
    assert_eq!(out["ok"], true, "{out}");

    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::software_token_mfa("314159")),
        1,
    );
    let out = js_login(&server, "js-client", "alice", PASSWORD, &[]).await;
    assert_eq!(out["challenge"], "SOFTWARE_TOKEN_MFA", "{out}");

    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::software_token_mfa("314159")),
        1,
    );
    let out = js_login(
        &server,
        "js-client",
        "alice@example.com",
        PASSWORD,
        &[("MFA_CODE", "000000")],
    )
    .await;
    assert_eq!(out["code"], "CodeMismatchException", "{out}");

    server.script(
        "RespondToAuthChallenge",
        Script::challenge(ScriptedChallenge::sms_mfa("271828")),
        1,
    );
    let out = js_login(
        &server,
        "js-client",
        "alice@example.com",
        PASSWORD,
        &[("MFA_CODE", "271828")],
    )
    .await;
    assert_eq!(out["ok"], true, "{out}");

    let out = js_login(
        &server,
        "js-client",
        "dave",
        "temporary-Pa55",
        &[("NEW_PASSWORD", "Brand-n3w-Pa55")],
    )
    .await;
    assert_eq!(out["ok"], true, "{out}");
    let out = js_login(&server, "js-client", "dave", "Brand-n3w-Pa55", &[]).await;
    assert_eq!(out["ok"], true, "{out}");
}

#[tokio::test]
async fn the_official_client_confirms_and_proves_a_remembered_device() {
    // Device tracking "Always" and a TOTP code at every login without a remembered device: the
    // official client confirms the device after the first login (ConfirmDevice with its own
    // verifier) and proves it in the next (DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER, which
    // the emulator verifies against that verifier): no code the second time.
    let server = CognitoServer::builder()
        .pool_id("eu-west-1_Official")
        .public_client("js-client")
        .user(alice().challenge_after_password(ScriptedChallenge::software_token_mfa("314159")))
        .device_tracking_always(true)
        .start()
        .await;
    let out = js_login(
        &server,
        "js-client",
        "alice",
        PASSWORD,
        &[("MFA_CODE", "314159"), ("ROUNDS", "2")],
    )
    .await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["rounds"][0]["mfa_asked"], true, "{out}");
    assert_eq!(out["rounds"][1]["mfa_asked"], false, "{out}");
    assert_eq!(server.confirmed_devices("alice").len(), 1);
    assert_eq!(server.verified_device_proofs(), 1);
    assert_eq!(server.failed_device_proofs(), 0);

    // A forgotten device: a new process of the official client (its device cache is in
    // memory) logs in with the code, confirms a new device, and proves that one.
    server.forget_devices("alice");
    let out = js_login(
        &server,
        "js-client",
        "alice",
        PASSWORD,
        &[("MFA_CODE", "314159"), ("ROUNDS", "2")],
    )
    .await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["rounds"][0]["mfa_asked"], true, "{out}");
    assert_eq!(out["rounds"][1]["mfa_asked"], false, "{out}");
    assert_eq!(server.confirmed_devices("alice").len(), 1);
    assert_eq!(server.verified_device_proofs(), 2);
}

/// Custom authentication as the official client runs it: `CUSTOM_WITH_SRP` (its
/// `authenticateUser` with flow `CUSTOM_AUTH` sends `CHALLENGE_NAME = SRP_A` and answers
/// `PASSWORD_VERIFIER`, which the emulator verifies) and `CUSTOM_WITHOUT_SRP` (its
/// `initiateAuth`), over the emulator's two custom rounds; a wrong answer is
/// `NotAuthorizedException` "Incorrect username or password.".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_auth_with_and_without_srp_signs_in_with_the_official_client() {
    let server = CognitoServer::builder()
        .pool_id("eu-west-1_Official")
        .public_client("js-client")
        .user(
            alice()
                .custom_challenge("first-answer", [("round", "1")])
                .custom_challenge("second-answer", [("round", "2")]),
        )
        .start()
        .await;
    for (flow, proofs) in [("CUSTOM_WITH_SRP", 1), ("CUSTOM_WITHOUT_SRP", 1)] {
        let out = js_login(
            &server,
            "js-client",
            "alice",
            PASSWORD,
            &[
                ("AUTH_FLOW", flow),
                ("CUSTOM_ANSWER", "first-answer,second-answer"),
            ],
        )
        .await;
        assert_eq!(out["ok"], true, "{flow}: {out}");
        assert_eq!(out["username"], "alice", "{flow}: {out}");
        let rounds = out["custom_rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 2, "{flow}: {out}");
        assert_eq!(rounds[0]["round"], "1", "{flow}: {out}");
        assert_eq!(rounds[1]["round"], "2", "{flow}: {out}");
        assert_eq!(server.verified_logins(), proofs, "{flow}");
    }
    let out = js_login(
        &server,
        "js-client",
        "alice",
        PASSWORD,
        &[("AUTH_FLOW", "CUSTOM_WITH_SRP"), ("CUSTOM_ANSWER", "wrong")],
    )
    .await;
    assert_eq!(out["code"], "NotAuthorizedException", "{out}");
    assert_eq!(out["message"], "Incorrect username or password.", "{out}");
    assert_eq!(server.custom_answers_accepted(), 4);
    assert_eq!(server.custom_answers_refused(), 1);
}
