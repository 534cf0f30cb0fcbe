//! The blocking API: [`BlockingAuthorizer`], an [`Authorizer`] for synchronous programs (CLIs,
//! build scripts, data jobs), like the Python `en_auth` package's authorizer used with
//! `requests`.
//!
//! It owns no runtime and no thread of its own: a token request runs on en-auth's I/O runtime
//! (the two threads [`run_on_io_runtime`](crate::run_on_io_runtime) uses, started on first
//! use), and the calling thread waits for its result on a `std` channel. So it works the same
//! on a plain thread, inside `tokio::task::spawn_blocking`, and on a thread that drives a Tokio
//! runtime (a `current_thread` runtime's `block_on`, a `multi_thread` worker): it never calls
//! `block_on`, so Tokio's "cannot block inside a runtime" panic cannot happen, and the caller's
//! runtime is never needed to make progress, so blocking it cannot deadlock the token request.
//!
//! The fast path (a fresh cached token) takes no channel, no thread switch and no shared write:
//! it reads the cache as [`Authorizer::cached_token`] does. A token due for renewal is read
//! again with the I/O runtime entered, so that the background renewal it starts runs there
//! rather than on the caller's runtime (which may not be driven while the caller blocks).
//!
//! The sending helpers ([`BlockingAuthorizer::send`], [`BlockingAuthorizer::execute`]) are in
//! `send.rs`.

mod send;

pub use send::BlockingError;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use crate::{Authorizer, CurrentToken, Error, InternalError, TokenProvider};

/// The longest a [`BlockingAuthorizer`] waits for a token by default: 120 seconds.
///
/// A token request ends on its own (each attempt has the flow's timeout, 10 s by default, and
/// the retries are bounded by the [`RenewalPolicy`](crate::RenewalPolicy)); this limit only
/// guards against waiting forever on a token request that cannot make progress: one started
/// by *async* code on a Tokio runtime that is no longer driven (a `current_thread` runtime
/// whose `block_on` returned), which every later caller of the shared [`Authorizer`] joins.
pub const DEFAULT_WAIT_LIMIT: Duration = Duration::from_secs(120);

/// An [`Authorizer`] for synchronous code: every call blocks the calling thread until it has
/// its answer, from any thread, inside a Tokio runtime or not.
///
/// Built from an [`Authorizer`] ([`Authorizer::blocking`], `From`, [`BlockingAuthorizer::new`]),
/// it shares that authorizer's cache and single flight: async and blocking callers of clones
/// of one authorizer share one token. Cheap to clone, `Send + Sync`. Dropping it stops nothing
/// and leaves no thread behind: it has none (token requests run on en-auth's I/O runtime,
/// which lives for the process; a renewal under way finishes and fills the cache of the
/// remaining clones, if any).
///
/// - [`access_token`](Self::access_token), [`authorize`](Self::authorize),
///   [`invalidate`](Self::invalidate): the [`Authorizer`]'s calls, blocking.
/// - [`send`](Self::send) / [`execute`](Self::execute): send a `reqwest::blocking` request with
///   the token's headers, renewing the token and replaying the request once when the resource
///   server rejects the token (`401`), as the `reqwest-middleware` adapter does.
///
/// Never a panic, never a hang: a thread of en-auth's own I/O runtime (a [`TokenProvider`]
/// calling back into the blocking API) gets [`Error::Internal`] instead of waiting on itself,
/// and a wait longer than [`wait_limit`](Self::wait_limit) ([`DEFAULT_WAIT_LIMIT`]) ends with
/// [`Error::Internal`].
///
/// ```
/// use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
///
/// struct Fixed(ClientInfo);
///
/// impl TokenProvider for Fixed {
///     async fn authorize(&self) -> Result<Token, Error> {
///         Ok(Token::new("a-token", Some(std::time::Duration::from_secs(3600))))
///     }
///     fn client_info(&self) -> &ClientInfo { &self.0 }
/// }
///
/// // No Tokio runtime here: a plain `main`.
/// let authorizer = Authorizer::new(Fixed(ClientInfo::new("svc", "secret"))).blocking();
/// let mut headers = http::HeaderMap::new();
/// let generation = authorizer.authorize(&mut headers)?;
/// assert_eq!(headers["authorization"], "Bearer a-token");
/// assert!(headers["authorization"].is_sensitive());
///
/// // A resource server rejected it: the next call renews it.
/// authorizer.invalidate(generation);
/// assert_ne!(authorizer.access_token()?.generation(), generation);
/// assert_eq!(authorizer.authorizer().token_requests(), 2);
/// # Ok::<(), Error>(())
/// ```
pub struct BlockingAuthorizer<P> {
    inner: Authorizer<P>,
    wait_limit: Duration,
}

impl<P> Clone for BlockingAuthorizer<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            wait_limit: self.wait_limit,
        }
    }
}

impl<P: TokenProvider> std::fmt::Debug for BlockingAuthorizer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingAuthorizer")
            .field("authorizer", &self.inner)
            .field("wait_limit", &self.wait_limit)
            .finish()
    }
}

impl<P: TokenProvider> From<Authorizer<P>> for BlockingAuthorizer<P> {
    fn from(authorizer: Authorizer<P>) -> Self {
        Self::new(authorizer)
    }
}

impl<P: TokenProvider> Authorizer<P> {
    /// A [`BlockingAuthorizer`] sharing this authorizer's cache, for synchronous code.
    ///
    /// Flow authorizers (`en_auth_oauth2::ServiceAccountAuthorizer`,
    /// `en_auth_srp::SrpAuthorizer`) dereference to their [`Authorizer`], so
    /// `ServiceAccountAuthorizer::new(…)?.blocking()` works.
    pub fn blocking(&self) -> BlockingAuthorizer<P> {
        BlockingAuthorizer::new(self.clone())
    }
}

impl<P: TokenProvider> BlockingAuthorizer<P> {
    /// A blocking authorizer over `authorizer` (sharing its cache), waiting at most
    /// [`DEFAULT_WAIT_LIMIT`] for a token.
    pub fn new(authorizer: Authorizer<P>) -> Self {
        Self {
            inner: authorizer,
            wait_limit: DEFAULT_WAIT_LIMIT,
        }
    }

    /// The longest a call waits for a token before giving up with [`Error::Internal`]
    /// (default [`DEFAULT_WAIT_LIMIT`]). Keep it above the longest token request the flow's
    /// timeout and the [`RenewalPolicy`](crate::RenewalPolicy)'s retries allow: it is a guard
    /// against a token request that cannot make progress, not a timeout for slow ones.
    #[must_use]
    pub fn with_wait_limit(mut self, limit: Duration) -> Self {
        self.wait_limit = limit;
        self
    }

    /// The longest a call waits for a token.
    pub fn wait_limit(&self) -> Duration {
        self.wait_limit
    }

    /// The async [`Authorizer`] inside (sharing the cache).
    pub fn authorizer(&self) -> &Authorizer<P> {
        &self.inner
    }

    /// The client id. The secret is not exposed.
    pub fn client_id(&self) -> &str {
        self.inner.client_id()
    }

    /// A valid access token (the Python `en_auth` package's `access_token` property): the
    /// cached one while it is usable, at once; else the calling thread waits for a renewed one.
    /// Concurrent callers (threads or tasks, blocking or async) that find no usable token
    /// share one token request.
    ///
    /// # Errors
    /// As [`Authorizer::access_token`]: the provider's error (during the failure cooldown,
    /// marked with [`Error::cooldown`]). [`Error::Internal`] if en-auth's I/O runtime cannot
    /// be started, if called on one of its threads (from a [`TokenProvider`], where waiting
    /// would deadlock), or if no answer came within [`wait_limit`](Self::wait_limit).
    #[inline]
    pub fn access_token(&self) -> Result<CurrentToken, Error> {
        match self.inner.fresh_token() {
            Some(token) => Ok(token),
            None => self.renewed_token(),
        }
    }

    /// The token is due, rejected or missing: use it while a background renewal runs, if the
    /// policy allows, else wait for the renewal.
    #[cold]
    fn renewed_token(&self) -> Result<CurrentToken, Error> {
        let io = crate::io::handle()?;
        {
            // A background renewal that the cache look starts goes to the I/O runtime, not to
            // the caller's runtime, which may not be driven while its thread blocks here.
            let _io = io.enter();
            if let Ok(token) = self.inner.cached_token() {
                return Ok(token);
            }
        }
        self.wait_for_token(io)
    }

    /// The slow path: the async `access_token` run on the I/O runtime, its answer awaited on a
    /// `std` channel (no `block_on`: allowed on any thread).
    #[cold]
    fn wait_for_token(&self, io: &tokio::runtime::Handle) -> Result<CurrentToken, Error> {
        if std::thread::current().name() == Some(crate::io::THREAD_NAME) {
            return Err(InternalError::new(
                "the blocking API was called on a thread of en-auth's I/O runtime (from a token \
                 provider?), where waiting for a token would deadlock; use the async Authorizer there",
            )
            .into());
        }
        let (answer, answered) = mpsc::sync_channel(1);
        let authorizer = self.inner.clone();
        // The caller's `tracing` subscriber and span go with the request, as with
        // `run_on_io_runtime`.
        let request = async move {
            let _ = answer.send(authorizer.access_token().await);
        }
        .in_current_span()
        .with_current_subscriber();
        let task = io.spawn(request);
        match answered.recv_timeout(self.wait_limit) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                // Stops only this waiter: a token request under way goes on for the others.
                task.abort();
                Err(InternalError::new(format!(
                    "no token within the blocking wait limit ({:?}): the token request under way \
                     did not finish (a slow token endpoint, or a token request started on a test runtime \
                     whose clock is paused, which only that runtime drives)",
                    self.wait_limit
                ))
                .into())
            }
            Err(RecvTimeoutError::Disconnected) => Err(InternalError::new(
                "a blocking token request ended without an answer (its task was cancelled)",
            )
            .into()),
        }
    }

    /// Inserts `Authorization: Bearer <token>` (and `X-Api-Key` when the client has an API
    /// key) into `headers`, replacing any such headers, both marked sensitive. Returns the
    /// token's [generation](CurrentToken::generation), for [`invalidate`](Self::invalidate).
    ///
    /// It does not know where the headers go: check the URL with
    /// [`RequestPolicy::check_url`](crate::RequestPolicy::check_url) (or use
    /// [`authorize_request`](Self::authorize_request) or [`send`](Self::send), which do) before
    /// sending a bearer token anywhere but `https` or loopback.
    ///
    /// # Errors
    /// As [`access_token`](Self::access_token); [`Error::Configuration`] for a DPoP-bound
    /// token (RFC 9449), whose proof signs the request's method and URL, which headers alone
    /// do not tell (use [`authorize_request`](Self::authorize_request) or
    /// [`send`](Self::send)). `headers` is left unchanged on error.
    pub fn authorize(&self, headers: &mut http::HeaderMap) -> Result<u64, Error> {
        let token = self.access_token()?;
        if token.is_dpop() {
            return Err(crate::ConfigurationError::new(
                "a DPoP-bound token needs a proof of the request's method and URL: authorize \
                 the whole request (authorize_request or send), not its headers",
            )
            .into());
        }
        self.inner.apply_headers(headers, &token);
        Ok(token.generation())
    }

    /// Marks the token of `generation` as rejected (a resource server answered `401` to a
    /// request that carried it), so that the next call renews it. Does nothing if that token
    /// has already been replaced, or if a request replayed with it after a rejection was
    /// rejected again within the last 30 seconds (see [`Authorizer::invalidate`]). Never
    /// blocks.
    pub fn invalidate(&self, generation: u64) {
        self.inner.invalidate(generation);
    }
}
