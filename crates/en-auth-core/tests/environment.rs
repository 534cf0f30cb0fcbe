//! Environments: loading by id from the TOML file named by `EN_AUTH_ENVIRONMENTS`, and the
//! configuration errors for every way the file can be wrong.

use std::path::PathBuf;

use en_auth_core::{Environment, Error, TokenEndpointAuthMethod, ENVIRONMENTS_VAR};

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("en-auth-env-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config_error(result: Result<Environment, Error>) -> en_auth_core::ConfigurationError {
    match result {
        Err(Error::Configuration(e)) => e,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

const FILE: &str = r#"
[dev]
token_url = "https://example.auth.us-east-1.amazoncognito.com/oauth2/token"
region = "us-east-1"
user_pool_id = "us-east-1_Example"
scopes = ["api/read", "api/write"]
token_endpoint_auth_method = "client_secret_post"
[dev.extra_params]
audience = "https://api.example.com"

[local]
token_url = "http://127.0.0.1:9000/token"
cognito_endpoint = "http://localhost:9229"
"#;

#[test]
fn loads_every_field_by_id_from_the_named_file() {
    let path = write("good.toml", FILE);
    // The only test in this binary that touches the variable.
    std::env::set_var(ENVIRONMENTS_VAR, &path);
    let env = Environment::load("dev").unwrap();
    assert_eq!(env.id(), "dev");
    assert_eq!(env.source(), Some(path.as_path()));
    assert_eq!(
        env.token_url().unwrap().as_str(),
        "https://example.auth.us-east-1.amazoncognito.com/oauth2/token"
    );
    assert_eq!(env.region(), Some("us-east-1"));
    assert_eq!(env.user_pool_id(), Some("us-east-1_Example"));
    assert_eq!(env.scopes(), ["api/read", "api/write"]);
    assert_eq!(
        env.extra_params(),
        [("audience".to_owned(), "https://api.example.com".to_owned())]
    );
    assert_eq!(
        env.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::ClientSecretPost
    );

    let local = Environment::load("local").unwrap();
    assert_eq!(
        local.cognito_endpoint().unwrap().as_str(),
        "http://localhost:9229/"
    );
    assert_eq!(
        local.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::ClientSecretBasic
    );

    let e = config_error(Environment::load("prod"));
    assert_eq!(e.environment(), Some("prod"));
    assert_eq!(e.file.as_deref(), Some(path.as_path()));
    assert!(e.message.contains("dev, local"), "{e}");

    std::env::remove_var(ENVIRONMENTS_VAR);
    let e = config_error(Environment::load("dev"));
    assert!(e.to_string().contains(ENVIRONMENTS_VAR), "{e}");
}

#[test]
fn unreadable_and_malformed_files_name_the_file() {
    let missing = std::env::temp_dir().join("en-auth-no-such-file.toml");
    let e = config_error(Environment::from_file(&missing, "dev"));
    assert_eq!(e.file.as_deref(), Some(missing.as_path()));
    assert!(std::error::Error::source(&e).is_some());

    let path = write("bad.toml", "[dev\ntoken_url = ");
    let e = config_error(Environment::from_file(&path, "dev"));
    assert!(e.message.contains("malformed TOML"), "{e}");
    assert!(e.to_string().contains("bad.toml"), "{e}");
}

#[test]
fn invalid_fields_are_named() {
    let cases = [
        (
            "[dev]\ntoken_url = \"http://auth.example.com/token\"",
            "token_url",
            "loopback",
        ),
        ("[dev]\ntoken_url = \"not a url\"", "token_url", "not a URL"),
        (
            "[dev]\ntoken_url = \"ftp://127.0.0.1/token\"",
            "token_url",
            "scheme",
        ),
        (
            "[dev]\ncognito_endpoint = \"http://10.0.0.1:9229\"",
            "cognito_endpoint",
            "loopback",
        ),
        (
            "[dev]\ntoken_uri = \"https://a/token\"",
            "token_uri",
            "unknown field",
        ),
        ("[dev]\nscopes = \"api/read\"", "scopes", "invalid"),
        (
            "[dev]\ntoken_endpoint_auth_method = \"private_key_jws\"",
            "token_endpoint_auth_method",
            "private_key_jws",
        ),
        (
            "[dev]\n[dev.extra_params]\naudience = 3",
            "extra_params.audience",
            "invalid",
        ),
        (
            "[dev]\nauthorization_url = \"http://auth.example.com/authorize\"",
            "authorization_url",
            "loopback",
        ),
        (
            "[dev]\ndevice_authorization_url = \"not a url\"",
            "device_authorization_url",
            "not a URL",
        ),
        (
            "[dev]\nrevocation_url = \"http://auth.example.com/revoke\"",
            "revocation_url",
            "loopback",
        ),
        // A browser sign-in's registered loopback redirect URI (RFC 8252 §7.3).
        (
            "[dev]\nredirect_uri = \"https://app.example.com/cb\"",
            "redirect_uri",
            "must be `http`",
        ),
        (
            "[dev]\nredirect_uri = \"http://10.0.0.1:8400/cb\"",
            "redirect_uri",
            "must be to a loopback host",
        ),
        (
            "[dev]\nredirect_uri = \"http://localhost/cb\"",
            "redirect_uri",
            "needs its port",
        ),
        (
            "[dev]\nredirect_uri = \"http://me:pw@localhost:8400/cb\"",
            "redirect_uri",
            "no user name or password",
        ),
        (
            "[dev]\nredirect_uri = \"http://localhost:8400/cb#x\"",
            "redirect_uri",
            "no query or fragment",
        ),
        (
            "[dev]\nredirect_uri = \"http://localhost:8400\"",
            "redirect_uri",
            "write `http://localhost:8400/`",
        ),
    ];
    for (text, field, needle) in cases {
        let e = config_error(Environment::from_toml_str(text, "dev"));
        assert_eq!(e.environment(), Some("dev"), "{text}");
        if !field.is_empty() {
            assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        }
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn a_registered_redirect_uri_is_kept_as_written() {
    for uri in [
        "http://localhost:8400/callback",
        "http://127.0.0.1:53682/",
        "http://[::1]:8400/auth/done",
    ] {
        let text =
            format!("[desktop]\nissuer = \"https://auth.example.com\"\nredirect_uri = \"{uri}\"");
        let env = Environment::from_toml_str(&text, "desktop").unwrap();
        assert_eq!(env.redirect_uri().map(|u| u.as_str()), Some(uri));
        assert!(format!("{env:?}").contains(uri));
    }
    let env = Environment::from_toml_str(
        "[desktop]\nissuer = \"https://auth.example.com\"",
        "desktop",
    );
    assert_eq!(env.unwrap().redirect_uri(), None);
}

#[test]
fn sign_in_urls_are_read_for_a_server_without_discovery() {
    let text = "[gh]\ntoken_url = \"https://auth.example.com/token\"\n\
                authorization_url = \"https://auth.example.com/authorize\"\n\
                device_authorization_url = \"https://auth.example.com/device\"\n\
                revocation_url = \"http://127.0.0.1:9/revoke\"";
    let env = Environment::from_toml_str(text, "gh").unwrap();
    assert_eq!(
        env.authorization_url().map(|u| u.as_str()),
        Some("https://auth.example.com/authorize")
    );
    assert_eq!(
        env.device_authorization_url().map(|u| u.as_str()),
        Some("https://auth.example.com/device")
    );
    assert_eq!(
        env.revocation_url().map(|u| u.as_str()),
        Some("http://127.0.0.1:9/revoke")
    );
    let shown = format!("{env:?}");
    assert!(
        shown.contains("authorization_url: Some(\"https://auth.example.com/authorize\")"),
        "{shown}"
    );
}

#[test]
fn loopback_hosts_may_use_http() {
    for url in [
        "http://127.0.0.1/t",
        "http://127.8.9.10:1/t",
        "http://localhost:8080/t",
        "http://[::1]:80/t",
    ] {
        assert!(Environment::new("x").with_token_url(url).is_ok(), "{url}");
    }
    for url in [
        "http://192.168.1.1/t",
        "http://example.com/t",
        "http://[::2]/t",
        "http://localhost.example.com/t",
    ] {
        assert!(Environment::new("x").with_token_url(url).is_err(), "{url}");
    }
}

#[test]
fn a_misspelt_localhost_is_named_as_such() {
    for url in [
        "http://localhots:8080/t",
        "http://locahost/t",
        "http://LOCALHST/t",
    ] {
        let err = config_error(Environment::new("x").with_token_url(url));
        assert!(
            err.message
                .contains("not a loopback host (did you mean localhost?)"),
            "{url}: {err}"
        );
    }
    let err = config_error(Environment::new("x").with_token_url("http://example.com/t"));
    assert!(
        !err.message.contains("did you mean") && err.message.contains("use https for example.com"),
        "{err}"
    );
}

#[test]
fn a_rejected_extra_parameter_is_named_but_not_quoted() {
    let e = config_error(Environment::from_toml_str(
        "[dev]\nextra_params = \"client_assertion=eyJhbGciOiJSUzI1NiJ9.secret\"",
        "dev",
    ));
    assert_eq!(e.field.as_deref(), Some("extra_params"));
    assert!(!e.to_string().contains("eyJ"), "{e}");
}

#[test]
fn the_shared_cache_table_is_read_and_never_prints_a_password() {
    let text = r#"
[fleet]
token_url = "https://auth.example.com/token"
[fleet.shared_cache]
url = "rediss://:hunter2@cache.internal:6379"
encryption_key_env = "EN_AUTH_CACHE_KEY"
operation_timeout_ms = 150
"#;
    let env = Environment::from_toml_str(text, "fleet").unwrap();
    let cache = env.shared_cache().expect("the table is read");
    assert_eq!(cache.key_prefix, "en-auth", "the default prefix");
    assert_eq!(
        cache.encryption_key_env.as_deref(),
        Some("EN_AUTH_CACHE_KEY")
    );
    let settings = cache.settings();
    assert_eq!(
        settings.operation_timeout,
        std::time::Duration::from_millis(150)
    );
    assert_eq!(
        settings.lock_wait,
        en_auth_core::SharedStoreSettings::default().lock_wait
    );
    assert!(cache.redacted_url().contains("cache.internal"));

    let misspelt = text.replace("encryption_key_env", "encryption_key");
    let error = config_error(Environment::from_toml_str(&misspelt, "fleet"));
    assert!(error.to_string().contains("encryption_key"), "{error}");
    let mut scan = en_auth_peers::secrecy::Scan::new();
    scan.secret("the Redis password", "hunter2")
        .debug("the environment", &env)
        .debug("the shared cache table", &cache)
        .output("its redacted URL", cache.redacted_url())
        .error("the misspelt field's error", &error);
    scan.assert_clean();
    assert!(Environment::from_toml_str(text, "fleet").is_ok());
    assert!(Environment::new("plain").shared_cache().is_none());
}

#[test]
fn a_shared_cache_is_a_url_or_a_path() {
    let table = |body: &str| {
        format!(
            "[jobs]\ntoken_url = \"https://auth.example.com/token\"\n[jobs.shared_cache]\n{body}\n"
        )
    };
    let env = Environment::from_toml_str(&table("path = \"/run/jobs/tokens\""), "jobs").unwrap();
    let cache = env.shared_cache().unwrap();
    assert_eq!(
        cache.path.as_deref(),
        Some(std::path::Path::new("/run/jobs/tokens"))
    );
    assert_eq!(cache.url, None);
    assert_eq!(cache.encryption_key_env, None, "optional for a directory");
    for (body, says) in [
        ("", "needs `url`"),
        (
            "url = \"redis://127.0.0.1\"\npath = \"/x\"\nencryption_key_env = \"K\"",
            "choose one",
        ),
        ("url = \"redis://127.0.0.1\"", "needs `encryption_key_env`"),
        ("path = \"tokens\"", "absolute `path`"),
    ] {
        let error = config_error(Environment::from_toml_str(&table(body), "jobs"));
        assert!(error.to_string().contains(says), "{body}: {error}");
        assert_eq!(error.field.as_deref(), Some("shared_cache"));
    }
}

#[test]
fn issuer_resources_and_audience_are_read_from_the_file() {
    let text = r#"
[prod]
issuer = "https://auth.example.com/tenant"
resource = ["https://api.example.com/v1", "urn:example:reports"]
audience = "https://api.example.com"
"#;
    let env = Environment::from_toml_str(text, "prod").unwrap();
    assert!(env.token_url().is_none());
    assert!(env.has_token_endpoint());
    // Kept as written, not normalised: the metadata's `issuer` must equal it exactly.
    assert_eq!(
        env.issuer().unwrap().as_str(),
        "https://auth.example.com/tenant"
    );
    let bare = Environment::new("x")
        .with_issuer("https://auth.example.com")
        .unwrap();
    assert_eq!(bare.issuer().unwrap().as_str(), "https://auth.example.com");
    assert_eq!(
        bare.issuer().unwrap().url().as_str(),
        "https://auth.example.com/"
    );
    assert_eq!(
        env.resources(),
        ["https://api.example.com/v1", "urn:example:reports"]
    );
    assert_eq!(env.audience(), Some("https://api.example.com"));
    assert!(!Environment::new("none").has_token_endpoint());
}

#[test]
fn invalid_issuers_resources_and_audiences_are_named() {
    let cases = [
        ("issuer = \"http://auth.example.com\"", "issuer", "loopback"),
        ("issuer = \"auth.example.com\"", "issuer", "not a URL"),
        (
            "issuer = \"https://a.example/?tenant=1\"",
            "issuer",
            "no query or fragment",
        ),
        (
            "issuer = \"https://a.example/#x\"",
            "issuer",
            "no query or fragment",
        ),
        ("resource = [\"/api\"]", "resource", "not an absolute URI"),
        (
            "resource = [\"api.example.com\"]",
            "resource",
            "not an absolute URI",
        ),
        (
            "resource = [\"https://api.example.com/#v1\"]",
            "resource",
            "fragment",
        ),
        (
            "resource = [\"https://api.example.com/#\"]",
            "resource",
            "fragment",
        ),
        (
            "resource = \"https://api.example.com/\"",
            "resource",
            "invalid",
        ),
        ("audience = \" \"", "audience", "empty"),
    ];
    for (line, field, needle) in cases {
        let text = format!("[dev]\n{line}\n");
        let e = config_error(Environment::from_toml_str(&text, "dev"));
        assert_eq!(e.environment(), Some("dev"), "{text}");
        assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn token_exchange_is_read_from_the_file() {
    let text = r#"
[exchange]
issuer = "https://auth.example.com"
subject_token_file = "/var/run/secrets/tokens/subject"
subject_token_type = "urn:ietf:params:oauth:token-type:jwt"
actor_token_file = "/var/run/secrets/tokens/actor"
actor_token_type = "urn:ietf:params:oauth:token-type:access_token"
requested_token_type = "urn:ietf:params:oauth:token-type:access_token"

[default_type]
token_url = "https://auth.example.com/token"
subject_token_file = "/tmp/subject"
"#;
    let env = Environment::from_toml_str(text, "exchange").unwrap();
    let config = env.token_exchange().unwrap();
    assert_eq!(
        config,
        &en_auth_core::TokenExchangeConfig::new(
            "/var/run/secrets/tokens/subject",
            "urn:ietf:params:oauth:token-type:jwt"
        )
        .with_actor_token(
            "/var/run/secrets/tokens/actor",
            "urn:ietf:params:oauth:token-type:access_token"
        )
        .with_requested_token_type("urn:ietf:params:oauth:token-type:access_token")
    );
    let env = Environment::from_toml_str(text, "default_type").unwrap();
    assert_eq!(
        env.token_exchange().unwrap().subject_token_type,
        en_auth_core::TokenExchangeConfig::ACCESS_TOKEN_TYPE
    );
    assert!(Environment::new("none").token_exchange().is_none());
}

#[test]
fn incomplete_token_exchange_settings_are_named() {
    let cases = [
        (
            "subject_token_type = \"urn:x\"",
            "subject_token_type",
            "subject_token_file",
        ),
        (
            "requested_token_type = \"urn:x\"",
            "requested_token_type",
            "subject_token_file",
        ),
        (
            "subject_token_file = \"/s\"\nactor_token_file = \"/a\"",
            "actor_token_type",
            "RFC 8693",
        ),
        (
            "subject_token_file = \"/s\"\nactor_token_type = \"urn:x\"",
            "actor_token_file",
            "RFC 8693",
        ),
        (
            "subject_token_file = \"/s\"\nsubject_token_type = \" \"",
            "subject_token_type",
            "empty",
        ),
    ];
    for (lines, field, needle) in cases {
        let text = format!("[dev]\n{lines}\n");
        let e = config_error(Environment::from_toml_str(&text, "dev"));
        assert_eq!(e.field.as_deref(), Some(field), "{text}: {e}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn jwt_client_authentication_keys_and_their_contradictions() {
    use en_auth_core::{GrantType, SigningAlgorithm};
    let path = write(
        "jwt.toml",
        r#"
[pk]
token_url = "https://auth.example.com/token"
token_endpoint_auth_method = "private_key_jwt"
private_key_file = "keys/client.pem"
signing_algorithm = "ES256"
key_id = "key-1"
certificate_file = "/etc/client.crt"
client_assertion_audience = "https://auth.example.com"

[workload]
token_url = "https://auth.example.com/token"
client_assertion_file = "/var/run/secrets/tokens/token"

[bearer]
token_url = "https://auth.example.com/token"
token_endpoint_auth_method = "none"
grant_type = "jwt_bearer"
assertion_file = "assertion.jwt"

[cs]
token_url = "https://auth.example.com/token"
token_endpoint_auth_method = "client_secret_jwt"

[bearer_without_file]
token_url = "https://auth.example.com/token"
grant_type = "jwt_bearer"

[key_with_basic]
token_url = "https://auth.example.com/token"
token_endpoint_auth_method = "client_secret_basic"
private_key_file = "/k.pem"

[hs_with_key]
token_url = "https://auth.example.com/token"
private_key_file = "/k.pem"
signing_algorithm = "HS256"

[rs_for_secret_jwt]
token_url = "https://auth.example.com/token"
token_endpoint_auth_method = "client_secret_jwt"
signing_algorithm = "RS256"

[both]
token_url = "https://auth.example.com/token"
private_key_file = "/k.pem"
client_assertion_file = "/t"

[bad_alg]
token_url = "https://auth.example.com/token"
signing_algorithm = "none"
"#,
    );
    let dir = path.parent().unwrap();
    let pk = Environment::from_file(&path, "pk").unwrap();
    assert_eq!(
        pk.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::PrivateKeyJwt
    );
    let c = pk.client_assertion();
    // Relative paths are beside the environments file; absolute ones as written.
    assert_eq!(
        c.private_key_file.as_deref(),
        Some(dir.join("keys/client.pem").as_path())
    );
    assert_eq!(
        c.certificate_file.as_deref(),
        Some(std::path::Path::new("/etc/client.crt"))
    );
    assert_eq!(c.signing_algorithm, Some(SigningAlgorithm::ES256));
    assert_eq!(c.key_id.as_deref(), Some("key-1"));
    assert_eq!(c.audience.as_deref(), Some("https://auth.example.com"));

    // An assertion file alone means private_key_jwt.
    let workload = Environment::from_file(&path, "workload").unwrap();
    assert_eq!(
        workload.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::PrivateKeyJwt
    );
    let bearer = Environment::from_file(&path, "bearer").unwrap();
    assert_eq!(bearer.grant_type(), GrantType::JwtBearer);
    assert_eq!(
        bearer.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::None
    );
    assert_eq!(
        bearer.client_assertion().assertion_file.as_deref(),
        Some(dir.join("assertion.jwt").as_path())
    );
    assert_eq!(
        Environment::from_file(&path, "cs")
            .unwrap()
            .token_endpoint_auth_method(),
        TokenEndpointAuthMethod::ClientSecretJwt
    );

    for (id, field, words) in [
        ("bearer_without_file", "assertion_file", "missing"),
        ("key_with_basic", "private_key_file", "private_key_jwt"),
        ("hs_with_key", "signing_algorithm", "client_secret_jwt"),
        ("rs_for_secret_jwt", "signing_algorithm", "HS256"),
        ("both", "client_assertion_file", "choose one"),
        ("bad_alg", "signing_algorithm", "unknown variant"),
    ] {
        let e = config_error(Environment::from_file(&path, id));
        let text = e.to_string();
        assert_eq!(e.field.as_deref(), Some(field), "{id}: {text}");
        assert!(text.contains(words), "{id}: {text}");
    }
}

/// `grant_type = "token_exchange"` names what a `subject_token_file` implies; without the file,
/// or beside `jwt_bearer`, it is a configuration error naming the field. The subject and actor
/// token files, relative, are beside the environments file (as the key files are).
#[test]
fn the_token_exchange_grant_is_named_and_its_files_are_beside_the_file() {
    use en_auth_core::GrantType;
    let path = write(
        "grant-exchange.toml",
        r#"
[implied]
token_url = "https://auth.example.com/token"
subject_token_file = "tokens/subject"
actor_token_file = "tokens/actor"
actor_token_type = "urn:ietf:params:oauth:token-type:access_token"

[named]
token_url = "https://auth.example.com/token"
grant_type = "token_exchange"
subject_token_file = "/var/run/secrets/tokens/subject"

[no_file]
token_url = "https://auth.example.com/token"
grant_type = "token_exchange"

[two_grants]
token_url = "https://auth.example.com/token"
grant_type = "jwt_bearer"
assertion_file = "/a"
subject_token_file = "/s"
"#,
    );
    let dir = path.parent().unwrap();
    let implied = Environment::from_file(&path, "implied").unwrap();
    assert_eq!(implied.grant_type(), GrantType::TokenExchange);
    let config = implied.token_exchange().unwrap();
    assert_eq!(config.subject_token_file, dir.join("tokens/subject"));
    assert_eq!(
        config.actor_token_file.as_deref(),
        Some(dir.join("tokens/actor").as_path())
    );
    let named = Environment::from_file(&path, "named").unwrap();
    assert_eq!(named.grant_type(), GrantType::TokenExchange);
    assert_eq!(
        named.token_exchange().unwrap().subject_token_file,
        PathBuf::from("/var/run/secrets/tokens/subject")
    );
    let e = config_error(Environment::from_file(&path, "no_file"));
    assert_eq!(e.field.as_deref(), Some("subject_token_file"), "{e}");
    let e = config_error(Environment::from_file(&path, "two_grants"));
    assert_eq!(e.field.as_deref(), Some("grant_type"), "{e}");
    assert_eq!(
        Environment::new("code").grant_type(),
        GrantType::ClientCredentials
    );
}

/// Mutual TLS (RFC 8705): the two methods by name, the certificate and key files (relative
/// paths beside the environments file), and half a pair refused naming the missing field.
#[test]
fn tls_client_certificate_and_key_files() {
    let path = write(
        "tls-client.toml",
        "[a]\ntoken_url = \"https://auth.example.com/token\"\n\
         token_endpoint_auth_method = \"tls_client_auth\"\n\
         tls_client_certificate_file = \"certs/client.pem\"\n\
         tls_client_key_file = \"/etc/keys/client.key\"\n\
         [b]\ntoken_url = \"https://auth.example.com/token\"\n\
         token_endpoint_auth_method = \"self_signed_tls_client_auth\"\n\
         [c]\ntoken_url = \"https://auth.example.com/token\"\n\
         tls_client_key_file = \"client.key\"\n",
    );
    let dir = path.parent().unwrap();
    let a = Environment::from_file(&path, "a").unwrap();
    assert_eq!(
        a.token_endpoint_auth_method(),
        TokenEndpointAuthMethod::TlsClientAuth
    );
    assert_eq!(a.token_endpoint_auth_method().as_str(), "tls_client_auth");
    assert!(a.token_endpoint_auth_method().is_mutual_tls());
    assert!(!a.needs_client_secret());
    let tls = a.tls_client().unwrap();
    assert_eq!(tls.certificate_file, dir.join("certs/client.pem"));
    assert_eq!(tls.key_file, std::path::Path::new("/etc/keys/client.key"));

    let b = Environment::from_file(&path, "b").unwrap();
    assert_eq!(
        b.token_endpoint_auth_method().as_str(),
        "self_signed_tls_client_auth"
    );
    assert!(b.tls_client().is_none(), "the files may be given in code");

    let err = Environment::from_file(&path, "c").unwrap_err();
    let Error::Configuration(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        e.field.as_deref(),
        Some("tls_client_certificate_file"),
        "{err}"
    );
}

#[test]
fn dpop_settings_are_read_and_their_contradictions_named() {
    let path = write(
        "dpop.toml",
        "[bound]\ntoken_url = \"https://a.example.com/t\"\ndpop = true\n\
         dpop_signing_algorithm = \"EdDSA\"\ndpop_key_file = \"keys/dpop.pem\"\n\
         dpop_allow_bearer = true\n\
         [generated]\ntoken_url = \"https://a.example.com/t\"\ndpop = true\n\
         [plain]\ntoken_url = \"https://a.example.com/t\"\n",
    );
    let bound = Environment::from_file(&path, "bound").unwrap();
    let config = bound.dpop().unwrap();
    assert_eq!(
        config.signing_algorithm,
        Some(en_auth_core::SigningAlgorithm::EdDSA)
    );
    // Beside the environments file.
    assert_eq!(
        config.key_file.as_deref(),
        Some(path.parent().unwrap().join("keys/dpop.pem").as_path())
    );
    assert!(config.allow_bearer);
    let generated = Environment::from_file(&path, "generated").unwrap();
    assert_eq!(generated.dpop(), Some(&en_auth_core::DpopConfig::new()));
    assert!(Environment::from_file(&path, "plain")
        .unwrap()
        .dpop()
        .is_none());

    for (text, field) in [
        (
            "dpop = true\ndpop_signing_algorithm = \"RS256\"",
            "dpop_signing_algorithm",
        ),
        ("dpop_key_file = \"k.pem\"", "dpop_key_file"),
        ("dpop_allow_bearer = true", "dpop_allow_bearer"),
    ] {
        let error = config_error(Environment::from_toml_str(
            &format!("[x]\ntoken_url = \"https://a.example.com/t\"\n{text}\n"),
            "x",
        ));
        assert_eq!(error.field.as_deref(), Some(field), "{error}");
    }
}
