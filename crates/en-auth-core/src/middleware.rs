//! The [`reqwest_middleware::Middleware`] adapter: the Rust counterpart of passing the Python
//! `en_auth` package's authorizer as `auth=` to `requests`.
//!
//! Each request is authorized and its answer judged by the request contract
//! ([`Authorizer::authorize`], [`Authorizer::verdict`]): the token's headers go on requests
//! whose URL may carry a token; a rejected token is invalidated and the request sent once more
//! with a new token, if its body can be cloned; otherwise the answer is returned as it came
//! (as it is when the renewal fails, or when the replay is rejected too).
//!
//! Redirects are followed below the middleware, by `reqwest`: its default policy drops
//! `Authorization` on a redirect to another host but keeps `X-Api-Key`. Give the client
//! `reqwest::redirect::Policy::none()` (or a same-host policy) when the API key must not
//! travel. `403 Forbidden` is, by default, a refusal of the request, not of the token (RFC 6750
//! §3.1), and is returned untouched.
//!

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::{Authorizer, TokenProvider, Verdict};

#[async_trait::async_trait]
impl<P: TokenProvider> Middleware for Authorizer<P> {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let ticket = self
            .authorize(&mut request)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let copy = request.try_clone();
        let response = next.clone().run(request, extensions).await?;
        let verdict = self.verdict(
            &ticket,
            response.status(),
            response.headers(),
            copy.is_some(),
        );
        let (Verdict::Replay, Some(mut replay)) = (verdict, copy) else {
            return Ok(response);
        };
        let Some(renewed) = self.authorize_replay(&ticket, &mut replay).await else {
            return Ok(response);
        };
        let response = next.run(replay, extensions).await?;
        self.verdict(&renewed, response.status(), response.headers(), false);
        Ok(response)
    }
}
