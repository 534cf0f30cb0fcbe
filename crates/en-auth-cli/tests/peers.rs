//! `en-auth` against the real peers: oidc-provider (client credentials, a secret with special
//! characters from a file, tokens checked by RFC 7662 introspection, discovery, token exchange
//! from a subject token file) and ministack (Cognito SRP login, and the session renewed with the
//! refresh token by a later process; the user-pool token endpoint for a machine client; managed
//! login in the browser). A peer
//! that is not installed fails the test (`cargo xtask peers install`).

mod common;

use common::{only_cache_file, Sandbox};
use en_auth_peers::support::Introspection;
use en_auth_peers::{field, ministack, oidc};
use serde_json::Value;

fn oidc_sandbox(tag: &str) -> Sandbox {
    Sandbox::new(
        tag,
        &format!(
            "[oidc]\ntoken_url = \"{}\"\nscopes = [\"{}\"]\n",
            field(oidc(), "token_endpoint"),
            field(oidc(), "scope")
        ),
    )
}

async fn introspect(token: &str) -> Value {
    Introspection {
        endpoint: field(oidc(), "introspection_endpoint").to_owned(),
        client_id: field(oidc(), "clients/introspector/id").to_owned(),
        secret: field(oidc(), "clients/introspector/secret").to_owned(),
    }
    .introspect(&reqwest::Client::new(), token)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_client_credentials_with_a_secret_file() {
    let sandbox = oidc_sandbox("oidc");
    let secret = field(oidc(), "clients/basic/secret");
    assert!(secret.contains('%') && secret.contains(' '));
    let file = sandbox.root().join("secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let token_args = |extra: &[&str]| {
        let mut a = vec![
            "token".to_owned(),
            "--env".into(),
            "oidc".into(),
            "--client-id".into(),
            field(oidc(), "clients/basic/id").into(),
            "--client-secret-file".into(),
            file.to_str().unwrap().into(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let out = sandbox
        .cmd(token_args(&["--format", "json"]))
        .run()
        .await
        .ok();
    let json: Value = serde_json::from_str(&out).unwrap();
    let token = json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(json["scope"], field(oidc(), "scope"));
    assert_eq!(json["token_type"], "Bearer");
    let info = introspect(&token).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/basic/id"));

    // A 3-second token: still the cached one a moment later.
    let again = sandbox
        .cmd(token_args(&["--min-validity", "0s"]))
        .run()
        .await
        .ok();
    assert_eq!(again.trim_end(), token);

    // The header for curl.
    let header = sandbox
        .cmd(token_args(&["--format", "header"]))
        .run()
        .await
        .ok();
    assert!(header.starts_with("Authorization: Bearer "), "{header}");
}

/// An environments file with only the issuer (no token_url) and a resource indicator: the
/// token endpoint is discovered, and the token is a JWT for that resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_discovered_from_the_issuer_alone() {
    let resource = field(oidc(), "jwt_resource");
    let sandbox = Sandbox::new(
        "oidc-issuer",
        &format!(
            "[oidc]\nissuer = \"{}\"\nresource = [\"{resource}\"]\nscopes = [\"{}\"]\n",
            field(oidc(), "issuer"),
            field(oidc(), "scope")
        ),
    );
    let out = sandbox
        .cmd(["token", "--env", "oidc", "--format", "json"])
        .env("CLIENT_ID", field(oidc(), "clients/basic/id"))
        .env("CLIENT_SECRET", field(oidc(), "clients/basic/secret"))
        .run()
        .await
        .ok();
    let json: Value = serde_json::from_str(&out).unwrap();
    let token = json["access_token"].as_str().unwrap();
    // The JWT's claims (its signature is checked by the oauth2 crate's peer tests).
    use base64::Engine as _;
    let claims = token.split('.').nth(1).expect("a JWT access token");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], resource, "{claims}");
    assert_eq!(claims["iss"], field(oidc(), "issuer"));
    assert_eq!(claims["client_id"], field(oidc(), "clients/basic/id"));
}

/// Token exchange (RFC 8693) from the environments file: `subject_token_file` (relative, beside
/// the file) holds a token `en-auth token` got for another client; the exchanger client gets a
/// token for the `audience` at the endpoint discovered from the issuer alone, which the server
/// records as exchanged for that subject. The file is read at every exchange (no store keeps
/// an exchanged token): once it is gone, the next invocation fails with exit 3 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_token_exchange_from_a_subject_token_file() {
    let sandbox = Sandbox::new(
        "oidc-exchange",
        &format!(
            "[oidc]\ntoken_url = \"{}\"\nscopes = [\"{}\"]\n\
             [exchange]\nissuer = \"{}\"\naudience = \"urn:en-auth:reports\"\n\
             subject_token_file = \"subject\"\n",
            field(oidc(), "token_endpoint"),
            field(oidc(), "scope"),
            field(oidc(), "issuer"),
        ),
    );
    let subject = sandbox
        .cmd(["token", "--env", "oidc"])
        .env("CLIENT_ID", field(oidc(), "clients/basic/id"))
        .env("CLIENT_SECRET", field(oidc(), "clients/basic/secret"))
        .run()
        .await
        .ok();
    let subject_file = sandbox.environments().with_file_name("subject");
    std::fs::write(&subject_file, &subject).unwrap();
    let exchange = || {
        sandbox
            .cmd(["token", "--env", "exchange", "--format", "json"])
            .env("CLIENT_ID", field(oidc(), "clients/exchanger/id"))
            .env("CLIENT_SECRET", field(oidc(), "clients/exchanger/secret"))
    };
    let out = exchange().run().await.ok();
    let json: Value = serde_json::from_str(&out).unwrap();
    let token = json["access_token"].as_str().unwrap();
    assert_ne!(token, subject.trim_end());
    let info = introspect(token).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "clients/exchanger/id"));
    assert_eq!(info["subject_client_id"], field(oidc(), "clients/basic/id"));
    assert_eq!(info["exchanged_audience"], "urn:en-auth:reports");

    std::fs::remove_file(&subject_file).unwrap();
    let line = exchange().run().await.fails_with(3);
    for part in [
        "subject_token_file",
        "`exchange`",
        subject_file.to_str().unwrap(),
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(!line.contains(subject.trim_end()), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_rejects_a_wrong_secret_with_exit_4() {
    let sandbox = oidc_sandbox("oidc-wrong");
    let line = sandbox
        .cmd(["token", "--env", "oidc"])
        .env("CLIENT_ID", field(oidc(), "clients/basic/id"))
        .env("CLIENT_SECRET", "wrong-secret")
        .run()
        .await
        .fails_with(4);
    for part in [
        field(oidc(), "clients/basic/id"),
        "`oidc`",
        field(oidc(), "token_endpoint"),
        "client authentication failed",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(!line.contains("wrong-secret"));
}

fn ministack_sandbox(tag: &str) -> Sandbox {
    let info = ministack();
    Sandbox::new(
        tag,
        &format!(
            "[ministack]\nregion = \"{}\"\nuser_pool_id = \"{}\"\ncognito_endpoint = \"{}\"\n\
             token_url = \"{}\"\nscopes = [\"{}\"]\n",
            field(info, "region"),
            field(info, "user_pool_id"),
            field(info, "endpoint"),
            field(info, "token_endpoint"),
            field(info, "m2m/scope"),
        ),
    )
}

/// By e-mail alias with a confidential client: the later process's refresh must compute
/// SECRET_HASH over the canonical user name, learnt from the cached access token. The client's
/// tokens live ten minutes (the other ministack clients' three seconds could lapse between
/// two processes on a loaded machine and turn the expected hit into a renewal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministack_srp_login_then_renewal_by_a_later_process() {
    let sandbox = ministack_sandbox("ministack-srp");
    let email = field(ministack(), "user/email");
    let cmd = |command: &str, extra: &[&str]| {
        let mut a = vec![command, "--env", "ministack", "--user", email];
        a.extend_from_slice(extra);
        sandbox
            .cmd(a)
            .env("CLIENT_ID", field(ministack(), "srp/long_lived_client_id"))
            .env(
                "CLIENT_SECRET",
                field(ministack(), "srp/long_lived_client_secret"),
            )
    };
    cmd("login", &[])
        .env("USER_PWD", field(ministack(), "user/password"))
        .run()
        .await
        .ok();
    let (_, session) = only_cache_file(&sandbox);
    let first = session["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        session["canonical_user"],
        field(ministack(), "user/username")
    );
    assert_eq!(
        en_auth_peers::ministack_get_user(&first).await.unwrap(),
        field(ministack(), "user/username")
    );

    // A hit, then a renewal with the refresh token (no password given).
    assert_eq!(
        cmd("token", &["--min-validity", "0s"])
            .run()
            .await
            .ok()
            .trim_end(),
        first
    );
    let renewed = cmd("token", &["--min-validity", "1h"]).run().await.ok();
    let renewed = renewed.trim_end();
    assert_ne!(renewed, first);
    assert_eq!(
        en_auth_peers::ministack_get_user(renewed).await.unwrap(),
        field(ministack(), "user/username")
    );

    // Logged out: the session revoked at ministack (its access tokens refused), and the next
    // token needs the password, and there is no terminal.
    let run = cmd("logout", &[]).run().await;
    run.ok();
    assert!(
        run.stderr().contains("(its refresh token revoked)"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        en_auth_peers::ministack_get_user(renewed).await,
        Err("NotAuthorizedException".to_owned())
    );
    cmd("token", &[]).run().await.fails_with(6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministack_wrong_password_exits_4_and_a_public_client_logs_in() {
    let sandbox = ministack_sandbox("ministack-public");
    let user = field(ministack(), "user/username");
    let login = |password: &str| {
        sandbox
            .cmd(["login", "--env", "ministack", "--user", user])
            .env("CLIENT_ID", field(ministack(), "srp/public_client_id"))
            .env("USER_PWD", password)
    };
    let line = login("Not-the-passw0rd!").run().await.fails_with(4);
    assert!(line.contains(&format!("`{user}`")), "{line}");
    assert!(!line.contains("Not-the-passw0rd!"), "{line}");
    login(field(ministack(), "user/password")).run().await.ok();
    let token = sandbox
        .cmd(["token", "--env", "ministack", "--user", user])
        .env("CLIENT_ID", field(ministack(), "srp/public_client_id"))
        .run()
        .await
        .ok();
    assert_eq!(
        en_auth_peers::ministack_get_user(token.trim_end())
            .await
            .unwrap(),
        user
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministack_user_pool_token_endpoint_for_a_machine_client() {
    let sandbox = ministack_sandbox("ministack-m2m");
    let out = sandbox
        .cmd(["token", "--env", "ministack", "--format", "exec-credential"])
        .env("CLIENT_ID", field(ministack(), "m2m/client_id"))
        .env("CLIENT_SECRET", field(ministack(), "m2m/client_secret"))
        .run()
        .await
        .ok();
    let cred: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cred["kind"], "ExecCredential");
    // A JWT.
    assert_eq!(
        cred["status"]["token"].as_str().unwrap().split('.').count(),
        3
    );
    assert!(common::is_rfc3339_utc(
        cred["status"]["expirationTimestamp"].as_str().unwrap()
    ));
}

/// `en-auth login --browser` at ministack's Cognito managed login, from an environments file
/// that names the endpoints itself (ministack publishes the AWS issuer, not its own URL) and
/// the app client's one registered callback (`redirect_uri`): the person signs in on the hosted
/// page (played over HTTP), then `en-auth token` hands out the session's access token from the
/// cache, which GetUser takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministack_managed_login_in_the_browser_then_token_from_the_cache() {
    let info = ministack();
    let sandbox = Sandbox::new(
        "ministack-managed-login",
        &format!(
            "[managed]\ntoken_url = \"{}\"\nauthorization_url = \"{}\"\n\
             redirect_uri = \"{}\"\n\
             scopes = [\"openid\", \"email\", \"aws.cognito.signin.user.admin\"]\n",
            field(info, "token_endpoint"),
            field(info, "managed_login/authorization_endpoint"),
            field(info, "managed_login/redirect_uri"),
        ),
    );
    let client_id = field(info, "managed_login/client_id");
    let mut login = sandbox
        .cmd(["login", "--env", "managed", "--browser"])
        .env("CLIENT_ID", client_id)
        .spawn_browser_login();
    let url = login.url().await;
    let location = en_auth_peers::cognito::hosted_ui_sign_in(
        &url,
        field(info, "managed_login/login_endpoint"),
        field(info, "user/username"),
        field(info, "user/password"),
    )
    .await
    .expect("signed in on the hosted page");
    login.finish(&location).await;

    let token = || {
        sandbox
            .cmd(["token", "--env", "managed", "-v"])
            .env("CLIENT_ID", client_id)
    };
    let access = token().run().await.ok();
    assert_eq!(
        en_auth_peers::ministack_get_user(access.trim())
            .await
            .as_deref(),
        Ok(field(info, "user/username"))
    );
    let again = token().run().await;
    assert_eq!(again.ok(), access, "{}", again.stderr());
    assert!(again.stderr().contains("cached"), "{}", again.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_private_key_jwt_needs_no_client_secret() {
    // The environments file alone: the method, the key, its algorithm and id.
    let sandbox = Sandbox::new(
        "oidc-pkjwt",
        &format!(
            "[oidc-pkjwt]\ntoken_url = \"{}\"\nscopes = [\"{}\"]\n\
             token_endpoint_auth_method = \"private_key_jwt\"\n\
             private_key_file = \"{}\"\nsigning_algorithm = \"ES256\"\nkey_id = \"ec-1\"\n",
            field(oidc(), "token_endpoint"),
            field(oidc(), "scope"),
            field(oidc(), "key_files/ec_pem"),
        ),
    );
    let out = sandbox
        .cmd(["token", "--env", "oidc-pkjwt", "--format", "json"])
        .env("CLIENT_ID", field(oidc(), "jwt_clients/pkjwt/id"))
        .run()
        .await
        .ok();
    let json: Value = serde_json::from_str(&out).unwrap();
    let info = introspect(json["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(oidc(), "jwt_clients/pkjwt/id"));
}

/// Mutual TLS (RFC 8705) from the environments file alone (and `SSL_CERT_FILE` naming the test
/// CA): `en-auth token` for a `tls_client_auth` client of oidc-provider's mTLS configuration,
/// no secret; the token comes from the discovered mTLS alias, bound to the file's certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_tls_client_auth_from_the_environments_file() {
    use en_auth_peers::oidc_mtls;
    let peer = oidc_mtls();
    let sandbox = Sandbox::new(
        "oidc-mtls",
        &format!(
            "[mtls]\nissuer = \"{}\"\nscopes = [\"{}\"]\n\
             token_endpoint_auth_method = \"tls_client_auth\"\n\
             tls_client_certificate_file = \"{}\"\ntls_client_key_file = \"{}\"\n",
            field(peer, "issuer"),
            field(peer, "scope"),
            field(peer, "files/client_cert"),
            field(peer, "files/client_key"),
        ),
    );
    let out = sandbox
        .cmd([
            "token",
            "--env",
            "mtls",
            "--client-id",
            field(peer, "clients/tls/id"),
            "--format",
            "json",
        ])
        .env("SSL_CERT_FILE", field(peer, "files/ca"))
        .env_remove("CLIENT_SECRET")
        .run()
        .await
        .ok();
    let json: Value = serde_json::from_str(&out).unwrap();
    let token = json["access_token"].as_str().unwrap();
    let info = Introspection {
        endpoint: field(peer, "introspection_endpoint").to_owned(),
        client_id: field(peer, "clients/introspector/id").to_owned(),
        secret: field(peer, "clients/introspector/secret").to_owned(),
    }
    .introspect(&reqwest::Client::new(), token)
    .await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(peer, "clients/tls/id"));
    assert_eq!(
        info["cnf"]["x5t#S256"],
        field(peer, "thumbprints/client"),
        "{info}"
    );
}
