//! [`Environment`]: where tokens come from — the token endpoint, the Cognito region and user
//! pool, scopes and extra token parameters — built in code or loaded by id from a TOML file.
//!
//! The file is named by the `EN_AUTH_ENVIRONMENTS` variable and holds one table per
//! environment id:
//!
//! ```toml
//! [dev]
//! token_url = "https://example.auth.us-east-1.amazoncognito.com/oauth2/token"
//! # issuer = "https://auth.example.com"     # instead of token_url: discovery (RFC 8414 / OIDC)
//! # resource = ["https://api.example.com/"] # RFC 8707 resource indicators
//! # audience = "https://api.example.com"    # the `audience` token-request parameter
//! # subject_token_file = "/var/run/secrets/tokens/subject"  # RFC 8693 token exchange
//! # subject_token_type = "urn:ietf:params:oauth:token-type:jwt"
//! region = "us-east-1"
//! user_pool_id = "us-east-1_Example"
//! # cognito_endpoint = "http://127.0.0.1:9229"   # emulators only
//! # scopes = ["api/read"]
//! # redirect_uri = "http://localhost:8400/callback"  # a browser sign-in's registered loopback
//! #   redirect URI (Cognito managed login matches it exactly); default: 127.0.0.1, any port
//! # authorization_url = "https://auth.example.com/authorize"  # a person's sign-in without
//! # device_authorization_url = "https://auth.example.com/device"  #   discovery (or instead
//! # revocation_url = "https://auth.example.com/revoke"         #   of what it names)
//! # token_endpoint_auth_method = "client_secret_post"   # default: client_secret_basic
//! #   (or client_secret_jwt, private_key_jwt, none)
//! # private_key_file = "keys/client.pem"                 # private_key_jwt: PEM or JWK file
//! # signing_algorithm = "ES256"                          # RS256 (default), PS256, ES256, EdDSA; HS256
//! # key_id = "key-1"                                     # the assertion's kid
//! # certificate_file = "keys/client.crt"                 # sends x5t#S256
//! # client_assertion_audience = "https://auth.example.com"  # default: token URL, else issuer
//! # client_assertion_file = "/var/run/secrets/tokens/token" # workload identity (re-read each time)
//! # token_endpoint_auth_method = "tls_client_auth"      # RFC 8705 mutual TLS (or
//! #   self_signed_tls_client_auth), with:
//! # tls_client_certificate_file = "keys/client.crt"      # PEM: the client certificate (chain)
//! # tls_client_key_file = "keys/client.key"              # PEM: its private key
//! # grant_type = "jwt_bearer"                            # RFC 7523 §2.1, with:
//! # assertion_file = "/var/run/secrets/tokens/token"
//! # refresh_token_rotation = true                        # Cognito app client rotates refresh tokens
//! # dpop = true                                          # DPoP-bound tokens (RFC 9449; `dpop` feature)
//! # dpop_signing_algorithm = "ES256"                     # ES256 (default) or EdDSA
//! # dpop_key_file = "keys/dpop.pem"                      # default: a key generated per authorizer
//! # dpop_allow_bearer = false                            # accept a Bearer answer to a DPoP request
//! # [dev.extra_params]
//! # audience = "https://api.example.com"
//! # [dev.shared_cache]                                   # share tokens across a fleet (Redis)
//! # url = "rediss://cache.internal:6379"                 # or: path = "/run/svc/tokens" (one machine)
//! # encryption_key_env = "EN_AUTH_CACHE_KEY"
//! ```
//!
//! Relative file paths name files beside the environments file.
//!
//! URLs must be `https`, except for loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`), so
//! that no secret crosses a network in the clear.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::{ConfigurationError, Error, SharedCacheConfig};

/// The variable that names the environments file.
pub const ENVIRONMENTS_VAR: &str = "EN_AUTH_ENVIRONMENTS";

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2, OpenID
/// Connect Core §9; the names are those of OAuth 2.0 Dynamic Client Registration, RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the id and secret form-urlencoded first (the default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client secret (HS256) sent as `client_assertion` (OIDC Core §9,
    /// RFC 7523 §2.2). Needs en-auth-oauth2's `jwt` feature.
    ClientSecretJwt,
    /// A JWT signed with the client's private key sent as `client_assertion` (OIDC Core §9,
    /// RFC 7523 §2.2); or, with a `client_assertion_file`, the JWT a platform wrote there (a
    /// workload identity token). Signing needs en-auth-oauth2's `jwt` feature; an assertion file
    /// does not.
    PrivateKeyJwt,
    /// No client authentication: a public client, its `client_id` in the form body (RFC 6749
    /// §2.1).
    None,
    /// Mutual TLS with a certificate from a certificate authority the server trusts (RFC 8705
    /// §2.1): the client presents its certificate (`tls_client_certificate_file`) in the TLS
    /// handshake and sends its `client_id` in the form body; no secret.
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate the client registered (RFC 8705 §2.2): as
    /// [`TlsClientAuth`](Self::TlsClientAuth), the server matching the certificate against the
    /// client's registered keys.
    SelfSignedTlsClientAuth,
}

impl TokenEndpointAuthMethod {
    /// The method's registered name (RFC 7591 §2, the values of RFC 8414's
    /// `token_endpoint_auth_methods_supported`, and the environments file's), such as
    /// `client_secret_basic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether the method authenticates the client by its TLS certificate (RFC 8705 §2).
    pub fn is_mutual_tls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }
}

/// The JWS algorithm that signs a client assertion (RFC 7518 §3.1 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// HMAC with SHA-256 over the client secret (`client_secret_jwt`).
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlgorithm {
    /// The algorithm's `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

/// The grant a service account's tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantType {
    /// The client-credentials grant (RFC 6749 §4.4), the default.
    #[default]
    ClientCredentials,
    /// The JWT bearer grant (RFC 7523 §2.1): a JWT (from `assertion_file`) exchanged for a token.
    JwtBearer,
    /// Token exchange (RFC 8693 §2.1): the token in `subject_token_file` exchanged for one for
    /// the environment's audience, resources and scopes. Implied by a `subject_token_file`;
    /// `grant_type = "token_exchange"` without one is a configuration error.
    TokenExchange,
}

/// How a client proves itself with a JWT (RFC 7523): the key that signs its assertions, or a
/// file a platform writes an assertion to, and the assertion's audience. Part of an
/// [`Environment`]; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientAssertionConfig {
    /// `private_key_file`: the PEM or JWK file of the private key (`private_key_jwt`).
    pub private_key_file: Option<PathBuf>,
    /// `signing_algorithm`: the assertion's `alg` (default `RS256` for `private_key_jwt`,
    /// `HS256` for `client_secret_jwt`).
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// `key_id`: the assertion's `kid` header.
    pub key_id: Option<String>,
    /// `certificate_file`: a PEM certificate of the key; its SHA-256 thumbprint is sent as the
    /// `x5t#S256` header.
    pub certificate_file: Option<PathBuf>,
    /// `client_assertion_audience`: the assertion's `aud` (default: the `token_url`, or the
    /// issuer when the endpoint is discovered from an `issuer` alone; set it to the issuer for
    /// servers that want that).
    pub audience: Option<String>,
    /// `client_assertion_file`: a file holding a JWT sent as the client assertion, re-read at
    /// every token request (a workload identity token).
    pub client_assertion_file: Option<PathBuf>,
    /// `assertion_file`: the file holding the JWT of the jwt-bearer grant (RFC 7523 §2.1),
    /// re-read at every token request.
    pub assertion_file: Option<PathBuf>,
}

/// The client certificate and key of mutual TLS (RFC 8705): presented in the TLS handshake of
/// every token request (`tls_client_auth`, `self_signed_tls_client_auth`, or certificate-bound
/// tokens with another method) and, through en-auth-oauth2's resource client, of every request
/// that carries a certificate-bound token. Part of an [`Environment`]; both or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsClientConfig {
    /// `tls_client_certificate_file`: the PEM file of the client certificate, optionally
    /// followed by its intermediate certificates.
    pub certificate_file: PathBuf,
    /// `tls_client_key_file`: the PEM file of the certificate's private key (PKCS #8, PKCS #1
    /// or SEC 1).
    pub key_file: PathBuf,
}

impl TlsClientConfig {
    /// The certificate and key files.
    pub fn new(certificate_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        Self {
            certificate_file: certificate_file.into(),
            key_file: key_file.into(),
        }
    }
}

/// DPoP (RFC 9449): tokens bound to a key the client holds, each request carrying a proof
/// signed with it. Part of an [`Environment`] (`dpop = true` and the `dpop_*` fields); used by
/// `en-auth-oauth2` with its `dpop` feature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopConfig {
    /// `dpop_signing_algorithm`: `ES256` (the default) or `EdDSA`.
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// `dpop_key_file`: the private key (a PEM or JWK file); default: a new key generated for
    /// each authorizer (the token is then never shared with another process).
    pub key_file: Option<PathBuf>,
    /// `dpop_allow_bearer`: accept a `Bearer` token from a server that does not bind it
    /// (default `false`: such an answer is an error).
    pub allow_bearer: bool,
}

impl DpopConfig {
    /// DPoP with a generated ES256 key.
    pub fn new() -> Self {
        Self::default()
    }

    /// With this signing algorithm (`ES256` or `EdDSA`).
    #[must_use]
    pub fn with_signing_algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.signing_algorithm = Some(algorithm);
        self
    }

    /// With the private key in this file (PEM or JWK).
    #[must_use]
    pub fn with_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_file = Some(path.into());
        self
    }

    /// Accepting a `Bearer` answer to a DPoP token request.
    #[must_use]
    pub fn with_bearer_allowed(mut self, allow: bool) -> Self {
        self.allow_bearer = allow;
        self
    }
}

/// Where and how tokens are obtained for one environment id.
///
/// ```
/// use en_auth_core::Environment;
///
/// let env = Environment::new("dev")
///     .with_token_url("https://auth.example.com/oauth2/token")?
///     .with_scopes(["api/read"]);
/// assert_eq!(env.id(), "dev");
/// assert!(Environment::new("x").with_token_url("http://auth.example.com/token").is_err());
/// assert!(Environment::new("x").with_token_url("http://127.0.0.1:8080/token").is_ok());
/// # Ok::<(), en_auth_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Environment {
    id: String,
    source: Option<PathBuf>,
    token_url: Option<Url>,
    issuer: Option<Issuer>,
    resources: Vec<String>,
    audience: Option<String>,
    token_exchange: Option<TokenExchangeConfig>,
    region: Option<String>,
    user_pool_id: Option<String>,
    auth_flow: Option<String>,
    preferred_challenge: Option<String>,
    cognito_endpoint: Option<Url>,
    scopes: Vec<String>,
    redirect_uri: Option<Url>,
    authorization_url: Option<Url>,
    device_authorization_url: Option<Url>,
    revocation_url: Option<Url>,
    extra_params: Vec<(String, String)>,
    auth_method: TokenEndpointAuthMethod,
    refresh_token_rotation: bool,
    shared_cache: Option<SharedCacheConfig>,
    grant_type: GrantType,
    client_assertion: ClientAssertionConfig,
    tls_client: Option<TlsClientConfig>,
    dpop: Option<DpopConfig>,
}

/// Extra parameter values may be secrets (`client_assertion`, …): only their names are shown.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("token_url", &self.token_url.as_ref().map(Url::as_str))
            .field("issuer", &self.issuer.as_ref().map(Issuer::as_str))
            .field("resource", &self.resources)
            .field("audience", &self.audience)
            .field("token_exchange", &self.token_exchange)
            .field("region", &self.region)
            .field("user_pool_id", &self.user_pool_id)
            .field("auth_flow", &self.auth_flow)
            .field("preferred_challenge", &self.preferred_challenge)
            .field(
                "cognito_endpoint",
                &self.cognito_endpoint.as_ref().map(Url::as_str),
            )
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri.as_ref().map(Url::as_str))
            .field(
                "authorization_url",
                &self.authorization_url.as_ref().map(Url::as_str),
            )
            .field(
                "device_authorization_url",
                &self.device_authorization_url.as_ref().map(Url::as_str),
            )
            .field(
                "revocation_url",
                &self.revocation_url.as_ref().map(Url::as_str),
            )
            .field(
                "extra_params",
                &self
                    .extra_params
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("token_endpoint_auth_method", &self.auth_method)
            .field("refresh_token_rotation", &self.refresh_token_rotation)
            .field("shared_cache", &self.shared_cache)
            .field("grant_type", &self.grant_type)
            .field("client_assertion", &self.client_assertion)
            .field("tls_client", &self.tls_client)
            .field("dpop", &self.dpop)
            .finish()
    }
}

/// `[<id>.shared_cache]`: see [`SharedCacheConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedCacheTable {
    url: Option<String>,
    path: Option<std::path::PathBuf>,
    key_prefix: Option<String>,
    encryption_key_env: Option<String>,
    operation_timeout_ms: Option<u64>,
    lock_wait_ms: Option<u64>,
}

#[derive(Deserialize)]
struct EnvironmentTable {
    token_url: Option<String>,
    issuer: Option<String>,
    #[serde(default)]
    resource: Vec<String>,
    audience: Option<String>,
    subject_token_file: Option<PathBuf>,
    subject_token_type: Option<String>,
    actor_token_file: Option<PathBuf>,
    actor_token_type: Option<String>,
    requested_token_type: Option<String>,
    region: Option<String>,
    user_pool_id: Option<String>,
    auth_flow: Option<String>,
    preferred_challenge: Option<String>,
    cognito_endpoint: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    redirect_uri: Option<String>,
    authorization_url: Option<String>,
    device_authorization_url: Option<String>,
    revocation_url: Option<String>,
    #[serde(default)]
    extra_params: BTreeMap<String, String>,
    token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    #[serde(default)]
    refresh_token_rotation: bool,
    shared_cache: Option<SharedCacheTable>,
    #[serde(default)]
    grant_type: GrantType,
    private_key_file: Option<PathBuf>,
    signing_algorithm: Option<SigningAlgorithm>,
    key_id: Option<String>,
    certificate_file: Option<PathBuf>,
    client_assertion_audience: Option<String>,
    client_assertion_file: Option<PathBuf>,
    assertion_file: Option<PathBuf>,
    tls_client_certificate_file: Option<PathBuf>,
    tls_client_key_file: Option<PathBuf>,
    #[serde(default)]
    dpop: bool,
    dpop_signing_algorithm: Option<SigningAlgorithm>,
    dpop_key_file: Option<PathBuf>,
    #[serde(default)]
    dpop_allow_bearer: bool,
    /// Keys that are none of the above (reported by name).
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

impl EnvironmentTable {
    const FIELDS: &'static [&'static str] = &[
        "token_url",
        "issuer",
        "resource",
        "audience",
        "subject_token_file",
        "subject_token_type",
        "actor_token_file",
        "actor_token_type",
        "requested_token_type",
        "region",
        "user_pool_id",
        "auth_flow",
        "preferred_challenge",
        "cognito_endpoint",
        "scopes",
        "redirect_uri",
        "authorization_url",
        "device_authorization_url",
        "revocation_url",
        "extra_params",
        "token_endpoint_auth_method",
        "refresh_token_rotation",
        "shared_cache",
        "grant_type",
        "private_key_file",
        "signing_algorithm",
        "key_id",
        "certificate_file",
        "client_assertion_audience",
        "client_assertion_file",
        "assertion_file",
        "tls_client_certificate_file",
        "tls_client_key_file",
        "dpop",
        "dpop_signing_algorithm",
        "dpop_key_file",
        "dpop_allow_bearer",
    ];
}

impl Environment {
    /// An empty environment named `id`; add endpoints with the `with_*` methods.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            source: None,
            token_url: None,
            issuer: None,
            resources: Vec::new(),
            audience: None,
            token_exchange: None,
            region: None,
            user_pool_id: None,
            auth_flow: None,
            preferred_challenge: None,
            cognito_endpoint: None,
            scopes: Vec::new(),
            redirect_uri: None,
            authorization_url: None,
            device_authorization_url: None,
            revocation_url: None,
            extra_params: Vec::new(),
            auth_method: TokenEndpointAuthMethod::default(),
            refresh_token_rotation: false,
            shared_cache: None,
            grant_type: GrantType::default(),
            client_assertion: ClientAssertionConfig::default(),
            tls_client: None,
            dpop: None,
        }
    }

    /// Loads environment `id` from the file named by [`ENVIRONMENTS_VAR`].
    ///
    /// # Errors
    /// [`Error::Configuration`] when the variable is unset, or as [`Environment::from_file`].
    pub fn load(id: &str) -> Result<Self, Error> {
        let path = std::env::var_os(ENVIRONMENTS_VAR).ok_or_else(|| {
            ConfigurationError::new(format!(
                "no environments file: set {ENVIRONMENTS_VAR} to the path of a TOML file with a [{id}] table"
            ))
            .with_environment(id)
        })?;
        Self::from_file(path, id)
    }

    /// Loads environment `id` from the TOML file at `path`.
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the id, the file and the field when the file cannot be
    /// read or parsed, has no table `id`, or a field is invalid.
    pub fn from_file(path: impl AsRef<Path>, id: &str) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigurationError::new(format!("cannot read the environments file: {e}"))
                .with_environment(id)
                .with_file(path)
                .with_source(e)
        })?;
        Self::parse(&text, id, Some(path))
    }

    /// Loads environment `id` from TOML text.
    ///
    /// # Errors
    /// As [`Environment::from_file`].
    pub fn from_toml_str(text: &str, id: &str) -> Result<Self, Error> {
        Self::parse(text, id, None)
    }

    fn parse(text: &str, id: &str, path: Option<&Path>) -> Result<Self, Error> {
        let err = |message: String| {
            let e = ConfigurationError::new(message).with_environment(id);
            match path {
                Some(p) => e.with_file(p),
                None => e,
            }
        };
        let mut tables: BTreeMap<String, toml::Value> =
            toml::from_str(text).map_err(|e| err(format!("malformed TOML: {}", e.message())))?;
        let table = tables.remove(id).ok_or_else(|| {
            let known: Vec<_> = tables.keys().map(String::as_str).collect();
            err(format!(
                "unknown environment id; the file defines: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let table: EnvironmentTable = serde_path_to_error::deserialize(table).map_err(
            |e: serde_path_to_error::Error<toml::de::Error>| {
                let field = e.path().to_string();
                // Extra parameters may hold secrets (a client assertion, say), and serde quotes
                // the values it rejects: name the field only.
                let message = if field.starts_with("extra_params") {
                    "invalid table: extra parameters are strings".to_owned()
                } else {
                    format!("invalid table: {}", e.inner().message())
                };
                err(message).with_field(field)
            },
        )?;
        if let Some(unknown) = table.unknown.keys().next() {
            let known = EnvironmentTable::FIELDS.join(", ");
            let message = format!("unknown field `{unknown}`, expected one of {known}");
            return Err(err(message).with_field(unknown.clone()).into());
        }
        let mut env = Environment::new(id);
        env.source = path.map(Path::to_path_buf);
        if let Some(url) = table.token_url {
            env.token_url = Some(env.checked_url("token_url", &url)?);
        }
        if let Some(url) = table.cognito_endpoint {
            env.cognito_endpoint = Some(env.checked_url("cognito_endpoint", &url)?);
        }
        if let Some(issuer) = table.issuer {
            env = env.with_issuer(&issuer)?;
        }
        env = env.with_resources(table.resource)?;
        if let Some(audience) = table.audience {
            env = env.with_audience(audience)?;
        }
        // A relative path names a file beside the environments file.
        let beside = |file: PathBuf| match path.and_then(Path::parent) {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file,
        };
        match table.subject_token_file {
            Some(subject_token_file) => {
                let config = TokenExchangeConfig {
                    subject_token_file: beside(subject_token_file),
                    subject_token_type: table
                        .subject_token_type
                        .unwrap_or_else(|| TokenExchangeConfig::ACCESS_TOKEN_TYPE.to_owned()),
                    actor_token_file: table.actor_token_file.map(beside),
                    actor_token_type: table.actor_token_type,
                    requested_token_type: table.requested_token_type,
                };
                env = env.with_token_exchange(config)?;
            }
            None => {
                let stray = [
                    ("subject_token_type", table.subject_token_type.is_some()),
                    ("actor_token_file", table.actor_token_file.is_some()),
                    ("actor_token_type", table.actor_token_type.is_some()),
                    ("requested_token_type", table.requested_token_type.is_some()),
                ];
                if let Some((field, _)) = stray.iter().find(|(_, set)| *set) {
                    return Err(env.error(
                        field,
                        "token exchange needs `subject_token_file` (RFC 8693 §2.1: the subject token)",
                    ));
                }
            }
        }
        env.region = table.region;
        env.user_pool_id = table.user_pool_id;
        env.auth_flow = table.auth_flow;
        env.preferred_challenge = table.preferred_challenge;
        env.scopes = table.scopes;
        if let Some(uri) = table.redirect_uri {
            env = env.with_redirect_uri(&uri)?;
        }
        if let Some(url) = table.authorization_url {
            env = env.with_authorization_url(&url)?;
        }
        if let Some(url) = table.device_authorization_url {
            env = env.with_device_authorization_url(&url)?;
        }
        if let Some(url) = table.revocation_url {
            env = env.with_revocation_url(&url)?;
        }
        env.extra_params = table.extra_params.into_iter().collect();
        env.client_assertion = ClientAssertionConfig {
            private_key_file: table.private_key_file.map(beside),
            signing_algorithm: table.signing_algorithm,
            key_id: table.key_id,
            certificate_file: table.certificate_file.map(beside),
            audience: table.client_assertion_audience,
            client_assertion_file: table.client_assertion_file.map(beside),
            assertion_file: table.assertion_file.map(beside),
        };
        env.grant_type = match (table.grant_type, env.token_exchange.is_some()) {
            (GrantType::TokenExchange | GrantType::ClientCredentials, true) => {
                GrantType::TokenExchange
            }
            (GrantType::TokenExchange, false) => {
                return Err(env.error(
                    "subject_token_file",
                    "missing; grant_type = \"token_exchange\" needs the file holding the subject token (RFC 8693 §2.1)",
                ))
            }
            (GrantType::JwtBearer, true) => {
                return Err(env.error(
                    "grant_type",
                    "\"jwt_bearer\" contradicts subject_token_file (token exchange): choose one grant",
                ))
            }
            (grant, false) => grant,
        };
        env.auth_method = match table.token_endpoint_auth_method {
            Some(method) => method,
            // An assertion file or a private key says how the client authenticates.
            None if env.client_assertion.client_assertion_file.is_some()
                || env.client_assertion.private_key_file.is_some() =>
            {
                TokenEndpointAuthMethod::PrivateKeyJwt
            }
            None => TokenEndpointAuthMethod::default(),
        };
        env.check_client_assertion()?;
        env.tls_client = match (table.tls_client_certificate_file, table.tls_client_key_file) {
            (Some(certificate), Some(key)) => {
                Some(TlsClientConfig::new(beside(certificate), beside(key)))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(env.error(
                    "tls_client_key_file",
                    "missing; tls_client_certificate_file needs the certificate's private key",
                ))
            }
            (None, Some(_)) => {
                return Err(env.error(
                    "tls_client_certificate_file",
                    "missing; tls_client_key_file needs the client certificate",
                ))
            }
        };
        if table.dpop {
            let config = DpopConfig {
                signing_algorithm: table.dpop_signing_algorithm,
                key_file: table.dpop_key_file.map(beside),
                allow_bearer: table.dpop_allow_bearer,
            };
            env = env.with_dpop(config)?;
        } else {
            let stray = [
                (
                    "dpop_signing_algorithm",
                    table.dpop_signing_algorithm.is_some(),
                ),
                ("dpop_key_file", table.dpop_key_file.is_some()),
                ("dpop_allow_bearer", table.dpop_allow_bearer),
            ];
            if let Some((field, _)) = stray.iter().find(|(_, set)| *set) {
                return Err(env.error(field, "takes effect only with `dpop = true`"));
            }
        }
        env.refresh_token_rotation = table.refresh_token_rotation;
        if let Some(t) = table.shared_cache {
            let refuse = |message: &str| -> Error {
                err(format!("the shared_cache table {message}"))
                    .with_field("shared_cache")
                    .into()
            };
            match (&t.url, &t.path) {
                (Some(_), Some(_)) => {
                    return Err(refuse(
                        "has both `url` (Redis) and `path` (a directory): choose one",
                    ))
                }
                (None, None) => {
                    return Err(refuse("needs `url` (Redis) or `path` (a local directory)"))
                }
                (None, Some(path)) if !path.is_absolute() => {
                    return Err(refuse(
                        "needs an absolute `path` (every process must find the same directory)",
                    ))
                }
                (Some(_), None) if t.encryption_key_env.is_none() => return Err(refuse(
                    "with a `url` needs `encryption_key_env` (tokens in Redis are always sealed)",
                )),
                _ => {}
            }
            env.shared_cache = Some(SharedCacheConfig {
                url: t.url,
                path: t.path,
                key_prefix: t.key_prefix.unwrap_or_else(|| "en-auth".to_owned()),
                encryption_key_env: t.encryption_key_env,
                operation_timeout_ms: t.operation_timeout_ms,
                lock_wait_ms: t.lock_wait_ms,
            });
        }
        Ok(env)
    }

    /// Sets the OAuth2 token endpoint (RFC 6749 §3.2).
    ///
    /// # Errors
    /// [`Error::Configuration`] if `url` is not a URL, or is `http` to a non-loopback host.
    pub fn with_token_url(mut self, url: &str) -> Result<Self, Error> {
        self.token_url = Some(self.checked_url("token_url", url)?);
        Ok(self)
    }

    /// Sets the authorization server's issuer identifier (RFC 8414 §2): with no `token_url`, the
    /// token endpoint is discovered from the issuer's metadata (RFC 8414 §3, else OpenID Connect
    /// Discovery 1.0 §4), whose `issuer` must equal `issuer` exactly. With a `token_url` too, the
    /// token URL is used as it is and nothing is fetched.
    ///
    /// ```
    /// use en_auth_core::Environment;
    ///
    /// let env = Environment::new("prod").with_issuer("https://auth.example.com")?;
    /// assert_eq!(env.issuer().unwrap().as_str(), "https://auth.example.com");
    /// assert!(Environment::new("x").with_issuer("https://auth.example.com/?tenant=1").is_err());
    /// # Ok::<(), en_auth_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Configuration`] if `issuer` is not a URL, is `http` to a non-loopback host, or
    /// has a query or a fragment (RFC 8414 §2).
    pub fn with_issuer(mut self, issuer: &str) -> Result<Self, Error> {
        let url = self.checked_url("issuer", issuer)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self.error(
                "issuer",
                "an issuer identifier has no query or fragment (RFC 8414 §2)",
            ));
        }
        self.issuer = Some(Issuer {
            text: issuer.to_owned(),
            url,
        });
        Ok(self)
    }

    /// Sets the resource indicators sent with every token request, one `resource` parameter
    /// each (RFC 8707 §2): the services the token is meant for. They are part of the token's
    /// cache key: authorizers for different resources never share a token.
    ///
    /// ```
    /// use en_auth_core::Environment;
    ///
    /// let env = Environment::new("prod").with_resources(["https://api.example.com/", "urn:example:api"])?;
    /// assert_eq!(env.resources(), ["https://api.example.com/", "urn:example:api"]);
    /// assert!(Environment::new("x").with_resources(["/relative"]).is_err());
    /// assert!(Environment::new("x").with_resources(["https://api.example.com/#part"]).is_err());
    /// # Ok::<(), en_auth_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Configuration`] if a value is not an absolute URI or has a fragment (RFC 8707
    /// §2).
    pub fn with_resources<S: AsRef<str>>(
        mut self,
        resources: impl IntoIterator<Item = S>,
    ) -> Result<Self, Error> {
        let mut checked = Vec::new();
        for resource in resources {
            let resource = resource.as_ref();
            let url = Url::parse(resource).map_err(|e| {
                self.error(
                    "resource",
                    format!("`{resource}` is not an absolute URI (RFC 8707 §2): {e}"),
                )
            })?;
            if url.fragment().is_some() || resource.contains('#') {
                return Err(self.error(
                    "resource",
                    format!(
                        "`{resource}` has a fragment; a resource indicator has none (RFC 8707 §2)"
                    ),
                ));
            }
            checked.push(resource.to_owned());
        }
        self.resources = checked;
        Ok(self)
    }

    /// Sets the `audience` sent with every token request: the logical name of the service the
    /// token is meant for (RFC 8693 §2.1; also Auth0's and others' client-credentials
    /// parameter). Part of the token's cache key.
    ///
    /// # Errors
    /// [`Error::Configuration`] if `audience` is empty.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Result<Self, Error> {
        let audience = audience.into();
        if audience.trim().is_empty() {
            return Err(self.error("audience", "empty"));
        }
        self.audience = Some(audience);
        Ok(self)
    }

    /// Asks for RFC 8693 token exchange with `config`'s subject (and actor) token files
    /// instead of the client-credentials grant (the file's `subject_token_file` and its
    /// companions).
    ///
    /// # Errors
    /// [`Error::Configuration`] when a token type is empty, or an actor token has no type or a
    /// type has no actor token (RFC 8693 §2.1).
    pub fn with_token_exchange(mut self, config: TokenExchangeConfig) -> Result<Self, Error> {
        for (field, value) in [
            ("subject_token_type", Some(&config.subject_token_type)),
            ("actor_token_type", config.actor_token_type.as_ref()),
            ("requested_token_type", config.requested_token_type.as_ref()),
        ] {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(self.error(
                    field,
                    "empty; a token type is a URI such as urn:ietf:params:oauth:token-type:access_token",
                ));
            }
        }
        match (&config.actor_token_file, &config.actor_token_type) {
            (Some(_), None) => {
                return Err(self.error(
                    "actor_token_type",
                    "missing; an actor token needs its type (RFC 8693 §2.1)",
                ))
            }
            (None, Some(_)) => {
                return Err(self.error(
                    "actor_token_file",
                    "missing; `actor_token_type` is only sent with an actor token (RFC 8693 §2.1)",
                ))
            }
            _ => {}
        }
        self.token_exchange = Some(config);
        self.grant_type = GrantType::TokenExchange;
        Ok(self)
    }

    /// The token exchange settings, when tokens come from RFC 8693 token exchange.
    pub fn token_exchange(&self) -> Option<&TokenExchangeConfig> {
        self.token_exchange.as_ref()
    }

    /// Sets the AWS region of the Cognito user pool, such as `us-east-1`.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the Cognito sign-in flow (`auth_flow`): `USER_SRP_AUTH` (the default) or
    /// `USER_AUTH` (choice-based sign-in). en-auth-srp checks the value when it builds.
    #[must_use]
    pub fn with_auth_flow(mut self, flow: impl Into<String>) -> Self {
        self.auth_flow = Some(flow.into());
        self
    }

    /// Sets the first challenge a `USER_AUTH` sign-in asks for (`preferred_challenge`):
    /// `PASSWORD_SRP`, `PASSWORD`, `EMAIL_OTP` or `SMS_OTP` (Cognito's `PREFERRED_CHALLENGE`).
    /// en-auth-srp checks the value when it builds.
    #[must_use]
    pub fn with_preferred_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.preferred_challenge = Some(challenge.into());
        self
    }

    /// Sets the Cognito user pool id, such as `us-east-1_Example`.
    #[must_use]
    pub fn with_user_pool_id(mut self, pool: impl Into<String>) -> Self {
        self.user_pool_id = Some(pool.into());
        self
    }

    /// Overrides the Cognito API endpoint (for emulators).
    ///
    /// # Errors
    /// As [`Environment::with_token_url`].
    pub fn with_cognito_endpoint(mut self, url: &str) -> Result<Self, Error> {
        self.cognito_endpoint = Some(self.checked_url("cognito_endpoint", url)?);
        Ok(self)
    }

    /// Sets the scopes requested with every token (RFC 6749 §3.3).
    #[must_use]
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the redirect URI of a person's sign-in in the browser, as registered with the
    /// authorization server: a loopback `http` URI with its port, `http://localhost:<port>/<path>`,
    /// `http://127.0.0.1:<port>/<path>` or `http://[::1]:<port>/<path>` (RFC 8252 §7.3). The
    /// sign-in listens on that port and path: at the address written, and for `localhost` on
    /// both 127.0.0.1 and ::1 (where the machine has IPv6), so that no other program can take
    /// the redirect on the family the browser tries first (RFC 8252 §8.3 prefers the IP
    /// literals; Cognito takes only `localhost`). Without one, it listens on `127.0.0.1` on a free
    /// port (`http://127.0.0.1:<port>/callback`), which servers that ignore a loopback
    /// redirect's port accept (RFC 8252 §7.3, oidc-provider for native clients) and servers that
    /// match redirect URIs exactly refuse: Cognito managed login requires one of the app
    /// client's `CallbackURLs`, where plain `http` is allowed for `localhost` only.
    ///
    /// ```
    /// use en_auth_core::Environment;
    ///
    /// let env = Environment::new("desktop").with_redirect_uri("http://localhost:8400/callback")?;
    /// assert_eq!(env.redirect_uri().unwrap().port(), Some(8400));
    /// assert!(Environment::new("x").with_redirect_uri("http://localhost/callback").is_err());
    /// assert!(Environment::new("x").with_redirect_uri("https://app.example.com/cb").is_err());
    /// # Ok::<(), en_auth_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Configuration`] naming `redirect_uri` if `uri` is not a URL, not `http`, not to a
    /// loopback host, has no port (or port 0), has a query, a fragment or credentials, or is not
    /// written as it is sent (`http://localhost:8400` is sent as `http://localhost:8400/`: the
    /// server compares the string).
    pub fn with_redirect_uri(mut self, uri: &str) -> Result<Self, Error> {
        let url = Url::parse(uri).map_err(|e| self.error("redirect_uri", format!("{e}")))?;
        let why = if url.scheme() != "http" {
            Some("must be `http` (a loopback redirect, RFC 8252 §7.3)")
        } else if !is_loopback(&url) {
            Some("must be to a loopback host (localhost, 127.0.0.1, [::1]): the sign-in listens there")
        } else if matches!(url.port(), None | Some(0)) {
            Some("needs its port, as registered with the authorization server")
        } else if url.query().is_some() || url.fragment().is_some() {
            Some("must have no query or fragment")
        } else if !url.username().is_empty() || url.password().is_some() {
            Some("must carry no user name or password")
        } else if url.as_str() != uri {
            // Sent as written, it must be what the server has registered, byte for byte.
            return Err(self.error(
                "redirect_uri",
                format!(
                    "`{uri}` is not written as a URL is sent: write `{url}` (and register that)"
                ),
            ));
        } else {
            None
        };
        if let Some(why) = why {
            return Err(self.error("redirect_uri", format!("`{uri}` {why}")));
        }
        self.redirect_uri = Some(url);
        Ok(self)
    }

    /// Sets the authorization endpoint (RFC 6749 §3.1) of a person's browser sign-in: for a
    /// server without discovery (with a `token_url` and no `issuer`), or instead of the one the
    /// issuer's metadata names.
    ///
    /// ```
    /// use en_auth_core::Environment;
    ///
    /// let env = Environment::new("github")
    ///     .with_token_url("https://github.com/login/oauth/access_token")?
    ///     .with_authorization_url("https://github.com/login/oauth/authorize")?
    ///     .with_device_authorization_url("https://github.com/login/device/code")?;
    /// assert_eq!(
    ///     env.authorization_url().map(|u| u.as_str()),
    ///     Some("https://github.com/login/oauth/authorize")
    /// );
    /// assert!(Environment::new("x").with_revocation_url("http://auth.example.com/r").is_err());
    /// # Ok::<(), en_auth_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Configuration`] naming `authorization_url` if `url` is not a URL, or is `http`
    /// to a non-loopback host.
    pub fn with_authorization_url(mut self, url: &str) -> Result<Self, Error> {
        self.authorization_url = Some(self.checked_url("authorization_url", url)?);
        Ok(self)
    }

    /// Sets the device authorization endpoint (RFC 8628 §3.1) of a person's device sign-in, as
    /// [`Environment::with_authorization_url`].
    ///
    /// # Errors
    /// As [`Environment::with_authorization_url`], naming `device_authorization_url`.
    pub fn with_device_authorization_url(mut self, url: &str) -> Result<Self, Error> {
        self.device_authorization_url = Some(self.checked_url("device_authorization_url", url)?);
        Ok(self)
    }

    /// Sets the revocation endpoint (RFC 7009 §2) a person's sign-out revokes the refresh token
    /// at, as [`Environment::with_authorization_url`].
    ///
    /// # Errors
    /// As [`Environment::with_authorization_url`], naming `revocation_url`.
    pub fn with_revocation_url(mut self, url: &str) -> Result<Self, Error> {
        self.revocation_url = Some(self.checked_url("revocation_url", url)?);
        Ok(self)
    }

    /// Adds a parameter sent with every token request. (`resource` and `audience` have
    /// methods of their own, [`Environment::with_resources`] and [`Environment::with_audience`],
    /// which validate them.)
    #[must_use]
    pub fn with_extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// Sets how the client authenticates at the token endpoint.
    #[must_use]
    pub fn with_token_endpoint_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// Sets the client certificate and key of mutual TLS (RFC 8705; the file's
    /// `tls_client_certificate_file` and `tls_client_key_file`). The files are read when an
    /// authorizer is built.
    #[must_use]
    pub fn with_tls_client(mut self, config: TlsClientConfig) -> Self {
        self.tls_client = Some(config);
        self
    }

    /// The client certificate and key of mutual TLS, if set.
    pub fn tls_client(&self) -> Option<&TlsClientConfig> {
        self.tls_client.as_ref()
    }

    /// Sets the grant tokens come from (default: client credentials).
    #[must_use]
    pub fn with_grant_type(mut self, grant_type: GrantType) -> Self {
        self.grant_type = grant_type;
        self
    }

    /// Sets how the client proves itself with a JWT (the key, the algorithm, the assertion
    /// files).
    ///
    /// The settings are checked against the authentication method and the grant set so far:
    /// call it after [`with_token_endpoint_auth_method`](Self::with_token_endpoint_auth_method)
    /// and [`with_grant_type`](Self::with_grant_type) (an `assertion_file` is refused before
    /// the jwt-bearer grant is set).
    ///
    /// # Errors
    /// [`Error::Configuration`] when the settings contradict each other or the authentication
    /// method (see [`Environment::client_assertion`]).
    pub fn with_client_assertion(mut self, config: ClientAssertionConfig) -> Result<Self, Error> {
        self.client_assertion = config;
        self.check_client_assertion()?;
        Ok(self)
    }

    /// Binds the tokens to a key with DPoP (RFC 9449): see [`DpopConfig`].
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `dpop_signing_algorithm`) for an algorithm other than
    /// `ES256` or `EdDSA`.
    pub fn with_dpop(mut self, config: DpopConfig) -> Result<Self, Error> {
        if let Some(alg) = config.signing_algorithm {
            if !matches!(alg, SigningAlgorithm::ES256 | SigningAlgorithm::EdDSA) {
                return Err(self.error(
                    "dpop_signing_algorithm",
                    format!(
                        "{} is not offered for DPoP proofs: use ES256 or EdDSA",
                        alg.as_str()
                    ),
                ));
            }
        }
        self.dpop = Some(config);
        Ok(self)
    }

    /// The DPoP settings (RFC 9449), when tokens are to be bound to a key.
    pub fn dpop(&self) -> Option<&DpopConfig> {
        self.dpop.as_ref()
    }

    /// The grant tokens come from ([`GrantType::TokenExchange`] once a token exchange is set,
    /// [`Environment::with_token_exchange`]).
    pub fn grant_type(&self) -> GrantType {
        self.grant_type
    }

    /// Whether a service account of this environment needs a client secret: its method is
    /// `client_secret_basic`, `client_secret_post` or `client_secret_jwt`, with the
    /// client-credentials grant and no `client_assertion_file`. A `private_key_jwt` client, a
    /// public client (`none`) and the jwt-bearer grant need none.
    pub fn needs_client_secret(&self) -> bool {
        matches!(
            self.auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
                | TokenEndpointAuthMethod::ClientSecretPost
                | TokenEndpointAuthMethod::ClientSecretJwt
        ) && self.grant_type == GrantType::ClientCredentials
            && self.client_assertion.client_assertion_file.is_none()
    }

    /// How the client proves itself with a JWT: empty unless the method is `private_key_jwt` or
    /// `client_secret_jwt` or the grant is `jwt_bearer`.
    pub fn client_assertion(&self) -> &ClientAssertionConfig {
        &self.client_assertion
    }

    /// Settings that contradict each other: an assertion file and a private key, a private key
    /// with a method other than `private_key_jwt`, an HMAC algorithm for a private key (or a key
    /// algorithm for `client_secret_jwt`), a jwt-bearer grant without its assertion file.
    fn check_client_assertion(&self) -> Result<(), Error> {
        let c = &self.client_assertion;
        let method = self.auth_method;
        if c.client_assertion_file.is_some() && c.private_key_file.is_some() {
            return Err(self.error(
                "client_assertion_file",
                "both a client_assertion_file and a private_key_file: choose one",
            ));
        }
        if (c.client_assertion_file.is_some() || c.private_key_file.is_some())
            && method != TokenEndpointAuthMethod::PrivateKeyJwt
        {
            let field = if c.private_key_file.is_some() {
                "private_key_file"
            } else {
                "client_assertion_file"
            };
            return Err(self.error(
                field,
                format!(
                    "needs token_endpoint_auth_method = \"private_key_jwt\" (it is `{}`)",
                    method.as_str()
                ),
            ));
        }
        match (method, c.signing_algorithm) {
            (TokenEndpointAuthMethod::ClientSecretJwt, Some(alg)) if alg != SigningAlgorithm::HS256 => {
                return Err(self.error(
                    "signing_algorithm",
                    format!("client_secret_jwt signs with HS256, not {}", alg.as_str()),
                ))
            }
            (TokenEndpointAuthMethod::PrivateKeyJwt, Some(SigningAlgorithm::HS256)) => {
                return Err(self.error(
                    "signing_algorithm",
                    "HS256 signs with the client secret: use token_endpoint_auth_method = \"client_secret_jwt\", \
                     or RS256, PS256, ES256 or EdDSA for a private key",
                ))
            }
            _ => {}
        }
        if self.grant_type == GrantType::JwtBearer && c.assertion_file.is_none() {
            return Err(self.error(
                "assertion_file",
                "missing; grant_type = \"jwt_bearer\" needs the file holding the assertion (RFC 7523 §2.1)",
            ));
        }
        if self.grant_type != GrantType::JwtBearer && c.assertion_file.is_some() {
            return Err(self.error(
                "assertion_file",
                "is for grant_type = \"jwt_bearer\"; for a client assertion use client_assertion_file",
            ));
        }
        Ok(())
    }

    /// Says whether the Cognito app client rotates refresh tokens, so that sessions are renewed
    /// with `GetTokensFromRefreshToken` (which returns a new refresh token) instead of
    /// `InitiateAuth` `REFRESH_TOKEN_AUTH`.
    #[must_use]
    pub fn with_refresh_token_rotation(mut self, rotation: bool) -> Self {
        self.refresh_token_rotation = rotation;
        self
    }

    /// Shares this environment's tokens across processes through the store `config` describes
    /// (the `[<id>.shared_cache]` table of the file).
    #[must_use]
    pub fn with_shared_cache(mut self, config: SharedCacheConfig) -> Self {
        self.shared_cache = Some(config);
        self
    }

    /// This environment without its shared token store: its authorizers keep their tokens to
    /// themselves (or use a store set in code).
    #[must_use]
    pub fn without_shared_cache(mut self) -> Self {
        self.shared_cache = None;
        self
    }

    /// The shared token store of this environment, if it has one.
    pub fn shared_cache(&self) -> Option<&SharedCacheConfig> {
        self.shared_cache.as_ref()
    }

    /// Whether the Cognito app client rotates refresh tokens.
    pub fn refresh_token_rotation(&self) -> bool {
        self.refresh_token_rotation
    }

    /// The environment id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file it was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The token endpoint, if set.
    pub fn token_url(&self) -> Option<&Url> {
        self.token_url.as_ref()
    }

    /// The issuer identifier, if set ([`Environment::with_issuer`]).
    pub fn issuer(&self) -> Option<&Issuer> {
        self.issuer.as_ref()
    }

    /// The resource indicators sent with every token request (RFC 8707), as configured.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The `audience` sent with every token request, if set.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The AWS region, if set.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The Cognito user pool id, if set.
    pub fn user_pool_id(&self) -> Option<&str> {
        self.user_pool_id.as_deref()
    }

    /// The Cognito sign-in flow (`auth_flow`, such as `USER_AUTH`), if set.
    pub fn auth_flow(&self) -> Option<&str> {
        self.auth_flow.as_deref()
    }

    /// The preferred first challenge of a `USER_AUTH` sign-in (`preferred_challenge`), if set.
    pub fn preferred_challenge(&self) -> Option<&str> {
        self.preferred_challenge.as_deref()
    }

    /// The Cognito API endpoint override, if set.
    pub fn cognito_endpoint(&self) -> Option<&Url> {
        self.cognito_endpoint.as_ref()
    }

    /// The registered loopback redirect URI of a browser sign-in, if set
    /// ([`Environment::with_redirect_uri`]).
    pub fn redirect_uri(&self) -> Option<&Url> {
        self.redirect_uri.as_ref()
    }

    /// The authorization endpoint named in the environment
    /// ([`Environment::with_authorization_url`]), if any.
    pub fn authorization_url(&self) -> Option<&Url> {
        self.authorization_url.as_ref()
    }

    /// The device authorization endpoint named in the environment
    /// ([`Environment::with_device_authorization_url`]), if any.
    pub fn device_authorization_url(&self) -> Option<&Url> {
        self.device_authorization_url.as_ref()
    }

    /// The revocation endpoint named in the environment ([`Environment::with_revocation_url`]),
    /// if any.
    pub fn revocation_url(&self) -> Option<&Url> {
        self.revocation_url.as_ref()
    }

    /// The scopes requested with every token.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The extra token-request parameters, in order.
    pub fn extra_params(&self) -> &[(String, String)] {
        &self.extra_params
    }

    /// How the client authenticates at the token endpoint.
    pub fn token_endpoint_auth_method(&self) -> TokenEndpointAuthMethod {
        self.auth_method
    }

    /// A configuration error about `field` of this environment (naming the environment and
    /// the file it came from), for providers that check further fields.
    pub fn error(&self, field: &str, message: impl Into<String>) -> Error {
        let e = ConfigurationError::new(message)
            .with_environment(&self.id)
            .with_field(field);
        match &self.source {
            Some(p) => e.with_file(p).into(),
            None => e.into(),
        }
    }

    /// The Cognito region: `region`, or else the prefix of the user pool id (`us-east-1` of
    /// `us-east-1_Example`), or a configuration error.
    ///
    /// # Errors
    /// [`Error::Configuration`] when neither is set.
    pub fn require_region(&self) -> Result<&str, Error> {
        self.region
            .as_deref()
            .or_else(|| {
                self.user_pool_id
                    .as_deref()
                    .and_then(|p| p.split_once('_'))
                    .map(|(r, _)| r)
            })
            .ok_or_else(|| {
                self.error(
                    "region",
                    "missing; Cognito needs a region (or a user_pool_id like us-east-1_Example)",
                )
            })
    }

    /// The Cognito user pool id, or a configuration error if it is missing or has no `_`.
    ///
    /// # Errors
    /// [`Error::Configuration`] when `user_pool_id` is not set or malformed.
    pub fn require_user_pool_id(&self) -> Result<&str, Error> {
        match self.user_pool_id.as_deref() {
            Some(id)
                if id
                    .split_once('_')
                    .is_some_and(|(r, n)| !r.is_empty() && !n.is_empty()) =>
            {
                Ok(id)
            }
            Some(_) => Err(self.error(
                "user_pool_id",
                "malformed; expected <region>_<pool name>, such as us-east-1_Example",
            )),
            None => Err(self.error(
                "user_pool_id",
                "missing; Cognito SRP needs the user pool id",
            )),
        }
    }

    /// The token URL, or a configuration error naming the missing field.
    ///
    /// # Errors
    /// [`Error::Configuration`] when `token_url` is not set.
    pub fn require_token_url(&self) -> Result<&Url, Error> {
        self.token_url.as_ref().ok_or_else(|| {
            self.error(
                "token_url",
                "missing; the client-credentials flow needs a token endpoint (or an `issuer` to discover it from)",
            )
        })
    }

    /// Whether tokens can be requested: a `token_url`, or an `issuer` to discover it from.
    pub fn has_token_endpoint(&self) -> bool {
        self.token_url.is_some() || self.issuer.is_some()
    }

    fn checked_url(&self, field: &str, text: &str) -> Result<Url, Error> {
        let url = Url::parse(text).map_err(|e| self.error(field, format!("not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.error(
                field,
                "credentials in the URL are not allowed; use the client info",
            ));
        }
        match url.scheme() {
            "https" => Ok(url),
            "http" if is_loopback(&url) => Ok(url),
            "http" => Err(self.error(field, plain_http_refusal(&url))),
            other => Err(self.error(field, format!("unsupported scheme `{other}`"))),
        }
    }
}

/// RFC 8693 token exchange with tokens from files, as an environment configures it: the
/// subject token (and an actor token) read from their files at every token request (a
/// platform may rotate them), exchanged for a token for the environment's audience, resources
/// and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenExchangeConfig {
    /// `subject_token_file`: the file holding the subject token.
    pub subject_token_file: PathBuf,
    /// `subject_token_type`: its type (RFC 8693 §3), default
    /// [`TokenExchangeConfig::ACCESS_TOKEN_TYPE`].
    pub subject_token_type: String,
    /// `actor_token_file`: the file holding the actor token, if any.
    pub actor_token_file: Option<PathBuf>,
    /// `actor_token_type`: its type, required with an actor token.
    pub actor_token_type: Option<String>,
    /// `requested_token_type`: the type of token asked for, if any.
    pub requested_token_type: Option<String>,
}

impl TokenExchangeConfig {
    /// `urn:ietf:params:oauth:token-type:access_token` (RFC 8693 §3).
    pub const ACCESS_TOKEN_TYPE: &'static str = "urn:ietf:params:oauth:token-type:access_token";

    /// Exchanging the token in `subject_token_file`, of type `subject_token_type`.
    pub fn new(
        subject_token_file: impl Into<PathBuf>,
        subject_token_type: impl Into<String>,
    ) -> Self {
        Self {
            subject_token_file: subject_token_file.into(),
            subject_token_type: subject_token_type.into(),
            actor_token_file: None,
            actor_token_type: None,
            requested_token_type: None,
        }
    }

    /// With an actor token (RFC 8693 §2.1) from `file`, of type `token_type`.
    #[must_use]
    pub fn with_actor_token(
        mut self,
        file: impl Into<PathBuf>,
        token_type: impl Into<String>,
    ) -> Self {
        self.actor_token_file = Some(file.into());
        self.actor_token_type = Some(token_type.into());
        self
    }

    /// Asking for a token of type `token_type` (`requested_token_type`).
    #[must_use]
    pub fn with_requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }
}

/// An authorization server's issuer identifier (RFC 8414 §2): an `https` URL (or `http` on
/// loopback) with no query or fragment, kept exactly as configured, since the discovered
/// metadata's `issuer` must equal it character for character (RFC 8414 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    text: String,
    url: Url,
}

impl Issuer {
    /// The identifier as configured (not normalized: `https://a.example` stays without a
    /// trailing slash).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The identifier, parsed.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why `url` (plain `http` to a host that is not loopback) is refused, with a hint when the host
/// looks like a misspelt `localhost`.
pub(crate) fn plain_http_refusal(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    if strsim::damerau_levenshtein(&host.to_ascii_lowercase(), "localhost") <= 2 {
        format!("`{host}` is not a loopback host (did you mean localhost?); http is only allowed for loopback hosts")
    } else {
        format!("http is only allowed for loopback hosts; use https for {host}")
    }
}

/// Whether the URL's host is `localhost` or a loopback address.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// What an authorizer's `new` accepts as its environment: an [`Environment`], or an id to
/// [load](Environment::load) from the environments file, as the Python `en_auth` package's `environment` string.
pub trait IntoEnvironment {
    /// Resolves to an [`Environment`].
    ///
    /// # Errors
    /// [`Error::Configuration`] when an id cannot be loaded.
    fn into_environment(self) -> Result<Environment, Error>;
}

impl IntoEnvironment for Environment {
    fn into_environment(self) -> Result<Environment, Error> {
        Ok(self)
    }
}

impl IntoEnvironment for &Environment {
    fn into_environment(self) -> Result<Environment, Error> {
        Ok(self.clone())
    }
}

impl IntoEnvironment for &str {
    fn into_environment(self) -> Result<Environment, Error> {
        Environment::load(self)
    }
}

impl IntoEnvironment for String {
    fn into_environment(self) -> Result<Environment, Error> {
        Environment::load(&self)
    }
}

impl IntoEnvironment for &String {
    fn into_environment(self) -> Result<Environment, Error> {
        Environment::load(self)
    }
}
