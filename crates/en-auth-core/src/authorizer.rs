//! The caching, single-flight [`Authorizer`]: the seed's provided `Authorizer` behaviour
//! (`__call__`, `access_token`, `client_id`) over any [`TokenProvider`].
//!
//! How it works:
//! - The current token lives in an [`ArcSwap`] together with its pre-built `Authorization`
//!   header. A request that finds it fresh reads it without a lock, an allocation or a
//!   shared-memory write ([`Authorizer::access_token`]).
//! - A request that finds it stale (or invalidated by a 401) joins the one *flight* that
//!   renews it, starting it if there is none. The flight is a shared future kept in a slot,
//!   so exactly one token request is under way however many tasks wait, every waiter gets its
//!   result (token or error), and a waiter that is cancelled — even the one that started it —
//!   does not stop it for the others.
//! - A token is never handed out for a request while it is known stale, so no request goes
//!   out without a valid header while a renewal is in flight.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use arc_swap::{ArcSwap, Guard};
use std::future::Future;

use futures::future::{BoxFuture, Either, FutureExt, Shared};
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use crate::{Error, Token, TokenProvider, API_KEY_HEADER, AUTHORIZATION_HEADER};

/// Caches the tokens of a [`TokenProvider`] and authorizes requests with them.
///
/// Cheap to clone (clones share the cache), `Send + Sync`, and usable as a
/// [`reqwest_middleware::Middleware`].
///
/// - The current token lives in an `ArcSwap` together with its pre-built `Authorization`
///   header. A request that finds it fresh reads it without a lock, an allocation or a
///   shared-memory write ([`Authorizer::access_token`]).
/// - A request that finds it stale (or invalidated by a 401) joins the one token request under
///   way, starting it if there is none: however many tasks wait, one request goes out, every
///   waiter gets its result (token or error), and a waiter that is cancelled — even the one that
///   started it — does not cancel it for the others.
/// - A token is never handed out while it is known stale, so no request goes out with an
///   expired header while a renewal is in flight.
pub struct Authorizer<P> {
    inner: Arc<Inner<P>>,
}

impl<P> Clone for Authorizer<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<P> {
    provider: P,
    api_key: Option<HeaderValue>,
    current: ArcSwap<Entry>,
    flight: Mutex<Option<(u64, Flight)>>,
    generations: AtomicU64,
    token_requests: AtomicU64,
}

type Flight = Shared<BoxFuture<'static, Result<Arc<Entry>, Error>>>;

/// One cached token with its header, as handed out by [`Authorizer::access_token`].
struct Entry {
    token: Token,
    header: HeaderValue,
    generation: u64,
    invalidated: AtomicBool,
}

impl Entry {
    /// The "no token yet" placeholder: generation 0, already invalid.
    fn empty() -> Self {
        Self {
            token: Token::new("", None),
            header: HeaderValue::from_static(""),
            generation: 0,
            invalidated: AtomicBool::new(true),
        }
    }
}

/// A token handed out by [`Authorizer::access_token`]. Dereferences to [`Token`].
///
/// It borrows the cache's copy without copying the secret; keep it briefly (it is not meant to
/// be stored: ask the authorizer again for each request).
pub struct CurrentToken {
    entry: Guard<Arc<Entry>>,
}

impl CurrentToken {
    /// The access token.
    pub fn secret(&self) -> &SecretString {
        self.entry.token.access_token()
    }

    /// The ready `Authorization` header value (`Bearer <token>`, marked sensitive).
    pub fn header_value(&self) -> &HeaderValue {
        &self.entry.header
    }

    /// Identifies this token within its authorizer; pass it to [`Authorizer::invalidate`].
    pub fn generation(&self) -> u64 {
        self.entry.generation
    }
}

impl Deref for CurrentToken {
    type Target = Token;
    fn deref(&self) -> &Token {
        &self.entry.token
    }
}

impl std::fmt::Debug for CurrentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentToken")
            .field("token", &self.entry.token)
            .field("generation", &self.entry.generation)
            .finish()
    }
}

impl<P: TokenProvider> Authorizer<P> {
    /// An authorizer over `provider`, with an empty cache: the first request obtains a token.
    pub fn new(provider: P) -> Self {
        let api_key = provider.client_info().api_key().and_then(|key| {
            let mut value = HeaderValue::from_str(key.expose_secret()).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Self {
            inner: Arc::new(Inner {
                provider,
                api_key,
                current: ArcSwap::from_pointee(Entry::empty()),
                flight: Mutex::new(None),
                generations: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
            }),
        }
    }

    /// The provider behind this authorizer.
    pub fn provider(&self) -> &P {
        &self.inner.provider
    }

    /// The client id (the seed's `client_id` property). The secret is not exposed.
    pub fn client_id(&self) -> &str {
        self.inner.provider.client_info().client_id()
    }

    /// How many times this authorizer has asked its provider for a token (calls of
    /// `authorize()` or `refresh()`), since it was created.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// A valid access token (the seed's `access_token` property): the cached one while it is
    /// fresh, else a renewed one. Concurrent callers that find the token stale share one token
    /// request.
    ///
    /// # Errors
    /// The provider's error when a token had to be obtained and could not be; every caller
    /// waiting on that token request gets a clone of it.
    ///
    /// The returned future is ready at once when the token is fresh; only a renewal allocates.
    #[inline]
    pub fn access_token(&self) -> impl Future<Output = Result<CurrentToken, Error>> + Send + '_ {
        match self.cached_token() {
            Ok(token) => Either::Left(futures::future::ready(Ok(token))),
            Err(stale) => Either::Right(self.renew(stale).boxed()),
        }
    }

    /// The cached token if it is fresh, without waiting; otherwise the
    /// [generation](CurrentToken::generation) of the stale one (0 when there is none), which
    /// [`Authorizer::access_token`] would renew.
    ///
    /// # Errors
    /// `Err(generation)` when the cached token is missing, due or invalidated.
    #[inline]
    pub fn cached_token(&self) -> Result<CurrentToken, u64> {
        let entry = self.inner.current.load();
        if self.is_fresh(&entry) {
            Ok(CurrentToken { entry })
        } else {
            Err(entry.generation)
        }
    }

    /// Adds `Authorization: Bearer <token>` (and `X-Api-Key` when the client has an API key) to
    /// `request`, replacing any such headers it had (the seed's `__call__(request)`).
    /// Returns the token's [generation](CurrentToken::generation).
    ///
    /// # Errors
    /// As [`Authorizer::access_token`]; the request is then left unchanged.
    pub async fn authorize_request(&self, request: &mut reqwest::Request) -> Result<u64, Error> {
        let token = self.access_token().await?;
        self.apply(request.headers_mut(), &token);
        Ok(token.generation())
    }

    /// Marks the token of `generation` as rejected, so that the next request renews it.
    /// Does nothing if that token has already been replaced: a burst of 401s for one token
    /// causes one renewal.
    pub fn invalidate(&self, generation: u64) {
        let entry = self.inner.current.load();
        if entry.generation == generation {
            entry.invalidated.store(true, Ordering::Release);
        }
    }

    pub(crate) fn apply(&self, headers: &mut http::HeaderMap, token: &CurrentToken) {
        headers.insert(AUTHORIZATION_HEADER, token.header_value().clone());
        if let Some(key) = &self.inner.api_key {
            headers.insert(API_KEY_HEADER, key.clone());
        }
    }

    #[inline]
    fn is_fresh(&self, entry: &Entry) -> bool {
        !entry.invalidated.load(Ordering::Acquire) && !self.inner.provider.expired(&entry.token)
    }

    /// The slow path: join or start the flight that replaces the token of generation `stale`.
    #[cold]
    async fn renew(&self, stale: u64) -> Result<CurrentToken, Error> {
        let flight = {
            let mut slot = self
                .inner
                .flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Another flight may have landed between our look and the lock: a newer token that
            // nobody has rejected is the one to use, even if it is already due again (a token
            // with no lifetime), so that each wave of callers costs one token request.
            let current = self.inner.current.load_full();
            if current.generation != stale && !current.invalidated.load(Ordering::Acquire) {
                return Ok(CurrentToken {
                    entry: Guard::from_inner(current),
                });
            }
            match &*slot {
                Some((_, flight)) => flight.clone(),
                None => {
                    let id = self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1;
                    let flight = fly(Arc::clone(&self.inner), id).boxed().shared();
                    *slot = Some((id, flight.clone()));
                    flight
                }
            }
        };
        let entry = flight.await?;
        Ok(CurrentToken {
            entry: Guard::from_inner(entry),
        })
    }
}

/// One token request: refresh the current token if there is one (falling back to a full
/// authorization when the refresh is refused), publish the result, and clear the slot.
async fn fly<P: TokenProvider>(inner: Arc<Inner<P>>, generation: u64) -> Result<Arc<Entry>, Error> {
    let span = tracing::info_span!(
        "en_auth.token",
        flow = inner.provider.flow(),
        environment = inner.provider.environment_id().unwrap_or(""),
        client_id = inner.provider.client_info().client_id(),
        renewal = tracing::field::Empty,
        outcome = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = async {
        let previous = inner.current.load_full();
        let has_token = previous.generation != 0;
        tracing::Span::current().record("renewal", has_token);
        inner.token_requests.fetch_add(1, Ordering::Relaxed);
        let token = if has_token {
            match inner.provider.refresh(&previous.token).await {
                Err(e) if e.is_refresh_refused() => {
                    tracing::debug!(error = %e, "refresh refused; authorizing from scratch");
                    inner.token_requests.fetch_add(1, Ordering::Relaxed);
                    inner.provider.authorize().await
                }
                other => other,
            }
        } else {
            inner.provider.authorize().await
        }?;
        let entry = Arc::new(Entry {
            header: bearer_header(&token)?,
            token,
            generation,
            invalidated: AtomicBool::new(false),
        });
        inner.current.store(Arc::clone(&entry));
        Ok(entry)
    }
    .instrument(span.clone())
    .await;

    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("latency_ms", latency_ms);
    match &result {
        Ok(entry) => {
            span.record("outcome", "ok");
            span.in_scope(|| {
                tracing::info!(
                    lifetime_s = entry.token.lifetime().map(|l| l.as_secs()),
                    latency_ms,
                    "token obtained"
                );
            });
        }
        Err(error) => {
            span.record("outcome", "error");
            span.in_scope(|| tracing::warn!(%error, latency_ms, "token request failed"));
        }
    }

    let mut slot = inner.flight.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref().is_some_and(|(id, _)| *id == generation) {
        *slot = None;
    }
    result
}

/// `Bearer <token>` as a sensitive header value. The scheme is always written `Bearer`
/// (RFC 6750 §2.1), whatever case the server used for `token_type`.
fn bearer_header(token: &Token) -> Result<HeaderValue, Error> {
    let secret = token.access_token().expose_secret();
    let mut bytes = Vec::with_capacity(7 + secret.len());
    bytes.extend_from_slice(b"Bearer ");
    bytes.extend_from_slice(secret.as_bytes());
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from(bytes)).map_err(|_| {
        crate::InvalidResponseError::new(
            "token provider",
            None,
            "the access token contains characters not allowed in an HTTP header",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}
