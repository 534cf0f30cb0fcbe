//! No secret, API key or token reaches `Debug`, `Display`, an error (or any error of its source
//! chain), a `tracing` event on any thread (TRACE level, spans with all their fields as they
//! close), a `log` record (reqwest's) or a panic message — on success, on a 401 renewed and
//! replayed, with the secret in a Basic credential and in a `client_secret_post` form body, and
//! on every failure path. The scan is `en_auth_peers::secrecy`, shared by every crate's tests.
//! (Its capture is process-wide: this binary holds secrecy tests only.)

use std::time::Duration;

use en_auth_oauth2::{
    ClientInfo, Environment, Error, ServiceAccountAuthorizer, TokenEndpointAuthMethod,
};
use en_auth_peers::secrecy::{Capture, Scan};
use en_auth_testkit::{Behaviour, OAuthServer};
use secrecy::ExposeSecret;

const SECRET: &str = "Sup3r-S3cret+/=value";
const WRONG_SECRET: &str = "Wr0ng-S3cret-value";
const API_KEY: &str = "Api-Key-0123456789";
const PASSWORD: &str = "Pa55word-never-shown";

/// The secrets every test here gives the code, in every form they travel in.
fn secrets() -> Scan {
    let mut scan = Scan::new();
    scan.basic_credential("svc", SECRET)
        .basic_credential("svc", WRONG_SECRET)
        .secret("the API key", API_KEY)
        .secret("a password", PASSWORD)
        // Nor a part of the secret, nor the start of its Basic credential ("svc:Sup3r").
        .secret("the secret's first characters", &SECRET[..8])
        .secret("the start of the Basic credential", "c3ZjOlN1cDNy");
    scan
}

fn client(authorizer: &ServiceAccountAuthorizer) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build()
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_debug_display_errors_logs_or_panics() {
    let capture = Capture::install();
    let mut scan = secrets();

    let server = OAuthServer::builder()
        .client("svc", SECRET)
        .token_lifetime_secs(3600)
        .start()
        .await;
    let environment = Environment::new("secrecy")
        .with_token_url(&server.token_url())
        .unwrap();
    let info = ClientInfo::new("svc", SECRET).with_api_key(API_KEY);
    let authorizer = ServiceAccountAuthorizer::new(info.clone(), environment.clone()).unwrap();
    let client = client(&authorizer);
    let mut tokens = Vec::new();

    // Success, then a 401 that forces a renewal and a replay.
    assert_eq!(
        client
            .get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let token = authorizer.access_token().await.unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    scan.debug("the token", &token)
        .debug("the token's Token", &*token);
    drop(token);
    server.revoke_all();
    assert_eq!(
        client
            .get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let token = authorizer.access_token().await.unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    drop(token);

    // client_secret_post: the secret in the form body (its form-encoding is scanned for too).
    let post = Environment::new("secrecy-post")
        .with_token_url(&server.token_url())
        .unwrap()
        .with_token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretPost);
    let posting = ServiceAccountAuthorizer::new(info.clone(), post.clone()).unwrap();
    let token = posting.access_token().await.unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    scan.debug("a client_secret_post authorizer", &posting)
        .debug("its environment", &post);
    drop(token);

    // Failure paths: wrong secret (Basic and post), server error, timeout.
    let wrong =
        ServiceAccountAuthorizer::new(ClientInfo::new("svc", WRONG_SECRET), environment.clone())
            .unwrap();
    let mut errors: Vec<Error> = vec![wrong.access_token().await.unwrap_err()];
    assert!(matches!(errors[0], Error::InvalidClient(_)));
    let wrong_post = ServiceAccountAuthorizer::new(ClientInfo::new("svc", WRONG_SECRET), post)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_post, Error::InvalidClient(_)),
        "{wrong_post:?}"
    );
    errors.push(wrong_post);
    server.set_behaviour(Behaviour::Fail {
        status: 500,
        body: "{}".into(),
    });
    let failing = ServiceAccountAuthorizer::new(info.clone(), environment.clone()).unwrap();
    errors.push(failing.access_token().await.unwrap_err());
    let middleware_error = self::client(&failing)
        .get(server.resource_url())
        .send()
        .await
        .unwrap_err();
    scan.error("the middleware's error", &middleware_error);
    server.set_behaviour(Behaviour::Delay(Duration::from_secs(5)));
    let slow = ServiceAccountAuthorizer::builder(info.clone(), environment.clone())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    errors.push(slow.access_token().await.unwrap_err());

    for (i, e) in errors.iter().enumerate() {
        scan.error(&format!("error {i}"), e);
    }
    scan.debug("the client info", &info)
        .debug("the authorizer", &authorizer)
        .debug("the environment", &environment)
        .debug(
            "user credentials",
            &en_auth_oauth2::core::UserCredentials::new("alice", PASSWORD),
        );

    let logs = capture.events();
    assert!(logs.contains("token obtained"), "the run was logged at all");
    // reqwest's own `log` records are in the capture (and so in the scan).
    assert!(
        logs.lines().any(|l| l.contains("reqwest::")),
        "no record of reqwest's: {logs}"
    );
    // The token requests' spans are scanned with all their fields (as they closed), on
    // success, renewal after a 401, and failure.
    for field in [
        "en_auth.token_request",
        "close",
        "trigger=\"rejected\"",
        "outcome=\"ok\"",
        "outcome=\"error\"",
        "error.type=\"invalid_client\"",
        "error.type=\"timeout\"",
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=401",
        "http.response.status_code=500",
    ] {
        assert!(logs.contains(field), "{field} not in the logs: {logs}");
    }
    assert!(
        logs.contains("client_id=svc") || logs.contains("client_id=\"svc\""),
        "{logs}"
    );
    // Three different tokens were in play (and are scanned for).
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "the first, the renewed, the posted");
    for (i, token) in tokens.iter().enumerate() {
        scan.secret(format!("access token {i}"), token);
    }
    scan.logs(capture);
    scan.assert_clean();
}

/// The blocking API (`BlockingAuthorizer`): its `Debug`, its errors and the TRACE log of a run
/// (tokens on the I/O runtime, a request, a 401 renewed and replayed, a rejected client) hold no
/// secret, API key or token.
#[test]
fn no_secret_from_the_blocking_api() {
    let capture = Capture::install();
    let mut scan = secrets();
    let server = OAuthServer::builder()
        .client("svc", SECRET)
        .start_on_own_thread();
    let environment = Environment::new("secrecy")
        .with_token_url(&server.token_url())
        .unwrap();
    let info = ClientInfo::new("svc", SECRET).with_api_key(API_KEY);
    let authorizer = ServiceAccountAuthorizer::new(info, environment.clone())
        .unwrap()
        .blocking();
    let client = reqwest::blocking::Client::new();

    let mut tokens = Vec::new();
    assert_eq!(
        authorizer
            .send(client.get(server.resource_url()))
            .unwrap()
            .status(),
        200
    );
    tokens.push(
        authorizer
            .access_token()
            .unwrap()
            .secret()
            .expose_secret()
            .to_owned(),
    );
    server.revoke_all();
    assert_eq!(
        authorizer
            .send(client.get(server.resource_url()))
            .unwrap()
            .status(),
        200
    );
    let token = authorizer.access_token().unwrap();
    tokens.push(token.secret().expose_secret().to_owned());
    assert_ne!(tokens[0], tokens[1]);
    scan.debug("the token", &token)
        .debug("the blocking authorizer", &authorizer);

    let wrong = ServiceAccountAuthorizer::new(ClientInfo::new("svc", WRONG_SECRET), environment)
        .unwrap()
        .blocking();
    let error = wrong.access_token().unwrap_err();
    assert!(matches!(error, Error::InvalidClient(_)), "{error:?}");
    let failure = wrong.send(client.get(server.resource_url())).unwrap_err();
    scan.error("the rejected client's error", &error)
        .error("the failed request's error", &failure)
        .debug("the rejected blocking authorizer", &wrong);

    let logs = capture.events();
    assert!(
        logs.contains("token obtained"),
        "the I/O runtime's events were captured"
    );
    assert!(logs.contains("replaying once"), "the replay was logged");
    for (i, token) in tokens.iter().enumerate() {
        scan.secret(format!("access token {i}"), token);
    }
    scan.logs(capture);
    scan.assert_clean();
}

/// Discovery and resource indicators against the real oidc-provider: a discovered token with a
/// resource, an issuer that is not the document's, a method the server does not support, a
/// wrong secret at a discovered endpoint. No secret, Basic credential or token in any `Debug`,
/// `Display`, error chain or TRACE event.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_from_discovery_or_resource_indicators() {
    use en_auth_peers::{field, oidc, oidc_basic_only};
    let capture = Capture::install();
    let mut scan = Scan::new();
    let (id, secret) = (
        field(oidc(), "clients/basic/id"),
        field(oidc(), "clients/basic/secret"),
    );
    let wrong = "Wr0ng-discovered-S3cret";
    scan.basic_credential(id, secret)
        .basic_credential(id, wrong)
        .basic_credential(
            field(oidc_basic_only(), "clients/basic/id"),
            field(oidc_basic_only(), "clients/basic/secret"),
        );
    let issuer = field(oidc(), "issuer");
    let discovered = |issuer: &str| {
        Environment::new("secrecy-discovery")
            .with_issuer(issuer)
            .unwrap()
            .with_resources([field(oidc(), "jwt_resource")])
            .unwrap()
    };

    let authorizer =
        ServiceAccountAuthorizer::new(ClientInfo::new(id, secret), discovered(issuer)).unwrap();
    let token = authorizer.access_token().await.unwrap();
    scan.debug("the discovered authorizer", &authorizer)
        .debug("the token", &token)
        .secret("the JWT access token", token.secret().expose_secret());

    let failures = [
        ServiceAccountAuthorizer::new(
            ClientInfo::new(id, secret),
            discovered(&format!("{issuer}/")),
        ),
        ServiceAccountAuthorizer::new(
            ClientInfo::new(
                field(oidc_basic_only(), "clients/basic/id"),
                field(oidc_basic_only(), "clients/basic/secret"),
            ),
            Environment::new("secrecy-discovery")
                .with_issuer(field(oidc_basic_only(), "issuer"))
                .unwrap()
                .with_token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretPost),
        ),
        ServiceAccountAuthorizer::new(ClientInfo::new(id, wrong), discovered(issuer)),
    ];
    let mut kinds = Vec::new();
    for (i, authorizer) in failures.into_iter().enumerate() {
        let authorizer = authorizer.unwrap();
        let error = authorizer.access_token().await.unwrap_err();
        kinds.push(match &error {
            Error::Configuration(e) => e.field.clone().unwrap_or_default(),
            Error::InvalidClient(_) => "invalid_client".to_owned(),
            other => format!("{other:?}"),
        });
        scan.debug(&format!("failing authorizer {i}"), &authorizer)
            .shown(&format!("error {i}"), &error)
            .error(&format!("error {i}"), &error);
    }
    assert_eq!(
        kinds,
        ["issuer", "token_endpoint_auth_method", "invalid_client"]
    );
    scan.logs(capture);
    scan.assert_clean();
}

/// Token exchange against the real oidc-provider: subject tokens from a file, an authorizer and
/// a closure, one the server refuses, a missing file. No subject, actor or exchanged token, nor
/// a client secret, in any `Debug`, `Display`, error chain or TRACE event.
#[tokio::test(flavor = "current_thread")]
async fn no_subject_token_from_token_exchange() {
    use en_auth_oauth2::{token_types, Authorizer, SubjectToken, TokenExchange};
    use en_auth_peers::{field, oidc};
    let capture = Capture::install();
    let mut scan = Scan::new();
    let info = |name: &str| {
        ClientInfo::new(
            field(oidc(), &format!("clients/{name}/id")),
            field(oidc(), &format!("clients/{name}/secret")),
        )
    };
    for name in ["basic", "exchanger"] {
        scan.basic_credential(
            field(oidc(), &format!("clients/{name}/id")),
            field(oidc(), &format!("clients/{name}/secret")),
        );
    }
    let direct = Environment::new("secrecy-exchange")
        .with_token_url(field(oidc(), "token_endpoint"))
        .unwrap();
    let subject = ServiceAccountAuthorizer::new(info("basic"), direct).unwrap();
    let subject_token = subject.access_token().await.unwrap();
    scan.secret("the subject token", subject_token.secret().expose_secret());
    let refused = "Refused-subject-token-0123456789";
    scan.secret("the refused subject token", refused);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subject");
    std::fs::write(&file, subject_token.secret().expose_secret()).unwrap();
    let environment = Environment::new("secrecy-exchange")
        .with_issuer(field(oidc(), "issuer"))
        .unwrap()
        .with_audience("urn:en-auth:reports")
        .unwrap();
    let http =
        en_auth_oauth2::shared_token_http_client(en_auth_oauth2::DEFAULT_CONNECT_TIMEOUT).unwrap();
    let closure_token = subject_token.secret().clone();
    let sources = [
        SubjectToken::from_file(&file, token_types::ACCESS_TOKEN),
        SubjectToken::from_authorizer(subject.authorizer().clone()),
        SubjectToken::from_fn(token_types::ACCESS_TOKEN, move || {
            let token = closure_token.clone();
            async move { Ok(token) }
        }),
    ];
    for (i, source) in sources.into_iter().enumerate() {
        scan.debug(&format!("subject source {i}"), &source);
        let exchange = Authorizer::new(
            TokenExchange::new(info("exchanger"), environment.clone(), source, http.clone())
                .unwrap(),
        );
        let token = exchange.access_token().await.unwrap();
        scan.secret(
            format!("exchanged token {i}"),
            token.secret().expose_secret(),
        )
        .debug(&format!("exchange {i}"), &exchange);
    }
    // Refused by the server, and a file that is gone.
    std::fs::write(&file, refused).unwrap();
    let from_file = || {
        Authorizer::new(
            TokenExchange::new(
                info("exchanger"),
                environment.clone(),
                SubjectToken::from_file(&file, token_types::ACCESS_TOKEN),
                http.clone(),
            )
            .unwrap(),
        )
    };
    let error = from_file().access_token().await.unwrap_err();
    assert!(
        matches!(&error, Error::Authorization(e) if e.code.as_deref() == Some("invalid_grant")),
        "{error:?}"
    );
    scan.shown("the refused exchange's error", &error)
        .error("the refused exchange's error", &error);
    std::fs::remove_file(&file).unwrap();
    let error = from_file().access_token().await.unwrap_err();
    assert!(matches!(&error, Error::Configuration(_)), "{error:?}");
    scan.shown("the missing file's error", &error)
        .error("the missing file's error", &error);
    scan.logs(capture);
    scan.assert_clean();
}

/// JWT client authentication against oidc-provider (the `jwt` feature): no private key (PEM or
/// JWK), HMAC secret or client assertion — signed here or read from a file — in any output, on
/// success and on failure (a wrong key, a replayed and an expired assertion file, a key of the
/// wrong kind).
#[cfg(feature = "jwt")]
#[tokio::test(flavor = "current_thread")]
async fn no_key_hmac_secret_or_assertion_in_any_output() {
    use en_auth_oauth2::{ClientAssertionConfig, SigningAlgorithm};
    use en_auth_peers::{field, oidc};

    let capture = Capture::install();
    let mut scan = Scan::new();
    let key_file =
        |name: &str| std::path::PathBuf::from(field(oidc(), &format!("key_files/{name}")));
    // Every line of every PEM key's body, and every JWK's private members.
    for name in ["rsa_pem", "ec_pem", "ec_sec1_pem", "ed_pem", "stranger_pem"] {
        let pem = std::fs::read_to_string(key_file(name)).unwrap();
        for (i, line) in pem.lines().filter(|l| !l.starts_with("-----")).enumerate() {
            if line.len() >= 16 {
                scan.secret(format!("line {i} of {name}"), line);
            }
        }
    }
    for name in ["rsa_jwk", "ec_jwk", "ed_jwk"] {
        let jwk: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(key_file(name)).unwrap()).unwrap();
        for member in ["d", "p", "q", "dp", "dq", "qi"] {
            if let Some(value) = jwk[member].as_str() {
                scan.secret(format!("{member} of {name}"), value);
            }
        }
    }
    let hmac_secret = field(oidc(), "jwt_clients/csjwt/secret");
    scan.secret("the client_secret_jwt secret", hmac_secret);
    // Any JWT: jsonwebtoken writes `{"typ":"JWT","alg":…`, the test's own `{"alg":…`.
    scan.secret("a JWT's header", "eyJ0eXAiOiJKV1Qi")
        .secret("a JWT's header", "eyJhbGciOi");

    let environment = |method, config: ClientAssertionConfig| {
        Environment::new("secrecy-jwt")
            .with_token_url(field(oidc(), "token_endpoint"))
            .unwrap()
            .with_scopes([field(oidc(), "scope")])
            .with_token_endpoint_auth_method(method)
            .with_client_assertion(config)
            .unwrap()
    };
    let key = |name: &str, algorithm| {
        let mut config = ClientAssertionConfig::default();
        config.private_key_file = Some(key_file(name));
        config.signing_algorithm = Some(algorithm);
        config
    };
    let pkjwt = || ClientInfo::public(field(oidc(), "jwt_clients/pkjwt/id"));
    let mut outcomes: Vec<Result<String, Error>> = Vec::new();
    async fn attempt(
        built: Result<ServiceAccountAuthorizer, Error>,
        scan: &mut Scan,
    ) -> Result<String, Error> {
        let authorizer = built?;
        scan.debug("the authorizer", &authorizer);
        authorizer
            .access_token()
            .await
            .map(|t| t.secret().expose_secret().to_owned())
    }
    use TokenEndpointAuthMethod::{ClientSecretJwt, PrivateKeyJwt};
    for (name, algorithm) in [
        ("rsa_pem", SigningAlgorithm::PS256),
        ("ec_sec1_pem", SigningAlgorithm::ES256),
        ("ed_jwk", SigningAlgorithm::EdDSA),
        ("rsa_jwk", SigningAlgorithm::RS256),
        ("stranger_pem", SigningAlgorithm::ES256), // refused: invalid_client
        ("ec_pem", SigningAlgorithm::EdDSA),       // refused at build: wrong kind of key
    ] {
        let built = ServiceAccountAuthorizer::new(
            pkjwt(),
            environment(PrivateKeyJwt, key(name, algorithm)),
        );
        outcomes.push(attempt(built, &mut scan).await);
    }
    for secret in [hmac_secret, "wrong-hmac-secret-0123456789abcdefghijklmnop"] {
        scan.secret("an HMAC secret", secret);
        let client = ClientInfo::new(field(oidc(), "jwt_clients/csjwt/id"), secret);
        let built = ServiceAccountAuthorizer::new(
            client,
            environment(ClientSecretJwt, ClientAssertionConfig::default()),
        );
        outcomes.push(attempt(built, &mut scan).await);
    }
    // An assertion file: used, replayed (refused), expired (refused before sending).
    let dir = std::env::temp_dir().join(format!("en-auth-secrecy-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token");
    let id = field(oidc(), "jwt_clients/pkjwt/id");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |exp: u64, jti: &str| {
        let pem = std::fs::read(key_file("ec_pem")).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("ec-1".into());
        jsonwebtoken::encode(
            &header,
            &serde_json::json!({"iss": id, "sub": id, "aud": field(oidc(), "token_endpoint"),
                                "iat": now, "exp": exp, "jti": jti}),
            &jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap(),
        )
        .unwrap()
    };
    let fresh = sign(now + 300, &format!("secrecy-{}-{now}", std::process::id()));
    let expired = sign(now - 30, "secrecy-expired");
    scan.secret("the assertion file's JWT", &fresh)
        .secret("the expired assertion", &expired);
    let mut config = ClientAssertionConfig::default();
    config.client_assertion_file = Some(path.clone());
    for content in [&fresh, &fresh, &expired] {
        std::fs::write(&path, content).unwrap();
        let built =
            ServiceAccountAuthorizer::new(pkjwt(), environment(PrivateKeyJwt, config.clone()));
        outcomes.push(attempt(built, &mut scan).await);
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // What each attempt came to: six tokens, the rest typed errors.
    let tokens: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(tokens.len(), 6, "{outcomes:?}");
    let kinds: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .map(|e| match e {
            Error::InvalidClient(_) => "invalid_client",
            Error::Configuration(_) => "configuration",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "invalid_client",
            "configuration",
            "invalid_client",
            "invalid_client",
            "configuration"
        ],
        "{outcomes:?}"
    );
    for outcome in &outcomes {
        if let Err(e) = outcome {
            scan.shown("an error", e).error("an error", e);
        }
    }
    for (i, token) in tokens.iter().enumerate() {
        scan.secret(format!("access token {i}"), token.as_str());
    }
    scan.logs(capture);
    scan.assert_clean();
}

/// Mutual TLS (RFC 8705) against oidc-provider's mTLS configuration: no line of a TLS client
/// key, and no token, in any output — building from the environments file and from PEM bytes,
/// a token and a resource request presenting the certificate, a bound token refused without
/// it, and every configuration error of an unusable certificate or key (a truncated key, a key
/// given as the certificate, a key that is not the certificate's).
#[tokio::test(flavor = "current_thread")]
async fn no_tls_client_key_or_token_in_any_output() {
    use en_auth_oauth2::TlsClientIdentity;
    use en_auth_peers::{field, oidc_mtls};

    let capture = Capture::install();
    let mut scan = Scan::new();
    let peer = oidc_mtls();
    let file = |name: &str| field(peer, &format!("files/{name}")).to_owned();
    for name in [
        "client_key",
        "client2_key",
        "client_rsa_key",
        "self_signed_key",
    ] {
        let pem = std::fs::read_to_string(file(name)).unwrap();
        for (i, line) in pem.lines().filter(|l| !l.starts_with("-----")).enumerate() {
            if line.len() >= 16 {
                scan.secret(format!("line {i} of {name}"), line);
            }
        }
    }
    let ca = reqwest::Certificate::from_pem(&std::fs::read(file("ca")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.key");
    let key = std::fs::read_to_string(file("client_key")).unwrap();
    std::fs::write(&truncated, &key[..key.len() * 2 / 3]).unwrap();
    let truncated = truncated.to_str().unwrap().to_owned();
    let environment = |certificate: &str, key: &str| {
        Environment::from_toml_str(
            &format!(
                "[mtls]\nissuer = \"{}\"\nscopes = [\"{}\"]\n\
                 token_endpoint_auth_method = \"tls_client_auth\"\n\
                 tls_client_certificate_file = \"{certificate}\"\ntls_client_key_file = \"{key}\"\n",
                field(peer, "issuer"),
                field(peer, "scope"),
            ),
            "mtls",
        )
        .unwrap()
    };
    let build = |environment: Environment| {
        ServiceAccountAuthorizer::builder(
            ClientInfo::public(field(peer, "clients/tls/id")),
            environment,
        )
        .add_root_certificate(ca.clone())
        .build()
    };

    let builder = ServiceAccountAuthorizer::builder(
        ClientInfo::public(field(peer, "clients/tls/id")),
        environment(&file("client_cert"), &file("client_key")),
    )
    .tls_client_identity(
        TlsClientIdentity::from_pem_files(file("client_cert"), file("client_key")).unwrap(),
    );
    scan.debug("a builder with an identity", &builder);
    drop(builder);
    let authorizer = build(environment(&file("client_cert"), &file("client_key"))).unwrap();
    scan.debug("the authorizer", &authorizer);
    scan.debug(
        "the identity",
        authorizer.provider().tls_client_identity().unwrap(),
    );
    let token = authorizer.access_token().await.unwrap();
    scan.secret("the token", token.secret().expose_secret());
    for http in [
        authorizer.resource_client_builder().build().unwrap(),
        reqwest::Client::builder()
            .tls_certs_merge([ca.clone()])
            .build()
            .unwrap(),
    ] {
        let response = reqwest_middleware::ClientBuilder::new(http)
            .with(authorizer.clone())
            .build()
            .get(field(peer, "resource_url"))
            .send()
            .await
            .unwrap();
        scan.debug("the response", &response);
        scan.output("the body", response.text().await.unwrap());
    }
    // The renewed token of the refused replay.
    let renewed = authorizer.access_token().await.unwrap();
    scan.secret("the renewed token", renewed.secret().expose_secret());

    let from_bytes = TlsClientIdentity::from_pem(
        &std::fs::read(file("self_signed_cert")).unwrap(),
        &std::fs::read(file("self_signed_key")).unwrap(),
    )
    .unwrap();
    scan.debug("an identity from bytes", &from_bytes);

    let mut errors = Vec::new();
    for (certificate, key) in [
        (file("client_cert"), truncated.clone()),
        (file("client_key"), file("client_key")),
        (file("client_cert"), file("self_signed_key")),
        (file("self_signed_key"), file("client_rsa_key")),
    ] {
        errors.push(build(environment(&certificate, &key)).unwrap_err());
        errors.push(TlsClientIdentity::from_pem_files(&certificate, &key).unwrap_err());
    }
    errors.push(
        TlsClientIdentity::from_pem(
            &std::fs::read(file("client_key")).unwrap(),
            &std::fs::read(file("client_key")).unwrap(),
        )
        .unwrap_err(),
    );
    assert!(
        errors.iter().all(|e| matches!(e, Error::Configuration(_))),
        "{errors:?}"
    );
    for error in &errors {
        scan.error("a configuration error", error);
    }
    scan.logs(capture);
    scan.assert_clean();
}
