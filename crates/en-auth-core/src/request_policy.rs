//! [`RequestPolicy`]: which requests may carry the token, and which answers mean the resource
//! server rejected it.

use http::StatusCode;
use url::Url;

use crate::environment::{is_loopback, plain_http_refusal};
use crate::{ConfigurationError, Error};

/// How an [`Authorizer`](crate::Authorizer) treats the requests it authorizes.
///
/// - **Bearer tokens only over `https`.** Anyone on the path of a plain-`http` request can read
///   the token and replay it (RFC 6750 §5.3). By default a request to `http://` on a host that
///   is not loopback fails with [`Error::Configuration`] before anything is sent (and before any
///   token is requested); loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`) are allowed.
///   [`RequestPolicy::with_insecure_http`] allows plain `http` everywhere, for a network that
///   encrypts below HTTP (a service mesh whose sidecars speak mTLS, say). Behind an HTTP proxy
///   (`HTTP_PROXY`, `ALL_PROXY`) a loopback URL goes to the proxy like any other unless
///   `NO_PROXY` names it: set `NO_PROXY=localhost,127.0.0.1,::1` where a proxy is configured.
/// - **Which statuses mean "this token was rejected".** On such an answer the middleware
///   invalidates the token the request carried, renews it and replays the request once
///   (when its body can be cloned). The default is `401 Unauthorized` only (RFC 6750 §3.1):
///   `403 Forbidden` normally refuses the *request*, not the token. Some gateways answer an
///   expired token with 403 (AWS API Gateway with IAM or custom Lambda authorizers, for
///   example); name it with [`RequestPolicy::with_rejection_statuses`]. The guarantees stay
///   the same: one renewal per rejected token, however many requests were rejected, and no
///   renewal storm when the replay is rejected too.
///
/// ```
/// use en_auth_core::RequestPolicy;
/// use http::StatusCode;
///
/// let policy = RequestPolicy::default()
///     .with_rejection_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]);
/// assert!(policy.is_rejection(StatusCode::FORBIDDEN));
/// assert!(!policy.allows_insecure_http());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPolicy {
    insecure_http: bool,
    rejection_statuses: Vec<StatusCode>,
}

impl Default for RequestPolicy {
    /// `https` (or loopback) only; renew on `401`.
    fn default() -> Self {
        Self {
            insecure_http: false,
            rejection_statuses: vec![StatusCode::UNAUTHORIZED],
        }
    }
}

impl RequestPolicy {
    /// Whether tokens may be sent over plain `http` to any host (default `false`: only to
    /// loopback hosts).
    #[must_use]
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.insecure_http = allow;
        self
    }

    /// The response statuses that mean the token was rejected (default `[401]`). An empty list
    /// turns the renew-and-replay off.
    #[must_use]
    pub fn with_rejection_statuses(
        mut self,
        statuses: impl IntoIterator<Item = StatusCode>,
    ) -> Self {
        self.rejection_statuses = statuses.into_iter().collect();
        self
    }

    /// Whether tokens may be sent over plain `http` to hosts that are not loopback.
    pub fn allows_insecure_http(&self) -> bool {
        self.insecure_http
    }

    /// Whether `status` means the resource server rejected the token.
    pub fn is_rejection(&self, status: StatusCode) -> bool {
        self.rejection_statuses.contains(&status)
    }

    /// The statuses that mean the token was rejected.
    pub fn rejection_statuses(&self) -> &[StatusCode] {
        &self.rejection_statuses
    }

    /// Checks that a token may be sent to `url`.
    ///
    /// # Errors
    /// [`Error::Configuration`] for plain `http` to a host that is not loopback (unless
    /// allowed), naming the host and how to allow it.
    pub fn check_url(&self, url: &Url) -> Result<(), Error> {
        if url.scheme() != "http" || self.insecure_http || is_loopback(url) {
            return Ok(());
        }
        Err(ConfigurationError::new(format!(
            "refusing to send a bearer token over plain http: {}; if the network encrypts below \
             HTTP (a service mesh, say), allow it with RequestPolicy::with_insecure_http(true)",
            plain_http_refusal(url)
        ))
        .with_field("url")
        .into())
    }

    /// Checks that a token may be sent to `uri` (an `http` request's URI, as tower and hyper
    /// services see it): the rule of [`RequestPolicy::check_url`].
    ///
    /// ```
    /// use en_auth_core::RequestPolicy;
    ///
    /// let policy = RequestPolicy::default();
    /// assert!(policy.check_uri(&"https://api.example.com/v1".parse().unwrap()).is_ok());
    /// assert!(policy.check_uri(&"http://127.0.0.1:8080/v1".parse().unwrap()).is_ok());
    /// assert!(policy.check_uri(&"http://api.example.com/v1".parse().unwrap()).is_err());
    /// assert!(policy.check_uri(&"/v1".parse().unwrap()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Configuration`] as [`RequestPolicy::check_url`] does, and for a URI without a
    /// scheme and host (a bare path, such as tonic's generated clients send when built with
    /// `new` rather than `with_origin`), since where it goes cannot be checked — unless plain
    /// `http` is allowed everywhere ([`RequestPolicy::with_insecure_http`]).
    pub fn check_uri(&self, uri: &http::Uri) -> Result<(), Error> {
        match uri.scheme_str() {
            Some("https") => return Ok(()),
            _ if self.insecure_http => return Ok(()),
            None => {
                return Err(ConfigurationError::new(
                    "refusing to send a bearer token to a URI without a scheme and host: where \
                     it goes cannot be checked; give requests absolute URIs (for a tonic client: \
                     `Client::with_origin(channel, origin)`)",
                )
                .with_field("uri")
                .into())
            }
            Some(_) => {}
        }
        // Rare (plain http): the URL parser decides what counts as loopback, as for reqwest.
        match Url::parse(&uri.to_string()) {
            Ok(url) => self.check_url(&url),
            Err(e) => Err(
                ConfigurationError::new(format!("an unusable request URI: {e}"))
                    .with_field("uri")
                    .into(),
            ),
        }
    }
}

/// A `reqwest` redirect policy for the client that carries en-auth's headers: it follows up to
/// 10 redirects that stay on the request's origin (scheme, host and port) and stops at the
/// first that leaves it, handing that 3xx response back. `reqwest` drops `Authorization` on a
/// redirect to another host, but not `X-Api-Key` (nor any header of yours): with this policy
/// neither leaves the origin the request was authorized for.
///
/// ```
/// let client = en_auth_core::reqwest_middleware::reqwest::Client::builder()
///     .redirect(en_auth_core::same_origin_redirects())
///     .build()
///     .unwrap();
/// # let _ = client;
/// ```
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.follow();
        };
        if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else if attempt.url().origin() == first.origin() {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}
