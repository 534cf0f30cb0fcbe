//! The one place a token request is built and sent (RFC 6749 §3.2): a grant's parameters, the
//! scope, the client's authentication (§2.3, RFC 7523 §2.2), the extra parameters, and any
//! further headers (a DPoP proof, RFC 9449), then the answer read by [`crate::wire`].
//!
//! A grant starts a request with [`TokenEndpoint::request`] (its `grant_type`) and adds its own
//! parameters with [`TokenRequest::param`]; [`TokenRequest::scopes`] adds `scope`; a
//! [`ClientAuthentication`](crate::client_auth::ClientAuthentication) applies itself with
//! [`TokenRequest::basic_credentials`] or [`TokenRequest::param`];
//! [`TokenRequest::extra_params`] adds the environment's; [`TokenRequest::header`] adds a
//! header. [`TokenEndpoint::send`] posts it and reads the answer.
//!
//! The body is what the `oauth2` crate sent for the client-credentials grant, byte for byte:
//! the grant's parameters, `scope`, the client's credentials, the extra parameters, in that
//! order, form-encoded; `Accept: application/json`; `client_secret_basic` as HTTP Basic over
//! the form-encoded id and secret (RFC 6749 §2.3.1).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use base64::Engine as _;
use en_auth_core::{Error, InvalidResponseError, Token};
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use url::form_urlencoded;
use url::Url;
use zeroize::Zeroizing;

use crate::http::{Exchange, HttpError};
use crate::wire::{map_error_response, map_unstructured_error, WireTokenResponse};

/// Where token requests go, and how: the token URL, the HTTP client, the time allowed for one
/// request and the cap on its answer.
#[derive(Clone)]
pub(crate) struct TokenEndpoint {
    url: Url,
    /// The URL as errors and logs show it: no query, fragment or credentials.
    endpoint: String,
    http: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
}

impl TokenEndpoint {
    pub(crate) fn new(
        url: Url,
        http: reqwest::Client,
        timeout: Duration,
        max_response_bytes: usize,
    ) -> Self {
        Self {
            endpoint: shown_url(&url),
            url,
            http,
            timeout,
            max_response_bytes,
        }
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The same client, timeout and cap, at `url` (a token endpoint found by discovery).
    pub(crate) fn at(&self, url: Url) -> Self {
        Self::new(
            url,
            self.http.clone(),
            self.timeout,
            self.max_response_bytes,
        )
    }

    /// The HTTP client requests are sent with (discovery fetches with it too).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The token endpoint as errors and logs show it.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub(crate) fn set_max_response_bytes(&mut self, bytes: usize) {
        self.max_response_bytes = bytes;
    }

    /// A request of grant `grant_type` (RFC 6749 §4.4.2: `client_credentials`; RFC 7523 §2.1:
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer`; …) to this endpoint.
    pub(crate) fn request(&self, grant_type: &str) -> TokenRequest {
        TokenRequest {
            form: vec![(
                Cow::Borrowed("grant_type"),
                Zeroizing::new(grant_type.to_owned()),
            )],
            headers: http::HeaderMap::new(),
        }
    }

    /// A form with no `grant_type`, for another endpoint of the same server (device
    /// authorization, RFC 8628 §3.1; revocation, RFC 7009 §2.1).
    pub(crate) fn form(&self) -> TokenRequest {
        TokenRequest {
            form: Vec::new(),
            headers: http::HeaderMap::new(),
        }
    }

    /// Posts `request` to `url` (another endpoint of this server) with this endpoint's client,
    /// timeout and cap: the status and the body, unread.
    ///
    /// # Errors
    /// [`Error::Transport`] when the server cannot be reached or does not answer in time;
    /// [`Error::InvalidResponse`] when the body exceeds the cap.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        request: TokenRequest,
    ) -> Result<(u16, Vec<u8>), Error> {
        let shown = shown_url(url);
        let http_request = request
            .into_http(url)
            .map_err(|e| HttpError::Request(e).into_error(&shown))?;
        crate::http::send_document(
            &self.http,
            http_request,
            self.timeout,
            self.max_response_bytes,
        )
        .await
        .map_err(|e| e.into_error(&shown))
    }

    /// Posts `request` and reads the answer (RFC 6749 §5.1 / §5.2) into a token whose life counts
    /// from the moment the request was sent. `client_id` names the client in errors.
    pub(crate) async fn send(
        &self,
        request: TokenRequest,
        client_id: &str,
    ) -> Result<Token, Error> {
        self.exchange(request, client_id).await.0
    }

    /// Builds a request with `build` and sends it with a DPoP proof signed by `dpop` (RFC 9449
    /// §5) when there is one: the origin's latest nonce goes in the proof, the answer's
    /// `DPoP-Nonce` is kept, and a `use_dpop_nonce` error that brings a nonce (§8) is answered
    /// by one more request, built anew, with it. Then the token type is checked: a DPoP
    /// request wants a `DPoP` token (a `Bearer` one only if the key allows it), and a request
    /// without a proof a bearer token.
    pub(crate) async fn send_bound(
        &self,
        build: impl Fn() -> Result<TokenRequest, Error>,
        dpop: Option<&en_auth_core::Dpop>,
        client_id: &str,
    ) -> Result<Token, Error> {
        let Some(dpop) = dpop else {
            let token = self.send(build()?, client_id).await?;
            if token.is_dpop() {
                return Err(InvalidResponseError::new(
                    &self.endpoint,
                    Some(200),
                    "the token endpoint answered a DPoP-bound token (token_type DPoP) to a \
                     request without a DPoP proof; set `dpop = true` to bind tokens to a key",
                )
                .into());
            }
            return Ok(token);
        };
        let mut retried = false;
        loop {
            let mut request = build()?;
            request.header(
                en_auth_core::dpop::DPOP_HEADER,
                dpop.proof(&http::Method::POST, &self.url, None)?,
            );
            let (result, nonce) = self.exchange(request, client_id).await;
            let fresh_nonce = dpop.remember_nonce(&self.url, &nonce);
            match result {
                Err(Error::Authorization(error))
                    if error.code.as_deref() == Some(en_auth_core::dpop::USE_DPOP_NONCE)
                        && fresh_nonce
                        && !retried =>
                {
                    tracing::debug!(
                        endpoint = %self.endpoint,
                        "the token endpoint asked for a DPoP nonce; asking again with it"
                    );
                    retried = true;
                }
                Ok(token) if !token.is_dpop() && !dpop.bearer_allowed() => {
                    return Err(InvalidResponseError::new(
                        &self.endpoint,
                        Some(200),
                        format!(
                            "the token endpoint answered token_type `{}` to a DPoP token \
                             request: the token is not bound to the client's key (RFC 9449 §5); \
                             set `dpop_allow_bearer = true` to accept such tokens",
                            en_auth_core::printable(token.token_type(), 32)
                        ),
                    )
                    .into());
                }
                other => return other,
            }
        }
    }

    /// Posts `request`; the answer read, and its `DPoP-Nonce` header (RFC 9449 §8) if any.
    async fn exchange(
        &self,
        request: TokenRequest,
        client_id: &str,
    ) -> (Result<Token, Error>, http::HeaderMap) {
        let http_request = match request.into_http(&self.url) {
            Ok(request) => request,
            Err(e) => {
                return (
                    Err(HttpError::Request(e).into_error(&self.endpoint)),
                    http::HeaderMap::new(),
                )
            }
        };
        let exchange = Exchange::new(self.http.clone(), self.timeout, self.max_response_bytes);
        let requested_at = Instant::now();
        let result = match exchange.send(http_request).await {
            Ok(response) => {
                read_answer(&self.endpoint, client_id, &exchange, response, requested_at)
            }
            Err(e) => Err(e.into_error(&self.endpoint)),
        };
        let result = result.map_err(|e| match e {
            Error::Authorization(a) => {
                Error::Authorization(a.with_retry_after(exchange.retry_after()))
            }
            other => other,
        });
        (result, exchange.dpop_nonce())
    }
}

/// `url` as errors and logs show it: no query, fragment or credentials.
pub(crate) fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// One token request being built. Values are zeroed when it is dropped; `Debug` shows only the
/// parameter and header names.
pub(crate) struct TokenRequest {
    form: Vec<(Cow<'static, str>, Zeroizing<String>)>,
    headers: http::HeaderMap,
}

impl TokenRequest {
    /// Adds a form parameter (sent in the order added).
    pub(crate) fn param(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.form.push((name.into(), Zeroizing::new(value.into())));
    }

    /// Adds `scope` (RFC 6749 §3.3): the scopes joined by spaces, nothing when there are none.
    pub(crate) fn scopes(&mut self, scopes: &[String]) {
        if !scopes.is_empty() {
            self.param("scope", scopes.join(" "));
        }
    }

    /// Adds the environment's extra parameters, in order.
    pub(crate) fn extra_params(&mut self, params: &[(String, String)]) {
        for (name, value) in params {
            self.param(name.clone(), value.clone());
        }
    }

    /// Sets `Authorization: Basic` to the client id and secret, each form-encoded first (RFC 6749
    /// §2.3.1), a space written `%20` rather than `+`. The header is marked sensitive.
    ///
    /// Form encoding writes a space as `+`, and servers that decode the pair with plain
    /// percent-decoding (Authlib, for one) then keep the `+`. A space written `%20` is the same
    /// character under both decodings, and a `+` in the credentials themselves is `%2B`.
    pub(crate) fn basic_credentials(&mut self, client_id: &str, secret: &str) {
        let encode = |text: &str| -> Zeroizing<String> {
            let form: Zeroizing<String> =
                Zeroizing::new(form_urlencoded::byte_serialize(text.as_bytes()).collect());
            Zeroizing::new(form.replace('+', "%20"))
        };
        let id = encode(client_id);
        let id = id.as_str();
        let secret = encode(secret);
        let pair = Zeroizing::new(format!("{id}:{}", secret.as_str()));
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pair));
        let value = Zeroizing::new(format!("Basic {}", encoded.as_str()));
        // Base64 and form encoding leave only header-safe characters.
        if let Ok(mut value) = HeaderValue::from_str(&value) {
            value.set_sensitive(true);
            self.headers.insert(AUTHORIZATION, value);
        }
    }

    /// Sets a header (a proof-of-possession header, say); a sensitive value should be marked
    /// so ([`HeaderValue::set_sensitive`]).
    pub(crate) fn header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.insert(name, value);
    }

    /// The form parameters' names, in order (for tests and logs).
    #[cfg(test)]
    pub(crate) fn param_names(&self) -> Vec<&str> {
        self.form.iter().map(|(name, _)| name.as_ref()).collect()
    }

    /// The HTTP request: `POST url`, `Accept: application/json`, the form body.
    fn into_http(self, url: &Url) -> Result<http::Request<Vec<u8>>, http::Error> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.form.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
            .finish()
            .into_bytes();
        let mut builder = http::Request::builder()
            .uri(url.as_str())
            .method(http::Method::POST)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        if let Some(headers) = builder.headers_mut() {
            headers.extend(self.headers);
        }
        builder.body(body)
    }
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field(
                "params",
                &self
                    .form
                    .iter()
                    .map(|(k, _)| k.as_ref())
                    .collect::<Vec<_>>(),
            )
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Reads a token endpoint's answer, normalised by [`crate::normalize`] (a 2xx carrying a token
/// arrives as a 200 with a JSON body): a 200 is a token response (§5.1); any other status an
/// error response (§5.2), structured or not. Errors carry the status as received.
fn read_answer(
    endpoint: &str,
    client_id: &str,
    exchange: &Exchange,
    response: http::Response<Vec<u8>>,
    requested_at: Instant,
) -> Result<Token, Error> {
    let received = exchange.status();
    let body = response.body().as_slice();
    if response.status() != http::StatusCode::OK {
        let status = received.unwrap_or(response.status().as_u16());
        let success = (200..300).contains(&status);
        if body.is_empty() {
            return Err(if success {
                InvalidResponseError::new(
                    endpoint,
                    received,
                    "server returned empty error response",
                )
                .into()
            } else {
                map_unstructured_error(endpoint, client_id, status, &[])
            });
        }
        return match serde_path_to_error::deserialize::<_, oauth2::basic::BasicErrorResponse>(
            &mut serde_json::Deserializer::from_slice(body),
        ) {
            Ok(error) => Err(map_error_response(endpoint, client_id, status, &error)),
            Err(e) if success => Err(InvalidResponseError::new(
                endpoint,
                Some(status),
                not_a_token_response(&e.path().to_string()),
            )
            .into()),
            Err(_) => Err(map_unstructured_error(endpoint, client_id, status, body)),
        };
    }
    let status = received.unwrap_or(200);
    if let Some(content_type) = response.headers().get(CONTENT_TYPE) {
        let json = content_type
            .to_str()
            .is_ok_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        if !json {
            return Err(InvalidResponseError::new(
                endpoint,
                Some(status),
                format!(
                    "unexpected response Content-Type: {content_type:?}, should be `application/json`"
                ),
            )
            .into());
        }
    }
    if body.is_empty() {
        return Err(InvalidResponseError::new(
            endpoint,
            Some(status),
            "server returned empty response body",
        )
        .into());
    }
    match serde_path_to_error::deserialize::<_, WireTokenResponse>(
        &mut serde_json::Deserializer::from_slice(body),
    ) {
        Ok(answer) => answer.into_token(endpoint, client_id, status, requested_at),
        Err(e) => Err(InvalidResponseError::new(
            endpoint,
            Some(status),
            not_a_token_response(&e.path().to_string()),
        )
        .into()),
    }
}

/// Why a JSON object is no token response, naming the member at fault when it is one of a token
/// response's (never quoting a value: serde's own message may).
fn not_a_token_response(path: &str) -> String {
    const MEMBERS: [&str; 8] = [
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
        "error",
        "error_description",
    ];
    match MEMBERS.iter().find(|m| **m == path) {
        Some(member) => format!("not a token response: unusable `{member}` member"),
        None => "not a token response: a member has the wrong type or appears twice".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> TokenEndpoint {
        TokenEndpoint::new(
            Url::parse("https://auth.example.com/token?x=1").unwrap(),
            reqwest::Client::new(),
            Duration::from_secs(1),
            1024,
        )
    }

    #[test]
    fn the_body_is_grant_scope_credentials_extras_in_that_order() {
        let endpoint = endpoint();
        assert_eq!(endpoint.endpoint(), "https://auth.example.com/token");
        let mut request = endpoint.request("client_credentials");
        request.scopes(&["a".into(), "b c".into()]);
        request.param("client_id", "my client");
        request.param("client_secret", "s3+cret&=");
        request.extra_params(&[("audience".into(), "https://api".into())]);
        assert_eq!(
            request.param_names(),
            [
                "grant_type",
                "scope",
                "client_id",
                "client_secret",
                "audience"
            ]
        );
        let debug = format!("{request:?}");
        assert!(!debug.contains("s3+cret"), "{debug}");
        let http = request.into_http(endpoint.url()).unwrap();
        assert_eq!(http.uri(), "https://auth.example.com/token?x=1");
        assert_eq!(http.headers()[ACCEPT], "application/json");
        assert_eq!(
            http.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            std::str::from_utf8(http.body()).unwrap(),
            "grant_type=client_credentials&scope=a+b+c&client_id=my+client\
             &client_secret=s3%2Bcret%26%3D&audience=https%3A%2F%2Fapi"
        );
    }

    #[test]
    fn basic_credentials_form_encode_id_and_secret_first() {
        let mut request = endpoint().request("client_credentials");
        request.basic_credentials("my client", "a+b:c");
        let http = request.into_http(endpoint().url()).unwrap();
        let value = &http.headers()[AUTHORIZATION];
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let pair = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(pair, b"my%20client:a%2Bb%3Ac");
        let mut request = endpoint().request("client_credentials");
        request.basic_credentials("svc", "s3cret");
        let http = request.into_http(endpoint().url()).unwrap();
        assert_eq!(http.headers()[AUTHORIZATION], "Basic c3ZjOnMzY3JldA==");
        assert_eq!(http.body(), b"grant_type=client_credentials");
    }
}
