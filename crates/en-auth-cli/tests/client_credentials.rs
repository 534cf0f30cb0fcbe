//! `en-auth token` / `exec` for a service account against the testkit's OAuth2 emulator: every
//! format, the cache between invocations, concurrency, curl, and the failures' exit codes.

mod common;

use common::{is_rfc3339_utc, mode, only_cache_file, seconds_until, Sandbox};
use en_auth_peers::secrecy::Scan;
use en_auth_testkit::{Behaviour, OAuthServer};
use serde_json::Value;

const SECRET: &str = "s3cr+t/with=odd:chars%21! and space";

async fn server() -> OAuthServer {
    OAuthServer::builder()
        .client("svc", SECRET)
        .client("other", "other-secret")
        .start()
        .await
}

fn sandbox(tag: &str, server: &OAuthServer) -> Sandbox {
    Sandbox::new(
        tag,
        &format!(
            "[dev]\ntoken_url = \"{}\"\nscopes = [\"api/read\"]\n",
            server.token_url()
        ),
    )
}

fn token_cmd(sandbox: &Sandbox, extra: &[&str]) -> common::Invocation {
    let mut args = vec!["token", "--env", "dev"];
    args.extend_from_slice(extra);
    sandbox
        .cmd(args)
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format() {
    let server = server().await;
    let sandbox = sandbox("formats", &server);

    // The token is obtained by the first command; its lifetime counts from then.
    let obtained = std::time::Instant::now();
    let raw = token_cmd(&sandbox, &[]).run().await.ok();
    assert!(raw.ends_with('\n') && raw.lines().count() == 1, "{raw:?}");
    let token = raw.trim_end();
    assert!(token.starts_with("tk"), "{token}");

    let header = token_cmd(&sandbox, &["--format", "header"])
        .run()
        .await
        .ok();
    assert_eq!(header, format!("Authorization: Bearer {token}\n"));

    let printed = std::time::Instant::now();
    let json: Value =
        serde_json::from_str(&token_cmd(&sandbox, &["--format", "json"]).run().await.ok()).unwrap();
    assert_eq!(json["access_token"], token);
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "api/read");
    // 3600 s less the one-second resolution, less the clock-skew margin of a token read back
    // from a store (the cache is one: 5 s), less the whole seconds since it was obtained
    // (measured, however long the commands took; rounding: one more).
    let expires_in = json["expires_in"].as_i64().unwrap();
    let skew = en_auth_oauth2::SharedStoreSettings::default()
        .clock_skew
        .as_secs() as i64;
    let since = obtained.elapsed().as_secs() as i64 + 1;
    assert!(
        (3599 - skew - since..=3599 - skew).contains(&expires_in),
        "{json}, obtained {since} s ago at most"
    );
    let expires_at = json["expires_at"].as_str().unwrap();
    assert!(is_rfc3339_utc(expires_at), "{expires_at}");
    // The same instant: seconds until it now, and expires_in when the command printed it,
    // differ by the time since then (measured), and a second of rounding either way.
    let drift = printed.elapsed().as_secs() as i64 + 1;
    assert!(
        (seconds_until(expires_at) - expires_in).abs() <= drift + 1,
        "{json}, printed {drift} s ago at most"
    );
    assert_eq!(json.as_object().unwrap().len(), 5, "{json}");

    // One token request for all of them: the cache.
    assert_eq!(server.token_requests(), 1);
}

/// The ExecCredential, field by field, against the client.authentication.k8s.io/v1 schema:
/// apiVersion and kind as the group registers them, status.token a non-empty string,
/// status.expirationTimestamp a metav1.Time (RFC 3339), and nothing kubectl would reject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_credential_for_kubectl() {
    let server = server().await;
    let sandbox = sandbox("execcred", &server);
    let obtained = std::time::Instant::now();
    let out = token_cmd(&sandbox, &["--format", "exec-credential"])
        .run()
        .await
        .ok();
    let cred: Value = serde_json::from_str(&out).unwrap();
    let object = cred.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["apiVersion", "kind", "status"], "{cred}");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(cred["kind"], "ExecCredential");
    let status = cred["status"].as_object().unwrap();
    let mut keys: Vec<&str> = status.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["expirationTimestamp", "token"], "{cred}");
    let token = status["token"].as_str().unwrap();
    assert!(!token.is_empty());
    // The token works at the resource.
    let body = reqwest::Client::new()
        .get(server.resource_url())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 200);
    let expiration = status["expirationTimestamp"].as_str().unwrap();
    assert!(is_rfc3339_utc(expiration), "{expiration}");
    // An hour from when it was obtained (measured, however long that took), rounded up to the
    // second.
    let since = obtained.elapsed().as_secs() as i64 + 1;
    assert!(
        (3599 - since..=3600).contains(&seconds_until(expiration)),
        "{expiration}, obtained {since} s ago at most"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_call_within_the_validity_makes_no_token_request() {
    let server = server().await;
    let sandbox = sandbox("cache", &server);
    let first = token_cmd(&sandbox, &[]).run().await.ok();
    let second = token_cmd(&sandbox, &[]).run().await.ok();
    assert_eq!(first, second);
    assert_eq!(server.token_requests(), 1);

    // Files of mode 0600 in a directory of mode 0700.
    assert_eq!(mode(&sandbox.cache()), 0o700);
    let (path, file) = only_cache_file(&sandbox);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(file["access_token"], first.trim_end());
    assert_eq!(file["scope"], "api/read");
    // Named by a SHA-256 (of the request and a keyed fingerprint of the secret): neither the
    // client id nor the secret in a name or a file.
    let name = path.file_stem().unwrap().to_str().unwrap();
    assert!(name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()));
    for entry in std::fs::read_dir(sandbox.cache()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(!name.contains("svc") && !name.contains(SECRET), "{name}");
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET), "{name}");
    }

    // --no-cache asks the server and leaves the cache alone.
    let fresh = token_cmd(&sandbox, &["--no-cache"]).run().await.ok();
    assert_ne!(fresh, first);
    assert_eq!(server.token_requests(), 2);
    assert_eq!(token_cmd(&sandbox, &[]).run().await.ok(), first);

    // --min-validity longer than what is left: renewed (and the renewal cached).
    let renewed = token_cmd(&sandbox, &["--min-validity", "2h"])
        .run()
        .await
        .ok();
    assert_ne!(renewed, first);
    assert_eq!(server.token_requests(), 3);
    assert_eq!(token_cmd(&sandbox, &[]).run().await.ok(), renewed);
    assert_eq!(server.token_requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_shorter_than_min_validity_is_printed_after_one_token_request() {
    // An hour's token asked with 2 h of validity on a cold cache: what the server gives is
    // printed; asking again would give no longer a token.
    let server = server().await;
    let sandbox = sandbox("min-validity-cold", &server);
    let token = token_cmd(&sandbox, &["--min-validity", "2h"])
        .run()
        .await
        .ok();
    assert!(!token.trim_end().is_empty());
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_with_less_than_min_validity_left_is_renewed() {
    // An hour's token (3599 s relied on): enough for `--min-validity 10m`, not for `2h`. No
    // waiting on the clock.
    let server = server().await;
    let sandbox = sandbox("min-validity", &server);
    let first = token_cmd(&sandbox, &["--min-validity", "10m"])
        .run()
        .await
        .ok();
    assert_eq!(
        token_cmd(&sandbox, &["--min-validity", "10m"])
            .run()
            .await
            .ok(),
        first
    );
    assert_eq!(server.token_requests(), 1);
    let second = token_cmd(&sandbox, &["--min-validity", "2h"])
        .run()
        .await
        .ok();
    assert_ne!(second, first);
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_foreign_cache_file_is_a_miss_and_is_replaced() {
    let server = server().await;
    let sandbox = sandbox("corrupt", &server);
    let first = token_cmd(&sandbox, &[]).run().await.ok();
    let (path, _) = only_cache_file(&sandbox);

    for (i, garbage) in [
        &b"{\"format\":1,\"request\":"[..],
        b"",
        b"\x00\xff not json",
        b"[]",
        b"{\"format\":99}",
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(&path, garbage).unwrap();
        let out = token_cmd(&sandbox, &["-vv"]).run().await;
        let token = out.ok();
        assert_ne!(token, first);
        assert!(
            out.stderr().contains("could not be read"),
            "{}",
            out.stderr()
        );
        assert_eq!(server.token_requests(), 2 + i as u64);
        // Replaced by a valid file: the next call is a hit.
        assert_eq!(token_cmd(&sandbox, &[]).run().await.ok(), token);
        assert_eq!(server.token_requests(), 2 + i as u64);
        assert_eq!(mode(&path), 0o600);
    }

    // A file others can read is not trusted.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = server.token_requests();
    token_cmd(&sandbox, &[]).run().await.ok();
    assert_eq!(server.token_requests(), before + 1);
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scopes_and_two_clients_never_get_each_others_token() {
    let server = server().await;
    let sandbox = sandbox("apart", &server);
    let read = token_cmd(&sandbox, &["--scope", "read"]).run().await.ok();
    let write = token_cmd(&sandbox, &["--scope", "write"]).run().await.ok();
    let both = token_cmd(&sandbox, &["--scope", "write", "--scope", "read"])
        .run()
        .await
        .ok();
    let env_scopes = token_cmd(&sandbox, &[]).run().await.ok();
    let other = sandbox
        .cmd(["token", "--env", "dev"])
        .env("CLIENT_ID", "other")
        .env("CLIENT_SECRET", "other-secret")
        .run()
        .await
        .ok();
    let all = [&read, &write, &both, &env_scopes, &other];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(server.token_requests(), 5);
    assert_eq!(sandbox.cache_files().len(), 5);
    // Scope order does not matter; each is a hit now.
    assert_eq!(
        token_cmd(&sandbox, &["--scope", "read", "--scope", "write"])
            .run()
            .await
            .ok(),
        both
    );
    assert_eq!(
        token_cmd(&sandbox, &["--scope", "read"]).run().await.ok(),
        read
    );
    assert_eq!(server.token_requests(), 5);
    // The granted scope is the one asked.
    let json: Value = serde_json::from_str(
        &token_cmd(&sandbox, &["--scope", "write", "--format", "json"])
            .run()
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(json["scope"], "write");
    assert_eq!(json["access_token"], write.trim_end());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_invocations_all_succeed_and_leave_a_valid_cache() {
    let server = server().await;
    let sandbox = sandbox("concurrent", &server);
    for round in 0..2 {
        // Round 0 on a cold cache, round 1 on a corrupt one.
        let children: Vec<_> = (0..10)
            .map(|_| {
                token_cmd(&sandbox, &[])
                    .into_command()
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs = tokio::task::spawn_blocking(move || {
            children
                .into_iter()
                .map(|c| c.wait_with_output().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let http = reqwest::Client::new();
        for output in outputs {
            let run = common::Run(output);
            let token = run.ok();
            let status = http
                .get(server.resource_url())
                .bearer_auth(token.trim_end())
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200, "round {round}");
        }
        // One valid file, no temp files left behind, and the next call is a hit.
        let (path, file) = only_cache_file(&sandbox);
        assert_eq!(mode(&path), 0o600);
        let cached = file["access_token"].as_str().unwrap().to_owned();
        let leftovers: Vec<_> = std::fs::read_dir(sandbox.cache())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let requests = server.token_requests();
        assert_eq!(token_cmd(&sandbox, &[]).run().await.ok().trim_end(), cached);
        assert_eq!(server.token_requests(), requests);
        std::fs::write(&path, "{ corrupt").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_the_header_format() {
    let server = server().await;
    let sandbox = sandbox("curl", &server);
    let curl = which("curl");
    let script = format!(
        "exec '{curl}' --silent --show-error --fail -H \"$(\"$EN_AUTH\" token --env dev --format header)\" '{}'",
        server.resource_url()
    );
    let run = sandbox
        .sh(&script)
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await;
    assert_eq!(run.ok(), "hello, svc");
    assert_eq!(server.resource_authorized(), 1);
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_hands_the_token_to_the_command_and_returns_its_status() {
    let server = server().await;
    let sandbox = sandbox("exec", &server);
    let curl = which("curl");
    let script = format!(
        // The command gets the token but not the client secret it was obtained with.
        "test -z \"$CLIENT_SECRET\" && '{curl}' --silent --fail -H \"Authorization: Bearer $EN_AUTH_ACCESS_TOKEN\" '{}' && exit 7",
        server.resource_url()
    );
    let run = sandbox
        .cmd(["exec", "--env", "dev", "--", "sh", "-c", &script])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await;
    assert_eq!(run.code(), 7, "{}", run.stderr());
    assert_eq!(run.stdout(), "hello, svc");
    assert_eq!(server.resource_authorized(), 1);

    // A command that does not exist: 127, as in a shell.
    let run = sandbox
        .cmd(["exec", "--env", "dev", "--", "/nonexistent/command"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await;
    assert_eq!(run.code(), 127, "{}", run.stderr());
    // Without `--` and a command: usage.
    let run = sandbox
        .cmd(["exec", "--env", "dev"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await;
    assert_eq!(run.code(), 2, "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_comes_from_a_file_or_stdin_never_from_an_argument() {
    let server = server().await;
    let sandbox = sandbox("secretfile", &server);
    let file = sandbox.root().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let file = file.to_str().unwrap();
    // The file (its final newline dropped) wins over CLIENT_SECRET.
    let run = sandbox
        .cmd([
            "token",
            "--env",
            "dev",
            "--no-cache",
            "--client-id",
            "svc",
            "--client-secret-file",
            file,
        ])
        .env("CLIENT_SECRET", "not-this-one")
        .run()
        .await;
    assert!(run.ok().starts_with("tk"));

    // There is no option that takes the secret itself.
    for args in [
        &["--client-secret", "typed-s3cret"][..],
        &["--client-secret=typed-s3cret"],
    ] {
        let run = sandbox
            .cmd(["token", "--env", "dev"].iter().chain(args).copied())
            .env("CLIENT_ID", "svc")
            .run()
            .await;
        assert_eq!(run.code(), 2, "{}", run.stderr());
        assert!(
            run.stderr().contains("--client-secret-file"),
            "{}",
            run.stderr()
        );
        assert!(!run.stderr().contains("typed-s3cret"), "{}", run.stderr());
    }

    // '-': stdin, with a CRLF.
    let run = sandbox
        .sh(&format!(
            "printf '%s\\r\\n' '{SECRET}' | \"$EN_AUTH\" token --env dev --no-cache --client-id svc --client-secret-file -"
        ))
        .run()
        .await;
    assert!(run.ok().starts_with("tk"), "{}", run.stderr());
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_of_each_failure() {
    let server = server().await;
    let sandbox = sandbox("exits", &server);

    // 2: usage.
    for args in [
        vec!["token"],
        vec!["token", "--env", "dev", "--format", "yaml"],
        vec!["token", "--env", "dev", "--min-validity", "soon"],
        vec!["token", "--env", "dev", "--user", "alice", "--scope", "x"],
        vec!["frobnicate"],
    ] {
        let run = sandbox
            .cmd(args.iter().copied())
            .env("CLIENT_ID", "svc")
            .run()
            .await;
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
    }
    // No client id at all: usage.
    assert_eq!(sandbox.cmd(["token", "--env", "dev"]).run().await.code(), 2);

    // 3: an unknown environment, a malformed file, no file.
    let line = sandbox
        .cmd(["token", "--env", "prod"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await
        .fails_with(3);
    assert!(line.contains("prod") && line.contains("dev"), "{line}");
    let bad = Sandbox::new("exits-bad", "[dev\ntoken_url = 1");
    let line = bad
        .cmd(["token", "--env", "dev"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await
        .fails_with(3);
    assert!(line.contains("malformed"), "{line}");
    let line = token_cmd(&sandbox, &[])
        .env_remove("EN_AUTH_ENVIRONMENTS")
        .run()
        .await
        .fails_with(3);
    assert!(line.contains("EN_AUTH_ENVIRONMENTS"), "{line}");
    let run = sandbox
        .cmd([
            "token",
            "--env",
            "dev",
            "--client-secret-file",
            "/nonexistent",
        ])
        .env("CLIENT_ID", "svc")
        .run()
        .await;
    run.fails_with(3);

    // 4: a wrong secret; the line names client, environment, endpoint and the server's error.
    let line = sandbox
        .cmd(["token", "--env", "dev"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", "wrong-secret")
        .run()
        .await
        .fails_with(4);
    for part in [
        "`svc`",
        "`dev`",
        server.token_url().as_str(),
        "client authentication failed",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(!line.contains("wrong-secret"), "{line}");
    // Named by the library's error, not again by the command line.
    assert_eq!(line.matches("environment `dev`").count(), 1, "{line}");

    // 5: a closed port; a failing server.
    let closed = Sandbox::new(
        "exits-closed",
        &format!(
            "[dev]\ntoken_url = \"http://127.0.0.1:{}/oauth2/token\"\n",
            en_auth_peers::support::closed_port()
        ),
    );
    let line = closed
        .cmd(["token", "--env", "dev"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await
        .fails_with(5);
    assert!(line.contains("could not connect"), "{line}");
    server.set_behaviour(Behaviour::Fail {
        status: 503,
        body: r#"{"error":"temporarily_unavailable"}"#.into(),
    });
    token_cmd(&sandbox, &["--no-cache"])
        .run()
        .await
        .fails_with(5);
    server.set_behaviour(Behaviour::Normal);

    // 6: no secret anywhere and stdin not a terminal.
    let line = sandbox
        .cmd(["token", "--env", "dev"])
        .env("CLIENT_ID", "svc")
        .run()
        .await
        .fails_with(6);
    assert!(line.contains("CLIENT_SECRET"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_output_names_what_happens_and_no_secret() {
    let server = server().await;
    let sandbox = sandbox("verbose", &server);
    let run = token_cmd(&sandbox, &["-vv"]).run().await;
    let token = run.ok();
    let stderr = run.stderr();
    assert!(stderr.contains("token obtained from"), "{stderr}");
    assert!(stderr.contains("cached in"), "{stderr}");
    let run = token_cmd(&sandbox, &["-vv"]).run().await;
    assert!(run.stderr().contains("cached token"), "{}", run.stderr());
    let failed = sandbox
        .cmd(["token", "--env", "dev", "-vv", "--no-cache"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", "wrong-secret")
        .run()
        .await;
    let mut scan = Scan::new();
    scan.basic_credential("svc", SECRET)
        .secret("a wrong secret", "wrong-secret")
        .secret("the token", token.trim_end())
        .output("-vv stderr, the token obtained", stderr)
        .output("-vv stderr, the token cached", run.stderr())
        .output("-vv stderr, a wrong secret", failed.stderr());
    scan.assert_clean();
    // Nor is either secret in the cache (names or files; the token is, it is a cache).
    let mut files = Scan::new();
    files
        .basic_credential("svc", SECRET)
        .secret("a wrong secret", "wrong-secret")
        .files("the cache", &sandbox.cache());
    files.assert_clean();
}

fn which(program: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .unwrap();
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        !path.is_empty(),
        "`{program}` is not installed: `cargo xtask peers install` installs it (apt-get install curl)"
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_shared_through_redis_is_served_from_the_cache_directory() {
    // The services' Redis (here a closed port) is theirs: the command line keeps its tokens in
    // its cache directory, and --no-cache asks the token endpoint.
    let server = server().await;
    let sandbox = Sandbox::new(
        "redis-env",
        &format!(
            "[dev]\ntoken_url = \"{}\"\n\n[dev.shared_cache]\nurl = \"redis://127.0.0.1:1\"\n\
             encryption_key_env = \"EN_AUTH_UNSET_KEY\"\n",
            server.token_url()
        ),
    );
    let token = token_cmd(&sandbox, &[]).run().await.ok();
    assert_eq!(token_cmd(&sandbox, &[]).run().await.ok(), token);
    assert_eq!(sandbox.cache_files().len(), 1);
    assert_ne!(token_cmd(&sandbox, &["--no-cache"]).run().await.ok(), token);
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environments_local_directory_is_shared_with_the_services_of_the_machine() {
    // A service of this machine shares through the environment's `path`; `en-auth token`
    // (whatever its own cache directory) adopts the service's token.
    let server = server().await;
    let shared = std::env::temp_dir().join(format!("en-auth-cli-shared-{}", std::process::id()));
    let sandbox = Sandbox::new(
        "shared-path",
        &format!(
            "[dev]\ntoken_url = \"{}\"\n\n[dev.shared_cache]\npath = \"{}\"\n",
            server.token_url(),
            shared.display()
        ),
    );
    let environment =
        en_auth_oauth2::Environment::from_file(sandbox.environments(), "dev").unwrap();
    let service = en_auth_oauth2::ServiceAccountAuthorizer::new(
        en_auth_oauth2::ClientInfo::new("svc", SECRET),
        environment,
    )
    .unwrap();
    let token = service.access_token().await.unwrap();
    let token = secrecy::ExposeSecret::expose_secret(token.secret()).to_owned();
    assert_eq!(server.token_requests(), 1);
    let run = token_cmd(&sandbox, &["-v"]).run().await;
    assert_eq!(run.ok().trim_end(), token);
    assert!(
        run.stderr().contains(&shared.display().to_string()),
        "{}",
        run.stderr()
    );
    assert_eq!(server.token_requests(), 1, "the service's token, adopted");
    assert!(
        sandbox.cache_files().is_empty(),
        "not in the cache directory"
    );
    // --no-cache asks the server.
    assert_ne!(
        token_cmd(&sandbox, &["--no-cache"])
            .run()
            .await
            .ok()
            .trim_end(),
        token
    );
    let _ = std::fs::remove_dir_all(&shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_hands_the_command_no_secret_not_even_the_shared_caches_key() {
    // The environment shares through a sealed directory whose key is in FLEET_KEY: en-auth
    // reads it, the command never sees it (nor the client secret, nor a password); other
    // variables pass through.
    let server = server().await;
    let shared = std::env::temp_dir().join(format!("en-auth-cli-exec-{}", std::process::id()));
    let sandbox = Sandbox::new(
        "exec-secrets",
        &format!(
            "[dev]\ntoken_url = \"{}\"\n\n[dev.shared_cache]\npath = \"{}\"\n\
             encryption_key_env = \"FLEET_KEY\"\n",
            server.token_url(),
            shared.display()
        ),
    );
    let script = "printf '%s|%s|%s|%s|%s' \"${FLEET_KEY-unset}\" \"${CLIENT_SECRET-unset}\" \
                  \"${USER_PWD-unset}\" \"${KEEP_ME-unset}\" \"${EN_AUTH_ACCESS_TOKEN:+token}\"";
    let run = sandbox
        .cmd(["exec", "--env", "dev", "--", "sh", "-c", script])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .env("USER_PWD", "a-password")
        .env("FLEET_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KEEP_ME", "kept")
        .run()
        .await;
    assert_eq!(run.ok(), "unset|unset|unset|kept|token");
    // The child's whole environment, scanned: none of them under any name.
    let env = sandbox
        .cmd(["exec", "--env", "dev", "--", "env"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .env("USER_PWD", "a-password")
        .env("FLEET_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KEEP_ME", "kept")
        .run()
        .await
        .ok();
    let vars: Vec<(&str, &str)> = env.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(vars.contains(&("KEEP_ME", "kept")), "{vars:?}");
    let token = vars
        .iter()
        .find(|(name, _)| *name == "EN_AUTH_ACCESS_TOKEN")
        .map(|(_, token)| (*token).to_owned())
        .expect("the token in the command's environment");
    let mut scan = Scan::new();
    scan.basic_credential("svc", SECRET)
        .secret("the password", "a-password")
        .secret(
            "the shared cache's key",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
        )
        .environment("the command's", vars.iter().copied());
    scan.assert_clean();
    // Nor is any of them, or the token, in the shared cache's names or files.
    let mut files = Scan::new();
    files
        .basic_credential("svc", SECRET)
        .secret("the password", "a-password")
        .secret(
            "the shared cache's key",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
        )
        .secret("the token", &token)
        .files("the shared cache", &shared);
    files.assert_clean();
    // The key was used: the token file is sealed (no token in clear).
    let files: Vec<_> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "token"))
        .collect();
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).unwrap();
    let value = &bytes[bytes.iter().position(|&b| b == b'\n').unwrap() + 1..];
    assert!(value.starts_with(b"1|"), "sealed, not in clear");
    assert!(!String::from_utf8_lossy(value).contains("\"t\":"));
    let _ = std::fs::remove_dir_all(&shared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_token_endpoint_is_never_asked_through_the_proxy_of_the_environment() {
    // A "proxy" that closes every connection it gets, counting them: the client secret of a
    // plain-http loopback endpoint must never reach it.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&reached);
    std::thread::spawn(move || {
        for connection in proxy.incoming() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(connection);
        }
    });
    let server = server().await;
    let sandbox = sandbox("proxy", &server);
    for (variable, value) in [
        ("HTTP_PROXY", &proxy_url),
        ("http_proxy", &proxy_url),
        ("ALL_PROXY", &proxy_url),
    ] {
        let token = token_cmd(&sandbox, &["--no-cache"])
            .env(variable, value)
            .run()
            .await
            .ok();
        assert!(!token.trim_end().is_empty(), "{variable}");
    }
    assert_eq!(server.token_requests(), 3);
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_directory_of_another_user_is_not_used() {
    // Root pointed at a user's cache must not adopt what is planted there. As root (CI) the
    // test hands the directory to `nobody`; otherwise `/root` is another user's.
    let server = server().await;
    let sandbox = sandbox("owner", &server);
    let dir = sandbox.root().join("someone-elses");
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let dir = if is_root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        dir
    } else {
        std::path::PathBuf::from("/root")
    };
    for _ in 0..2 {
        let run = token_cmd(&sandbox, &[])
            .env("EN_AUTH_CACHE_DIR", &dir)
            .run()
            .await;
        assert!(!run.ok().trim_end().is_empty());
        assert!(
            run.stderr().contains("owned by another user") && run.stderr().contains("not caching"),
            "{}",
            run.stderr()
        );
    }
    assert_eq!(
        server.token_requests(),
        2,
        "nothing cached, nothing adopted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_server_sends_reaches_the_terminal_without_its_control_characters() {
    // A hostile token endpoint: its error code and description carry terminal escape sequences
    // (clear the screen, set the window title, ring the bell) and a right-to-left override.
    let endpoint = en_auth_testkit::FaultyEndpoint::start_on_own_thread();
    endpoint.set_fallback(en_auth_testkit::Reply::json(
        400,
        r#"{"error":"invalid_scope\u001b[2J\u001b]0;pwned\u0007","error_description":"scope \u001b[31mred\u001b[0m \u202eevil"}"#,
    ));
    let sandbox = Sandbox::new(
        "hostile",
        &format!("[dev]\ntoken_url = \"{}\"\n", endpoint.url()),
    );
    let run = sandbox
        .cmd(["token", "--env", "dev", "--no-cache", "-vv"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .run()
        .await;
    assert_ne!(run.code(), 0);
    let stderr = run.stderr();
    assert!(stderr.contains("invalid_scope"), "{stderr}");
    for forbidden in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(
            !stderr.contains(forbidden),
            "{:?} reached the terminal: {stderr:?}",
            forbidden
        );
    }
}
