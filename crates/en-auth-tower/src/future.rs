//! [`ResponseFuture`]: the inner service's future with the rejection check, or (on the slow
//! path, a replay or an error) a boxed future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::service::Check;
use crate::BoxError;

pin_project! {
    /// The response future of [`AuthorizerService`](crate::AuthorizerService).
    pub struct ResponseFuture<S, P, B, ResB>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, P, B, ResB>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, P, B, ResB>
    where
        S: Service<Request<B>>,
    {
        // The fast path: the request went out with the cached token.
        Sent {
            #[pin]
            future: S::Future,
            check: Option<Check<S, P, B>>,
        },
        // Waiting for a token, replaying, or failed before sending.
        Boxed {
            future: BoxFuture<'static, Result<Response<ResB>, BoxError>>,
        },
    }
}

impl<S, P, B, ResB> ResponseFuture<S, P, B, ResB>
where
    S: Service<Request<B>>,
{
    pub(crate) fn sent(future: S::Future, check: Check<S, P, B>) -> Self {
        Self {
            state: State::Sent {
                future,
                check: Some(check),
            },
        }
    }

    pub(crate) fn boxed(future: BoxFuture<'static, Result<Response<ResB>, BoxError>>) -> Self {
        Self {
            state: State::Boxed { future },
        }
    }

    pub(crate) fn failed(error: BoxError) -> Self
    where
        ResB: Send + 'static,
    {
        Self::boxed(Box::pin(std::future::ready(Err(error))))
    }
}

impl<S, P, B, ResB> Future for ResponseFuture<S, P, B, ResB>
where
    S: Service<Request<B>, Response = Response<ResB>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    P: en_auth_core::TokenProvider,
    B: Send + 'static,
    ResB: Send + 'static,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let replay = match state.as_mut().project() {
                StateProj::Sent { future, check } => {
                    let response = match futures::ready!(future.poll(cx)) {
                        Ok(response) => response,
                        Err(error) => return Poll::Ready(Err(error.into())),
                    };
                    let check = check
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match check.inspect(response) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(replay) => replay,
                    }
                }
                StateProj::Boxed { future } => return future.as_mut().poll(cx),
            };
            state.set(State::Boxed { future: replay });
        }
    }
}
