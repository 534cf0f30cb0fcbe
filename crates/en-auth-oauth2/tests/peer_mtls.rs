//! Mutual TLS (RFC 8705) against a real server: oidc-provider with `tls_client_auth`,
//! `self_signed_tls_client_auth` and certificate-bound tokens (`peers/oidc/mtls.mjs`), its
//! token endpoint's mTLS alias behind a TLS listener that asks for client certificates, and a
//! resource server over TLS that checks a bound token's `x5t#S256` against the certificate the
//! request presents. The CA, server and client certificates are made with openssl when the
//! peer starts.

use std::path::{Path, PathBuf};

use en_auth_oauth2::{
    reqwest_middleware, ClientInfo, Environment, Error, LocalStore, ServiceAccountAuthorizer,
    TlsClientIdentity,
};
use en_auth_peers::support::Introspection;
use en_auth_peers::{field, oidc_mtls};
use secrecy::ExposeSecret;
use serde_json::Value;

fn peer() -> &'static Value {
    oidc_mtls()
}

fn file(name: &str) -> &'static str {
    field(peer(), &format!("files/{name}"))
}

/// The test CA, which signed the servers' certificates.
fn ca() -> reqwest::Certificate {
    reqwest::Certificate::from_pem(&std::fs::read(file("ca")).unwrap()).unwrap()
}

/// An environments file in a temporary directory with one table, `[mtls]`: discovery from the
/// peer's issuer, the scope, and `extra` lines.
fn environments_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("environments.toml");
    let text = format!(
        "[mtls]\nissuer = \"{}\"\nscopes = [\"{}\"]\n{extra}\n",
        field(peer(), "issuer"),
        field(peer(), "scope"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `tls_client_auth` with the CA-issued client certificate, from an environments file.
fn tls_client_auth_environment(dir: &Path) -> Environment {
    let path = environments_file(
        dir,
        &format!(
            "token_endpoint_auth_method = \"tls_client_auth\"\n\
             tls_client_certificate_file = \"{}\"\ntls_client_key_file = \"{}\"",
            file("client_cert"),
            file("client_key"),
        ),
    );
    Environment::from_file(path, "mtls").unwrap()
}

fn tls_client() -> ClientInfo {
    ClientInfo::public(field(peer(), "clients/tls/id"))
}

fn authorizer(client: ClientInfo, environment: Environment) -> ServiceAccountAuthorizer {
    ServiceAccountAuthorizer::builder(client, environment)
        .add_root_certificate(ca())
        .build()
        .unwrap()
}

async fn introspect(token: &str) -> Value {
    Introspection {
        endpoint: field(peer(), "introspection_endpoint").to_owned(),
        client_id: field(peer(), "clients/introspector/id").to_owned(),
        secret: field(peer(), "clients/introspector/secret").to_owned(),
    }
    .introspect(&reqwest::Client::new(), token)
    .await
}

/// GETs the resource server with `http` carrying `authorizer`: status, `WWW-Authenticate`,
/// body.
async fn get_resource(
    http: reqwest::Client,
    authorizer: &ServiceAccountAuthorizer,
) -> (u16, String, Value) {
    let client = reqwest_middleware::ClientBuilder::new(http)
        .with(authorizer.clone())
        .build();
    let response = client
        .get(field(peer(), "resource_url"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, challenge, body)
}

/// The whole flow, configured by the environments file alone: the token request goes to the
/// issuer's `mtls_endpoint_aliases.token_endpoint` (the plain endpoint sees no certificate),
/// authenticated by the certificate; the token is bound to it (`cnf.x5t#S256`, as the
/// provider's introspection shows), and the resource accepts it from the client that
/// `resource_client_builder` makes.
#[tokio::test]
async fn tls_client_auth_gets_a_certificate_bound_token_that_the_resource_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let auth = authorizer(tls_client(), tls_client_auth_environment(dir.path()));
    let identity = auth.provider().tls_client_identity().unwrap();
    assert_eq!(identity.thumbprint(), field(peer(), "thumbprints/client"));

    let token = auth.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], field(peer(), "clients/tls/id"));
    assert_eq!(
        info["cnf"]["x5t#S256"],
        field(peer(), "thumbprints/client"),
        "{info}"
    );

    let http = auth.resource_client_builder().build().unwrap();
    let (status, challenge, body) = get_resource(http, &auth).await;
    assert_eq!(status, 200, "{challenge} {body}");
    assert_eq!(body["x5t#S256"], field(peer(), "thumbprints/client"));
    assert_eq!(body["presented"], field(peer(), "thumbprints/client"));
}

/// Without the alias — the plain http token endpoint as `token_url` — the server sees no
/// certificate and refuses the client: proof that the discovered requests went to the alias.
#[tokio::test]
async fn the_plain_token_endpoint_sees_no_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let environment = tls_client_auth_environment(dir.path())
        .with_token_url(field(peer(), "token_endpoint"))
        .unwrap();
    let auth = authorizer(tls_client(), environment);
    let err = auth.access_token().await.unwrap_err();
    assert!(matches!(err, Error::InvalidClient(_)), "{err:?}");
}

/// A bound token sent by a client that presents no certificate, or another one, is refused by
/// the resource with `401` and an `invalid_token` that says why (after the authorizer's one
/// replay with a renewed token, refused the same way).
#[tokio::test]
async fn a_bound_token_without_its_certificate_is_refused_by_the_resource() {
    let dir = tempfile::tempdir().unwrap();
    let auth = authorizer(tls_client(), tls_client_auth_environment(dir.path()));

    let without = reqwest::Client::builder()
        .tls_certs_merge([ca()])
        .build()
        .unwrap();
    let (status, challenge, body) = get_resource(without, &auth).await;
    assert_eq!(status, 401, "{body}");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert!(challenge.contains("presented none"), "{challenge}");

    let other =
        TlsClientIdentity::from_pem_files(file("client2_cert"), file("client2_key")).unwrap();
    let another = reqwest::Client::builder()
        .tls_certs_merge([ca()])
        .identity(other.reqwest_identity())
        .build()
        .unwrap();
    let (status, challenge, _) = get_resource(another, &auth).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("bound to another client certificate"),
        "{challenge}"
    );
}

/// `self_signed_tls_client_auth` with the certificate and key given in code (PEM bytes).
#[tokio::test]
async fn self_signed_tls_client_auth_with_a_certificate_given_in_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = environments_file(
        dir.path(),
        "token_endpoint_auth_method = \"self_signed_tls_client_auth\"",
    );
    let environment = Environment::from_file(path, "mtls").unwrap();
    let identity = TlsClientIdentity::from_pem(
        &std::fs::read(file("self_signed_cert")).unwrap(),
        &std::fs::read(file("self_signed_key")).unwrap(),
    )
    .unwrap();
    let auth = ServiceAccountAuthorizer::builder(
        ClientInfo::public(field(peer(), "clients/self_signed/id")),
        environment,
    )
    .tls_client_identity(identity)
    .add_root_certificate(ca())
    .build()
    .unwrap();
    let token = auth.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(
        info["cnf"]["x5t#S256"],
        field(peer(), "thumbprints/self_signed")
    );
    let http = auth.resource_client_builder().build().unwrap();
    let (status, _, body) = get_resource(http, &auth).await;
    assert_eq!(status, 200, "{body}");
}

/// Certificate-bound tokens with another client authentication (RFC 8705 §3):
/// `client_secret_basic`, the certificate presented alongside (an RSA key in PKCS #1 form).
#[tokio::test]
async fn a_client_secret_client_presenting_a_certificate_gets_a_bound_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = environments_file(
        dir.path(),
        &format!(
            "tls_client_certificate_file = \"{}\"\ntls_client_key_file = \"{}\"",
            file("client_rsa_cert"),
            file("client_rsa_key"),
        ),
    );
    let auth = authorizer(
        ClientInfo::new(
            field(peer(), "clients/bound_secret/id"),
            field(peer(), "clients/bound_secret/secret"),
        ),
        Environment::from_file(path, "mtls").unwrap(),
    );
    let token = auth.access_token().await.unwrap();
    let info = introspect(token.secret().expose_secret()).await;
    assert_eq!(
        info["cnf"]["x5t#S256"],
        field(peer(), "thumbprints/client_rsa"),
        "{info}"
    );
}

/// The shared store keys a token by the certificate's thumbprint too: an authorizer with
/// another certificate does not take a token bound to the first one from the store, while one
/// with the same certificate does.
#[tokio::test]
async fn the_shared_store_never_hands_a_bound_token_to_another_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    // The store refuses a directory other users can open.
    std::fs::set_permissions(
        store_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let with_certificate = |cert: &str, key: &str| {
        let environment = tls_client_auth_environment(dir.path());
        ServiceAccountAuthorizer::builder(tls_client(), environment)
            .tls_client_identity(TlsClientIdentity::from_pem_files(file(cert), file(key)).unwrap())
            .add_root_certificate(ca())
            .shared_store(LocalStore::open(store_dir.path()).unwrap())
            .build()
            .unwrap()
    };
    let first = with_certificate("client_cert", "client_key")
        .access_token()
        .await
        .unwrap();
    let same = with_certificate("client_cert", "client_key")
        .access_token()
        .await
        .unwrap();
    assert_eq!(
        same.secret().expose_secret(),
        first.secret().expose_secret(),
        "the same certificate shares the stored token"
    );
    let other = with_certificate("client2_cert", "client2_key")
        .access_token()
        .await
        .unwrap();
    assert_ne!(
        other.secret().expose_secret(),
        first.secret().expose_secret()
    );
    let info = introspect(other.secret().expose_secret()).await;
    assert_eq!(
        info["cnf"]["x5t#S256"],
        field(peer(), "thumbprints/client2")
    );
}

/// An unusable certificate or key is a configuration error that names the field and the file
/// (never its content), when the authorizer is built: a missing file, a file of the wrong
/// kind, a truncated key, a key that is not the certificate's; and a mutual-TLS method without
/// a certificate, or a certificate without its key in the environments file.
#[test]
fn unusable_certificates_and_keys_are_configuration_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.key");
    let key = std::fs::read_to_string(file("client_key")).unwrap();
    std::fs::write(&truncated, &key[..key.len() / 2]).unwrap();
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let truncated = truncated.to_str().unwrap();
    let cases = [
        // (certificate, key, field, words)
        (
            missing,
            file("client_key"),
            "tls_client_certificate_file",
            "cannot read the certificate",
        ),
        (
            file("client_cert"),
            missing,
            "tls_client_key_file",
            "cannot read the private key",
        ),
        (
            file("client_key"),
            file("client_key"),
            "tls_client_certificate_file",
            "no PEM `CERTIFICATE`",
        ),
        (
            file("client_cert"),
            file("client_cert"),
            "tls_client_key_file",
            "no PEM private key",
        ),
        (
            file("client_cert"),
            truncated,
            "tls_client_key_file",
            "no PEM private key",
        ),
        (
            file("client_cert"),
            file("self_signed_key"),
            "tls_client_key_file",
            "not the certificate's",
        ),
    ];
    for (certificate, key, field_name, words) in cases {
        let path = environments_file(
            dir.path(),
            &format!(
                "token_endpoint_auth_method = \"tls_client_auth\"\n\
                 tls_client_certificate_file = \"{certificate}\"\ntls_client_key_file = \"{key}\""
            ),
        );
        let environment = Environment::from_file(&path, "mtls").unwrap();
        let err = ServiceAccountAuthorizer::new(tls_client(), environment).unwrap_err();
        let Error::Configuration(e) = &err else {
            panic!("{err:?}")
        };
        let named = if field_name == "tls_client_key_file" {
            key
        } else {
            certificate
        };
        assert_eq!(e.field.as_deref(), Some(field_name), "{err}");
        let text = err.to_string();
        assert!(text.contains(named) && text.contains(words), "{text}");
        assert_eq!(e.environment(), Some("mtls"), "{text}");
        // The same from code, with no environment.
        let err = TlsClientIdentity::from_pem_files(certificate, key).unwrap_err();
        assert!(err.to_string().contains(words), "{err}");
    }

    // A mutual-TLS method without a certificate.
    let path = environments_file(
        dir.path(),
        "token_endpoint_auth_method = \"self_signed_tls_client_auth\"",
    );
    let err =
        ServiceAccountAuthorizer::new(tls_client(), Environment::from_file(&path, "mtls").unwrap())
            .unwrap_err();
    assert!(
        matches!(&err, Error::Configuration(e) if e.field.as_deref() == Some("tls_client_certificate_file")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("self_signed_tls_client_auth needs the client certificate"),
        "{err}"
    );

    // Half a pair in the file.
    let path = environments_file(
        dir.path(),
        &format!("tls_client_certificate_file = \"{}\"", file("client_cert")),
    );
    let err = Environment::from_file(&path, "mtls").unwrap_err();
    assert!(
        matches!(&err, Error::Configuration(e) if e.field.as_deref() == Some("tls_client_key_file")),
        "{err:?}"
    );

    // Bytes given in code: the error names the certificate or the key.
    let err = TlsClientIdentity::from_pem(b"not a certificate", key.as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("TLS client certificate: no PEM"),
        "{err}"
    );
}

/// The blocking API (the `blocking` feature): a `reqwest::blocking` client from
/// `blocking_resource_client_builder` presents the certificate and the bound token is
/// accepted; a blocking client without it gets the resource's `401 invalid_token`.
#[cfg(feature = "blocking")]
#[test]
fn the_blocking_api_sends_the_bound_token_with_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let auth = authorizer(tls_client(), tls_client_auth_environment(dir.path()));
    let blocking = auth.blocking();
    let url = field(peer(), "resource_url");

    let client = auth.blocking_resource_client_builder().build().unwrap();
    let response = blocking.send(client.get(url)).unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
    assert_eq!(
        body["presented"],
        field(peer(), "thumbprints/client"),
        "{body}"
    );
    assert_eq!(
        body["x5t#S256"],
        field(peer(), "thumbprints/client"),
        "{body}"
    );

    let without = reqwest::blocking::Client::builder()
        .tls_certs_merge([ca()])
        .build()
        .unwrap();
    let response = blocking.send(without.get(url)).unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("presented none"), "{challenge}");
}
