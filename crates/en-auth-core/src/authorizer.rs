//! The caching, single-flight [`Authorizer`]: the behaviour the Python `en_auth` package's `Authorizer` provides
//! (`__call__`, `access_token`, `client_id`) over any [`TokenProvider`]. The slow path — the
//! one token request at a time, its retries and the failure cooldown — is in `flight.rs`.

use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use futures::future::{Either, FutureExt};
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::flight::Slot;
use crate::{
    Error, RenewalPolicy, RequestPolicy, Token, TokenProvider, API_KEY_HEADER, AUTHORIZATION_HEADER,
};

/// Caches the tokens of a [`TokenProvider`] and authorizes requests with them.
///
/// Cheap to clone (clones share the cache), `Send + Sync`, and usable as a
/// [`reqwest_middleware::Middleware`].
///
/// - The current token lives in an `ArcSwap` together with its pre-built `Authorization`
///   header. A request that finds it fresh reads it without a lock, an allocation or a
///   shared-memory write ([`Authorizer::access_token`]).
/// - When the token enters its renewal window ([`Token::renew_at`]) one renewal starts in the
///   background and requests keep using the token until shortly before it expires
///   ([`RenewalPolicy::with_proactive_renewal`]). A request that finds no usable token (none
///   yet, expired, or rejected with a 401) waits for the renewal.
/// - Single flight: however many tasks wait, one token request is under way; every waiter
///   gets its result (token or error), and a waiter that is cancelled — even the one that
///   started it — does not cancel it for the others.
/// - A failed token request is retried with backoff when the error is transient; once it has
///   failed, requests get its error at once for a short cooldown instead of asking again.
pub struct Authorizer<P> {
    pub(crate) inner: Arc<Inner<P>>,
}

impl<P> Clone for Authorizer<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(crate) struct Inner<P> {
    pub(crate) provider: P,
    pub(crate) policy: RenewalPolicy,
    requests: RequestPolicy,
    api_key: Option<HeaderValue>,
    pub(crate) current: ArcSwap<Entry>,
    pub(crate) slot: Mutex<Slot>,
    pub(crate) generations: AtomicU64,
    pub(crate) token_requests: AtomicU64,
}

/// One cached token with its header, as handed out by [`Authorizer::access_token`].
pub(crate) struct Entry {
    pub(crate) token: Token,
    header: HeaderValue,
    pub(crate) generation: u64,
    pub(crate) invalidated: AtomicBool,
    /// Until when the token may still be used while a renewal runs (coarse clock).
    usable_until: Option<coarsetime::Instant>,
    /// From when (coarse clock ticks) a background renewal may start; `u64::MAX` while one runs.
    background_after: AtomicU64,
    /// A request replayed with this token after a 401 was rejected again: the token is not
    /// the problem, so further 401s do not invalidate it.
    replay_rejected: AtomicBool,
}

/// The least time a token must have left to be used while it is renewed in the background:
/// 5 seconds, or an eighth of its lifetime if that is shorter — time for the request to reach
/// the resource server.
const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(5);

impl Entry {
    /// The "no token yet" placeholder: generation 0, already invalid.
    fn empty() -> Self {
        Self {
            token: Token::new("", None),
            header: HeaderValue::from_static(""),
            generation: 0,
            invalidated: AtomicBool::new(true),
            usable_until: None,
            background_after: AtomicU64::new(u64::MAX),
            replay_rejected: AtomicBool::new(false),
        }
    }

    /// A new entry for `token`.
    ///
    /// # Errors
    /// [`Error::InvalidResponse`] if the token cannot be sent in an HTTP header.
    pub(crate) fn new(token: Token, generation: u64) -> Result<Self, Error> {
        let usable_until = token.expires_at().map(|expires| {
            let margin = IN_FLIGHT_MARGIN.min(token.lifetime().unwrap_or_default() / 8);
            let left = expires
                .saturating_duration_since(Instant::now())
                .saturating_sub(margin);
            coarsetime::Instant::now_without_cache_update() + coarsetime::Duration::from(left)
        });
        Ok(Self {
            header: bearer_header(&token)?,
            token,
            generation,
            invalidated: AtomicBool::new(false),
            usable_until,
            background_after: AtomicU64::new(0),
            replay_rejected: AtomicBool::new(false),
        })
    }

    /// Allows another background renewal of this token `cooldown` from now (after one failed).
    pub(crate) fn retry_background_after(&self, cooldown: Duration) {
        let at =
            coarsetime::Instant::now_without_cache_update() + coarsetime::Duration::from(cooldown);
        self.background_after
            .store(at.as_ticks(), Ordering::Release);
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
    pub(crate) fn new(entry: Arc<Entry>) -> Self {
        Self {
            entry: Guard::from_inner(entry),
        }
    }

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

impl<P: TokenProvider> std::fmt::Debug for Authorizer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entry = self.inner.current.load();
        f.debug_struct("Authorizer")
            .field("client_info", self.inner.provider.client_info())
            .field("flow", &self.inner.provider.flow())
            .field("environment", &self.inner.provider.environment_id())
            .field("token", &(entry.generation != 0).then_some(&entry.token))
            .field("token_requests", &self.token_requests())
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl<P: TokenProvider> Authorizer<P> {
    /// An authorizer over `provider` with the default [`RenewalPolicy`] and an empty cache: the
    /// first request obtains a token.
    pub fn new(provider: P) -> Self {
        Self::with_policy(provider, RenewalPolicy::default())
    }

    /// An authorizer over `provider` with `policy` and the default [`RequestPolicy`].
    pub fn with_policy(provider: P, policy: RenewalPolicy) -> Self {
        Self::with_policies(provider, policy, RequestPolicy::default())
    }

    /// An authorizer over `provider` that renews tokens as `policy` says and treats the
    /// requests it authorizes as `requests` says (which URLs may carry a token, which answers
    /// reject it).
    pub fn with_policies(provider: P, policy: RenewalPolicy, requests: RequestPolicy) -> Self {
        let api_key = provider.client_info().api_key().and_then(|key| {
            let Ok(mut value) = HeaderValue::from_str(key.expose_secret()) else {
                tracing::error!(
                    client_id = provider.client_info().client_id(),
                    "the API key is not a valid header value; requests go without X-Api-Key \
                     (ClientInfo::validate reports this)"
                );
                return None;
            };
            value.set_sensitive(true);
            Some(value)
        });
        Self {
            inner: Arc::new(Inner {
                provider,
                policy,
                requests,
                api_key,
                current: ArcSwap::from_pointee(Entry::empty()),
                slot: Mutex::new(Slot::default()),
                generations: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
            }),
        }
    }

    /// The provider behind this authorizer.
    pub fn provider(&self) -> &P {
        &self.inner.provider
    }

    /// The renewal policy.
    pub fn policy(&self) -> &RenewalPolicy {
        &self.inner.policy
    }

    /// The request policy: which URLs may carry the token, which answers reject it.
    pub fn request_policy(&self) -> &RequestPolicy {
        &self.inner.requests
    }

    /// The client id (the Python `en_auth` package's `client_id` property). The secret is not exposed.
    pub fn client_id(&self) -> &str {
        self.inner.provider.client_info().client_id()
    }

    /// How many times this authorizer has asked its provider for a token (calls of
    /// `authorize()` or `refresh()`, retries included), since it was created.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// A valid access token (the Python `en_auth` package's `access_token` property): the cached one while it is
    /// usable, else a renewed one. Concurrent callers that find no usable token share one token
    /// request.
    ///
    /// The returned future is ready at once when the token is usable; only a wait allocates.
    ///
    /// # Errors
    /// The provider's error when a token had to be obtained and could not be; every caller
    /// waiting on that token request gets a clone of it, and so do callers during the
    /// failure cooldown ([`RenewalPolicy::with_failure_cooldown`]).
    #[inline]
    pub fn access_token(&self) -> impl Future<Output = Result<CurrentToken, Error>> + Send + '_ {
        match self.cached_token() {
            Ok(token) => Either::Left(futures::future::ready(Ok(token))),
            Err(stale) => Either::Right(crate::flight::renew(&self.inner, stale).boxed()),
        }
    }

    /// The cached token if it is usable, without waiting (starting a background renewal if it
    /// is due); otherwise the [generation](CurrentToken::generation) of the unusable one (0 when
    /// there is none), which [`Authorizer::access_token`] would renew.
    ///
    /// # Errors
    /// `Err(generation)` when the cached token is missing, expired or invalidated.
    #[inline]
    pub fn cached_token(&self) -> Result<CurrentToken, u64> {
        let entry = self.inner.current.load();
        if entry.invalidated.load(Ordering::Acquire) {
            return Err(entry.generation);
        }
        if !self.inner.provider.expired(&entry.token) {
            return Ok(CurrentToken { entry });
        }
        self.due(entry)
    }

    /// The token is due for renewal: keep using it while a background renewal runs, if the
    /// policy allows and it has time left.
    #[cold]
    fn due(&self, entry: Guard<Arc<Entry>>) -> Result<CurrentToken, u64> {
        let usable = self.inner.policy.proactive()
            && entry
                .usable_until
                .is_some_and(|until| coarsetime::Instant::now_without_cache_update() < until)
            && tokio::runtime::Handle::try_current().is_ok();
        if !usable {
            return Err(entry.generation);
        }
        let now = coarsetime::Instant::now_without_cache_update().as_ticks();
        let after = entry.background_after.load(Ordering::Acquire);
        if now >= after
            && entry
                .background_after
                .compare_exchange(after, u64::MAX, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let inner = Arc::clone(&self.inner);
            let generation = entry.generation;
            tokio::spawn(async move {
                let _ = crate::flight::renew(&inner, generation).await;
            });
        }
        Ok(CurrentToken { entry })
    }

    /// Adds `Authorization: Bearer <token>` (and `X-Api-Key` when the client has an API key) to
    /// `request`, replacing any such headers it had (the Python `en_auth` package's `__call__(request)`).
    /// Returns the token's [generation](CurrentToken::generation).
    ///
    /// # Errors
    /// [`Error::Configuration`] if the [`RequestPolicy`] forbids sending a token to the
    /// request's URL (plain `http` to a host that is not loopback, by default): no token is
    /// requested then. Otherwise as [`Authorizer::access_token`]. The request is left unchanged
    /// on error.
    pub async fn authorize_request(&self, request: &mut reqwest::Request) -> Result<u64, Error> {
        self.inner.requests.check_url(request.url())?;
        let token = self.access_token().await?;
        self.apply(request.headers_mut(), &token);
        Ok(token.generation())
    }

    /// Marks the token of `generation` as rejected, so that the next request renews it.
    /// Does nothing if that token has already been replaced (a burst of 401s for one token
    /// causes one renewal), or if a request replayed with it after a 401 was rejected again
    /// (then the token is not the problem, and renewing it on every request would only load
    /// the token endpoint).
    pub fn invalidate(&self, generation: u64) {
        let entry = self.inner.current.load();
        if entry.generation == generation && !entry.replay_rejected.load(Ordering::Acquire) {
            entry.invalidated.store(true, Ordering::Release);
        }
    }

    /// Records that a request replayed with the token of `generation`, just after a 401, was
    /// rejected again.
    pub(crate) fn replay_rejected(&self, generation: u64) {
        let entry = self.inner.current.load();
        if entry.generation == generation {
            entry.replay_rejected.store(true, Ordering::Release);
        }
    }

    pub(crate) fn apply(&self, headers: &mut http::HeaderMap, token: &CurrentToken) {
        headers.insert(AUTHORIZATION_HEADER, token.header_value().clone());
        if let Some(key) = &self.inner.api_key {
            headers.insert(API_KEY_HEADER, key.clone());
        }
    }
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
