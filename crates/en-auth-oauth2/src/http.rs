//! The token endpoint's HTTP client: timeouts, no redirects, a cap on the response size.
//! [`crate::request`] builds the requests it sends.
//!
//! Authorizers share one `reqwest::Client` (its connection pool and TLS configuration) unless
//! the user gives one, and every exchange runs on en-auth's I/O runtime
//! ([`en_auth_core::run_on_io_runtime`]), so a connection is always driven by the runtime that
//! opened it, whichever runtime asks for a token. At most [`MAX_CONNECTIONS_PER_ENDPOINT`]
//! token requests to one endpoint are under way at once in a process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use en_auth_core::{Error, Source, TransportError, TransportErrorKind};
use tokio::sync::Semaphore;

/// The default cap on a token response body: 64 KiB. Token responses are a few KiB; a larger
/// body is refused rather than buffered.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How many token requests to one endpoint (scheme, host and port) may be under way at once in
/// a process, across all authorizers: 32. More wait for a turn (the wait does not count
/// against the request's timeout), so that ten thousand authorizers starting together open
/// about this many connections (a few more while used ones return to the pool) instead of one
/// each.
pub const MAX_CONNECTIONS_PER_ENDPOINT: usize = 32;

/// Builds a dedicated `reqwest::Client` for token requests: `timeout` for a whole request,
/// `connect_timeout`, and no redirects (a token endpoint that redirects is a misconfiguration,
/// and following it would send the credentials elsewhere).
///
/// Authorizers do not need one: they share [`shared_token_http_client`] unless given a client
/// with `ServiceAccountAuthorizerBuilder::http_client`.
///
/// # Errors
/// [`Error::Configuration`] if the TLS backend cannot be initialised.
pub fn token_http_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    client_builder(connect_timeout)
        .timeout(timeout)
        .build()
        .map_err(build_error)
}

/// The process-wide token-request client for `connect_timeout`: built once, then shared (a
/// clone is a reference count) by every authorizer that uses that connect timeout. It follows
/// no redirects, keeps up to [`MAX_CONNECTIONS_PER_ENDPOINT`] idle connections per endpoint,
/// and sets no overall timeout: each token request carries its own.
///
/// # Errors
/// [`Error::Configuration`] if the TLS backend cannot be initialised.
pub fn shared_token_http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let mut clients = CLIENTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(client) = clients.get(&connect_timeout) {
        return Ok(client.clone());
    }
    let client = client_builder(connect_timeout)
        .build()
        .map_err(build_error)?;
    clients.insert(connect_timeout, client.clone());
    Ok(client)
}

/// A token-request client of its own, as [`shared_token_http_client`]'s, that presents
/// `identity` in the TLS handshake (RFC 8705) and trusts `roots` besides the system's roots.
pub(crate) fn tls_token_http_client(
    connect_timeout: Duration,
    identity: Option<&crate::TlsClientIdentity>,
    roots: &[reqwest::Certificate],
) -> Result<reqwest::Client, Error> {
    let mut builder = client_builder(connect_timeout);
    if let Some(identity) = identity {
        builder = builder.identity(identity.reqwest_identity());
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots.iter().cloned());
    }
    builder.build().map_err(build_error)
}

fn client_builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(MAX_CONNECTIONS_PER_ENDPOINT)
        .redirect(reqwest::redirect::Policy::none());
    with_system_proxies(builder, |name| std::env::var(name).ok())
}

/// The hosts a token request never reaches through a proxy, whatever `NO_PROXY` says: a token
/// endpoint on loopback is on this machine (and may be plain `http`, which would hand a proxy
/// the client secret in clear).
const NEVER_PROXIED: &str = "localhost,127.0.0.0/8,::1";

/// `builder` with the system's proxies, as reqwest would use them — `HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY` (or lowercase) and the `NO_PROXY` exclusions (parsed by reqwest's
/// [`reqwest::NoProxy`]) — except that a loopback host is never proxied. `var` reads a variable.
fn with_system_proxies(
    builder: reqwest::ClientBuilder,
    var: impl Fn(&str) -> Option<String>,
) -> reqwest::ClientBuilder {
    let read = |name: &str| {
        var(name)
            .or_else(|| var(&name.to_ascii_lowercase()))
            .filter(|value| !value.trim().is_empty())
    };
    let exclusions = match read("NO_PROXY") {
        Some(list) => format!("{NEVER_PROXIED},{list}"),
        None => NEVER_PROXIED.to_owned(),
    };
    // Replaces reqwest's automatic system proxy, which would proxy loopback too.
    let mut builder = builder.no_proxy();
    type Make = fn(&str) -> reqwest::Result<reqwest::Proxy>;
    let kinds: [(&str, Make); 3] = [
        ("HTTPS_PROXY", |url| reqwest::Proxy::https(url)),
        ("HTTP_PROXY", |url| reqwest::Proxy::http(url)),
        ("ALL_PROXY", |url| reqwest::Proxy::all(url)),
    ];
    for (name, make) in kinds {
        let Some(url) = read(name) else { continue };
        match make(&url) {
            Ok(proxy) => {
                builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_string(&exclusions)));
            }
            // Never the URL: it may hold the proxy's password.
            Err(_) => tracing::warn!(variable = name, "not a proxy URL; ignored"),
        }
    }
    builder
}

fn build_error(e: reqwest::Error) -> Error {
    en_auth_core::ConfigurationError::new(format!("cannot build the HTTP client: {e}"))
        .with_source(e)
        .into()
}

/// The turnstile of token requests to `url`'s endpoint ([`MAX_CONNECTIONS_PER_ENDPOINT`]).
fn endpoint_limit(url: &url::Url) -> Arc<Semaphore> {
    static LIMITS: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let origin = url.origin().ascii_serialization();
    let mut limits = LIMITS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        limits
            .entry(origin)
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_ENDPOINT))),
    )
}

/// Why a token request's HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{0}")]
    Reqwest(#[source] reqwest::Error),
    #[error("the response body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("invalid request: {0}")]
    Request(#[source] http::Error),
    #[error("{0}")]
    Internal(String),
    /// A 2xx that is no token response (normalize.rs).
    #[error(transparent)]
    NotAToken(crate::normalize::NotAToken),
}

impl HttpError {
    pub(crate) fn into_error(self, endpoint: &str) -> Error {
        match self {
            HttpError::TooLarge(cap) => en_auth_core::InvalidResponseError::new(
                endpoint,
                None,
                format!("the response body exceeds the {cap}-byte cap"),
            )
            .into(),
            HttpError::Reqwest(e) => {
                let kind = if e.is_timeout() {
                    TransportErrorKind::Timeout
                } else if let Some(tls) = tls_error(&e) {
                    tls
                } else if e.is_connect() {
                    TransportErrorKind::Connect
                } else if e.is_body() || e.is_decode() {
                    TransportErrorKind::Body
                } else {
                    TransportErrorKind::Other
                };
                TransportError::new(kind, endpoint, Some(Arc::new(e.without_url()) as Source))
                    .into()
            }
            HttpError::Internal(message) => en_auth_core::InternalError::new(message).into(),
            HttpError::Request(e) => TransportError::new(
                TransportErrorKind::Other,
                endpoint,
                Some(Arc::new(e) as Source),
            )
            .into(),
            HttpError::NotAToken(e) => e.into_error(endpoint),
        }
    }
}

/// The kind of a TLS failure somewhere in `error`'s chain of sources: a server that answered the
/// handshake with something that is not TLS, or another TLS error.
fn tls_error(error: &(dyn std::error::Error + 'static)) -> Option<TransportErrorKind> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::InvalidMessage(_) => TransportErrorKind::NotTls,
                _ => TransportErrorKind::Tls,
            });
        }
        // An io::Error's `source()` skips the error it wraps: step into that one instead.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// One token request's HTTP exchange, remembering the response status and `Retry-After`
/// (which `oauth2`'s error type does not carry).
pub(crate) struct Exchange {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
    status: Mutex<Option<u16>>,
    retry_after: Mutex<Option<Duration>>,
    /// The response's `DPoP-Nonce` header (RFC 9449 §8), if any.
    dpop_nonce: Mutex<http::HeaderMap>,
}

/// A response as read on the I/O runtime.
struct Received {
    status: reqwest::StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Exchange {
    pub(crate) fn new(client: reqwest::Client, timeout: Duration, max_bytes: usize) -> Self {
        Self {
            client,
            timeout,
            max_bytes,
            status: Mutex::new(None),
            retry_after: Mutex::new(None),
            dpop_nonce: Mutex::new(http::HeaderMap::new()),
        }
    }

    /// The response's `DPoP-Nonce` (RFC 9449 §8), as a header map (empty when there was none).
    pub(crate) fn dpop_nonce(&self) -> http::HeaderMap {
        self.dpop_nonce
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The response's `Retry-After` (RFC 9110 §10.2.3: seconds or an HTTP date), if any.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        *self
            .retry_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> Option<u16> {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` on the I/O runtime and returns the answer, normalised
    /// ([`crate::normalize`]).
    pub(crate) async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let mut request = reqwest::Request::try_from(request).map_err(HttpError::Reqwest)?;
        *request.timeout_mut() = Some(self.timeout);
        // The turn is taken and given back on the I/O runtime, with the request: a caller whose
        // runtime stops driving it cannot keep an endpoint's turn.
        let turnstile = endpoint_limit(request.url());
        en_auth_core::telemetry::record_server(request.url().as_str());
        let client = self.client.clone();
        let max_bytes = self.max_bytes;
        let received = en_auth_core::run_on_io_runtime(async move {
            let _turn = turnstile
                .acquire_owned()
                .await
                .map_err(|_| HttpError::Internal("the endpoint's turnstile is closed".into()))?;
            receive(client, request, max_bytes).await
        })
        .await
        .map_err(|e| HttpError::Internal(e.to_string()))??;
        en_auth_core::telemetry::record_http_status(received.status.as_u16());
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(received.status.as_u16());
        *self
            .retry_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = received
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if let Some(nonce) = received.headers.get(en_auth_core::dpop::DPOP_NONCE_HEADER) {
            self.dpop_nonce
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(en_auth_core::dpop::DPOP_NONCE_HEADER, nonce.clone());
        }
        // Lenient token responses (normalize.rs): JSON under any content type, form-encoded
        // answers, a byte-order mark, a 2xx other than 200; a 2xx with no token is refused.
        let mut headers = received.headers;
        let (status, body) = crate::normalize::apply(received.status, &mut headers, received.body)
            .map_err(HttpError::NotAToken)?;
        let mut builder = http::Response::builder().status(status);
        if let Some(slot) = builder.headers_mut() {
            *slot = headers;
        }
        builder.body(body).map_err(HttpError::Request)
    }
}

/// A `GET` of `url` accepting JSON, as token requests are sent: on en-auth's I/O runtime, with
/// `client` (which follows no redirects), `timeout` for the whole exchange and the body capped
/// at `max_bytes`. Returns the status and the body. For metadata documents (discovery.rs).
pub(crate) async fn get_document(
    client: &reqwest::Client,
    url: &url::Url,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(u16, Vec<u8>), HttpError> {
    let mut request = reqwest::Request::new(reqwest::Method::GET, url.clone());
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    *request.timeout_mut() = Some(timeout);
    let client = client.clone();
    let received =
        en_auth_core::run_on_io_runtime(async move { receive(client, request, max_bytes).await })
            .await
            .map_err(|e| HttpError::Internal(e.to_string()))??;
    Ok((received.status.as_u16(), received.body))
}

/// Sends `request` (a form `POST` to an endpoint that answers JSON that is no token response:
/// device authorization, revocation) as [`get_document`] sends its `GET`. Returns the status
/// and the body.
pub(crate) async fn send_document(
    client: &reqwest::Client,
    request: http::Request<Vec<u8>>,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(u16, Vec<u8>), HttpError> {
    let mut request = reqwest::Request::try_from(request).map_err(HttpError::Reqwest)?;
    *request.timeout_mut() = Some(timeout);
    let client = client.clone();
    let received =
        en_auth_core::run_on_io_runtime(async move { receive(client, request, max_bytes).await })
            .await
            .map_err(|e| HttpError::Internal(e.to_string()))??;
    Ok((received.status.as_u16(), received.body))
}

/// Sends `request` and reads the response body, up to `max_bytes` (on the I/O runtime).
async fn receive(
    client: reqwest::Client,
    request: reqwest::Request,
    max_bytes: usize,
) -> Result<Received, HttpError> {
    let mut response = client.execute(request).await.map_err(HttpError::Reqwest)?;
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(HttpError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(HttpError::Reqwest)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(HttpError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Received {
        status: response.status(),
        headers: std::mem::take(response.headers_mut()),
        body,
    })
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that answers every connection with `200 OK` and records the first line of
    /// each request it gets.
    async fn recording_server() -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = vec![0; 4096];
                let n = socket.read(&mut buffer).await.unwrap_or(0);
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                record
                    .lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_owned());
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        (format!("http://{address}"), seen)
    }

    #[tokio::test]
    async fn a_loopback_token_endpoint_is_never_reached_through_a_proxy() {
        let (proxy, through_proxy) = recording_server().await;
        let (endpoint, direct) = recording_server().await;
        let vars = |name: &str| match name {
            "HTTP_PROXY" | "HTTPS_PROXY" => Some(proxy.clone()),
            "NO_PROXY" => Some("internal.example".to_owned()),
            _ => None,
        };
        let client = with_system_proxies(reqwest::Client::builder(), vars)
            .build()
            .unwrap();
        // Loopback: straight to the endpoint, whatever the proxy variables say.
        let localhost = endpoint.replace("127.0.0.1", "localhost");
        for url in [format!("{endpoint}/token"), format!("{localhost}/token")] {
            assert!(client
                .post(&url)
                .send()
                .await
                .unwrap()
                .status()
                .is_success());
        }
        assert_eq!(direct.lock().unwrap().len(), 2);
        assert!(through_proxy.lock().unwrap().is_empty());
        // Another host: through the proxy (it answers for it), unless NO_PROXY names it.
        let answer = client.post("http://auth.example.test/token").send().await;
        assert!(answer.unwrap().status().is_success());
        let seen = through_proxy.lock().unwrap().clone();
        assert_eq!(seen, ["POST http://auth.example.test/token HTTP/1.1"]);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
        let parsed = parse_retry_after(&later).unwrap();
        assert!(
            parsed <= Duration::from_secs(90) && parsed >= Duration::from_secs(88),
            "{parsed:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }
}
