//! [`AuthorizerService`]: the fast path in `call`, the slow path and the replay as futures.

use std::task::{Context, Poll};

use en_auth_core::{Authorizer, Ticket, TokenProvider, Verdict};
use futures::future::BoxFuture;
use http::{Request, Response};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::{BoxError, Replay, ReplayEmpty};

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
    /// Wraps `inner`, authorizing its requests with `authorizer` (an [`Authorizer`] or a flow's
    /// authorizer).
    pub fn new(inner: S, authorizer: impl Into<Authorizer<P>>) -> Self {
        Self {
            inner,
            authorizer: authorizer.into(),
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
        // The copy is taken before the token's headers go in (fewer headers to copy); the
        // replay gets the new token's.
        let copy = self.replay.copy(&request);
        let ticket = match self.authorizer.authorize_cached(&mut request) {
            Ok(Some(ticket)) => ticket,
            Ok(None) => {
                let spare = self.inner.clone();
                let authorizer = self.authorizer.clone();
                return ResponseFuture::boxed(Box::pin(async move {
                    let ticket = authorizer.authorize(&mut request).await?;
                    let response = ready.call(request).await.map_err(Into::into)?;
                    let check = Check {
                        authorizer,
                        ticket,
                        retry: copy.map(|copy| Box::new((copy, spare))),
                    };
                    match check.inspect(response) {
                        Ok(response) => Ok(response),
                        Err(replay) => replay.await,
                    }
                }));
            }
            Err(error) => return ResponseFuture::failed(error.into()),
        };
        ResponseFuture::sent(
            ready.call(request),
            Check {
                authorizer: self.authorizer.clone(),
                ticket,
                retry: copy.map(|copy| Box::new((copy, self.inner.clone()))),
            },
        )
    }
}

/// What to do with the response to a request authorized with `ticket`.
pub(crate) struct Check<S, P, B> {
    authorizer: Authorizer<P>,
    ticket: Ticket,
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
    /// The response, or — when the request contract's verdict is a replay — the replay to
    /// wait for instead.
    #[inline]
    pub(crate) fn inspect<ResB: Send + 'static>(
        self,
        response: Response<ResB>,
    ) -> Result<Response<ResB>, BoxFuture<'static, Result<Response<ResB>, BoxError>>>
    where
        S: Service<Request<B>, Response = Response<ResB>>,
    {
        let verdict = self.authorizer.verdict(
            &self.ticket,
            response.status(),
            response.headers(),
            self.retry.is_some(),
        );
        match (verdict, self.retry) {
            (Verdict::Replay, Some(retry)) => {
                let (request, service) = *retry;
                Err(Box::pin(replay(
                    self.authorizer,
                    self.ticket,
                    response,
                    request,
                    service,
                )))
            }
            _ => Ok(response),
        }
    }
}

/// Sends `request` once more with a new token after `rejected` rejected the token of
/// `first`; returns `rejected` when no new token can be had.
async fn replay<S, P, B, ResB>(
    authorizer: Authorizer<P>,
    first: Ticket,
    rejected: Response<ResB>,
    mut request: Request<B>,
    mut service: S,
) -> Result<Response<ResB>, BoxError>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    P: TokenProvider,
{
    let Some(renewed) = authorizer.authorize_replay(&first, &mut request).await else {
        return Ok(rejected);
    };
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    let response = service.call(request).await.map_err(Into::into)?;
    authorizer.verdict(&renewed, response.status(), response.headers(), false);
    Ok(response)
}
