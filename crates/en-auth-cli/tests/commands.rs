//! The commands that ask no server: `envs`, `completions`, `--help`, `--version`.

mod common;

use common::Sandbox;
use serde_json::Value;

const ENVIRONMENTS: &str = r#"
[dev]
token_url = "https://auth.example.com/oauth2/token"
scopes = ["api/read", "api/write"]
token_endpoint_auth_method = "client_secret_post"
[dev.extra_params]
audience = "https://api.example.com"
client_assertion = "do-not-print-me"

[users]
region = "eu-west-1"
user_pool_id = "eu-west-1_Example"
cognito_endpoint = "http://127.0.0.1:9229"
refresh_token_rotation = true
"#;

#[test]
fn envs_lists_each_environment_and_what_it_defines() {
    let sandbox = Sandbox::new("envs", ENVIRONMENTS);
    let text = sandbox.cmd(["envs"]).run_blocking().ok();
    for part in [
        "2 environments",
        "\ndev\n",
        "https://auth.example.com/oauth2/token",
        "api/read api/write",
        "client_secret_post",
        "audience, client_assertion",
        "\nusers\n",
        "eu-west-1_Example",
        "http://127.0.0.1:9229",
        "refresh_token_rotation",
        "client credentials",
        "cognito srp",
    ] {
        assert!(text.contains(part), "{part:?} in\n{text}");
    }
    assert!(!text.contains("do-not-print-me"), "{text}");

    let json: Value =
        serde_json::from_str(&sandbox.cmd(["envs", "--json"]).run_blocking().ok()).unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dev", "users"]);
    assert_eq!(
        json[0]["scopes"],
        serde_json::json!(["api/read", "api/write"])
    );
    assert_eq!(json[1]["user_pool_id"], "eu-west-1_Example");
    assert_eq!(json[1]["region"], "eu-west-1");
    assert_eq!(json[1]["flows"], serde_json::json!(["cognito srp"]));
    assert!(!json.to_string().contains("do-not-print-me"));
}

#[test]
fn envs_shows_issuer_resources_audience_and_token_exchange() {
    let sandbox = Sandbox::new(
        "envs-discovery",
        r#"
[discovered]
issuer = "https://auth.example.com/tenant"
resource = ["https://api.example.com/v1", "urn:example:reports"]
audience = "https://api.example.com"

[exchange]
issuer = "https://auth.example.com"
subject_token_file = "/var/run/secrets/tokens/subject"
"#,
    );
    let text = sandbox.cmd(["envs"]).run_blocking().ok();
    for part in [
        "https://auth.example.com/tenant",
        "https://api.example.com/v1 urn:example:reports",
        "client credentials",
        "token exchange",
    ] {
        assert!(text.contains(part), "{part:?} in\n{text}");
    }
    let json: Value =
        serde_json::from_str(&sandbox.cmd(["envs", "--json"]).run_blocking().ok()).unwrap();
    assert_eq!(json[0]["issuer"], "https://auth.example.com/tenant");
    assert_eq!(json[0]["token_url"], Value::Null);
    assert_eq!(
        json[0]["resource"],
        serde_json::json!(["https://api.example.com/v1", "urn:example:reports"])
    );
    assert_eq!(json[0]["audience"], "https://api.example.com");
    assert_eq!(
        json[0]["flows"],
        serde_json::json!(["client credentials", "person sign-in"])
    );
    assert_eq!(json[1]["flows"], serde_json::json!(["token exchange"]));
}

/// Mutual TLS (RFC 8705): the method and the paths of the certificate and key files (never a
/// file's content: the files need not even exist).
#[test]
fn envs_shows_the_tls_client_certificate_and_key_files() {
    let sandbox = Sandbox::new(
        "envs-mtls",
        r#"
[mtls]
issuer = "https://auth.example.com"
token_endpoint_auth_method = "tls_client_auth"
tls_client_certificate_file = "/etc/svc/client.crt"
tls_client_key_file = "/etc/svc/client.key"
"#,
    );
    let text = sandbox.cmd(["envs"]).run_blocking().ok();
    for part in [
        "tls_client_auth",
        "tls_client_certificate_file /etc/svc/client.crt",
        "tls_client_key_file         /etc/svc/client.key",
    ] {
        assert!(text.contains(part), "{part:?} in\n{text}");
    }
    let json: Value =
        serde_json::from_str(&sandbox.cmd(["envs", "--json"]).run_blocking().ok()).unwrap();
    assert_eq!(json[0]["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(
        json[0]["tls_client_certificate_file"],
        "/etc/svc/client.crt"
    );
    assert_eq!(json[0]["tls_client_key_file"], "/etc/svc/client.key");
}

#[test]
fn envs_reports_an_invalid_environment_and_exits_3() {
    let sandbox = Sandbox::new(
        "envs-invalid",
        "[ok]\ntoken_url = \"https://a.example.com/t\"\n[bad]\ntoken_url = \"http://remote.example.com/t\"\n",
    );
    let run = sandbox.cmd(["envs"]).run_blocking();
    assert_eq!(run.code(), 3, "{}", run.stderr());
    let text = run.stdout();
    assert!(
        text.contains("\nok\n") && text.contains("\nbad\n  error:"),
        "{text}"
    );

    let run = Sandbox::new("envs-malformed", "[dev")
        .cmd(["envs"])
        .run_blocking();
    run.fails_with(3);
    let run = Sandbox::new("envs-none", "")
        .cmd(["envs"])
        .env_remove("EN_AUTH_ENVIRONMENTS")
        .run_blocking();
    assert!(run.fails_with(3).contains("EN_AUTH_ENVIRONMENTS"));
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let sandbox = Sandbox::new("completions", "");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef en-auth"),
        ("fish", "complete -c en-auth"),
    ] {
        let script = sandbox.cmd(["completions", shell]).run_blocking().ok();
        assert!(script.contains(marker), "{shell}");
        for word in ["token", "login", "logout", "exec", "envs", "min-validity"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    let run = sandbox.cmd(["completions", "tcsh"]).run_blocking();
    assert_eq!(run.code(), 2);
}

#[test]
fn help_shows_examples_and_exit_codes_for_each_command() {
    let sandbox = Sandbox::new("help", "");
    let top = sandbox.cmd(["--help"]).run_blocking().ok();
    for part in [
        "Examples:",
        "Exit codes:",
        "token",
        "login",
        "logout",
        "exec",
        "envs",
    ] {
        assert!(top.contains(part), "{part} in\n{top}");
    }
    for command in ["token", "login", "logout", "exec", "envs", "completions"] {
        let help = sandbox.cmd([command, "--help"]).run_blocking().ok();
        assert!(help.contains("Examples:"), "{command}:\n{help}");
        assert!(help.contains("en-auth "), "{command}:\n{help}");
        if command != "completions" {
            assert!(help.contains("Exit codes:"), "{command}:\n{help}");
            assert!(help.contains("6  interaction needed"), "{command}:\n{help}");
        }
    }
    let token = sandbox.cmd(["token", "--help"]).run_blocking().ok();
    for option in [
        "--env",
        "--client-id",
        "--client-secret-file",
        "--scope",
        "--min-validity",
        "--format",
        "exec-credential",
        "--no-cache",
        "--user",
    ] {
        assert!(token.contains(option), "{option} in\n{token}");
    }
    let version = sandbox.cmd(["--version"]).run_blocking().ok();
    assert_eq!(version, format!("en-auth {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn token_refuses_a_dpop_environment_and_says_why() {
    let sandbox = Sandbox::new(
        "token-dpop",
        "[bound]\ntoken_url = \"https://auth.example.com/oauth2/token\"\ndpop = true\n",
    );
    for format in ["header", "raw", "json"] {
        let run = sandbox
            .cmd(["token", "--env", "bound", "--format", format])
            .env("CLIENT_ID", "svc")
            .env("CLIENT_SECRET", "secret")
            .run_blocking();
        let stderr = run.fails_with(3);
        for part in ["DPoP", "proof", "private", "key", "method and URL"] {
            assert!(stderr.contains(part), "{format}: {part:?} in {stderr}");
        }
    }
    let text = sandbox.cmd(["envs"]).run_blocking().ok();
    assert!(text.contains("a key generated per process"), "{text}");
    let json: Value =
        serde_json::from_str(&sandbox.cmd(["envs", "--json"]).run_blocking().ok()).unwrap();
    assert_eq!(json[0]["dpop"], "ES256, a key generated per process");
}
