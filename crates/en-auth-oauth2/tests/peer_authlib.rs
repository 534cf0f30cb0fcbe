//! RFC 7523 against a second, independent server: Authlib (PyPI, pinned in
//! `peers/requirements.txt`; `peers/authlib/server.py`), whose `JWTBearerClientAssertion`
//! verifies `private_key_jwt` assertions (signature, `iss` = `sub`, `aud`, `exp`, a `jti` never
//! seen before) and whose `JWTBearerGrant` exchanges an assertion for a token. Its test-only
//! keys are generated at its start (`key_files` in its JSON line).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use en_auth_oauth2::{
    ClientAssertionConfig, ClientInfo, Environment, Error, GrantType, ServiceAccountAuthorizer,
    SigningAlgorithm, TokenEndpointAuthMethod,
};
use en_auth_peers::support::Introspection;
use en_auth_peers::{authlib, field};
use secrecy::ExposeSecret;

fn key_file(name: &str) -> PathBuf {
    PathBuf::from(field(authlib(), &format!("key_files/{name}")))
}

fn environment(config: ClientAssertionConfig, grant: GrantType) -> Environment {
    Environment::new("authlib")
        .with_token_url(field(authlib(), "token_endpoint"))
        .unwrap()
        .with_scopes([field(authlib(), "scope")])
        .with_token_endpoint_auth_method(TokenEndpointAuthMethod::PrivateKeyJwt)
        .with_grant_type(grant)
        .with_client_assertion(config)
        .unwrap()
}

fn key(name: &str, algorithm: SigningAlgorithm) -> ClientAssertionConfig {
    let mut config = ClientAssertionConfig::default();
    config.private_key_file = Some(key_file(name));
    config.signing_algorithm = Some(algorithm);
    config
}

fn client(name: &str) -> ClientInfo {
    ClientInfo::public(field(authlib(), &format!("clients/{name}/id")))
}

async fn token(client: ClientInfo, environment: Environment) -> Result<String, Error> {
    let token = ServiceAccountAuthorizer::new(client, environment)?
        .access_token()
        .await?;
    Ok(token.secret().expose_secret().to_owned())
}

async fn introspect(token: &str) -> serde_json::Value {
    Introspection {
        endpoint: field(authlib(), "introspection_endpoint").to_owned(),
        client_id: field(authlib(), "clients/introspector/id").to_owned(),
        secret: field(authlib(), "clients/introspector/secret").to_owned(),
    }
    .introspect(&reqwest::Client::new(), token)
    .await
}

#[tokio::test]
async fn private_key_jwt_es256_rs256_ps256_each_assertion_new() {
    for (name, file, algorithm) in [
        ("ec", "ec_pem", SigningAlgorithm::ES256),
        ("rsa", "rsa_pem", SigningAlgorithm::RS256),
        ("rsa", "rsa_pem", SigningAlgorithm::PS256),
    ] {
        // Twice: Authlib refuses a jti it has seen.
        for _ in 0..2 {
            let access = token(
                client(name),
                environment(key(file, algorithm), GrantType::ClientCredentials),
            )
            .await
            .unwrap();
            let info = introspect(&access).await;
            assert_eq!(info["active"], true, "{info}");
            assert_eq!(
                info["client_id"],
                field(authlib(), &format!("clients/{name}/id"))
            );
            assert_eq!(info["scope"], field(authlib(), "scope"));
        }
    }
}

#[tokio::test]
async fn a_wrong_key_or_a_client_not_allowed_the_method_is_invalid_client() {
    let wrong = token(
        client("ec"),
        environment(
            key("stranger_pem", SigningAlgorithm::ES256),
            GrantType::ClientCredentials,
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(wrong, Error::InvalidClient(_)), "{wrong:?}");
    // svc-basic may authenticate with client_secret_basic only (and has no such key).
    let not_allowed = token(
        client("basic"),
        environment(
            key("ec_pem", SigningAlgorithm::ES256),
            GrantType::ClientCredentials,
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(not_allowed, Error::InvalidClient(_)),
        "{not_allowed:?}"
    );
}

/// A JWT bearer grant assertion (Authlib's model: `iss` the client, signed with its key) about
/// `sub`, signed in the test.
fn grant_assertion(key: &str, exp: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = field(authlib(), "clients/ec/id");
    let pem = std::fs::read(key_file(key)).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &serde_json::json!({"iss": id, "sub": "user-42", "aud": field(authlib(), "token_endpoint"),
                            "iat": now, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_jwt_bearer_grant_with_an_assertion_file() {
    let dir = std::env::temp_dir().join(format!("en-auth-authlib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("assertion");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut config = key("ec_pem", SigningAlgorithm::ES256);
    config.assertion_file = Some(path.clone());

    std::fs::write(&path, grant_assertion("ec_pem", now + 300)).unwrap();
    let access = token(
        client("ec"),
        environment(config.clone(), GrantType::JwtBearer),
    )
    .await
    .unwrap();
    let info = introspect(&access).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], "user-42", "{info}");

    // Signed with a key the server does not know for the issuer: invalid_grant.
    std::fs::write(&path, grant_assertion("stranger_pem", now + 300)).unwrap();
    let err = token(
        client("ec"),
        environment(config.clone(), GrantType::JwtBearer),
    )
    .await
    .unwrap_err();
    match &err {
        Error::Authorization(e) => assert_eq!(e.code.as_deref(), Some("invalid_grant"), "{e:?}"),
        other => panic!("expected invalid_grant, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
