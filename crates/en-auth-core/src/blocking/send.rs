//! Sending `reqwest::blocking` requests through a [`BlockingAuthorizer`]: the headers, the
//! https-only rule, and the rejection → renew → replay-once rule of the `reqwest-middleware`
//! adapter (`middleware.rs`), for synchronous code.
//!
//! `reqwest::blocking` panics (in debug builds) when its client sends from a thread that is
//! inside a Tokio runtime. So on such a thread the request is sent from a short-lived scoped
//! thread that is not (joined before the call returns); on any other thread it is sent from
//! the caller's thread, with no extra cost.

use reqwest::blocking::{Client, Request, RequestBuilder, Response};

use super::BlockingAuthorizer;
use crate::contract::OutgoingRequest;
use crate::{Error, InternalError, Ticket, TokenProvider, Verdict};

/// The name of the scoped thread that sends a request for a caller inside a Tokio runtime.
const SEND_THREAD_NAME: &str = "en-auth-blocking-send";

/// Why a request sent through a [`BlockingAuthorizer`] failed ([`BlockingAuthorizer::send`],
/// [`BlockingAuthorizer::execute`]). An HTTP error status from the resource (a `403`, a `401`
/// the replay did not cure) is not a failure: it arrives as an `Ok` response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlockingError {
    /// The request was not sent: no token could be had, its URL may not carry one
    /// ([`Error::Configuration`]), or en-auth could not run it ([`Error::Internal`]).
    #[error(transparent)]
    Auth(Error),
    /// Building or sending the request failed (an invalid URL, an unreachable resource).
    #[error("the request failed: {0}")]
    Request(#[source] reqwest::Error),
}

impl BlockingError {
    /// The en-auth error, when the request was not sent for want of a token.
    pub fn auth_error(&self) -> Option<&Error> {
        match self {
            Self::Auth(error) => Some(error),
            Self::Request(_) => None,
        }
    }
}

impl From<reqwest::Error> for BlockingError {
    fn from(error: reqwest::Error) -> Self {
        Self::Request(error)
    }
}

impl<P: TokenProvider> BlockingAuthorizer<P> {
    /// Authorizes `request` (checks its URL, then as [`authorize`](Self::authorize)): the
    /// blocking [`Authorizer::authorize`](crate::Authorizer::authorize).
    ///
    /// # Errors
    /// [`Error::Configuration`] if the [`RequestPolicy`](crate::RequestPolicy) forbids sending
    /// a token to the request's URL (plain `http` to a host that is not loopback, by default):
    /// no token is requested then. Otherwise as [`access_token`](Self::access_token). The
    /// request is left unchanged on error.
    pub fn authorize_request(&self, request: &mut Request) -> Result<Ticket, Error> {
        self.inner.check_target(request.target())?;
        let token = self.access_token()?;
        let origin = self.inner.write_headers(request, &token)?;
        Ok(Ticket::first(&token).with_origin(origin))
    }

    /// Builds and sends `request` with the token's headers (the Rust counterpart of the Python
    /// `requests.get(url, auth=authorizer)`), renewing the token and replaying once when the
    /// resource server rejects it: see [`execute`](Self::execute).
    ///
    /// ```no_run
    /// # fn run<P: en_auth_core::TokenProvider>(authorizer: en_auth_core::BlockingAuthorizer<P>) -> Result<(), Box<dyn std::error::Error>> {
    /// let client = reqwest::blocking::Client::new();
    /// let response = authorizer.send(client.get("https://api.example.com/resource"))?;
    /// println!("{}: {}", response.status(), response.text()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`execute`](Self::execute); a request that cannot be built (an invalid URL) is
    /// [`BlockingError::Request`].
    pub fn send(&self, request: RequestBuilder) -> Result<Response, BlockingError> {
        let (client, request) = request.build_split();
        self.execute(&client, request?)
    }

    /// Sends `request` with `client`, with `Authorization: Bearer <token>` (and `X-Api-Key`
    /// when the client has an API key), judging the answer by the request contract of
    /// [`Authorizer::verdict`](crate::Authorizer::verdict).
    ///
    /// When the resource server rejects the token (`401 Unauthorized` by default), that token
    /// is invalidated and the request is sent once more with a new one, if its body can be
    /// cloned (a body from a reader cannot: then the rejection is returned as it came, and the
    /// next request gets a new token). If the renewal fails, or the replay is rejected too,
    /// the rejection is returned as an `Ok` response; a replay rejected again means the token
    /// is not the problem, and rejections do not renew it for 30 seconds.
    ///
    /// Works on any thread. On a thread inside a Tokio runtime (where `reqwest::blocking`
    /// would panic) the request is sent from a scoped thread of its own, joined before this
    /// returns. The response's body methods (`text`, `json`, `bytes`, `Read`) are
    /// `reqwest::blocking`'s: on such a thread they panic in debug builds (reqwest's rule), so
    /// read the body where Tokio is not running, or use the async
    /// [`Authorizer`](crate::Authorizer) there. Creating or using a
    /// `reqwest::blocking::Client` yourself on such a thread panics likewise.
    ///
    /// # Errors
    /// [`BlockingError::Auth`] with the en-auth [`enum@Error`] when no token could be had, or
    /// the URL may not carry one ([`Error::Configuration`]): nothing is sent then.
    /// [`BlockingError::Request`] when sending failed (the resource could not be reached,
    /// say).
    pub fn execute(
        &self,
        client: &Client,
        mut request: Request,
    ) -> Result<Response, BlockingError> {
        let ticket = self
            .authorize_request(&mut request)
            .map_err(BlockingError::Auth)?;
        let copy = request.try_clone();
        let response = send_outside_runtime(client, request)?;
        let authorizer = &self.inner;
        let verdict = authorizer.verdict(
            &ticket,
            response.status(),
            response.headers(),
            copy.is_some(),
        );
        let (Verdict::Replay, Some(mut replay)) = (verdict, copy) else {
            return Ok(response);
        };
        let renewal = self.access_token();
        let Some(renewed) = authorizer.replay_ticket(&ticket, renewal, &mut replay) else {
            return Ok(response);
        };
        drop(response);
        let response = send_outside_runtime(client, replay)?;
        authorizer.verdict(&renewed, response.status(), response.headers(), false);
        Ok(response)
    }
}

/// `client.execute(request)`, from a thread that is not inside a Tokio runtime.
fn send_outside_runtime(client: &Client, request: Request) -> Result<Response, BlockingError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(client.execute(request)?);
    }
    std::thread::scope(|scope| {
        let sender = std::thread::Builder::new()
            .name(SEND_THREAD_NAME.into())
            .spawn_scoped(scope, || client.execute(request))
            .map_err(|e| internal(format!("cannot start a thread to send the request: {e}")))?;
        match sender.join() {
            Ok(sent) => Ok(sent?),
            Err(_) => Err(internal("sending the request panicked".into())),
        }
    })
}

fn internal(message: String) -> BlockingError {
    BlockingError::Auth(Error::from(InternalError::new(message)))
}
