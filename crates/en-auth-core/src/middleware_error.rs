//! [`auth_error`]: the en-auth [`Error`] behind a request that failed in `reqwest-middleware`.

use crate::Error;

/// The en-auth [`enum@Error`] that made a request through an authorizer fail, if that is why it
/// failed.
///
/// An [`Authorizer`](crate::Authorizer) (and so `en_auth_oauth2::ServiceAccountAuthorizer` and
/// `en_auth_srp::SrpAuthorizer`) used as a [`reqwest_middleware`] layer reports a token it could
/// not get as [`reqwest_middleware::Error::Middleware`], an `anyhow::Error` wrapping the en-auth
/// error. This finds that error — directly, or in the source chain if another middleware
/// wrapped it — so that you can match on it ([`Error::InvalidClient`], [`Error::is_retryable`],
/// …). It returns `None` when the request failed for another reason: the request itself
/// ([`reqwest_middleware::Error::Reqwest`]: the resource could not be reached, say) or another
/// middleware's own error.
///
/// An HTTP error status from the resource (a `403`, a `401` the replay did not cure) is not a
/// failure at all: it arrives as an `Ok` response.
///
/// ```
/// use en_auth_core::{auth_error, Authorizer, ClientInfo, Error, InvalidClientError, Token, TokenProvider};
///
/// /// A token endpoint that rejects the client.
/// struct Rejecting(ClientInfo);
///
/// impl TokenProvider for Rejecting {
///     async fn authorize(&self) -> Result<Token, Error> {
///         Err(InvalidClientError::new("svc", "https://auth.example.com/token", "bad secret").into())
///     }
///     fn client_info(&self) -> &ClientInfo { &self.0 }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let authorizer = Authorizer::new(Rejecting(ClientInfo::new("svc", "wrong secret")));
/// let client = en_auth_core::reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(authorizer)
///     .build();
///
/// // No token, so the request is never sent.
/// let failure = client.get("https://api.example.com/resource").send().await.unwrap_err();
/// match auth_error(&failure) {
///     Some(Error::InvalidClient(e)) => assert_eq!(e.client_id, "svc"),
///     other => panic!("expected InvalidClient, got {other:?}"),
/// }
/// # }
/// ```
pub fn auth_error(error: &reqwest_middleware::Error) -> Option<&Error> {
    match error {
        reqwest_middleware::Error::Middleware(error) => error
            .downcast_ref::<Error>()
            .or_else(|| error.chain().find_map(|e| e.downcast_ref::<Error>())),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConfigurationError, TransportError, TransportErrorKind};

    /// Another middleware's error, with ours as its source.
    #[derive(Debug, thiserror::Error)]
    #[error("the retry layer gave up")]
    struct Wrapped(#[source] Error);

    /// Another middleware's own error.
    #[derive(Debug, thiserror::Error)]
    #[error("rate limited locally")]
    struct Other;

    #[test]
    fn finds_the_error_directly() {
        let error: Error = ConfigurationError::new("no token_url").into();
        let failure = reqwest_middleware::Error::middleware(error);
        assert!(matches!(
            auth_error(&failure),
            Some(Error::Configuration(_))
        ));
    }

    #[test]
    fn finds_the_error_behind_another_middleware() {
        let error: Error = TransportError::new(
            TransportErrorKind::Timeout,
            "https://auth.example.com/token",
            None,
        )
        .into();
        let failure = reqwest_middleware::Error::middleware(Wrapped(error));
        let found = auth_error(&failure).expect("found in the source chain");
        assert!(found.is_retryable());
    }

    #[test]
    fn none_for_other_failures() {
        let failure = reqwest_middleware::Error::middleware(Other);
        assert!(auth_error(&failure).is_none());
        let request = reqwest::Client::new().get("not a url").build().unwrap_err();
        assert!(auth_error(&reqwest_middleware::Error::Reqwest(request)).is_none());
    }
}
