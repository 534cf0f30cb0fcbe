//! The token endpoint's HTTP client: the shared `reqwest::Client`, driven by the `oauth2` crate
//! through its [`oauth2::AsyncHttpClient`] trait, with timeouts, no redirects and a cap on the
//! response size.

use std::sync::Mutex;
use std::time::Duration;

use en_auth_core::{Error, Source, TransportError, TransportErrorKind};
use std::sync::Arc;

/// The default cap on a token response body: 64 KiB. Token responses are a few KiB; a larger
/// body is refused rather than buffered.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Builds the `reqwest::Client` used for token requests when the caller supplies none: the
/// given timeouts and no redirects (a token endpoint that redirects is a misconfiguration, and
/// following it would send the credentials elsewhere).
///
/// # Errors
/// [`Error::Configuration`] if the TLS backend cannot be initialised.
pub fn token_http_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            en_auth_core::ConfigurationError::new(format!("cannot build the HTTP client: {e}"))
                .with_source(e)
                .into()
        })
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

/// One token request's HTTP exchange, remembering the response status (which `oauth2`'s error
/// type does not carry).
pub(crate) struct Exchange {
    pub(crate) client: reqwest::Client,
    pub(crate) max_bytes: usize,
    pub(crate) status: Mutex<Option<u16>>,
    pub(crate) retry_after: Mutex<Option<Duration>>,
}

impl Exchange {
    pub(crate) fn new(client: reqwest::Client, max_bytes: usize) -> Self {
        Self {
            client,
            max_bytes,
            status: Mutex::new(None),
            retry_after: Mutex::new(None),
        }
    }

    /// The response's `Retry-After` (RFC 9110 §10.2.3: seconds or an HTTP date), if any.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        *self
            .retry_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> Option<u16> {
        *self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn send(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::Reqwest)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(HttpError::Reqwest)?;
        *self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(response.status().as_u16());
        *self
            .retry_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(HttpError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(HttpError::Reqwest)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(HttpError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        // Lenient token responses (normalize.rs): JSON under any content type, form-encoded
        // answers, a byte-order mark, a 2xx other than 200; a 2xx with no token is refused.
        let (status, body) =
            crate::normalize::apply(response.status(), response.headers_mut(), body)
                .map_err(HttpError::NotAToken)?;
        let mut builder = http::Response::builder().status(status);
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        builder.body(body).map_err(HttpError::Request)
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Exchange {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
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
