//! `en-auth login` / `token --user` / `logout` against the testkit's Cognito emulator: the
//! session cached and renewed with its refresh token across invocations, challenges without a
//! terminal, and the failures' exit codes.

mod common;

use common::{is_rfc3339_utc, mode, only_cache_file, Sandbox};
use en_auth_peers::secrecy::Scan;
use en_auth_testkit::{AppClient, CognitoServer, PoolUser, Script, ScriptedChallenge, UserStatus};
use secrecy::ExposeSecret;
use serde_json::Value;

const PASSWORD: &str = "Corr3ct-Horse!";
const POOL: &str = "eu-west-1_Example";
const CLIENT_SECRET: &str = "app-client-secret-0123456789";
const CUSTOM_ANSWER: &str = "open-sesame-4242";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id("eu-west-1_Example")
        .client(AppClient::public("app"))
        .client(AppClient::confidential("conf", CLIENT_SECRET))
        .client(AppClient::confidential("rotating", CLIENT_SECRET).refresh_token_rotation(0))
        .user(PoolUser::new("alice", PASSWORD).email("alice@example.com"))
        .user(
            PoolUser::new("mfa-user", PASSWORD)
                .challenge_after_password(ScriptedChallenge::software_token_mfa("123456")),
        )
        .user(PoolUser::new("new-user", PASSWORD).status(UserStatus::ForceChangePassword))
        .user(
            PoolUser::new("custom-user", PASSWORD).challenge_after_password(
                ScriptedChallenge::CustomChallenge {
                    answer: CUSTOM_ANSWER.to_owned(),
                    // What a hostile pool could send: escape sequences (clear the screen, set
                    // the window title, ring the bell) and a right-to-left override.
                    parameters: vec![(
                        "question".to_owned(),
                        "Your PIN?\u{1b}[2J\u{1b}]0;pwned\u{7} \u{202e}evil".to_owned(),
                    )],
                },
            ),
        )
        .start()
        .await
}

fn sandbox(tag: &str, server: &CognitoServer) -> Sandbox {
    Sandbox::new(
        tag,
        &format!(
            "[dev]\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\n\n\
             [rotating]\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\nrefresh_token_rotation = true\n",
            server.pool_id(),
            server.endpoint(),
            server.pool_id(),
            server.endpoint()
        ),
    )
}

fn args<'a>(command: &'a str, user: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![command, "--env", "dev", "--user", user];
    args.extend_from_slice(extra);
    args
}

async fn accepted(server: &CognitoServer, token: &str) -> bool {
    reqwest::Client::new()
        .get(server.resource_url())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_tokens_without_the_password() {
    let server = server().await;
    let sandbox = sandbox("login", &server);
    let run = sandbox
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", "app")
        .env("USER_PWD", PASSWORD)
        .run()
        .await;
    assert_eq!(run.ok(), "", "login prints no token");
    assert!(
        run.stderr().contains("logged in as `alice`"),
        "{}",
        run.stderr()
    );
    assert_eq!(server.verified_logins(), 1);

    let token = sandbox
        .cmd(args("token", "alice", &[]))
        .env("CLIENT_ID", "app")
        .run()
        .await
        .ok();
    let token = token.trim_end();
    assert!(accepted(&server, token).await);
    assert_eq!(server.access_token_owner(token).as_deref(), Some("alice"));
    // Served from the cache: no call at all.
    assert_eq!(server.calls("InitiateAuth"), 1);
    let again = sandbox
        .cmd(args("token", "alice", &["--format", "exec-credential"]))
        .env("CLIENT_ID", "app")
        .run()
        .await
        .ok();
    let cred: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(cred["status"]["token"], token);
    assert!(is_rfc3339_utc(
        cred["status"]["expirationTimestamp"].as_str().unwrap()
    ));
    assert_eq!(server.calls("InitiateAuth"), 1);

    // The session file: 0600, no password, and no refresh token: that is sealed in the
    // session store (0600 in a 0700 directory), with the key file (0600) the binary created.
    let (path, file) = only_cache_file(&sandbox);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(file["request"]["user"], "alice");
    assert!(file["refresh_token"].is_null(), "{file}");
    assert!(!std::fs::read_to_string(&path).unwrap().contains(PASSWORD));
    let stored = sandbox
        .stored_session(&server.endpoint(), POOL, "app", "alice")
        .await
        .expect("the sealed session");
    assert!(!stored.refresh_token().expose_secret().is_empty());
    assert_eq!(mode(&sandbox.sessions()), 0o700);
    assert_eq!(mode(&sandbox.session_key_file()), 0o600);
    for entry in std::fs::read_dir(sandbox.sessions()).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
    // The one-time notice about where refresh tokens are kept came with the login.
    assert!(
        run.stderr().contains("refresh tokens are kept in"),
        "{}",
        run.stderr()
    );

    // exec, as the user.
    let run = sandbox
        .cmd([
            "exec",
            "--env",
            "dev",
            "--user",
            "alice",
            "--",
            "sh",
            "-c",
            "printf %s \"$EN_AUTH_ACCESS_TOKEN\"",
        ])
        .env("CLIENT_ID", "app")
        .run()
        .await;
    assert_eq!(run.ok(), token);
}

/// A confidential client, logged in by e-mail alias: the refresh's SECRET_HASH must use the
/// pool's user name, which a fresh process learns from the cached access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_is_renewed_with_the_refresh_token_in_a_later_process() {
    let server = server().await;
    let sandbox = sandbox("refresh", &server);
    sandbox
        .cmd(args("login", "alice@example.com", &[]))
        .env("CLIENT_ID", "conf")
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("USER_PWD", PASSWORD)
        .run()
        .await
        .ok();
    let (_, before) = only_cache_file(&sandbox);
    let first = before["access_token"].as_str().unwrap().to_owned();
    let refresh = || async {
        sandbox
            .stored_session(&server.endpoint(), POOL, "conf", "alice@example.com")
            .await
            .unwrap()
            .refresh_token()
            .expose_secret()
            .to_owned()
    };
    let refresh_before = refresh().await;

    // More validity asked than the token has: renewed with the refresh token, no login.
    let run = sandbox
        .cmd(args(
            "token",
            "alice@example.com",
            &["--min-validity", "2h", "-v"],
        ))
        .env("CLIENT_ID", "conf")
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .run()
        .await;
    let renewed = run.ok();
    assert!(run.stderr().contains("refresh token"), "{}", run.stderr());
    let renewed = renewed.trim_end();
    assert_ne!(renewed, first);
    assert!(accepted(&server, renewed).await);
    assert_eq!(server.verified_logins(), 1);
    assert_eq!(server.calls("InitiateAuth"), 2);
    let (_, after) = only_cache_file(&sandbox);
    assert_eq!(after["access_token"], renewed);
    assert_eq!(refresh().await, refresh_before, "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_replaces_the_cached_one() {
    let server = server().await;
    let sandbox = sandbox("rotation", &server);
    let cmd = |command: &'static str, extra: &'static [&'static str]| {
        let mut a = vec![command, "--env", "rotating", "--user", "alice"];
        a.extend_from_slice(extra);
        sandbox
            .cmd(a)
            .env("CLIENT_ID", "rotating")
            .env("CLIENT_SECRET", CLIENT_SECRET)
    };
    cmd("login", &[]).env("USER_PWD", PASSWORD).run().await.ok();
    let stored = || async {
        sandbox
            .stored_session(&server.endpoint(), POOL, "rotating", "alice")
            .await
            .unwrap()
            .refresh_token()
            .expose_secret()
            .to_owned()
    };
    let mut refresh = stored().await;
    for _ in 0..2 {
        let token = cmd("token", &["--min-validity", "2h"]).run().await.ok();
        assert!(accepted(&server, token.trim_end()).await);
        let now = stored().await;
        assert_ne!(now, refresh, "the new refresh token is adopted");
        refresh = now;
    }
    assert_eq!(server.calls("GetTokensFromRefreshToken"), 2);
    assert_eq!(server.verified_logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_needs_the_password_again() {
    let server = server().await;
    let sandbox = sandbox("refused", &server);
    let cmd = |extra: &'static [&'static str]| {
        sandbox
            .cmd(args("token", "alice", extra))
            .env("CLIENT_ID", "app")
    };
    sandbox
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", "app")
        .env("USER_PWD", PASSWORD)
        .run()
        .await
        .ok();
    server.revoke_refresh_tokens();
    // No password, no terminal: 6, and the dead session is forgotten.
    let line = cmd(&["--min-validity", "2h"]).run().await.fails_with(6);
    assert!(line.contains("refresh token was refused"), "{line}");
    assert!(line.contains("USER_PWD"), "{line}");
    assert!(sandbox.cache_files().is_empty());
    // With the password: a new login.
    let token = cmd(&[]).env("USER_PWD", PASSWORD).run().await.ok();
    assert!(accepted(&server, token.trim_end()).await);
    assert_eq!(server.verified_logins(), 2);
}

/// A session file of an older en-auth (its refresh token unsealed in the JSON file, no sealed
/// session), of a user logged in by an alias: the next `token` renews with that refresh token
/// and seals the session — the rotated refresh token Cognito handed back, under the key of the
/// name as typed — and drops the refresh token from the JSON file; a later process renews
/// with the sealed one, no password. Regression: the upgrade renewed without the session
/// store and the cache dropped the refresh token, so the rotated one was lost (and the
/// unsealed one removed from the file): the next process needed the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_unsealed_session_file_is_sealed_with_the_refresh_token_cognito_returned() {
    let server = server().await;
    for (env, client, rotates) in [("rotating", "rotating", true), ("dev", "conf", false)] {
        let sandbox = sandbox(&format!("upgrade-{client}"), &server);
        let user = "alice@example.com";
        let cmd = |command: &'static str, extra: &'static [&'static str]| {
            let mut a = vec![command, "--env", env, "--user", user];
            a.extend_from_slice(extra);
            sandbox
                .cmd(a)
                .env("CLIENT_ID", client)
                .env("CLIENT_SECRET", CLIENT_SECRET)
        };
        cmd("login", &[]).env("USER_PWD", PASSWORD).run().await.ok();
        let logins = server.verified_logins();
        // Made into an older en-auth's file: the refresh token in the JSON file, none sealed.
        let sealed = sandbox
            .stored_session(&server.endpoint(), POOL, client, user)
            .await
            .unwrap();
        let old = sealed.refresh_token().expose_secret().to_owned();
        let (path, mut file) = only_cache_file(&sandbox);
        file["refresh_token"] = Value::String(old.clone());
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        for entry in std::fs::read_dir(sandbox.sessions()).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }

        // No password: renewed with the unsealed refresh token, the session sealed.
        let token = cmd("token", &["--min-validity", "2h"]).run().await.ok();
        assert!(accepted(&server, token.trim_end()).await, "{client}");
        let sealed = sandbox
            .stored_session(&server.endpoint(), POOL, client, user)
            .await
            .unwrap_or_else(|| panic!("{client}: the session is sealed"));
        let new = sealed.refresh_token().expose_secret().to_owned();
        if rotates {
            assert_ne!(new, old, "{client}: the rotated refresh token is kept");
        } else {
            assert_eq!(new, old, "{client}");
        }
        assert_eq!(sealed.user_name(), "alice", "{client}: the canonical name");
        let (_, file) = only_cache_file(&sandbox);
        assert!(file["refresh_token"].is_null(), "{client}: {file}");

        // A later process: renewed with the sealed refresh token, no password.
        let token = cmd("token", &["--min-validity", "2h"]).run().await.ok();
        assert!(accepted(&server, token.trim_end()).await, "{client}");
        assert_eq!(server.verified_logins(), logins, "{client}: no login");
        if rotates {
            let newer = sandbox
                .stored_session(&server.endpoint(), POOL, client, user)
                .await
                .unwrap();
            assert_ne!(
                newer.refresh_token().expose_secret(),
                new.as_str(),
                "{client}"
            );
        }
    }
    assert_eq!(server.calls("GetTokensFromRefreshToken"), 2);
}

/// A session key that cannot be had (a key file that holds no key, one open to other users)
/// is an error (exit 3) naming the key file, never its content, and nothing is cached — not
/// a refresh token kept unsealed behind a warning. `--allow-unsealed-sessions`
/// (`EN_AUTH_ALLOW_UNSEALED_SESSIONS`) opts in: a warning, the refresh token in the session's
/// JSON file, renewed from there by a later process. Regression: the command went on after a
/// warning and kept the refresh token unsealed, with no choice made by the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_session_key_is_an_error_unless_unsealed_sessions_are_allowed() {
    use std::os::unix::fs::PermissionsExt;
    const NOT_A_KEY: &str = "not-a-key-but-maybe-a-secret-7f3a";
    let server = server().await;
    let sandbox = sandbox("badkey", &server);
    let key_file = sandbox.session_key_file();
    std::fs::create_dir_all(key_file.parent().unwrap()).unwrap();
    std::fs::write(&key_file, NOT_A_KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cmd = |command: &'static str| {
        sandbox
            .cmd(args(command, "alice", &[]))
            .env("CLIENT_ID", "app")
            .env("USER_PWD", PASSWORD)
    };
    for mode in [0o600, 0o644] {
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
        for command in ["login", "token"] {
            let line = cmd(command).run().await.fails_with(3);
            assert!(line.contains(&key_file.display().to_string()), "{line}");
            assert!(line.contains("--allow-unsealed-sessions"), "{line}");
            assert!(!line.contains(NOT_A_KEY), "{line}");
            assert!(sandbox.cache_files().is_empty(), "{mode:o} {command}");
        }
    }
    assert_eq!(
        server.verified_logins(),
        0,
        "no login whose session would be lost"
    );

    // Opted in: warned, the refresh token in the JSON file (mode 0600).
    let run = cmd("login")
        .env("EN_AUTH_ALLOW_UNSEALED_SESSIONS", "1")
        .run()
        .await;
    run.ok();
    assert!(run.stderr().contains("unsealed"), "{}", run.stderr());
    assert!(!run.stderr().contains(NOT_A_KEY), "{}", run.stderr());
    let (path, file) = only_cache_file(&sandbox);
    assert_eq!(mode(&path), 0o600);
    let refresh_token = file["refresh_token"].as_str().expect("unsealed").to_owned();
    // A later process renews with it, no password.
    let token = sandbox
        .cmd(args(
            "token",
            "alice",
            &["--min-validity", "2h", "--allow-unsealed-sessions"],
        ))
        .env("CLIENT_ID", "app")
        .run()
        .await
        .ok();
    assert!(accepted(&server, token.trim_end()).await);
    assert_eq!(server.verified_logins(), 1);
    let (_, file) = only_cache_file(&sandbox);
    assert_eq!(file["access_token"], token.trim_end());
    assert_eq!(file["refresh_token"], refresh_token.as_str());
    // Without the opt-in, the unsealed session is not used.
    sandbox
        .cmd(args("token", "alice", &["--min-validity", "2h"]))
        .env("CLIENT_ID", "app")
        .run()
        .await
        .fails_with(3);
}

/// The refresh token in the sealed session of `alice` of `client`.
async fn session_refresh_token(server: &CognitoServer, sandbox: &Sandbox, client: &str) -> String {
    sandbox
        .stored_session(&server.endpoint(), POOL, client, "alice")
        .await
        .unwrap_or_else(|| panic!("a session of {client}"))
        .refresh_token()
        .expose_secret()
        .to_owned()
}

async fn login(sandbox: &Sandbox, client: &str) {
    let mut login = sandbox
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", client)
        .env("USER_PWD", PASSWORD);
    if client == "conf" {
        login = login.env("CLIENT_SECRET", CLIENT_SECRET);
    }
    login.run().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_then_forgets_the_session() {
    let server = server().await;
    let sandbox = sandbox("logout", &server);
    for client in ["app", "conf"] {
        login(&sandbox, client).await;
    }
    assert_eq!(sandbox.cache_files().len(), 2);
    let conf_token = session_refresh_token(&server, &sandbox, "conf").await;
    let app_token = session_refresh_token(&server, &sandbox, "app").await;
    let logout = |extra: &[&'static str]| {
        let mut line = vec!["logout", "--env", "dev", "--user", "alice"];
        line.extend_from_slice(extra);
        sandbox.cmd(line)
    };

    // One confidential client's session, with its secret: revoked, then forgotten.
    let run = logout(&["--client-id", "conf"])
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .run()
        .await;
    run.ok();
    assert!(
        run.stderr()
            .contains("1 session of `alice` in `dev` forgotten (its refresh token revoked)"),
        "{}",
        run.stderr()
    );
    assert!(server.refresh_token_revoked(&conf_token));
    assert!(
        !server.refresh_token_revoked(&app_token),
        "only that client's"
    );
    assert_eq!(sandbox.cache_files().len(), 1);

    // Without the secret, and with another one (found out locally: the session file's name is
    // keyed by the secret, so the wrong one is never sent): the revocation fails, the command
    // says so and exits 3, and the session is forgotten all the same.
    for (secret, why) in [
        (None, "none was given"),
        (Some("wrong-secret-0000000000000"), "another client secret"),
    ] {
        login(&sandbox, "conf").await;
        let token = session_refresh_token(&server, &sandbox, "conf").await;
        let mut command = logout(&["--client-id", "conf"]);
        if let Some(secret) = secret {
            command = command.env("CLIENT_SECRET", secret);
        }
        let run = command.run().await;
        let line = run.fails_with(3);
        assert!(line.contains(why), "{line}");
        assert!(
            line.contains("cannot revoke the refresh token of client `conf`"),
            "{line}"
        );
        assert!(
            line.contains(
                "1 session of `alice` in `dev` forgotten, but a refresh token could not be revoked"
            ),
            "{line}"
        );
        assert!(line.contains("stays valid"), "{line}");
        assert!(!server.refresh_token_revoked(&token), "{secret:?}");
        assert_eq!(sandbox.cache_files().len(), 1, "{secret:?}: forgotten");
    }

    // --no-revoke: forgotten only.
    login(&sandbox, "conf").await;
    let kept = session_refresh_token(&server, &sandbox, "conf").await;
    let run = logout(&["--client-id", "conf", "--no-revoke"]).run().await;
    run.ok();
    assert!(
        run.stderr().contains("not revoked: --no-revoke"),
        "{}",
        run.stderr()
    );
    assert!(!server.refresh_token_revoked(&kept));
    let revocations = server.calls("RevokeToken");

    // Every client's: the public one needs no secret.
    let run = logout(&[]).run().await;
    run.ok();
    assert!(server.refresh_token_revoked(&app_token));
    assert_eq!(server.calls("RevokeToken"), revocations + 1);
    assert!(sandbox.cache_files().is_empty());
    let line = sandbox
        .cmd(args("token", "alice", &[]))
        .env("CLIENT_ID", "app")
        .run()
        .await
        .fails_with(6);
    assert!(line.contains("not logged in"), "{line}");
    // Nothing left: nothing to revoke.
    let run = logout(&[]).run().await;
    run.ok();
    assert!(
        run.stderr().contains("no session of `alice`"),
        "{}",
        run.stderr()
    );
    assert_eq!(server.calls("RevokeToken"), revocations + 1);
}

/// The `SECRET_HASH` of `user` for `client_id`, computed as AWS documents it, not by en-auth.
fn secret_hash(client_id: &str, user: &str) -> String {
    en_auth_peers::cognito::secret_hash(client_id, CLIENT_SECRET, user)
}

/// `-vv` output of `login`, `token --user` (from the cache, renewed by the refresh token, a
/// wrong password) and `logout`, with a confidential client: no password, client secret,
/// `SECRET_HASH`, Cognito `Session` or token (access, id, refresh, first or renewed) in any of
/// it; and the session file holds no password, client secret or `SECRET_HASH`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn very_verbose_output_and_the_session_file_hold_no_secret() {
    let server = server().await;
    let sandbox = sandbox("secrecy", &server);
    let cmd = |command: &'static str, extra: &'static [&'static str]| {
        sandbox
            .cmd(args(command, "alice", extra))
            .env("CLIENT_ID", "conf")
            .env("CLIENT_SECRET", CLIENT_SECRET)
    };
    let mut stderr = Vec::new();
    let login = cmd("login", &["-vv"]).env("USER_PWD", PASSWORD).run().await;
    login.ok();
    stderr.push(("login -vv", login.stderr()));
    let (path, first) = only_cache_file(&sandbox);
    let file = std::fs::read_to_string(&path).unwrap();
    let cached = cmd("token", &["-vv"]).run().await;
    let token = cached.ok();
    stderr.push(("token --user -vv (cached)", cached.stderr()));
    let renewal = cmd("token", &["-vv", "--min-validity", "2h"]).run().await;
    let renewed = renewal.ok();
    stderr.push(("token --user -vv (renewed)", renewal.stderr()));
    assert_ne!(token, renewed);
    let (_, second) = only_cache_file(&sandbox);
    // The sealed sessions as they are now (the logout deletes them), and their refresh token.
    let mut sealed = Scan::new();
    sealed.files("the sealed sessions", &sandbox.sessions());
    let stored = sandbox
        .stored_session(&server.endpoint(), POOL, "conf", "alice")
        .await
        .unwrap();
    let wrong = sandbox
        .cmd(args("login", "alice", &["-vv"]))
        .env("CLIENT_ID", "conf")
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("USER_PWD", "Wrong-passw0rd!")
        .run()
        .await;
    assert_eq!(wrong.code(), 4, "{}", wrong.stderr());
    stderr.push(("login -vv (a wrong password)", wrong.stderr()));
    let logout = sandbox
        .cmd(["logout", "--env", "dev", "--user", "alice", "-vv"])
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .run()
        .await;
    logout.ok();
    stderr.push(("logout -vv", logout.stderr()));

    let mut scan = Scan::new();
    scan.secret("the password", PASSWORD)
        .secret("a wrong password", "Wrong-passw0rd!")
        .secret("the client secret", CLIENT_SECRET);
    for user in ["alice", &server.cognito_username("alice").unwrap()] {
        scan.secret(
            format!("the SECRET_HASH of {user}"),
            secret_hash("conf", user),
        );
    }
    let mut files = Scan::new();
    files
        .secret("the password", PASSWORD)
        .secret("the client secret", CLIENT_SECRET)
        .output("the session file", &file);
    for user in ["alice", &server.cognito_username("alice").unwrap()] {
        files.secret(
            format!("the SECRET_HASH of {user}"),
            secret_hash("conf", user),
        );
    }
    files.assert_clean();
    sealed
        .secret("the password", PASSWORD)
        .secret("the client secret", CLIENT_SECRET)
        .secret(
            "the stored refresh token",
            stored.refresh_token().expose_secret(),
        );
    sealed.assert_clean();
    scan.secret(
        "the stored refresh token",
        stored.refresh_token().expose_secret(),
    );
    for (i, session) in server.sessions_issued().iter().enumerate() {
        scan.secret(format!("Session {i}"), session);
    }
    for (what, cache) in [
        ("the first session", &first),
        ("the renewed session", &second),
    ] {
        for field in ["access_token", "id_token", "refresh_token"] {
            if let Some(value) = cache[field].as_str() {
                scan.secret(format!("{what}'s {field}"), value);
            }
        }
    }
    scan.secret("the token printed", token.trim_end())
        .secret("the renewed token printed", renewed.trim_end());
    for (what, text) in stderr {
        scan.output(what, text);
    }
    scan.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_or_new_password_challenge_without_a_terminal_exits_6() {
    let server = server().await;
    let sandbox = sandbox("mfa", &server);
    for (user, challenge) in [
        ("mfa-user", "SOFTWARE_TOKEN_MFA"),
        ("new-user", "NEW_PASSWORD_REQUIRED"),
    ] {
        let line = sandbox
            .cmd(args("login", user, &[]))
            .env("CLIENT_ID", "app")
            .env("USER_PWD", PASSWORD)
            .run()
            .await
            .fails_with(6);
        assert!(line.contains(challenge), "{line}");
        assert!(line.contains("not a terminal"), "{line}");
        assert!(line.contains(&format!("`{user}`")), "{line}");
        assert!(!line.contains(PASSWORD), "{line}");
    }
    assert!(sandbox.cache_files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_of_the_login_failures() {
    let server = server().await;
    let sandbox = sandbox("login-exits", &server);
    let login = |user: &'static str, client: &'static str| {
        sandbox
            .cmd(args("login", user, &[]))
            .env("CLIENT_ID", client)
            .env("USER_PWD", PASSWORD)
    };
    // 4: wrong password, unknown user, unknown client, wrong client secret.
    let line = login("alice", "app")
        .env("USER_PWD", "Wr0ng-password!")
        .run()
        .await
        .fails_with(4);
    assert!(line.contains("`alice`") && line.contains("`dev`"), "{line}");
    assert!(line.contains(&server.endpoint()), "{line}");
    assert!(!line.contains("Wr0ng-password!"), "{line}");
    login("nobody", "app").run().await.fails_with(4);
    login("alice", "no-such-client").run().await.fails_with(4);
    login("alice", "conf")
        .env("CLIENT_SECRET", "wrong-secret")
        .run()
        .await
        .fails_with(4);
    // 6: no password and no terminal.
    let line = sandbox
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", "app")
        .run()
        .await
        .fails_with(6);
    assert!(line.contains("USER_PWD"), "{line}");
    // 3: an environment without a user pool.
    let no_pool = Sandbox::new(
        "login-nopool",
        "[dev]\ntoken_url = \"http://127.0.0.1:1/t\"\n",
    );
    let line = no_pool
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", "app")
        .env("USER_PWD", PASSWORD)
        .run()
        .await
        .fails_with(3);
    assert!(line.contains("user_pool_id"), "{line}");
    // 5: nobody listening.
    let closed = Sandbox::new(
        "login-closed",
        &format!(
            "[dev]\nuser_pool_id = \"eu-west-1_Example\"\ncognito_endpoint = \"http://127.0.0.1:{}\"\n",
            en_auth_peers::support::closed_port()
        ),
    );
    closed
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", "app")
        .env("USER_PWD", PASSWORD)
        .run()
        .await
        .fails_with(5);
    assert_eq!(server.verified_logins(), 0);
}

/// A hostile (or broken) Cognito answering a refresh with an access token that carries a CR/LF
/// and a header line: the one check every path goes through refuses it, and nothing reaches
/// `--format header`'s stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_token_that_would_inject_header_lines_is_refused() {
    let server = server().await;
    let sandbox = sandbox("inject", &server);
    sandbox
        .cmd(args("login", "alice", &[]))
        .env("CLIENT_ID", "app")
        .env("USER_PWD", PASSWORD)
        .run()
        .await
        .ok();
    server.script(
        "InitiateAuth",
        Script::raw(
            200,
            r#"{"AuthenticationResult":{"AccessToken":"tok\r\nX-Injected: yes","ExpiresIn":3600,"IdToken":"id","TokenType":"Bearer"},"ChallengeParameters":{}}"#,
        ),
        1,
    );
    let run = sandbox
        .cmd(args(
            "token",
            "alice",
            &["--min-validity", "2h", "--format", "header"],
        ))
        .env("CLIENT_ID", "app")
        .run()
        .await;
    let line = run.fails_with(5);
    assert!(line.contains("not allowed in an HTTP header"), "{line}");
    assert!(!line.contains("X-Injected"), "{line}");
    assert_eq!(server.calls("InitiateAuth"), 2, "the login and the refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_challenge_on_a_terminal_is_shown_clean_and_answered_unseen() {
    let server = server().await;
    let sandbox = sandbox("custom", &server);
    let run = sandbox
        .on_terminal(CUSTOM_ANSWER, args("login", "custom-user", &[]))
        .env("CLIENT_ID", "app")
        .env("USER_PWD", PASSWORD)
        .run()
        .await;
    let shown = run.stdout();
    assert_eq!(run.code(), 0, "{shown:?}");
    assert!(shown.contains("question: Your PIN?"), "{shown:?}");
    for forbidden in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(
            !shown.contains(forbidden),
            "{forbidden:?} reached the terminal: {shown:?}"
        );
    }
    // The answer was typed but never shown (no echo), and the login succeeded with it.
    assert!(!shown.contains(CUSTOM_ANSWER), "{shown:?}");
    assert_eq!(sandbox.cache_files().len(), 1);
}

/// Custom authentication without SRP (`auth_flow = "CUSTOM_WITHOUT_SRP"` in the environments
/// file): `en-auth login` asks no password (none is set, and no password prompt would be
/// answered), shows the custom challenge's public parameters without their control
/// characters and reads the answer unseen; a wrong answer ends with exit 4 and a line that
/// says the answer was refused and does not show it. With SRP (`CUSTOM_WITH_SRP`) the
/// password is proved first (the emulator verifies the proof).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_auth_from_the_environments_file_asks_the_answer_on_the_terminal() {
    const WRONG: &str = "not-the-answer-1357";
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("app"))
        .user(PoolUser::new("riddler", PASSWORD).custom_challenge(
            CUSTOM_ANSWER,
            [("riddle", "What opens\u{1b}[2J doors?\u{7}")],
        ))
        .start()
        .await;
    for (flow, password) in [
        ("CUSTOM_WITHOUT_SRP", None),
        ("CUSTOM_WITH_SRP", Some(PASSWORD)),
    ] {
        let sandbox = Sandbox::new(
            &format!("custom-auth-{}", flow.to_ascii_lowercase()),
            &format!(
                "[dev]\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\nauth_flow = \"{flow}\"\n",
                server.pool_id(),
                server.endpoint()
            ),
        );
        let login = |answer: &str| {
            let mut invocation = sandbox
                .on_terminal(answer, args("login", "riddler", &[]))
                .env("CLIENT_ID", "app");
            if let Some(password) = password {
                invocation = invocation.env("USER_PWD", password);
            }
            invocation.run()
        };
        let run = login(CUSTOM_ANSWER).await;
        let shown = run.stdout();
        assert_eq!(run.code(), 0, "{flow}: {shown:?}");
        assert!(shown.contains("riddle: What opens"), "{flow}: {shown:?}");
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown:?}"
        );
        assert!(!shown.contains(CUSTOM_ANSWER), "{flow}: echoed: {shown:?}");
        assert!(!shown.contains("Password of"), "{flow}: {shown:?}");
        assert_eq!(sandbox.cache_files().len(), 1, "{flow}");

        let run = login(WRONG).await;
        let shown = run.stdout();
        assert_eq!(run.code(), 4, "{flow}: {shown:?}");
        assert!(
            shown.contains("the answer to CUSTOM_CHALLENGE was refused"),
            "{flow}: {shown:?}"
        );
        assert!(!shown.contains(WRONG), "{flow}: {shown:?}");
    }
    assert_eq!(
        server.verified_logins(),
        2,
        "CUSTOM_WITH_SRP proved the password twice"
    );
    assert_eq!(server.custom_answers_accepted(), 2);
    assert_eq!(server.custom_answers_refused(), 2);
}

/// Device tracking "Always" and MFA required: `en-auth login` on a terminal answers the code
/// once and the device is confirmed and sealed with the session; later processes (no terminal,
/// so no code could be asked) renew the session with its DEVICE_KEY, and once the refresh
/// token is refused log in with the password and the device's proof, without a code; logout
/// revokes and deletes the sealed session. No refresh token or device password reaches the
/// session files or -vv stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_device_spares_later_processes_the_mfa_code() {
    const CODE: &str = "246810";
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::confidential("conf", CLIENT_SECRET))
        .user(
            PoolUser::new("mfa-user", PASSWORD)
                .challenge_after_password(ScriptedChallenge::software_token_mfa(CODE)),
        )
        .device_tracking_always(true)
        .start()
        .await;
    let sandbox = sandbox("devices", &server);
    let cmd = |command: &'static str, extra: &'static [&'static str]| {
        sandbox
            .cmd(args(command, "mfa-user", extra))
            .env("CLIENT_ID", "conf")
            .env("CLIENT_SECRET", CLIENT_SECRET)
    };
    let mut stderr = Vec::new();
    let login = sandbox
        .on_terminal_at(CODE, "MFA code", args("login", "mfa-user", &["-vv"]))
        .env("CLIENT_ID", "conf")
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("USER_PWD", PASSWORD)
        .run()
        .await;
    assert_eq!(login.code(), 0, "{}", login.stdout());
    stderr.push(("login -vv", login.stdout()));
    let devices = server.confirmed_devices("mfa-user");
    assert_eq!(devices.len(), 1, "the device confirmed");
    let stored = sandbox
        .stored_session(&server.endpoint(), POOL, "conf", "mfa-user")
        .await
        .unwrap();
    let device = stored.device().expect("the device sealed with the session");
    assert_eq!(device.device_key(), devices[0]);
    assert_eq!(server.verified_logins(), 1);

    // A second process, no terminal: renewed with the sealed refresh token and DEVICE_KEY
    // (the emulator refuses a device-bound refresh token without it: then a login would ask
    // for a code, and fail with exit 6 here).
    let renewal = cmd("token", &["--min-validity", "2h", "-vv"]).run().await;
    let token = renewal.ok();
    stderr.push(("token --user -vv (renewed)", renewal.stderr()));
    assert!(accepted(&server, token.trim_end()).await);
    assert_eq!(server.verified_logins(), 1, "a refresh, no login");

    // The refresh token refused: a login with the password proves the device, no code.
    server.revoke_refresh_tokens();
    let relogin = cmd("token", &["--min-validity", "2h", "-vv"])
        .env("USER_PWD", PASSWORD)
        .run()
        .await;
    let token = relogin.ok();
    stderr.push((
        "token --user -vv (a login with the device)",
        relogin.stderr(),
    ));
    assert!(accepted(&server, token.trim_end()).await);
    assert_eq!(server.verified_logins(), 2);
    assert_eq!(server.verified_device_proofs(), 1, "the device proved");
    // And `en-auth login` without a terminal: the device again, no code.
    let again = cmd("login", &[]).env("USER_PWD", PASSWORD).run().await;
    again.ok();
    assert_eq!(server.verified_device_proofs(), 2);
    assert_eq!(
        server.confirmed_devices("mfa-user"),
        devices,
        "the same device"
    );

    let latest = sandbox
        .stored_session(&server.endpoint(), POOL, "conf", "mfa-user")
        .await
        .unwrap();
    let mut sealed = Scan::new();
    sealed.files("the sealed sessions", &sandbox.sessions());
    for file in sandbox.cache_files() {
        sealed.files("the session file", &file);
    }
    for session in [&stored, &latest] {
        sealed
            .secret("a refresh token", session.refresh_token().expose_secret())
            .secret(
                "the device password",
                session.device().unwrap().device_password().expose_secret(),
            );
    }
    sealed
        .secret("the password", PASSWORD)
        .secret("the client secret", CLIENT_SECRET);
    sealed.assert_clean();

    // Logout: revoked, and the sealed session deleted.
    let logout = sandbox
        .cmd(["logout", "--env", "dev", "--user", "mfa-user", "-vv"])
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .run()
        .await;
    logout.ok();
    stderr.push(("logout -vv", logout.stderr()));
    assert!(server.refresh_token_revoked(latest.refresh_token().expose_secret()));
    assert!(sandbox
        .stored_session(&server.endpoint(), POOL, "conf", "mfa-user")
        .await
        .is_none());
    assert_eq!(std::fs::read_dir(sandbox.sessions()).unwrap().count(), 0);

    let mut scan = Scan::new();
    for session in [&stored, &latest] {
        scan.secret("a refresh token", session.refresh_token().expose_secret())
            .secret(
                "the device password",
                session.device().unwrap().device_password().expose_secret(),
            );
    }
    // The login's transcript holds the code as the terminal echoed it (a visible prompt);
    // the later processes' stderr must not hold it.
    let mut later = Scan::new();
    later.secret("the MFA code", CODE);
    for (what, text) in stderr.iter().skip(1) {
        later.output(*what, text);
    }
    later.assert_clean();
    scan.secret("the password", PASSWORD)
        .secret("the client secret", CLIENT_SECRET)
        .secret(
            "the session key",
            std::fs::read_to_string(sandbox.session_key_file())
                .unwrap()
                .trim(),
        );
    for (what, text) in stderr {
        scan.output(what, text);
    }
    scan.assert_clean();
}

/// Choice-based sign-in (`auth_flow = "USER_AUTH"` in the environments file): en-auth asks on
/// the terminal how the user signs in, listing Cognito's available challenges; the typed
/// `password_srp` runs the SRP rounds (the proof verified by the emulator). Without a
/// terminal the choice is not made and the login ends with exit 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_auth_asks_the_first_factor_on_the_terminal() {
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("pub"))
        .user(PoolUser::new("chooser", PASSWORD).email("chooser@example.com"))
        .start()
        .await;
    let sandbox = Sandbox::new(
        "user-auth",
        &format!(
            "[dev]\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\nauth_flow = \"USER_AUTH\"\n",
            server.pool_id(),
            server.endpoint()
        ),
    );
    let login = sandbox
        .on_terminal_at("password_srp", "sign in (", args("login", "chooser", &[]))
        .env("CLIENT_ID", "pub")
        .env("USER_PWD", PASSWORD)
        .run()
        .await;
    assert_eq!(login.code(), 0, "{}", login.stdout());
    assert!(
        login
            .stdout()
            .contains("How does `chooser` sign in (PASSWORD_SRP, PASSWORD, EMAIL_OTP): "),
        "{}",
        login.stdout()
    );
    assert_eq!(server.verified_logins(), 1);
    let run = sandbox
        .cmd(args("login", "chooser", &[]))
        .env("CLIENT_ID", "pub")
        .env("USER_PWD", PASSWORD)
        .run()
        .await;
    assert_eq!(run.code(), 6, "{}", run.stderr());
    assert!(
        run.stderr().contains("SELECT_CHALLENGE"),
        "{}",
        run.stderr()
    );
}
