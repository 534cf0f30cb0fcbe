//! [`AuthorizerService`]: the fast path in `call`, the slow path and the replay as futures.

use std::task::{Context, Poll};

use en_auth_core::{Authorizer, TokenProvider};
use futures::future::BoxFuture;
use http::{HeaderName, Request, Response, StatusCode};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::{BoxError, Replay, ReplayEmpty};

/// The gRPC status code `UNAUTHENTICATED` (16): "the request does not have valid
/// authentication credentials" (gRPC status codes, `grpc/doc/statuscodes.md`).
pub const GRPC_STATUS_UNAUTHENTICATED: &str = "16";

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// A [`Service`] that authorizes each request with an [`Authorizer`]'s token before passing
/// it to the inner service; made by [`AuthorizerLayer`](crate::AuthorizerLayer). See the
/// [crate] docs for what it does.
///
/// The inner service must be `Clone` (a hyper-util client, a tonic `Channel`, a tower
/// `Buffer` are): a request that is replayed or waits for a token takes the ready service
/// along and leaves a clone behind.
pub struct AuthorizerService<S, P, R = ReplayEmpty> {
    inner: S,
    authorizer: Authorizer<P>,
    replay: R,
}

impl<S: Clone, P, R: Clone> Clone for AuthorizerService<S, P, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            authorizer: self.authorizer.clone(),
            replay: self.replay.clone(),
        }
    }
}

impl<S: std::fmt::Debug, P: TokenProvider, R: std::fmt::Debug> std::fmt::Debug
    for AuthorizerService<S, P, R>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizerService")
            .field("inner", &self.inner)
            .field("authorizer", &self.authorizer)
            .field("replay", &self.replay)
            .finish()
    }
}

impl<S, P> AuthorizerService<S, P> {
    /// Wraps `inner`, authorizing its requests with `authorizer`.
    pub fn new(inner: S, authorizer: Authorizer<P>) -> Self {
        Self {
            inner,
            authorizer,
            replay: ReplayEmpty,
        }
    }
}

impl<S, P, R> AuthorizerService<S, P, R> {
    /// The same service with another [`Replay`] policy.
    pub fn with_replay<R2>(self, replay: R2) -> AuthorizerService<S, P, R2> {
        AuthorizerService {
            inner: self.inner,
            authorizer: self.authorizer,
            replay,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, to configure it.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The authorizer.
    pub fn authorizer(&self) -> &Authorizer<P> {
        &self.authorizer
    }
}

impl<S, P, R, B, ResB> Service<Request<B>> for AuthorizerService<S, P, R>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    P: TokenProvider,
    R: Replay<B>,
    B: Send + 'static,
    ResB: Send + 'static,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, P, B, ResB>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service polled ready serves this request; a clone waits for the next poll_ready.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        if let Err(error) = self.authorizer.request_policy().check_uri(request.uri()) {
            return ResponseFuture::failed(error.into());
        }
        let Ok(token) = self.authorizer.cached_token() else {
            let replay = self.replay.clone();
            let spare = self.inner.clone();
            let authorizer = self.authorizer.clone();
            return ResponseFuture::boxed(Box::pin(async move {
                let retry = replay.copy(&request).map(|copy| Box::new((copy, spare)));
                let generation = {
                    let token = authorizer.access_token().await?;
                    authorizer.apply_headers(request.headers_mut(), &token);
                    token.generation()
                };
                let response = ready.call(request).await.map_err(Into::into)?;
                let check = Check {
                    authorizer,
                    generation,
                    retry,
                };
                match check.inspect(response) {
                    Ok(response) => Ok(response),
                    Err(replay) => replay.await,
                }
            }));
        };
        // The copy is taken before the token's headers go in (fewer headers to copy); the
        // replay gets the new token's.
        let retry = self
            .replay
            .copy(&request)
            .map(|copy| Box::new((copy, self.inner.clone())));
        self.authorizer.apply_headers(request.headers_mut(), &token);
        let generation = token.generation();
        drop(token);
        ResponseFuture::sent(
            ready.call(request),
            Check {
                authorizer: self.authorizer.clone(),
                generation,
                retry,
            },
        )
    }
}

/// What to do with the response to a request that carried the token of `generation`.
pub(crate) struct Check<S, P, B> {
    authorizer: Authorizer<P>,
    generation: u64,
    /// A copy of the request and a service to send it with, when it can be replayed (boxed:
    /// the response future of a request that cannot be replayed stays small).
    retry: Option<Box<(Request<B>, S)>>,
}

impl<S, P, B> Check<S, P, B>
where
    S: Service<Request<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    P: TokenProvider,
    B: Send + 'static,
{
    /// The response, or — when it rejected the token and the request can be replayed — the
    /// replay to wait for instead.
    #[inline]
    pub(crate) fn inspect<ResB: Send + 'static>(
        self,
        response: Response<ResB>,
    ) -> Result<Response<ResB>, BoxFuture<'static, Result<Response<ResB>, BoxError>>>
    where
        S: Service<Request<B>, Response = Response<ResB>>,
    {
        let status = response.status();
        if self.authorizer.request_policy().is_rejection(status) {
            self.authorizer.invalidate(self.generation);
            return match self.retry.map(|retry| *retry) {
                Some((request, service)) => {
                    tracing::debug!(%status, "the resource server rejected the token; renewing it and replaying once");
                    Err(Box::pin(replay(
                        self.authorizer,
                        self.generation,
                        response,
                        request,
                        service,
                    )))
                }
                None => {
                    tracing::debug!(%status, "the token was rejected, and the request cannot be replayed; returning the answer");
                    Ok(response)
                }
            };
        }
        if status == StatusCode::OK && is_grpc_unauthenticated(&response) {
            tracing::debug!(
                "the gRPC server answered UNAUTHENTICATED; the token is renewed for the next call"
            );
            self.authorizer.invalidate_with(
                self.generation,
                en_auth_core::RenewalTrigger::GrpcUnauthenticated,
            );
        }
        Ok(response)
    }
}

/// `grpc-status: 16` in the response headers: a trailers-only gRPC response saying
/// UNAUTHENTICATED.
#[inline]
fn is_grpc_unauthenticated<ResB>(response: &Response<ResB>) -> bool {
    response
        .headers()
        .get(GRPC_STATUS)
        .is_some_and(|status| status.as_bytes() == GRPC_STATUS_UNAUTHENTICATED.as_bytes())
}

/// Sends `request` once more with a new token after `rejected` rejected the token of
/// `generation`; returns `rejected` when no new token can be had.
async fn replay<S, P, B, ResB>(
    authorizer: Authorizer<P>,
    generation: u64,
    rejected: Response<ResB>,
    mut request: Request<B>,
    mut service: S,
) -> Result<Response<ResB>, BoxError>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    P: TokenProvider,
{
    let renewed = match authorizer.access_token().await {
        Ok(token) => {
            authorizer.apply_headers(request.headers_mut(), &token);
            token.generation()
        }
        Err(error) => {
            // The request itself completed: hand back its rejection rather than the renewal error.
            tracing::warn!(%error, "renewing a rejected token failed; returning the rejection");
            return Ok(rejected);
        }
    };
    if renewed == generation {
        // The token was not renewed (a replay with it was rejected before): same answer.
        return Ok(rejected);
    }
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    let response = service.call(request).await.map_err(Into::into)?;
    if authorizer.request_policy().is_rejection(response.status()) {
        tracing::warn!(status = %response.status(), "a request replayed with a new token was rejected again: the token is not the problem");
        authorizer.replay_rejected(renewed);
    }
    Ok(response)
}
