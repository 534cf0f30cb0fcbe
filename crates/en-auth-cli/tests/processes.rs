//! Many `en-auth` processes at once on one machine (as k9s, Helm, Argo or a parallel script
//! start kubectl's credential plugin): one token request between them, one refresh of a user's
//! session with a one-time refresh token; and a cached token handed only to the secret it was
//! obtained with.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{only_cache_file, Sandbox};
use en_auth_testkit::{AppClient, CognitoServer, OAuthServer, PoolUser};

const SECRET: &str = "processes-secret-71c2";
const PASSWORD: &str = "Corr3ct-Horse!";
const N: usize = 8;

/// `n` processes of `invocation()` started at once, their stderr lines forwarded (process
/// index, line) as they come.
fn spawn_all(
    n: usize,
    invocation: impl Fn() -> common::Invocation,
) -> (Vec<Child>, mpsc::Receiver<(usize, String)>) {
    let (lines, received) = mpsc::channel();
    let children = (0..n)
        .map(|i| {
            let mut child = invocation()
                .into_command()
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn en-auth");
            let stderr = child.stderr.take().unwrap();
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = lines.send((i, line));
                }
            });
            child
        })
        .collect();
    (children, received)
}

/// Waits until `n` distinct processes have said something containing `what`; the lines
/// received meanwhile, for failure messages.
fn until_said(received: &mpsc::Receiver<(usize, String)>, what: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut said = std::collections::BTreeSet::new();
    let mut log = Vec::new();
    while said.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok((i, line)) => {
                if line.contains(what) {
                    said.insert(i);
                }
                log.push(format!("[{i}] {line}"));
            }
            Err(_) => panic!(
                "only {} of {n} processes said `{what}`:\n{}",
                said.len(),
                log.join("\n")
            ),
        }
    }
    log
}

/// Each child's stdout, after checking it succeeded.
fn outputs(children: Vec<Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8(output.stdout).unwrap()
        })
        .collect()
}

fn oauth_sandbox(tag: &str, server: &OAuthServer) -> Sandbox {
    Sandbox::new(
        tag,
        &format!("[dev]\ntoken_url = \"{}\"\n", server.token_url()),
    )
}

fn token_cmd(sandbox: &Sandbox, secret: &str, extra: &[&str]) -> common::Invocation {
    let mut args = vec!["token", "--env", "dev"];
    args.extend_from_slice(extra);
    sandbox
        .cmd(args)
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_invocations_make_one_token_request_and_print_one_token() {
    let server = OAuthServer::builder().client("svc", SECRET).start().await;
    let sandbox = oauth_sandbox("cold", &server);
    // The token endpoint answers only once every other process waits for the first's token
    // (-vv shows the library's log: each waiter says so).
    server.hold_token_requests();
    let (children, received) = spawn_all(N, || token_cmd(&sandbox, SECRET, &["-vv"]));
    let received = tokio::task::spawn_blocking(move || {
        until_said(&received, "holds the fleet's lock", N - 1);
        received
    })
    .await
    .unwrap();
    assert_eq!(server.token_requests(), 1);
    server.release_token_requests();
    let printed = tokio::task::spawn_blocking(move || outputs(children))
        .await
        .unwrap();
    drop(received);
    assert_eq!(
        server.token_requests(),
        1,
        "one token request for {N} processes"
    );
    assert!(printed.iter().all(|p| *p == printed[0]), "{printed:?}");
    let (_, file) = only_cache_file(&sandbox);
    assert_eq!(file["access_token"], printed[0].trim_end());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_is_never_handed_to_another_secret_or_to_none() {
    let server = OAuthServer::builder().client("svc", SECRET).start().await;
    let sandbox = oauth_sandbox("secret", &server);
    let token = token_cmd(&sandbox, SECRET, &[]).run().await.ok();
    assert_eq!(server.token_requests(), 1);
    // A wrong (or rotated, or revoked) secret is a miss, rejected by the token endpoint: 4.
    let line = token_cmd(&sandbox, "wrong-secret", &[])
        .run()
        .await
        .fails_with(4);
    assert!(line.contains("svc"), "{line}");
    assert!(
        !line.contains(token.trim_end()) && !line.contains("wrong-secret"),
        "{line}"
    );
    assert_eq!(server.token_requests(), 2);
    // No secret at all, no terminal to ask it on: 6, and no token.
    let line = sandbox
        .cmd(["token", "--env", "dev"])
        .env("CLIENT_ID", "svc")
        .run()
        .await
        .fails_with(6);
    assert!(line.contains("CLIENT_SECRET"), "{line}");
    // The right secret: the cached token, no token request.
    assert_eq!(token_cmd(&sandbox, SECRET, &[]).run().await.ok(), token);
    assert_eq!(server.token_requests(), 2);
}

/// A user's session whose access token has expired and whose refresh token is one-time (the
/// app client rotates it with no grace period): eight processes at once renew it once, and
/// all print the renewed token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_renew_a_session_with_a_one_time_refresh_token_once() {
    let server = CognitoServer::builder()
        .pool_id("eu-west-1_Example")
        .client(AppClient::confidential("rotating", SECRET).refresh_token_rotation(0))
        .user(PoolUser::new("alice", PASSWORD))
        .start()
        .await;
    let sandbox = Sandbox::new(
        "session",
        &format!(
            "[rotating]\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\nrefresh_token_rotation = true\n",
            server.pool_id(),
            server.endpoint()
        ),
    );
    let cmd = |command: &str, extra: &[&str]| {
        let mut args = vec![command, "--env", "rotating", "--user", "alice"];
        args.extend_from_slice(extra);
        sandbox
            .cmd(args)
            .env("CLIENT_ID", "rotating")
            .env("CLIENT_SECRET", SECRET)
    };
    cmd("login", &[]).env("USER_PWD", PASSWORD).run().await.ok();
    // The access token expired an hour ago (the clock is not waited on: the session file says
    // so).
    let (path, mut session) = only_cache_file(&sandbox);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    session["obtained_at"] = (now - 7200).into();
    session["expires_at"] = (now - 3600).into();
    std::fs::write(&path, session.to_string()).unwrap();

    server.hold_requests();
    let (children, received) = spawn_all(N, || cmd("token", &["-v"]));
    let received = tokio::task::spawn_blocking(move || {
        until_said(&received, "renewing this session: waiting", N - 1);
        received
    })
    .await
    .unwrap();
    server.release_requests();
    let printed = tokio::task::spawn_blocking(move || outputs(children))
        .await
        .unwrap();
    drop(received);
    assert_eq!(server.calls("GetTokensFromRefreshToken"), 1, "one refresh");
    assert_eq!(server.verified_logins(), 1, "no new login");
    assert!(printed.iter().all(|p| *p == printed[0]), "{printed:?}");
    let status = reqwest::Client::new()
        .get(server.resource_url())
        .bearer_auth(printed[0].trim_end())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}
