//! # en-auth-peers
//!
//! **Test support for en-auth's own tests; not published.** It starts the real external
//! programs that en-auth's integration tests run against — oidc-provider (Node.js),
//! django-oauth-toolkit and ministack (Python), `redis-server` and a 3-node Redis Cluster
//! ([`redis`]) — once per test process, and hands out what they printed: endpoints, client ids
//! and secrets. It also holds the helpers the test suites share ([`support`]).
//!
//! It works only inside an en-auth checkout: the peers' scripts and lock files are the
//! repository's `peers/` directory. That is the boundary with `en-auth-testkit`, which is
//! published for anyone's tests: the testkit emulates in-process, in Rust, with nothing to
//! install; this crate runs the real programs, installed as described below.
//!
//! The peers are installed (pinned, from their lock files) by `cargo xtask peers install`,
//! which `cargo xtask ci` runs first. A test that needs a peer that is not installed or does not
//! start **fails** with a message saying how to install it; it never passes by skipping.
//!
//! Each peer script binds only 127.0.0.1, prints one line of JSON, and exits when this
//! process does (it watches its parent), so no server outlives the tests.

pub mod cognito;
mod launch;
pub mod people;
pub mod redis;
pub mod secrecy;
pub mod support;
pub mod wait;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use launch::start;

/// The token lifetime, in seconds, every peer is started with.
pub const TOKEN_TTL_SECONDS: u64 = 3;

/// The repository's `peers/` folder.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers")
}

/// oidc-provider (npm, a certified OAuth2/OIDC server), started on first use. See
/// `peers/README.md` for the JSON it prints.
///
/// # Panics
/// If the peer is not installed or does not start: the calling test fails.
pub fn oidc() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    oidc_configuration(&PEER, "oidc/server.mjs", "oidc-provider", |_| {})
}

/// Starts (once, into `peer`) oidc-provider configured by `script` (under `peers/`), its log
/// named `name`, `configure` adding to its command: [`oidc`], [`oidc_basic_only`] and the
/// configurations of their own ([`oidc_people`], [`oidc_mtls`], [`oidc_dpop`]).
fn oidc_configuration(
    peer: &'static OnceLock<Result<Value, String>>,
    script: &str,
    name: &str,
    configure: impl FnOnce(&mut Command),
) -> &'static Value {
    let dir = peers_dir();
    let result = peer.get_or_init(|| {
        if !dir.join("oidc/node_modules/oidc-provider").is_dir() {
            return Err(not_installed("oidc-provider"));
        }
        let mut command = Command::new("node");
        command.arg(dir.join(script));
        configure(&mut command);
        start(name, command)
    });
    unwrap(result)
}

/// Starts (once, into `peer`) the Python script `script` (under `peers/`) in the peers'
/// virtualenv, its log named `name`, `configure` adding to its command; `what` names the
/// package in the message when the virtualenv is not installed.
fn python_peer(
    peer: &'static OnceLock<Result<Value, String>>,
    script: &str,
    name: &str,
    what: &str,
    configure: impl FnOnce(&mut Command),
) -> &'static Value {
    let dir = peers_dir();
    let result = peer.get_or_init(|| {
        let python = dir.join(".venv/bin/python");
        if !python.is_file() {
            return Err(not_installed(what));
        }
        let mut command = Command::new(python);
        command.arg(dir.join(script));
        configure(&mut command);
        start(name, command)
    });
    unwrap(result)
}

/// A second oidc-provider whose only token endpoint authentication method is
/// `client_secret_basic` (`CLIENT_AUTH_METHODS`; its discovery documents say so, and it has the
/// `basic` and `introspector` clients only), started on first use: for the refusal of a method
/// the server does not support.
///
/// # Panics
/// As [`oidc`].
pub fn oidc_basic_only() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    oidc_configuration(
        &PEER,
        "oidc/server.mjs",
        "oidc-provider-basic-only",
        |command| {
            command.env("CLIENT_AUTH_METHODS", "client_secret_basic");
        },
    )
}

/// oidc-provider configured for people at a terminal (`peers/oidc/people.mjs`): a public native
/// client with PKCE required, the device flow (polling `interval` 1 s, device codes that live
/// 6 s), refresh tokens rotated at every use, revocation, and interaction pages a test drives
/// over HTTP ([`people::Browser`]). Started on first use; its own process.
///
/// # Panics
/// As [`oidc`].
pub fn oidc_people() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    oidc_configuration(&PEER, "oidc/people.mjs", "oidc-provider-people", |_| {})
}

/// oidc-provider with mutual TLS (RFC 8705; `peers/oidc/mtls.mjs`), started on first use: an
/// openssl-made test CA with server and client certificates in a temporary directory,
/// `tls_client_auth`, `self_signed_tls_client_auth` and certificate-bound tokens, the token
/// endpoint's mTLS alias behind a TLS listener that asks for client certificates, and a
/// resource server over TLS that checks a bound token against the presented certificate. See
/// `peers/README.md` for the JSON it prints.
///
/// # Panics
/// As [`oidc`].
pub fn oidc_mtls() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    oidc_configuration(&PEER, "oidc/mtls.mjs", "oidc-provider-mtls", |_| {})
}

/// An oidc-provider with DPoP (RFC 9449) that requires a server nonce in every proof
/// (`peers/oidc/dpop.mjs`, a configuration of its own): the client `svc-dpop` (`clients/dpop`)
/// gets DPoP-bound tokens only, and `resource-server` (`clients/introspector`) may introspect
/// them (`cnf.jkt`). Started on first use.
///
/// # Panics
/// As [`oidc`].
pub fn oidc_dpop() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    oidc_configuration(&PEER, "oidc/dpop.mjs", "oidc-provider-dpop", |_| {})
}

/// A resource server that checks DPoP proofs with jwcrypto (`peers/dpop/resource.py`, in the
/// peers' virtualenv) and the tokens by the introspection of [`oidc_dpop`] (`cnf.jkt` must be
/// the proof key's thumbprint); it requires its own nonce in every proof. Started on first
/// use; its JSON has its `url`. Its nonce is per first path segment (`/a/…`), so that tests
/// running in parallel disturb only their own: `POST /_rotate_nonce?prefix=/a/` makes a new
/// nonce for `/a/…`; `GET /_stats?prefix=/a/` counts the outcomes of the requests under `/a/`
/// (`ok`, `use_dpop_nonce`, `invalid_dpop_proof`, `invalid_token`).
///
/// # Panics
/// If the virtualenv is not installed or the server does not start.
pub fn dpop_resource() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    python_peer(
        &PEER,
        "dpop/resource.py",
        "dpop-resource",
        "the DPoP resource server (jwcrypto)",
        |command| {
            let oidc = oidc_dpop();
            command
                .env("INTROSPECTION_URL", field(oidc, "introspection_endpoint"))
                .env(
                    "INTROSPECTION_CLIENT_ID",
                    field(oidc, "clients/introspector/id"),
                )
                .env(
                    "INTROSPECTION_CLIENT_SECRET",
                    field(oidc, "clients/introspector/secret"),
                );
        },
    )
}

/// ministack (PyPI, a local AWS emulator whose Cognito verifies SRP proofs and serves the
/// user-pool `/oauth2/token` endpoint), with a user pool, app clients and a user created through
/// the AWS API, started on first use. See `peers/README.md` for the JSON it prints.
///
/// # Panics
/// If the peer is not installed or does not start: the calling test fails.
pub fn ministack() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    python_peer(
        &PEER,
        "ministack/start.py",
        "ministack",
        "ministack",
        |_| {},
    )
}

/// A second ministack whose extra user pool runs custom authentication (`CUSTOM_AUTH`)
/// through real Lambda triggers that ministack executes (`peers/ministack/custom_auth.py`:
/// DefineAuthChallenge, CreateAuthChallenge, VerifyAuthChallengeResponse in Python), started
/// on first use. Its JSON is [`ministack`]'s plus `custom_auth` (see `peers/README.md`).
///
/// # Panics
/// As [`ministack`].
pub fn ministack_custom_auth() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    python_peer(
        &PEER,
        "ministack/custom_auth.py",
        "ministack-custom-auth",
        "ministack",
        |_| {},
    )
}

/// django-oauth-toolkit (PyPI, an OAuth2 server on Django; served by Hypercorn) with a sqlite
/// database in a temp dir, confidential client-credentials applications and the scopes `read`
/// and `write`, started on first use. See `peers/README.md` for the JSON it prints.
///
/// # Panics
/// If the peer is not installed or does not start: the calling test fails.
pub fn dot() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    python_peer(
        &PEER,
        "dot/start.py",
        "django-oauth-toolkit",
        "django-oauth-toolkit",
        |_| {},
    )
}

/// Authlib (PyPI, pinned in `peers/requirements.txt`): a token endpoint authenticating clients
/// with RFC 7523 JWT assertions and issuing tokens for the client-credentials and jwt-bearer
/// grants (`peers/authlib/server.py`), started on first use. See `peers/README.md` for the JSON
/// it prints.
///
/// # Panics
/// If the peer is not installed or does not start: the calling test fails.
pub fn authlib() -> &'static Value {
    static PEER: OnceLock<Result<Value, String>> = OnceLock::new();
    python_peer(&PEER, "authlib/server.py", "Authlib", "Authlib", |_| {})
}

/// ministack's Cognito `GetUser` with `access_token`: the user the token belongs to, or the
/// error name (`__type`) when ministack refuses it. A resource server's check of a user token.
///
/// # Panics
/// If ministack cannot be reached or answers something that is not JSON.
pub async fn ministack_get_user(access_token: &str) -> Result<String, String> {
    get_user_at(field(ministack(), "endpoint"), access_token).await
}

/// As [`ministack_get_user`], at the ministack whose endpoint is `endpoint` (such as
/// [`ministack_custom_auth`]'s).
///
/// # Panics
/// As [`ministack_get_user`].
pub async fn get_user_at(endpoint: &str, access_token: &str) -> Result<String, String> {
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.GetUser")
        .body(serde_json::json!({ "AccessToken": access_token }).to_string())
        .send()
        .await
        .expect("GetUser request to ministack");
    let ok = response.status().is_success();
    let body: Value = serde_json::from_slice(&response.bytes().await.expect("GetUser body"))
        .expect("GetUser JSON");
    if ok {
        Ok(body["Username"].as_str().unwrap_or_default().to_owned())
    } else {
        Err(body["__type"].as_str().unwrap_or("?").to_owned())
    }
}

/// A string field of a peer's JSON, by a `/`-separated path such as `clients/basic/secret`.
///
/// # Panics
/// If the field is missing: the peer script and the tests disagree.
pub fn field<'a>(info: &'a Value, path: &str) -> &'a str {
    let pointer = format!("/{path}");
    info.pointer(&pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("peer JSON has no string at {path}: {info}"))
}

fn not_installed(name: &str) -> String {
    format!("{name} is not installed: run `cargo xtask peers install` (or `cargo xtask ci`, which does)")
}

fn unwrap(result: &'static Result<Value, String>) -> &'static Value {
    match result {
        Ok(value) => value,
        Err(message) => panic!("{message}"),
    }
}
