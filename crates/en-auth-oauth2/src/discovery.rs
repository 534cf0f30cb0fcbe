//! Authorization server metadata: the token endpoint and the client authentication methods of
//! an issuer, discovered from its RFC 8414 document (`/.well-known/oauth-authorization-server`)
//! or else its OpenID Connect Discovery 1.0 document (`/.well-known/openid-configuration`).
//!
//! A document is fetched once per process and issuer, whatever the number of authorizers
//! (single flight: the others wait for the one fetch and share its outcome), kept for a TTL
//! ([`DEFAULT_DISCOVERY_TTL`]), and fetched again after a token request that failed with it.
//! The fetch goes through the token-request HTTP client: no redirects, a size cap, a timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use en_auth_core::{Environment, Error, InvalidResponseError, Issuer};
use serde::Deserialize;
use url::Url;

use crate::http::get_document;

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
    /// `token_endpoint_auth_methods_supported` (RFC 8414 §2: `client_secret_basic` when the
    /// document omits it).
    pub(crate) auth_methods: Vec<String>,
    fetched_at: Instant,
}

/// The members read from a document; the others are ignored.
#[derive(Deserialize)]
struct Document {
    issuer: String,
    token_endpoint: Option<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// The two places an issuer's metadata may be, in the order they are tried: RFC 8414 §3.1
/// inserts the well-known segment between the host and the issuer's path
/// (`https://a.example/.well-known/oauth-authorization-server/tenant`); OpenID Connect
/// Discovery 1.0 §4 appends it to the issuer (`https://a.example/tenant/.well-known/openid-configuration`).
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
pub(crate) struct Fetcher<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
    pub(crate) ttl: Duration,
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

/// The process's slots, by issuer identifier.
fn slot(issuer: &str) -> Arc<Slot> {
    static SLOTS: OnceLock<Mutex<HashMap<String, Arc<Slot>>>> = OnceLock::new();
    let mut slots = SLOTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(slots.entry(issuer.to_owned()).or_default())
}

/// The metadata of `environment`'s issuer: the outcome of a fetch that ended while the caller
/// waited its turn (so that the callers waiting at the time share one fetch, whatever their
/// TTL), else the cached metadata if younger than the fetcher's TTL, else fetched.
///
/// # Errors
/// As [`fetch`].
pub(crate) async fn metadata(
    environment: &Environment,
    issuer: &Issuer,
    fetcher: &Fetcher<'_>,
) -> Result<Arc<Metadata>, Error> {
    let slot = slot(issuer.as_str());
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
pub(crate) async fn invalidate(issuer: &Issuer, used: &Arc<Metadata>) {
    let slot = slot(issuer.as_str());
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
/// answered with a status other than 2xx) the OpenID Connect one.
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
    for url in well_known_urls(issuer.url()) {
        let (status, body) = get_document(fetcher.http, &url, fetcher.timeout, fetcher.max_bytes)
            .await
            .map_err(|e| e.into_error(url.as_str()))?;
        if !(200..300).contains(&status) {
            tracing::debug!(document = %url, status, "no authorization server metadata here");
            refused.push(format!("{url} answered HTTP {status}"));
            continue;
        }
        return read(environment, issuer, url, status, &body);
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
    let token_endpoint = Url::parse(&endpoint)
        .map_err(|e| invalid(format!("its `token_endpoint` is not a URL: {e}")))?;
    match token_endpoint.scheme() {
        "https" => {}
        "http" if en_auth_core::is_loopback(&token_endpoint) => {}
        _ => {
            return Err(invalid(format!(
                "its `token_endpoint` {token_endpoint} is neither https nor http on loopback"
            )))
        }
    }
    if !token_endpoint.username().is_empty() || token_endpoint.password().is_some() {
        return Err(invalid(
            "its `token_endpoint` carries credentials".to_owned(),
        ));
    }
    let auth_methods = document
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]);
    tracing::debug!(document = %url, token_endpoint = %token_endpoint, "authorization server metadata discovered");
    Ok(Metadata {
        document_url: url,
        token_endpoint,
        auth_methods,
        fetched_at: Instant::now(),
    })
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
