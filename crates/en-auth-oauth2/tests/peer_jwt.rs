//! JWT client authentication (RFC 7523 §2.2, OpenID Connect Core §9), workload-identity
//! assertion files and the jwt-bearer grant (RFC 7523 §2.1) against a real server:
//! oidc-provider (npm, pinned in `peers/oidc`), which verifies every assertion's signature,
//! `iss`, `sub`, `aud`, `exp` and refuses a `jti` it has seen. Its test-only keys are generated
//! at its start and written to a temporary directory (`key_files` in its JSON line).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use en_auth_oauth2::{
    ClientAssertionConfig, ClientInfo, Environment, Error, GrantType, ServiceAccountAuthorizer,
    SigningAlgorithm, TokenEndpointAuthMethod,
};
use en_auth_peers::support::Introspection;
use en_auth_peers::{field, oidc};
use secrecy::ExposeSecret;
use serde_json::Value;

fn key_file(name: &str) -> PathBuf {
    PathBuf::from(field(oidc(), &format!("key_files/{name}")))
}

fn token_endpoint() -> &'static str {
    field(oidc(), "token_endpoint")
}

fn environment(method: TokenEndpointAuthMethod, config: ClientAssertionConfig) -> Environment {
    Environment::new("oidc-jwt")
        .with_token_url(token_endpoint())
        .unwrap()
        .with_scopes([field(oidc(), "scope")])
        .with_token_endpoint_auth_method(method)
        .with_client_assertion(config)
        .unwrap()
}

fn private_key(
    file: &str,
    algorithm: SigningAlgorithm,
    key_id: Option<&str>,
) -> ClientAssertionConfig {
    let mut config = ClientAssertionConfig::default();
    config.private_key_file = Some(key_file(file));
    config.signing_algorithm = Some(algorithm);
    config.key_id = key_id.map(str::to_owned);
    config
}

fn pkjwt_client() -> ClientInfo {
    ClientInfo::public(field(oidc(), "jwt_clients/pkjwt/id"))
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

/// A token from `environment` for `client`, checked active at the server for `client`'s id.
async fn token_for(client: ClientInfo, environment: Environment) -> Value {
    let id = client.client_id().to_owned();
    let auth = ServiceAccountAuthorizer::new(client, environment).unwrap();
    let token = auth.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], id.as_str(), "{info}");
    info
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jti() -> String {
    format!("{}-{}", now(), rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    u64::from(std::process::id()) << 20 | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An ES256 JWT signed in the test (jsonwebtoken) with the PEM key at `key`.
fn sign_es256(key: &Path, kid: Option<&str>, claims: &Value) -> String {
    let pem = std::fs::read(key).unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// A client assertion for the private_key_jwt client, as a platform would write it.
fn client_assertion(exp: u64) -> String {
    let id = field(oidc(), "jwt_clients/pkjwt/id");
    sign_es256(
        &key_file("ec_pem"),
        Some("ec-1"),
        &serde_json::json!({
            "iss": id, "sub": id, "aud": token_endpoint(),
            "iat": now(), "exp": exp, "jti": jti(),
        }),
    )
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "en-auth-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn private_key_jwt_with_every_algorithm_and_key_format() {
    use SigningAlgorithm::{EdDSA, ES256, PS256, RS256};
    let cases = [
        (RS256, "rsa_pem", Some("rsa-1")),
        (RS256, "rsa_pkcs1_pem", None),
        (PS256, "rsa_pem", Some("rsa-1")),
        (PS256, "rsa_jwk", None), // the JWK's own kid
        (ES256, "ec_pem", Some("ec-1")),
        (ES256, "ec_sec1_pem", None),
        (ES256, "ec_jwk", None),
        (EdDSA, "ed_pem", Some("ed-1")),
        (EdDSA, "ed_jwk", None),
    ];
    for (algorithm, file, kid) in cases {
        // Twice each: oidc-provider refuses a jti it has seen, so the second token proves the
        // assertion is new for every request.
        for _ in 0..2 {
            let environment = environment(
                TokenEndpointAuthMethod::PrivateKeyJwt,
                private_key(file, algorithm, kid),
            );
            token_for(pkjwt_client(), environment).await;
        }
    }
}

#[tokio::test]
async fn the_assertion_audience_can_be_the_issuer() {
    let mut config = private_key("ec_pem", SigningAlgorithm::ES256, Some("ec-1"));
    config.audience = Some(field(oidc(), "issuer").to_owned());
    token_for(
        pkjwt_client(),
        environment(TokenEndpointAuthMethod::PrivateKeyJwt, config),
    )
    .await;
}

/// A `private_key_jwt` client configured by an environments file with only the issuer: the
/// token endpoint is discovered (and `private_key_jwt` found among the server's methods), and
/// the assertion's `aud` is the issuer, as the server records it for introspection; with a
/// `token_url` it is the token endpoint.
#[tokio::test]
async fn private_key_jwt_with_an_issuer_alone_signs_for_the_issuer() {
    let dir = TempDir::new("issuer-alone");
    let method = "token_endpoint_auth_method = \"private_key_jwt\"\n\
                  signing_algorithm = \"ES256\"\nkey_id = \"ec-1\"\n";
    let toml = format!(
        "[discovered]\nissuer = \"{issuer}\"\nscopes = [\"{scope}\"]\n{method}\
         private_key_file = \"{key}\"\n\
         [configured]\ntoken_url = \"{token_url}\"\nscopes = [\"{scope}\"]\n{method}\
         private_key_file = \"{key}\"\n",
        issuer = field(oidc(), "issuer"),
        scope = field(oidc(), "scope"),
        key = key_file("ec_pem").display(),
        token_url = token_endpoint(),
    );
    let file = dir.file("environments.toml", &toml);
    let discovered = Environment::from_file(&file, "discovered").unwrap();
    assert!(discovered.token_url().is_none());
    for (environment, aud) in [
        (discovered, field(oidc(), "issuer")),
        (
            Environment::from_file(&file, "configured").unwrap(),
            token_endpoint(),
        ),
    ] {
        // Twice: a fresh jti each time (the server refuses one it has seen).
        for _ in 0..2 {
            let info = token_for(pkjwt_client(), environment.clone()).await;
            assert_eq!(info["client_assertion_aud"], aud, "{info}");
        }
    }
}

#[tokio::test]
async fn client_secret_jwt_signs_with_the_secret() {
    let client = ClientInfo::new(
        field(oidc(), "jwt_clients/csjwt/id"),
        field(oidc(), "jwt_clients/csjwt/secret"),
    );
    for _ in 0..2 {
        token_for(
            client.clone(),
            environment(
                TokenEndpointAuthMethod::ClientSecretJwt,
                ClientAssertionConfig::default(),
            ),
        )
        .await;
    }
    // A wrong secret: invalid_client, the secret nowhere in the error.
    let wrong = ClientInfo::new(
        field(oidc(), "jwt_clients/csjwt/id"),
        "wrong-secret-0123456789abcdefghijklmnopqrstuv",
    );
    let err = ServiceAccountAuthorizer::new(
        wrong,
        environment(
            TokenEndpointAuthMethod::ClientSecretJwt,
            ClientAssertionConfig::default(),
        ),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidClient(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn a_wrong_key_or_a_method_the_client_is_not_registered_for_is_invalid_client() {
    // A key the server does not know for the client.
    let err = ServiceAccountAuthorizer::new(
        pkjwt_client(),
        environment(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            private_key("stranger_pem", SigningAlgorithm::ES256, None),
        ),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    match &err {
        Error::InvalidClient(e) => assert_eq!(e.client_id, field(oidc(), "jwt_clients/pkjwt/id")),
        other => panic!("expected InvalidClient, got {other:?}"),
    }
    // A client registered for client_secret_basic, authenticating with private_key_jwt.
    let basic = ClientInfo::public(field(oidc(), "clients/basic/id"));
    let err = ServiceAccountAuthorizer::new(
        basic,
        environment(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            private_key("ec_pem", SigningAlgorithm::ES256, Some("ec-1")),
        ),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidClient(_)), "{err:?}");
    // The client_secret_jwt client with client_secret_post.
    let csjwt = ClientInfo::new(
        field(oidc(), "jwt_clients/csjwt/id"),
        field(oidc(), "jwt_clients/csjwt/secret"),
    );
    let err = ServiceAccountAuthorizer::new(
        csjwt,
        environment(
            TokenEndpointAuthMethod::ClientSecretPost,
            ClientAssertionConfig::default(),
        ),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidClient(_)), "{err:?}");
}

#[tokio::test]
async fn a_key_of_the_wrong_kind_is_a_configuration_error_at_build() {
    let err = ServiceAccountAuthorizer::new(
        pkjwt_client(),
        environment(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            private_key("ec_pem", SigningAlgorithm::RS256, None),
        ),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    assert!(
        text.contains("private_key_file") && text.contains("RS256"),
        "{text}"
    );
    let key = std::fs::read_to_string(key_file("ec_pem")).unwrap();
    let body = key.lines().nth(1).unwrap();
    assert!(!text.contains(body) && !format!("{err:?}").contains(body));
}

#[tokio::test]
async fn an_assertion_file_is_read_at_every_request() {
    let dir = TempDir::new("assertion");
    let path = dir.file("token", &client_assertion(now() + 300));
    let mut config = ClientAssertionConfig::default();
    config.client_assertion_file = Some(path.clone());
    let environment = environment(TokenEndpointAuthMethod::PrivateKeyJwt, config);

    token_for(pkjwt_client(), environment.clone()).await;

    // The same assertion again: the server refuses a replayed jti.
    let err = ServiceAccountAuthorizer::new(pkjwt_client(), environment.clone())
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidClient(_)), "{err:?}");

    // The platform rotates the file: the next request reads the new assertion.
    dir.file("token", &format!("{}\n", client_assertion(now() + 300)));
    token_for(pkjwt_client(), environment.clone()).await;

    // Expired, empty, missing: configuration errors naming the file, never its content.
    let expired = client_assertion(now() - 10);
    dir.file("token", &expired);
    let shown = path.display().to_string();
    for (content, why) in [
        (Some(expired.as_str()), "expired"),
        (Some(" \n"), "empty"),
        (None, "cannot read"),
    ] {
        match content {
            Some(text) => {
                dir.file("token", text);
            }
            None => std::fs::remove_file(&path).unwrap(),
        }
        let err = ServiceAccountAuthorizer::new(pkjwt_client(), environment.clone())
            .unwrap()
            .access_token()
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Configuration(_)), "{err:?}");
        assert!(
            text.contains(&shown) && text.contains(why) && text.contains("client_assertion_file"),
            "{text}"
        );
        assert!(!text.contains(&expired) && !format!("{err:?}").contains(&expired));
    }
}

/// An assertion of the platform (`platform_issuer`) about `sub`, signed with `key`.
fn platform_assertion(key: &str, exp: u64) -> String {
    sign_es256(
        &key_file(key),
        None,
        &serde_json::json!({
            "iss": field(oidc(), "platform_issuer"), "sub": "workload-7",
            "aud": field(oidc(), "issuer"), "iat": now(), "exp": exp, "jti": jti(),
        }),
    )
}

fn jwt_bearer_environment(method: TokenEndpointAuthMethod, assertion_file: PathBuf) -> Environment {
    let mut config = if method == TokenEndpointAuthMethod::PrivateKeyJwt {
        private_key("ed_pem", SigningAlgorithm::EdDSA, Some("ed-1"))
    } else {
        ClientAssertionConfig::default()
    };
    config.assertion_file = Some(assertion_file);
    Environment::new("oidc-jwt-bearer")
        .with_token_url(token_endpoint())
        .unwrap()
        .with_scopes([field(oidc(), "scope")])
        .with_token_endpoint_auth_method(method)
        .with_grant_type(GrantType::JwtBearer)
        .with_client_assertion(config)
        .unwrap()
}

#[tokio::test]
async fn the_jwt_bearer_grant_exchanges_the_file_s_assertion() {
    let dir = TempDir::new("jwt-bearer");
    let path = dir.file(
        "assertion",
        &platform_assertion("platform_pem", now() + 300),
    );
    // A public client, and a client that authenticates with private_key_jwt too.
    let public = ClientInfo::public(field(oidc(), "jwt_clients/public/id"));
    token_for(
        public.clone(),
        jwt_bearer_environment(TokenEndpointAuthMethod::None, path.clone()),
    )
    .await;
    token_for(
        pkjwt_client(),
        jwt_bearer_environment(TokenEndpointAuthMethod::PrivateKeyJwt, path.clone()),
    )
    .await;

    // An assertion the platform did not sign: invalid_grant.
    dir.file(
        "assertion",
        &platform_assertion("stranger_pem", now() + 300),
    );
    let err = ServiceAccountAuthorizer::new(
        public.clone(),
        jwt_bearer_environment(TokenEndpointAuthMethod::None, path.clone()),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    match &err {
        Error::Authorization(e) => assert_eq!(e.code.as_deref(), Some("invalid_grant"), "{e:?}"),
        other => panic!("expected invalid_grant, got {other:?}"),
    }

    // An expired one: refused before it is sent, naming the file.
    dir.file("assertion", &platform_assertion("platform_pem", now() - 5));
    let err = ServiceAccountAuthorizer::new(
        public,
        jwt_bearer_environment(TokenEndpointAuthMethod::None, path.clone()),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    assert!(
        text.contains("assertion_file") && text.contains(&path.display().to_string()),
        "{text}"
    );
}
