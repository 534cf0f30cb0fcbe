//! Authorization server metadata: the token endpoint and the client authentication methods of
//! an issuer, discovered from its RFC 8414 document (`/.well-known/oauth-authorization-server`)
//! or else its OpenID Connect Discovery 1.0 document (`/.well-known/openid-configuration`).
//!
//! A document is fetched once per process, issuer and HTTP client ([`FetchScope`]), whatever
//! the number of authorizers (single flight: the others wait for the one fetch and share its
//! outcome), kept for a TTL ([`DEFAULT_DISCOVERY_TTL`]), and fetched again after a token
//! request that failed with it. The fetch goes through the token-request HTTP client: no
//! redirects, a size cap, a timeout.
//!
//! Why the HTTP client is part of the cache's key: a client carries a proxy, CA roots, client
//! certificates, default headers — what decides which network, and which server, the fetch
//! reaches. A document fetched through one authorizer's client is not served to an authorizer
//! whose client may reach another server. en-auth cannot tell two `reqwest::Client`s apart (a
//! client has no identity or comparable settings), so it shares only what it knows is one
//! client: the authorizers built without a client of their own use
//! [`shared_token_http_client`](crate::shared_token_http_client) for their connect timeout,
//! and share its fetches; a provider given its own client (`http_client`,
//! `ClientCredentials::new`, `TokenExchange::new`) keeps its own cache — one fetch per
//! provider and TTL, a small price for never using a document another network served.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use en_auth_core::{Environment, Error, InvalidResponseError, Issuer, SharedIdentity};
use serde::Deserialize;
use url::Url;

use crate::http::{get_document, DEFAULT_MAX_RESPONSE_BYTES};
use crate::request::TokenEndpoint;

/// How long a discovered metadata document is used before it is fetched again: one hour.
pub const DEFAULT_DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// The well-known path segment of RFC 8414 §3.
const RFC8414_SEGMENT: &str = "/.well-known/oauth-authorization-server";
/// The well-known path segment of OpenID Connect Discovery 1.0 §4.
const OIDC_SEGMENT: &str = "/.well-known/openid-configuration";

/// What en-auth uses of an issuer's metadata.
#[derive(Debug)]
pub(crate) struct Metadata {
    /// Where it was read.
    pub(crate) document_url: Url,
    /// `token_endpoint`.
    pub(crate) token_endpoint: Url,
    /// `mtls_endpoint_aliases.token_endpoint` (RFC 8705 §5): where a client that presents a
    /// certificate sends its token requests, when the server has one.
    pub(crate) mtls_token_endpoint: Option<Url>,
    /// `token_endpoint_auth_methods_supported` (RFC 8414 §2: `client_secret_basic` when the
    /// document omits it).
    pub(crate) auth_methods: Vec<String>,
    /// `authorization_endpoint` (RFC 8414 §2), for the authorization code grant.
    pub(crate) authorization_endpoint: Option<Url>,
    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub(crate) device_authorization_endpoint: Option<Url>,
    /// `revocation_endpoint` (RFC 8414 §2, RFC 7009).
    pub(crate) revocation_endpoint: Option<Url>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3).
    pub(crate) iss_parameter_supported: bool,
    fetched_at: Instant,
}

/// The members read from a document; the others are ignored.
#[derive(Deserialize)]
struct Document {
    issuer: String,
    token_endpoint: Option<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    authorization_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    mtls_endpoint_aliases: Option<MtlsEndpointAliases>,
}

/// `mtls_endpoint_aliases` (RFC 8705 §5): the endpoints a client using mutual TLS uses instead.
#[derive(Deserialize)]
struct MtlsEndpointAliases {
    token_endpoint: Option<String>,
}

/// Where a provider's token requests go: the environment's `token_url`, or the `token_endpoint`
/// its issuer's metadata names.
pub(crate) struct Endpoints {
    /// The configured token endpoint; with discovery, the issuer's URL, standing for the
    /// discovered endpoint's settings (client, timeout, cap) until a request is made.
    configured: TokenEndpoint,
    /// Whether the token endpoint is discovered from the environment's issuer.
    discovered: bool,
    /// Whether the client presents a TLS certificate, so that the metadata's
    /// `mtls_endpoint_aliases.token_endpoint` is used when it has one (RFC 8705 §5).
    mutual_tls: bool,
    ttl: Duration,
    /// Whose fetches this provider shares.
    scope: FetchScope,
}

/// Which providers share an issuer's fetched metadata: those whose fetches go through the same
/// HTTP client, as far as en-auth can know it (see the module's documentation).
#[derive(Clone)]
enum FetchScope {
    /// The process's [`shared_token_http_client`](crate::shared_token_http_client) for this
    /// connect timeout: a slot per issuer in the process's map.
    Shared(Duration),
    /// One provider's own client: a slot of its own, dropped with the provider (it was an entry
    /// in the process's map that nothing removed, one more for every provider built).
    Own(Arc<Slot>),
}

impl FetchScope {
    /// A scope of its own.
    fn own() -> Self {
        Self::Own(Arc::default())
    }
}

impl Endpoints {
    /// The endpoints of `environment`, requests sent with `http`.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the environment has neither a `token_url` nor an `issuer`.
    pub(crate) fn new(environment: &Environment, http: reqwest::Client) -> Result<Self, Error> {
        let (url, discovered) = match (environment.token_url(), environment.issuer()) {
            (Some(url), _) => (url.clone(), false),
            (None, Some(issuer)) => (issuer.url().clone(), true),
            (None, None) => {
                return Err(environment.error(
                    "token_url",
                    "missing; the token requests need a token endpoint (`token_url`) or an `issuer` to discover it from",
                ))
            }
        };
        Ok(Self {
            configured: TokenEndpoint::new(
                url,
                http,
                en_auth_core::DEFAULT_TIMEOUT,
                DEFAULT_MAX_RESPONSE_BYTES,
            ),
            discovered,
            mutual_tls: false,
            ttl: DEFAULT_DISCOVERY_TTL,
            scope: FetchScope::own(),
        })
    }

    /// Shares fetched metadata with the other providers that send with
    /// `shared_token_http_client(connect_timeout)` — which the caller (an authorizer builder
    /// that made no client of its own) knows this provider's client is.
    pub(crate) fn share_shared_client_fetches(&mut self, connect_timeout: Duration) {
        self.scope = FetchScope::Shared(connect_timeout);
    }

    /// Sends token requests to the issuer's mTLS alias of the token endpoint when its metadata
    /// has one (RFC 8705 §5): the client presents a TLS certificate.
    pub(crate) fn set_mutual_tls(&mut self, mutual_tls: bool) {
        self.mutual_tls = mutual_tls;
    }

    /// The configured endpoint (the issuer's URL with discovery), whose settings every request
    /// uses.
    pub(crate) fn configured(&self) -> &TokenEndpoint {
        &self.configured
    }

    pub(crate) fn configured_mut(&mut self) -> &mut TokenEndpoint {
        &mut self.configured
    }

    pub(crate) fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    /// The issuer the endpoint is discovered from, if it is.
    pub(crate) fn issuer<'e>(&self, environment: &'e Environment) -> Option<&'e Issuer> {
        environment.issuer().filter(|_| self.discovered)
    }

    /// `identity` with the token URL, or the issuer when the endpoint is discovered (the
    /// identity of configurations without an issuer is unchanged).
    pub(crate) fn identify(
        &self,
        environment: &Environment,
        identity: SharedIdentity,
    ) -> SharedIdentity {
        match self.issuer(environment) {
            Some(issuer) => identity.with("issuer", issuer.as_str()),
            None => identity.with("token_url", self.configured.url().as_str()),
        }
    }

    /// The endpoint to send to: the configured one, or the one the issuer's metadata names,
    /// with the metadata (for [`Endpoints::failed`]).
    ///
    /// # Errors
    /// As [`metadata`]; [`Error::Configuration`] (field `token_endpoint_auth_method`) when the
    /// metadata does not list `method`.
    pub(crate) async fn resolve(
        &self,
        environment: &Environment,
        method: &str,
    ) -> Result<(TokenEndpoint, Option<Arc<Metadata>>), Error> {
        let Some(metadata) = self.discover(environment).await? else {
            return Ok((self.configured.clone(), None));
        };
        if !metadata.auth_methods.iter().any(|m| m == method) {
            return Err(environment.error(
                "token_endpoint_auth_method",
                format!(
                    "the authorization server does not support `{method}` (its metadata at {} lists: {})",
                    metadata.document_url,
                    if metadata.auth_methods.is_empty() {
                        "none".to_owned()
                    } else {
                        metadata.auth_methods.join(", ")
                    }
                ),
            ));
        }
        let url = match (&metadata.mtls_token_endpoint, self.mutual_tls) {
            (Some(alias), true) => alias,
            _ => &metadata.token_endpoint,
        };
        let endpoint = self.configured.at(url.clone());
        Ok((endpoint, Some(metadata)))
    }

    /// The issuer's metadata (cached, single flight), or `None` when the environment names its
    /// token endpoint rather than an issuer.
    ///
    /// # Errors
    /// As [`metadata`].
    pub(crate) async fn discover(
        &self,
        environment: &Environment,
    ) -> Result<Option<Arc<Metadata>>, Error> {
        let Some(issuer) = self.issuer(environment) else {
            return Ok(None);
        };
        let fetcher = Fetcher {
            http: self.configured.http(),
            timeout: self.configured.timeout(),
            max_bytes: self.configured.max_response_bytes(),
            ttl: self.ttl,
        };
        metadata(environment, issuer, &self.scope, &fetcher)
            .await
            .map(Some)
    }

    /// Passes on the `result` of a token request sent with `metadata`; when the endpoint failed
    /// it, the next request fetches the metadata again. Not failures of the endpoint: an
    /// [`Error::Configuration`] (a request that could not be made, such as a missing token
    /// file) and an OAuth 2.0 error answer about the grant ([`Error::Authorization`] with an
    /// error code, [`Error::RefreshRefused`]: `invalid_grant`, a device grant's
    /// `authorization_pending` and `slow_down`), which a working endpoint gives.
    pub(crate) async fn settle<T>(
        &self,
        environment: &Environment,
        metadata: Option<&Arc<Metadata>>,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        if let Err(error) = &result {
            if endpoint_failed(error) {
                self.failed(environment, metadata).await;
            }
        }
        result
    }

    /// After a failed token request with `metadata`: the next request fetches it again.
    async fn failed(&self, environment: &Environment, metadata: Option<&Arc<Metadata>>) {
        if let (Some(metadata), Some(issuer)) = (metadata, self.issuer(environment)) {
            invalidate(issuer, &self.scope, metadata).await;
        }
    }
}

/// Whether a token request's `error` says the endpoint may have moved or broken (see
/// [`Endpoints::settle`]).
fn endpoint_failed(error: &Error) -> bool {
    match error {
        Error::Configuration(_) | Error::RefreshRefused(_) => false,
        // An OAuth 2.0 error code (RFC 6749 §5.2) comes from a token endpoint at work; a bare
        // status (a 404 where the endpoint was) does not.
        Error::Authorization(e) => e.code.is_none(),
        _ => true,
    }
}

/// The two places an issuer's metadata may be, in the order they are tried: RFC 8414 §3.1
/// inserts the well-known segment between the host and the issuer's path
/// (`https://a.example/.well-known/oauth-authorization-server/tenant`); OpenID Connect
/// Discovery 1.0 §4 appends it to the issuer
/// (`https://a.example/tenant/.well-known/openid-configuration`).
/// A trailing slash of the issuer's path is dropped first.
pub(crate) fn well_known_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path().trim_end_matches('/');
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("{RFC8414_SEGMENT}{path}"));
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}{OIDC_SEGMENT}"));
    [rfc8414, oidc]
}

/// How a provider fetches: its HTTP client, timeout and size cap, and the TTL it accepts.
struct Fetcher<'a> {
    http: &'a reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
    ttl: Duration,
}

/// One issuer's cached metadata, and the single flight that fetches it.
#[derive(Default)]
struct Slot {
    /// Fetches completed (successful or not).
    attempts: AtomicU64,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The metadata in use, until its TTL or a failed token request.
    metadata: Option<Arc<Metadata>>,
    /// The last fetch: its attempt number and outcome, handed to those who waited for it.
    last: Option<(u64, Result<Arc<Metadata>, Error>)>,
}

/// The process's slots of the shared clients, by issuer identifier and connect timeout.
type Slots = Mutex<HashMap<(String, Duration), Arc<Slot>>>;

/// The slot of `issuer`'s metadata fetched in `scope`.
fn slot(issuer: &str, scope: &FetchScope) -> Arc<Slot> {
    let connect_timeout = match scope {
        FetchScope::Own(slot) => return Arc::clone(slot),
        FetchScope::Shared(connect_timeout) => *connect_timeout,
    };
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    let mut slots = SLOTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        slots
            .entry((issuer.to_owned(), connect_timeout))
            .or_default(),
    )
}

/// The metadata of `environment`'s issuer: the outcome of a fetch that ended while the caller
/// waited its turn (so that the callers waiting at the time share one fetch, whatever their
/// TTL), else the cached metadata if younger than the fetcher's TTL, else fetched.
///
/// # Errors
/// As [`fetch`].
async fn metadata(
    environment: &Environment,
    issuer: &Issuer,
    scope: &FetchScope,
    fetcher: &Fetcher<'_>,
) -> Result<Arc<Metadata>, Error> {
    let slot = slot(issuer.as_str(), scope);
    let before = slot.attempts.load(Ordering::Acquire);
    let mut state = slot.state.lock().await;
    // A fetch that ended while this caller waited: its outcome is this caller's too.
    if let Some((attempt, outcome)) = &state.last {
        if *attempt > before {
            return outcome.clone();
        }
    }
    if let Some(metadata) = &state.metadata {
        if metadata.fetched_at.elapsed() < fetcher.ttl {
            return Ok(Arc::clone(metadata));
        }
    }
    let outcome = fetch(environment, issuer, fetcher).await.map(Arc::new);
    let attempt = slot.attempts.fetch_add(1, Ordering::AcqRel) + 1;
    if let Ok(metadata) = &outcome {
        state.metadata = Some(Arc::clone(metadata));
    }
    state.last = Some((attempt, outcome.clone()));
    outcome
}

/// Forgets `used` (the metadata a token request failed with), so that the next token request
/// fetches the document again — unless it was already replaced.
async fn invalidate(issuer: &Issuer, scope: &FetchScope, used: &Arc<Metadata>) {
    let slot = slot(issuer.as_str(), scope);
    let mut state = slot.state.lock().await;
    if state
        .metadata
        .as_ref()
        .is_some_and(|current| Arc::ptr_eq(current, used))
    {
        tracing::debug!(issuer = %issuer, "token request failed: the issuer's metadata will be fetched again");
        state.metadata = None;
    }
}

/// Fetches and checks the issuer's metadata: the RFC 8414 document, else (when that one is
/// answered with a status other than 2xx, or with a 2xx that is no metadata document — a
/// catch-all route's page) the OpenID Connect one.
///
/// # Errors
/// - [`Error::Transport`] when the issuer cannot be reached or does not answer in time;
/// - [`Error::InvalidResponse`] when neither URL serves a document (both answered with a
///   status other than 2xx, including redirects, which are not followed), or the document is
///   not JSON, exceeds the size cap, has no usable `token_endpoint`, or names one over plain
///   `http` to a host that is not loopback;
/// - [`Error::Configuration`] (field `issuer`) when the document's `issuer` is not exactly the
///   configured one (RFC 8414 §3.3).
async fn fetch(
    environment: &Environment,
    issuer: &Issuer,
    fetcher: &Fetcher<'_>,
) -> Result<Metadata, Error> {
    let mut refused = Vec::new();
    let urls = well_known_urls(issuer.url());
    let last = urls.len().saturating_sub(1);
    for (i, url) in urls.into_iter().enumerate() {
        let (status, body) = get_document(fetcher.http, &url, fetcher.timeout, fetcher.max_bytes)
            .await
            .map_err(|e| e.into_error(url.as_str()))?;
        if !(200..300).contains(&status) {
            tracing::debug!(document = %url, status, "no authorization server metadata here");
            refused.push(format!("{url} answered HTTP {status}"));
            continue;
        }
        match read(environment, issuer, url.clone(), status, &body) {
            // A 2xx that is no metadata document (a catch-all route's HTML page, say): the next
            // well-known URL may still serve one.
            Err(Error::InvalidResponse(e)) if i < last => {
                tracing::debug!(document = %url, status, "no authorization server metadata here");
                refused.push(format!("{url}: {}", e.reason));
            }
            result => return result,
        }
    }
    Err(InvalidResponseError::new(
        issuer.as_str(),
        None,
        format!(
            "no authorization server metadata for this issuer: {} (redirects are not followed)",
            refused.join("; ")
        ),
    )
    .into())
}

/// Reads and checks a 2xx document from `url`.
fn read(
    environment: &Environment,
    issuer: &Issuer,
    url: Url,
    status: u16,
    body: &[u8],
) -> Result<Metadata, Error> {
    let invalid = |message: String| -> Error {
        InvalidResponseError::new(url.as_str(), Some(status), message).into()
    };
    let document: Document = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "not an authorization server metadata document (a JSON object with a string `issuer`): {}",
            e.classify_message()
        ))
    })?;
    if document.issuer != issuer.as_str() {
        return Err(environment.error(
            "issuer",
            format!(
                "the metadata at {url} is that of issuer `{}`, not `{issuer}`: they must be identical (RFC 8414 §3.3)",
                document.issuer
            ),
        ));
    }
    let endpoint = document
        .token_endpoint
        .ok_or_else(|| invalid("the metadata has no `token_endpoint`".to_owned()))?;
    let token_endpoint = endpoint_url("token_endpoint", &endpoint).map_err(invalid)?;
    // The endpoints of people's sign-in: one that is unusable (plain http to a remote host, say)
    // is left out with a warning, not the whole document refused — the service accounts of
    // the issuer never use it; a flow that needs it then says the metadata has none.
    let optional = |name: &str, value: &Option<String>| -> Option<Url> {
        match endpoint_url(name, value.as_deref()?) {
            Ok(url) => Some(url),
            Err(why) => {
                tracing::warn!(document = %url, "{why}: not used");
                None
            }
        }
    };
    let authorization_endpoint =
        optional("authorization_endpoint", &document.authorization_endpoint);
    let device_authorization_endpoint = optional(
        "device_authorization_endpoint",
        &document.device_authorization_endpoint,
    );
    let revocation_endpoint = optional("revocation_endpoint", &document.revocation_endpoint);
    let mtls_token_endpoint = document
        .mtls_endpoint_aliases
        .and_then(|aliases| aliases.token_endpoint)
        .map(|alias| endpoint_url("mtls_endpoint_aliases.token_endpoint", &alias))
        .transpose()
        .map_err(invalid)?;
    let auth_methods = document
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]);
    tracing::debug!(document = %url, token_endpoint = %token_endpoint, "authorization server metadata discovered");
    Ok(Metadata {
        document_url: url,
        token_endpoint,
        mtls_token_endpoint,
        auth_methods,
        authorization_endpoint,
        device_authorization_endpoint,
        revocation_endpoint,
        iss_parameter_supported: document.authorization_response_iss_parameter_supported,
        fetched_at: Instant::now(),
    })
}

/// An endpoint named by the metadata's member `name`: a URL, `https` or `http` on loopback,
/// carrying no credentials.
fn endpoint_url(name: &str, value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("its `{name}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if en_auth_core::is_loopback(&url) => {}
        _ => {
            return Err(format!(
                "its `{name}` {url} is neither https nor http on loopback"
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("its `{name}` carries credentials"));
    }
    Ok(url)
}

/// serde_json's classification of an error, without the text it may quote.
trait Classify {
    fn classify_message(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_message(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => {
                "a required member is missing or has the wrong type"
            }
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider with its own HTTP client keeps its metadata itself: nothing in the process
    /// holds it once the provider is gone (each such provider used to add an entry to the
    /// process's map that nothing removed — a `TokenExchange` per request grew it without
    /// bound; review finding). The shared clients' slots stay in the map, one per issuer.
    #[test]
    fn an_own_scope_slot_goes_with_its_provider() {
        let scope = FetchScope::own();
        let own = slot("https://issuer.example", &scope);
        drop(scope);
        assert_eq!(Arc::strong_count(&own), 1, "held by nothing else");
        let shared = FetchScope::Shared(Duration::from_secs(7));
        let first = slot("https://issuer.example", &shared);
        assert!(Arc::ptr_eq(
            &first,
            &slot("https://issuer.example", &shared)
        ));
    }

    fn urls(issuer: &str) -> [String; 2] {
        well_known_urls(&Url::parse(issuer).unwrap()).map(|u| u.to_string())
    }

    /// RFC 8414 §3.1's example, and OpenID Connect Discovery 1.0 §4.1's.
    #[test]
    fn the_well_known_segment_goes_where_each_specification_puts_it() {
        assert_eq!(
            urls("https://example.com/issuer1"),
            [
                "https://example.com/.well-known/oauth-authorization-server/issuer1",
                "https://example.com/issuer1/.well-known/openid-configuration",
            ]
        );
        for issuer in ["https://example.com", "https://example.com/"] {
            assert_eq!(
                urls(issuer),
                [
                    "https://example.com/.well-known/oauth-authorization-server",
                    "https://example.com/.well-known/openid-configuration",
                ]
            );
        }
        assert_eq!(
            urls("http://127.0.0.1:8080/realms/a/"),
            [
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server/realms/a",
                "http://127.0.0.1:8080/realms/a/.well-known/openid-configuration",
            ]
        );
    }
}
