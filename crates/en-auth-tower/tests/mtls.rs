//! Certificate-bound tokens (RFC 8705) through the tower layer on a hyper client, against
//! oidc-provider's mTLS configuration (`peers/oidc/mtls.mjs`): the hyper client's TLS
//! connector presents the authorizer's certificate and key
//! (`TlsClientIdentity::certificate_chain` and `private_key` in a `rustls::ClientConfig`), and
//! the resource server, which checks the token's `x5t#S256` against the presented certificate,
//! accepts the bound token; a connector without the certificate is refused.

use std::sync::Arc;

use bytes::Bytes;
use en_auth_oauth2::{ClientInfo, Environment, ServiceAccountAuthorizer, TlsClientIdentity};
use en_auth_peers::{field, oidc_mtls};
use en_auth_tower::AuthorizerLayer;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tower::{Layer, Service, ServiceExt};

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn file(name: &str) -> &'static str {
    field(oidc_mtls(), &format!("files/{name}"))
}

/// `tls_client_auth` from an environments file, the test CA trusted.
fn authorizer() -> ServiceAccountAuthorizer {
    let peer = oidc_mtls();
    let environment = Environment::from_toml_str(
        &format!(
            "[mtls]\nissuer = \"{}\"\nscopes = [\"{}\"]\n\
             token_endpoint_auth_method = \"tls_client_auth\"\n\
             tls_client_certificate_file = \"{}\"\ntls_client_key_file = \"{}\"\n",
            field(peer, "issuer"),
            field(peer, "scope"),
            file("client_cert"),
            file("client_key"),
        ),
        "mtls",
    )
    .unwrap();
    let ca = en_auth_oauth2::reqwest::Certificate::from_pem(&std::fs::read(file("ca")).unwrap())
        .unwrap();
    ServiceAccountAuthorizer::builder(
        ClientInfo::public(field(peer, "clients/tls/id")),
        environment,
    )
    .add_root_certificate(ca)
    .build()
    .unwrap()
}

/// A hyper client over rustls trusting the test CA, presenting `identity` if given.
fn hyper_client(identity: Option<&TlsClientIdentity>) -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(file("ca")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.certificate_chain(), identity.private_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn get_resource(
    client: HttpsClient,
    authorizer: &ServiceAccountAuthorizer,
) -> (StatusCode, String, Bytes) {
    let mut service = AuthorizerLayer::new(authorizer.clone()).layer(client);
    let request = Request::get(field(oidc_mtls(), "resource_url"))
        .body(Full::default())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, body)
}

#[tokio::test]
async fn a_hyper_client_presenting_the_certificate_sends_the_bound_token() {
    let authorizer = authorizer();
    let identity = authorizer.provider().tls_client_identity().unwrap().clone();
    let (status, challenge, body) = get_resource(hyper_client(Some(&identity)), &authorizer).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let thumbprint = field(oidc_mtls(), "thumbprints/client");
    assert_eq!(body["x5t#S256"], thumbprint, "{body}");
    assert_eq!(body["presented"], thumbprint, "{body}");
}

#[tokio::test]
async fn a_hyper_client_without_the_certificate_is_refused() {
    let authorizer = authorizer();
    let (status, challenge, _) = get_resource(hyper_client(None), &authorizer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert!(challenge.contains("presented none"), "{challenge}");
}
