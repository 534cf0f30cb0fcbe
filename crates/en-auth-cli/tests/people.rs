//! `en-auth login --device`, `token`, `logout` for a person, against oidc-provider configured by
//! `peers/oidc/people.mjs`; the person's part (open the URL, confirm the code, sign in, consent)
//! played over HTTP by `en_auth_peers::people::Browser`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::Sandbox;
use en_auth_peers::people::Browser;
use en_auth_peers::{field, oidc_people};

fn sandbox(tag: &str) -> Sandbox {
    Sandbox::new(
        tag,
        &format!(
            "[people]\nissuer = \"{}\"\nscopes = [\"openid\", \"api:read\"]\n",
            field(oidc_people(), "issuer")
        ),
    )
}

/// `en-auth login --env people --device`, the person approving once the URL is printed: the
/// login's stderr.
async fn login_with_the_device(sandbox: &Sandbox) -> String {
    let mut child = sandbox
        .cmd(["login", "--env", "people", "--device"])
        .env("CLIENT_ID", field(oidc_people(), "client_id"))
        .into_command()
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (uri_tx, uri_rx) = tokio::sync::oneshot::channel();
    // Reads stderr to its end; hands over the URL with the code filled in as soon as it is
    // printed.
    let reader = std::thread::spawn(move || {
        let mut uri_tx = Some(uri_tx);
        let mut text = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("or open ") {
                if let Some(tx) = uri_tx.take() {
                    let _ = tx.send(rest.split_whitespace().next().unwrap().to_owned());
                }
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let uri = uri_rx.await.expect("the verification URI is printed");
    Browser::new(field(oidc_people(), "issuer"))
        .approve_device(&uri, "alice")
        .await
        .expect("the person approves");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let text = reader.join().unwrap();
    assert!(status.success(), "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_device_then_token_from_the_cache_then_renewal_then_logout_revokes() {
    let sandbox = sandbox("people-device");
    let client_id = field(oidc_people(), "client_id");
    let shown = login_with_the_device(&sandbox).await;
    assert!(shown.contains("enter the code"), "{shown}");
    assert!(
        shown.contains('\u{2588}') || shown.contains('\u{2580}'),
        "a QR code: {shown}"
    );
    assert!(shown.contains("signed in to `people`"), "{shown}");

    let token = |extra: &[&str]| {
        let mut args = vec!["token", "--env", "people", "-v"];
        args.extend_from_slice(extra);
        sandbox.cmd(args).env("CLIENT_ID", client_id)
    };
    // The sign-in's token, from the cache: twice, no request.
    let first = token(&[]).run().await;
    let access = first.ok();
    assert!(
        first.stderr().contains("cached access token of `person`"),
        "{}",
        first.stderr()
    );
    let second = token(&[]).run().await;
    assert_eq!(second.ok(), access);
    assert!(!second.stderr().contains("renewing"), "{}", second.stderr());

    // Renewal with the sealed refresh token (rotated, sealed again).
    let renewed = token(&["--min-validity", "1h"]).run().await;
    let renewed_access = renewed.ok();
    assert_ne!(renewed_access, access);
    assert!(
        renewed
            .stderr()
            .contains("renewing the session of `person`"),
        "{}",
        renewed.stderr()
    );
    let again = token(&["--min-validity", "1h"]).run().await;
    assert_ne!(
        again.ok(),
        renewed_access,
        "renewed again with the rotated refresh token"
    );

    // The refresh token is sealed in the session store, never in the cache file in clear.
    let (_, file) = common::only_cache_file(&sandbox);
    assert!(file["refresh_token"].is_null(), "{file}");
    assert!(
        std::fs::read_dir(sandbox.sessions()).unwrap().count() >= 1,
        "a sealed session"
    );

    // Sign-out: revoked (RFC 7009), forgotten; then no session.
    let out = sandbox
        .cmd(["logout", "--env", "people"])
        .env("CLIENT_ID", client_id)
        .run()
        .await;
    out.ok();
    assert!(out.stderr().contains("revoked"), "{}", out.stderr());
    let after = sandbox
        .cmd(["token", "--env", "people"])
        .env("CLIENT_ID", client_id)
        .run()
        .await;
    let text = after.fails_with(6);
    assert!(text.contains("not signed in"), "{text}");
}

/// `en-auth login --env ENV --browser [--user USER]`, the person (as `alice`) approving at the
/// printed URL and the redirect delivered to the loopback listener: the login's stderr.
async fn login_with_the_browser(sandbox: &Sandbox, env: &str, user: Option<&str>) -> String {
    let mut args = vec!["login", "--env", env, "--browser"];
    if let Some(user) = user {
        args.extend(["--user", user]);
    }
    let mut login = sandbox
        .cmd(args)
        .env("CLIENT_ID", field(oidc_people(), "client_id"))
        .spawn_browser_login();
    let url = login.url().await;
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let redirect = Browser::new(field(oidc_people(), "issuer"))
        .authorize(&url, "alice", true)
        .await
        .expect("the provider redirects to the loopback listener");
    assert!(
        redirect.as_str().starts_with("http://127.0.0.1:"),
        "{redirect}"
    );
    login.finish(redirect.as_str()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_browser_with_pkce_then_token_without_a_request() {
    let sandbox = sandbox("people-browser");
    let client_id = field(oidc_people(), "client_id");
    let text = login_with_the_browser(&sandbox, "people", Some("bob")).await;
    assert!(text.contains("--user bob"), "{text}");

    let token = || {
        sandbox
            .cmd(["token", "--env", "people", "--user", "bob", "-v"])
            .env("CLIENT_ID", client_id)
    };
    let first = token().run().await;
    let access = first.ok();
    let second = token().run().await;
    assert_eq!(second.ok(), access);
    assert!(
        second.stderr().contains("cached access token of `bob`"),
        "{}",
        second.stderr()
    );
}

/// An environment's `redirect_uri` (the one registered with the server: Cognito managed login
/// matches it exactly) is the redirect URI sent and the port listened on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_browser_at_the_environment_s_registered_redirect_uri() {
    let port = en_auth_peers::support::free_port();
    let sandbox = Sandbox::new(
        "people-redirect-uri",
        &format!(
            "[fixed]\nissuer = \"{}\"\nscopes = [\"openid\", \"api:read\"]\n\
             redirect_uri = \"http://127.0.0.1:{port}/callback\"\n",
            field(oidc_people(), "issuer")
        ),
    );
    let text = login_with_the_browser(&sandbox, "fixed", None).await;
    assert!(
        text.contains(&format!(
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback"
        )),
        "{text}"
    );
    let described = sandbox.cmd(["envs"]).run().await;
    assert!(
        described
            .ok()
            .contains(&format!("http://127.0.0.1:{port}/callback")),
        "{}",
        described.ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_a_kubectl_plugin_without_interaction_no_browser_is_opened() {
    let sandbox = sandbox("people-kubectl");
    let run = sandbox
        .cmd(["token", "--env", "people", "--format", "exec-credential"])
        .env("CLIENT_ID", field(oidc_people(), "client_id"))
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#,
        )
        .run()
        .await;
    let text = run.fails_with(6);
    assert!(text.contains("not signed in"), "{text}");
    assert!(!text.contains("/auth?"), "no authorization URL: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_session_in_an_environment_that_also_names_a_user_pool() {
    // Cognito's managed login: the pool's issuer and its user pool id. The person's session
    // decides: `token` and `logout` are the person's, not SRP's.
    let sandbox = Sandbox::new(
        "people-pool",
        &format!(
            "[pool]\nissuer = \"{}\"\nuser_pool_id = \"us-east-1_AbCdEfGhI\"\nscopes = [\"openid\", \"api:read\"]\n",
            field(oidc_people(), "issuer")
        ),
    );
    let client_id = field(oidc_people(), "client_id");
    login_with_the_browser(&sandbox, "pool", None).await;
    let first = sandbox
        .cmd(["token", "--env", "pool"])
        .env("CLIENT_ID", client_id)
        .run()
        .await;
    let second = sandbox
        .cmd(["token", "--env", "pool"])
        .env("CLIENT_ID", client_id)
        .run()
        .await;
    assert_eq!(first.ok(), second.ok());
    let out = sandbox
        .cmd(["logout", "--env", "pool"])
        .env("CLIENT_ID", client_id)
        .run()
        .await;
    out.ok();
    assert!(out.stderr().contains("revoked"), "{}", out.stderr());
}

/// A person's sign-out when the session key cannot be had (here: its file holds no key) still
/// forgets the cached token, with a warning that the sealed session is left alone — it used to
/// fail with exit 3 before forgetting anything (review finding), unlike the Cognito sign-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_without_a_usable_session_key_still_forgets_the_cached_token() {
    let sandbox = sandbox("people-logout-badkey");
    let client_id = field(oidc_people(), "client_id");
    login_with_the_device(&sandbox).await;
    assert_eq!(sandbox.cache_files().len(), 1, "the cached token");
    std::fs::write(sandbox.session_key_file(), "not-a-key").unwrap();
    let out = sandbox
        .cmd(["logout", "--env", "people", "--no-revoke"])
        .env("CLIENT_ID", client_id)
        .run()
        .await;
    out.ok();
    assert!(
        out.stderr().contains("the sealed session is left alone"),
        "{}",
        out.stderr()
    );
    assert!(!out.stderr().contains("not-a-key"), "{}", out.stderr());
    assert!(
        sandbox.cache_files().is_empty(),
        "the cached token forgotten"
    );
}
