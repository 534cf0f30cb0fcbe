//! The [`reqwest_middleware::Middleware`] adapter: the Rust counterpart of passing the seed's
//! authorizer as `auth=` to `requests`.
//!
//! Each request gets the current token's headers. When the resource server answers `401
//! Unauthorized`, the token that request carried is invalidated (only that one: a burst of
//! 401s for the same token costs one renewal) and the request is sent once more with a new
//! token, if its body can be cloned; otherwise the 401 is returned as it came (as it is when
//! the renewal fails). If the replay with the new token is rejected too, the token is not the
//! problem (a wrong audience or scope, say): later 401s do not renew it again.
//!
//! Redirects are followed below the middleware, by `reqwest`: its default policy drops
//! `Authorization` on a redirect to another host but keeps `X-Api-Key`. Give the client
//! `reqwest::redirect::Policy::none()` (or a same-host policy) when the API key must not travel. `403 Forbidden`
//! is a refusal of the request, not of the token (RFC 6750 §3.1), and is returned untouched.

use http::{Extensions, StatusCode};
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
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        self.invalidate(generation);
        let Some(mut replay) = replay else {
            tracing::debug!("401 for a request whose body cannot be replayed; returning it");
            return Ok(response);
        };
        tracing::debug!("401 from the resource server; renewing the token and replaying once");
        let renewed = match self.authorize_request(&mut replay).await {
            Ok(renewed) => renewed,
            Err(error) => {
                // The request itself completed: hand back its 401 rather than the renewal error.
                tracing::warn!(%error, "renewing the token after a 401 failed; returning the 401");
                return Ok(response);
            }
        };
        if renewed == generation {
            // The token was not renewed (a replay with it was rejected before): same answer.
            return Ok(response);
        }
        let response = next.run(replay, extensions).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            tracing::warn!("a request replayed with a new token was rejected again (401): the token is not the problem");
            self.replay_rejected(renewed);
        }
        Ok(response)
    }
}
