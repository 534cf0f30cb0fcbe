//! DPoP (RFC 9449) end to end against real servers: oidc-provider (npm, pinned in
//! `peers/oidc`) in a configuration of its own (`peers/oidc/dpop.mjs`) that requires a nonce in
//! every proof and binds the client's tokens to its key, and a resource server that checks
//! every proof with an independent implementation (`peers/dpop/resource.py`: jwcrypto, and the
//! provider's introspection for `cnf.jkt`), which requires a nonce of its own. Through the
//! reqwest middleware and the blocking API (the tower layer: `en-auth-tower`'s tests).

use std::sync::{Arc, Mutex};

use en_auth_oauth2::core::dpop::DPOP_HEADER;
use en_auth_oauth2::{
    ClientInfo, Dpop, DpopConfig, DpopKey, Environment, Error, ServiceAccountAuthorizer,
    SigningAlgorithm,
};
use en_auth_peers::support::Introspection;
use en_auth_peers::{dot, dpop_resource, field, oidc_dpop};
use http::Extensions;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use secrecy::ExposeSecret;
use serde_json::Value;

fn client() -> ClientInfo {
    ClientInfo::new(
        field(oidc_dpop(), "clients/dpop/id"),
        field(oidc_dpop(), "clients/dpop/secret"),
    )
}

fn environment(config: DpopConfig) -> Environment {
    Environment::new("oidc-dpop")
        .with_token_url(field(oidc_dpop(), "token_endpoint"))
        .unwrap()
        .with_scopes([field(oidc_dpop(), "scope")])
        .with_dpop(config)
        .unwrap()
}

fn resource(path: &str) -> String {
    format!("{}{path}", field(dpop_resource(), "url"))
}

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn stats(prefix: &str) -> Value {
    json(
        reqwest::get(format!("{}?prefix={prefix}", resource("/_stats")))
            .await
            .unwrap(),
    )
    .await
}

async fn introspect(token: &str) -> Value {
    Introspection {
        endpoint: field(oidc_dpop(), "introspection_endpoint").to_owned(),
        client_id: field(oidc_dpop(), "clients/introspector/id").to_owned(),
        secret: field(oidc_dpop(), "clients/introspector/secret").to_owned(),
    }
    .introspect(&reqwest::Client::new(), token)
    .await
}

fn http(authorizer: &ServiceAccountAuthorizer) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .build()
}

#[tokio::test]
async fn a_dpop_bound_token_is_obtained_with_the_nonce_and_proven_at_the_resource() {
    for algorithm in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        let authorizer = ServiceAccountAuthorizer::new(
            client(),
            environment(DpopConfig::new().with_signing_algorithm(algorithm)),
        )
        .unwrap();
        let jkt = authorizer.dpop().unwrap().jwk_thumbprint().to_owned();
        let prefix = format!("/e2e-{}", algorithm.as_str());
        let http = http(&authorizer);
        for (i, method) in [
            reqwest::Method::GET,
            reqwest::Method::POST,
            reqwest::Method::DELETE,
        ]
        .into_iter()
        .enumerate()
        {
            let response = http
                .request(method.clone(), resource(&format!("{prefix}/r?i={i}#f")))
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{method}");
            let body = json(response).await;
            assert_eq!(body["jkt"], jkt.as_str());
            assert_eq!(body["method"], method.as_str());
            assert_eq!(body["client_id"], "svc-dpop");
        }
        // The token endpoint's nonce challenge cost no extra token request as far as the
        // authorizer counts (it is one token request, answered after one nonce retry).
        assert_eq!(authorizer.token_requests(), 1);
        let counts = stats(&prefix).await;
        assert_eq!(counts["ok"], 3, "{counts}");
        // The first request met the resource's nonce challenge (a new client knows no nonce):
        // exactly one replay, the token kept; the nonce is this path segment's, which no other
        // test rotates.
        assert_eq!(counts["use_dpop_nonce"], 1, "{counts}");
        assert!(counts.get("invalid_token").is_none(), "{counts}");

        let token = authorizer.access_token().await.unwrap();
        assert_eq!(token.token_type(), "DPoP");
        assert!(token.header_value().to_str().unwrap().starts_with("DPoP "));
        let info = introspect(token.secret().expose_secret()).await;
        assert_eq!(info["active"], true, "{info}");
        assert_eq!(info["cnf"]["jkt"], jkt.as_str(), "{info}");
    }
}

#[test]
fn the_blocking_api_sends_proofs_too() {
    let authorizer =
        ServiceAccountAuthorizer::new(client(), environment(DpopConfig::new())).unwrap();
    let blocking = authorizer.blocking();
    let http = reqwest::blocking::Client::new();
    for i in 0..3 {
        let response = blocking
            .send(http.get(resource(&format!("/blocking/{i}"))))
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Headers alone cannot carry a proof: a clear refusal.
    let mut headers = http::HeaderMap::new();
    let error = blocking.authorize(&mut headers).unwrap_err();
    assert!(error.to_string().contains("DPoP"), "{error}");
    assert!(headers.is_empty());
}

/// Records the headers of the requests it passes on (after the authorizer), and can change a
/// request after it was signed.
#[derive(Clone, Default)]
struct Tap {
    seen: Arc<Mutex<Vec<http::HeaderMap>>>,
    rewrite: Option<fn(&mut reqwest::Request)>,
}

#[async_trait::async_trait]
impl Middleware for Tap {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.seen.lock().unwrap().push(request.headers().clone());
        if let Some(rewrite) = self.rewrite {
            rewrite(&mut request);
        }
        next.run(request, extensions).await
    }
}

fn tapped(authorizer: &ServiceAccountAuthorizer, tap: &Tap) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(authorizer.clone())
        .with(tap.clone())
        .build()
}

#[tokio::test]
async fn a_stale_nonce_costs_one_replay_and_no_renewal() {
    let authorizer =
        ServiceAccountAuthorizer::new(client(), environment(DpopConfig::new())).unwrap();
    let http = http(&authorizer);
    let ok = |r: reqwest::Response| assert_eq!(r.status(), 200);
    ok(http.get(resource("/stale/warm")).send().await.unwrap());
    let before = stats("/stale/").await;
    reqwest::Client::new()
        .post(format!("{}?prefix=/stale/", resource("/_rotate_nonce")))
        .send()
        .await
        .unwrap();
    ok(http.get(resource("/stale/after")).send().await.unwrap());
    let after = stats("/stale/after").await;
    assert_eq!(after["use_dpop_nonce"], 1, "{after} (before: {before})");
    assert_eq!(after["ok"], 1, "{after}");
    assert_eq!(authorizer.token_requests(), 1, "no renewal for a nonce");
}

#[tokio::test]
async fn a_replayed_proof_and_a_proof_for_another_request_are_refused() {
    let authorizer =
        ServiceAccountAuthorizer::new(client(), environment(DpopConfig::new())).unwrap();
    let tap = Tap::default();
    let http = tapped(&authorizer, &tap);
    assert_eq!(
        http.get(resource("/replay/one"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The same headers (token and proof) sent again: the proof's jti was seen.
    let headers = tap.seen.lock().unwrap().last().unwrap().clone();
    let replayed = reqwest::Client::new()
        .get(resource("/replay/one"))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    let challenge = replayed.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    assert!(challenge.contains("replayed"), "{challenge}");

    // A request changed after it was signed (another path: htu; another method: htm) is
    // refused, and the refusal of the proof renews no token.
    for (path, rewrite) in [
        (
            "/replay/htu",
            (|r: &mut reqwest::Request| r.url_mut().set_path("/replay/elsewhere"))
                as fn(&mut reqwest::Request),
        ),
        ("/replay/htm", |r: &mut reqwest::Request| {
            *r.method_mut() = reqwest::Method::PUT;
        }),
    ] {
        let tap = Tap {
            rewrite: Some(rewrite),
            ..Tap::default()
        };
        let response = tapped(&authorizer, &tap)
            .get(resource(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        let what = if path.ends_with("htu") {
            "htu mismatch"
        } else {
            "htm mismatch"
        };
        assert!(challenge.contains(what), "{challenge}");
    }
    assert_eq!(
        authorizer.token_requests(),
        1,
        "a bad proof is not a bad token"
    );
}

#[tokio::test]
async fn a_bound_token_without_its_key_is_refused() {
    let authorizer =
        ServiceAccountAuthorizer::new(client(), environment(DpopConfig::new())).unwrap();
    let token = authorizer.access_token().await.unwrap();
    let secret = token.secret().expose_secret().to_owned();
    drop(token);
    // As a bearer token.
    let response = reqwest::Client::new()
        .get(resource("/stolen/bearer"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // With a proof of another key (with the resource's nonce, so that only the key is wrong).
    let thief = Dpop::new(DpopKey::generate(SigningAlgorithm::ES256).unwrap());
    let url = url::Url::parse(&resource("/stolen/other-key")).unwrap();
    let nonce = reqwest::get(format!("{}?prefix=/stolen/", resource("/_stats")))
        .await
        .unwrap();
    thief.remember_nonce(&url, nonce.headers());
    let proof = thief
        .proof(&http::Method::GET, &url, Some(&secret))
        .unwrap();
    let response = reqwest::Client::new()
        .get(url.as_str())
        .header("authorization", format!("DPoP {secret}"))
        .header(DPOP_HEADER, proof)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("cnf.jkt mismatch"), "{challenge}");
    let counts = stats("/stolen/").await;
    assert_eq!(counts["invalid_token"], 2, "{counts}");
}

#[tokio::test]
async fn a_bearer_answer_to_a_dpop_request_is_an_error_unless_allowed() {
    // django-oauth-toolkit knows no DPoP: it ignores the proof and issues Bearer tokens.
    let plain = Environment::new("dot-plain")
        .with_token_url(field(dot(), "token_endpoint"))
        .unwrap();
    let client = ClientInfo::new(
        field(dot(), "clients/basic/id"),
        field(dot(), "clients/basic/secret"),
    );
    let refused = ServiceAccountAuthorizer::new(
        client.clone(),
        plain.clone().with_dpop(DpopConfig::new()).unwrap(),
    )
    .unwrap();
    let error = refused.access_token().await.unwrap_err();
    assert!(matches!(error, Error::InvalidResponse(_)), "{error}");
    assert!(error.to_string().contains("dpop_allow_bearer"), "{error}");

    let allowed = ServiceAccountAuthorizer::new(
        client,
        plain
            .with_dpop(DpopConfig::new().with_bearer_allowed(true))
            .unwrap(),
    )
    .unwrap();
    let token = allowed.access_token().await.unwrap();
    assert!(!token.is_dpop());
    assert!(token
        .header_value()
        .to_str()
        .unwrap()
        .starts_with("Bearer "));
}

#[tokio::test]
async fn the_key_can_come_from_a_file_and_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    // A P-256 private JWK made by the resource's own library would do; a PEM from aws-lc-rs's
    // PKCS#8 is simplest here.
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap()
    .to_pkcs8v1()
    .unwrap();
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    let path = dir.path().join("dpop.pem");
    std::fs::write(&path, &pem).unwrap();
    let from_file = ServiceAccountAuthorizer::new(
        client(),
        environment(DpopConfig::new().with_key_file(&path)),
    )
    .unwrap();
    let key = DpopKey::from_private_key(SigningAlgorithm::ES256, pem.as_bytes()).unwrap();
    let jkt = key.jwk_thumbprint().to_owned();
    assert_eq!(from_file.dpop().unwrap().jwk_thumbprint(), jkt);
    let from_builder = ServiceAccountAuthorizer::builder(
        client(),
        Environment::new("oidc-dpop-code")
            .with_token_url(field(oidc_dpop(), "token_endpoint"))
            .unwrap(),
    )
    .dpop(key)
    .build()
    .unwrap();
    for authorizer in [from_file, from_builder] {
        let response = http(&authorizer)
            .get(resource("/file/r"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = json(response).await;
        assert_eq!(body["jkt"], jkt.as_str());
    }
}

/// A test-only P-256 key as a PKCS#8 PEM, made by aws-lc-rs.
fn p256_pem() -> String {
    use base64::Engine as _;
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap()
    .to_pkcs8v1()
    .unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// No private key, proof, token or client secret in any `Debug`, `Display`, error or log line
/// (every TRACE event on every thread), through success, the nonce challenges at both ends, a
/// stale nonce, a refused proof, a wrong client secret and a refused Bearer answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_proof_or_token_is_shown() {
    use en_auth_peers::secrecy::{Capture, Scan};
    let capture = Capture::install();
    let mut scan = Scan::new();
    let dir = tempfile::tempdir().unwrap();
    let pem = p256_pem();
    let path = dir.path().join("dpop.pem");
    std::fs::write(&path, &pem).unwrap();
    for (i, line) in pem.lines().filter(|l| !l.starts_with("-----")).enumerate() {
        scan.secret(format!("DPoP key PEM line {i}"), line);
    }
    let secret = field(oidc_dpop(), "clients/dpop/secret");
    scan.secret("client secret", secret);
    scan.basic_credential(field(oidc_dpop(), "clients/dpop/id"), secret);

    let authorizer = ServiceAccountAuthorizer::new(
        client(),
        environment(DpopConfig::new().with_key_file(&path)),
    )
    .unwrap();
    let tap = Tap::default();
    let http = tapped(&authorizer, &tap);
    assert_eq!(
        http.get(resource("/secrecy/a"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    reqwest::Client::new()
        .post(format!("{}?prefix=/secrecy/", resource("/_rotate_nonce")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        http.post(resource("/secrecy/b"))
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let rewriting = Tap {
        rewrite: Some(|r: &mut reqwest::Request| r.url_mut().set_path("/secrecy/elsewhere")),
        ..Tap::default()
    };
    let refused = tapped(&authorizer, &rewriting)
        .get(resource("/secrecy/c"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    scan.output("the refusal's headers", format!("{:?}", refused.headers()));

    let wrong = ServiceAccountAuthorizer::new(
        ClientInfo::new(field(oidc_dpop(), "clients/dpop/id"), "wrong-secret-0123"),
        environment(DpopConfig::new()),
    )
    .unwrap();
    let error = wrong.access_token().await.unwrap_err();
    scan.shown("a wrong client secret's error", &error);
    let failure = ClientBuilder::new(reqwest::Client::new())
        .with(wrong.clone())
        .build()
        .get(resource("/secrecy/d"))
        .send()
        .await
        .unwrap_err();
    scan.error("the middleware's failure", &failure);

    let bearer = ServiceAccountAuthorizer::new(
        ClientInfo::new(
            field(dot(), "clients/basic/id"),
            field(dot(), "clients/basic/secret"),
        ),
        Environment::new("dot-plain")
            .with_token_url(field(dot(), "token_endpoint"))
            .unwrap()
            .with_dpop(DpopConfig::new())
            .unwrap(),
    )
    .unwrap();
    let error = bearer.access_token().await.unwrap_err();
    scan.shown("a Bearer answer's error", &error);

    // What the requests carried: every token and every proof.
    let seen = tap.seen.lock().unwrap().clone();
    let seen = seen
        .iter()
        .chain(rewriting.seen.lock().unwrap().iter())
        .cloned()
        .collect::<Vec<_>>();
    assert!(seen.len() >= 4, "{} requests", seen.len());
    for (i, headers) in seen.iter().enumerate() {
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(headers["authorization"].is_sensitive() && headers["dpop"].is_sensitive());
        scan.secret(
            format!("access token {i}"),
            authorization.strip_prefix("DPoP ").unwrap(),
        );
        scan.secret(format!("proof {i}"), headers["dpop"].to_str().unwrap());
    }
    scan.debug("the authorizer", &authorizer)
        .debug("its DPoP key", authorizer.dpop().unwrap())
        .debug(
            "a DpopKey",
            &DpopKey::from_private_key(SigningAlgorithm::ES256, pem.as_bytes()).unwrap(),
        )
        .debug(
            "the environment",
            &environment(DpopConfig::new().with_key_file(&path)),
        )
        .debug("the token", &authorizer.access_token().await.unwrap());
    for headers in &seen {
        scan.output("a request's headers, as Debug", format!("{headers:?}"));
    }
    scan.logs(capture);
    scan.assert_clean();
}

/// The shared store and DPoP: two "processes" (authorizers) with their own generated keys never
/// share a token (each key has its own store key: two token requests), while two with the same
/// key file share one (one token request for both), and the adopted token works with the
/// adopter's proofs.
#[tokio::test]
async fn a_shared_store_shares_a_token_only_between_holders_of_one_key() {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let store = en_auth_oauth2::LocalStore::open(dir.path()).unwrap();
    let build = |config: DpopConfig| {
        ServiceAccountAuthorizer::builder(client(), environment(config))
            .shared_store(store.clone())
            .build()
            .unwrap()
    };
    let get = |authorizer: ServiceAccountAuthorizer, path: &'static str| async move {
        let response = http(&authorizer).get(resource(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        json(response).await
    };

    // Generated keys: one token each.
    let (one, two) = (build(DpopConfig::new()), build(DpopConfig::new()));
    assert_ne!(
        one.dpop().unwrap().jwk_thumbprint(),
        two.dpop().unwrap().jwk_thumbprint()
    );
    get(one.clone(), "/shared/one").await;
    get(two.clone(), "/shared/two").await;
    assert_eq!(one.token_requests() + two.token_requests(), 2);
    let (t1, t2) = (
        one.access_token().await.unwrap(),
        two.access_token().await.unwrap(),
    );
    assert_ne!(t1.secret().expose_secret(), t2.secret().expose_secret());

    // One key file: the second adopts the first one's token and proves it with the same key.
    let key_dir = tempfile::tempdir().unwrap();
    let path = key_dir.path().join("fleet.pem");
    std::fs::write(&path, p256_pem()).unwrap();
    let (first, second) = (
        build(DpopConfig::new().with_key_file(&path)),
        build(DpopConfig::new().with_key_file(&path)),
    );
    let a = get(first.clone(), "/shared/first").await;
    let b = get(second.clone(), "/shared/second").await;
    assert_eq!(a["jkt"], b["jkt"]);
    assert_eq!(first.token_requests(), 1);
    assert_eq!(second.token_requests(), 0, "adopted from the store");
}

/// Token exchange (RFC 8693) reads `dpop = true` too: its provider hands the authorizer a key
/// (the exchanged tokens are requested with proofs, as client credentials' are).
#[test]
fn token_exchange_binds_its_tokens_too() {
    use en_auth_oauth2::core::Authorizer;
    use en_auth_oauth2::{SubjectToken, TokenExchange};
    let exchange = TokenExchange::new(
        client(),
        environment(DpopConfig::new().with_signing_algorithm(SigningAlgorithm::EdDSA)),
        SubjectToken::from_fn("urn:ietf:params:oauth:token-type:access_token", || async {
            Ok(secrecy::SecretString::from("subject"))
        }),
        reqwest::Client::new(),
    )
    .unwrap();
    let authorizer = Authorizer::new(exchange);
    let dpop = authorizer.dpop().expect("a DPoP key");
    assert_eq!(dpop.algorithm(), "EdDSA");
    assert_eq!(dpop.jwk_thumbprint().len(), 43);
    let without = TokenExchange::new(
        client(),
        Environment::new("plain")
            .with_token_url(field(oidc_dpop(), "token_endpoint"))
            .unwrap(),
        SubjectToken::from_fn("urn:ietf:params:oauth:token-type:access_token", || async {
            Ok(secrecy::SecretString::from("subject"))
        }),
        reqwest::Client::new(),
    )
    .unwrap();
    assert!(Authorizer::new(without).dpop().is_none());
}
