//! The [`reqwest_middleware::Middleware`] adapter: the Rust counterpart of passing the Python
//! `en_auth` package's authorizer as `auth=` to `requests`.
//!
//! Each request gets the current token's headers, if its URL may carry a token (`https`, or
//! loopback; see [`RequestPolicy`](crate::RequestPolicy)). When the resource server rejects
//! the token (`401 Unauthorized` by default; [`RequestPolicy::with_rejection_statuses`]
//! names others), the token that request carried is invalidated (only that one: a burst of
//! rejections of the same token costs one renewal) and the request is sent once more with a
//! new token, if its body can be cloned; otherwise the answer is returned as it came (as it is
//! when the renewal fails). If the replay with the new token is rejected too, the token is not
//! the problem (a wrong audience or scope, say): rejections do not renew it again for 30
//! seconds (after which it may have been revoked, and a rejection renews it once more).
//!
//! Redirects are followed below the middleware, by `reqwest`: its default policy drops
//! `Authorization` on a redirect to another host but keeps `X-Api-Key`. Give the client
//! `reqwest::redirect::Policy::none()` (or a same-host policy) when the API key must not
//! travel. `403 Forbidden` is, by default, a refusal of the request, not of the token (RFC 6750
//! §3.1), and is returned untouched.
//!
//! [`RequestPolicy::with_rejection_statuses`]: crate::RequestPolicy::with_rejection_statuses

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::{Authorizer, TokenProvider};

#[async_trait::async_trait]
impl<P: TokenProvider> Middleware for Authorizer<P> {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let generation = self
            .authorize_request(&mut request)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let replay = request.try_clone();
        let response = next.clone().run(request, extensions).await?;
        if !self.rejected(response.status(), generation) {
            return Ok(response);
        }
        let Some(mut replay) = replay else {
            tracing::debug!(status = %response.status(), "the token was rejected, and the request's body cannot be replayed; returning the answer");
            return Ok(response);
        };
        tracing::debug!(status = %response.status(), "the resource server rejected the token; renewing it and replaying once");
        let renewal = self.authorize_request(&mut replay).await;
        let Some(renewed) = self.replay_with(renewal, generation) else {
            return Ok(response);
        };
        let response = next.run(replay, extensions).await?;
        self.replay_answered(response.status(), renewed);
        Ok(response)
    }
}
