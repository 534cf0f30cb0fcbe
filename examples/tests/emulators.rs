//! The emulators (`cargo xtask emulators`, the `en-auth-emulators` binary) as a user runs it: its first line names the
//! environments file; the token endpoint there issues a token for the demo client, which its
//! protected resource accepts; SIGTERM stops it cleanly (exit 0) and removes the file.
//!
//! The binary is `en-auth-emulators`, which cargo builds for this package's tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer};
use en_auth_testkit::emulators::{CLIENT_ID, CLIENT_SECRET, OAUTH_ENVIRONMENT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_serves_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_en-auth-emulators"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the emulators example");
    let stdout = child.stdout.take().unwrap();
    // Its output up to the last instruction, read off the runtime.
    let printed = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let last = line.contains("--user") && line.contains("curl");
            lines.push(line);
            if last {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let path = printed[0]
        .strip_prefix("environments: ")
        .unwrap_or_else(|| panic!("{printed:?}"));
    let toml = std::fs::read_to_string(path).unwrap();
    assert!(
        printed
            .iter()
            .any(|l| l == &format!("export EN_AUTH_ENVIRONMENTS={path}")),
        "{printed:?}"
    );

    // The file's token URL issues a token for the demo client; its resource accepts it.
    let section = &toml[toml.find(&format!("[{OAUTH_ENVIRONMENT}]")).unwrap()..];
    let token_url = section
        .lines()
        .find_map(|l| l.strip_prefix("token_url = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    let environment = Environment::new("emulated")
        .with_token_url(token_url)
        .unwrap();
    let authorizer =
        ServiceAccountAuthorizer::new(ClientInfo::new(CLIENT_ID, CLIENT_SECRET), environment)
            .unwrap();
    let client = en_auth_oauth2::reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build();
    let resource = token_url.replace("/oauth2/token", "/resource");
    let status = client.get(&resource).send().await.unwrap().status();
    assert_eq!(authorizer.token_requests(), 1);
    assert_eq!(status, 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(stderr.contains("terminated"), "{stderr}");
    assert!(!std::path::Path::new(path).exists(), "{path} left behind");
}
