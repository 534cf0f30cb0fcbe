//! The caching, single-flight [`Authorizer`]: what the Python `en_auth` package's `Authorizer`
//! provides (`__call__`, `access_token`, `client_id`) over any [`TokenProvider`].
//!
//! It composes the parts: the token cache (`cache.rs`) read on the hot path, the renewal timing
//! and retries (`policy.rs`), the single flight with its cooldown (`flight.rs`) on the slow
//! path, and the rules for the requests it authorizes (`request_policy.rs`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::Guard;
use futures::future::{Either, FutureExt};
use http::HeaderValue;
use secrecy::ExposeSecret;
use tracing::Instrument;

use crate::cache::{CacheMiss, CurrentToken, Entry, TokenCache};
use crate::flight::SingleFlight;
use crate::telemetry::{self, LastRejection, RenewalTrigger};
use crate::{
    Error, InternalError, RenewalPolicy, RequestPolicy, Token, TokenProvider, API_KEY_HEADER,
    AUTHORIZATION_HEADER,
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
    policy: RenewalPolicy,
    requests: RequestPolicy,
    api_key: Option<HeaderValue>,
    cache: TokenCache,
    flight: SingleFlight<Arc<Entry>>,
    token_requests: AtomicU64,
    /// Why the current token was last rejected, for the renewal's trigger.
    rejections: LastRejection,
}

impl<P: TokenProvider> std::fmt::Debug for Authorizer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entry = self.inner.cache.load();
        f.debug_struct("Authorizer")
            .field("client_info", self.inner.provider.client_info())
            .field("flow", &self.inner.provider.flow())
            .field("environment", &self.inner.provider.environment_id())
            .field("token", &(entry.generation() != 0).then_some(entry.token()))
            .field("token_requests", &self.token_requests())
            .field("policy", &self.inner.policy)
            .field("requests", &self.inner.requests)
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
                cache: TokenCache::new(),
                flight: SingleFlight::new(),
                token_requests: AtomicU64::new(0),
                rejections: LastRejection::default(),
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

    /// The client id (the Python `en_auth` package's `client_id` property). The secret is not
    /// exposed.
    pub fn client_id(&self) -> &str {
        self.inner.provider.client_info().client_id()
    }

    /// How many times this authorizer has asked its provider for a token (calls of
    /// `authorize()` or `refresh()`, retries included), since it was created.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// A valid access token (the Python `en_auth` package's `access_token` property): the
    /// cached one while it is usable, else a renewed one. Concurrent callers that find no
    /// usable token share one token request.
    ///
    /// The returned future is ready at once when the token is usable; only a wait allocates.
    ///
    /// # Errors
    /// The provider's error when a token had to be obtained and could not be; every caller
    /// waiting on that token request gets a clone of it, and so do callers during the
    /// failure cooldown ([`RenewalPolicy::with_failure_cooldown`]), marked with
    /// [`Error::cooldown`].
    #[inline]
    pub fn access_token(&self) -> impl Future<Output = Result<CurrentToken, Error>> + Send + '_ {
        match self.cached_token() {
            Ok(token) => Either::Left(futures::future::ready(Ok(token))),
            Err(miss) => Either::Right(renew(&self.inner, miss.generation(), false).boxed()),
        }
    }

    /// The cached token if it is usable, without waiting (starting a background renewal if it
    /// needs renewal and may still be used meanwhile).
    ///
    /// # Errors
    /// [`CacheMiss`] when there is no token yet, or it needs renewal and may not be used
    /// meanwhile, or a resource server rejected it: [`Authorizer::access_token`] would renew
    /// it.
    #[inline]
    pub fn cached_token(&self) -> Result<CurrentToken, CacheMiss> {
        let entry = self.inner.cache.load();
        if !entry.is_valid() {
            return Err(CacheMiss::new(entry.generation()));
        }
        if !self.inner.provider.expired(entry.token()) {
            return Ok(CurrentToken::from_guard(entry));
        }
        self.due(entry)
    }

    /// The token needs renewal: keep using it while a background renewal runs, if the policy
    /// allows and it has time left.
    #[cold]
    fn due(&self, entry: Guard<Arc<Entry>>) -> Result<CurrentToken, CacheMiss> {
        let usable = self.inner.policy.proactive()
            && entry.usable_while_renewed()
            && tokio::runtime::Handle::try_current().is_ok();
        if !usable {
            return Err(CacheMiss::new(entry.generation()));
        }
        if entry.claim_background_renewal() {
            let inner = Arc::clone(&self.inner);
            let claimed = Arc::clone(&entry);
            tokio::spawn(async move {
                if let Err(error) = renew(&inner, claimed.generation(), true).await {
                    // Whatever ended it (a cooldown, a panic), allow another background renewal
                    // of this token later, so that it is not waited for at its expiry.
                    let wait = error
                        .cooldown()
                        .map_or(inner.policy.cooldown(1, &error), |c| c.next_attempt_in);
                    claimed.retry_background_after(wait);
                }
            });
        }
        Ok(CurrentToken::from_guard(entry))
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
        self.apply_headers(request.headers_mut(), &token);
        Ok(token.generation())
    }

    /// Marks the token of `generation` as rejected, so that the next request renews it.
    /// Does nothing if that token has already been replaced (a burst of 401s for one token
    /// causes one renewal), or if a request replayed with it after a 401 was rejected again
    /// within the last 30 seconds (then the token is not the problem, and renewing it on every
    /// request would only load the token endpoint).
    ///
    /// The renewal's trigger (in metrics and spans) is [`RenewalTrigger::Rejected`]; see
    /// [`Authorizer::invalidate_with`].
    pub fn invalidate(&self, generation: u64) {
        self.invalidate_with(generation, RenewalTrigger::Rejected);
    }

    /// [`Authorizer::invalidate`], naming what rejected the token: the renewal that follows
    /// records `trigger` (the `trigger` field of the `en_auth.token_request` span and label of
    /// the renewals metric). Adapters pass [`RenewalTrigger::GrpcUnauthenticated`] for a gRPC
    /// `UNAUTHENTICATED` answer, [`RenewalTrigger::Rejected`] for an HTTP rejection.
    pub fn invalidate_with(&self, generation: u64, trigger: RenewalTrigger) {
        if self.inner.cache.invalidate(generation) {
            self.inner.rejections.note(generation, trigger);
            telemetry::token_rejected(self.inner.provider.flow(), generation, trigger);
        }
    }

    /// Records that a request replayed with the token of `generation`, just after a rejection
    /// and a renewal, was rejected again: the token is not the problem, so rejections do not
    /// renew it for 30 seconds. For adapters to other HTTP stacks; the middleware calls it.
    pub fn replay_rejected(&self, generation: u64) {
        self.inner.cache.replay_rejected(generation);
    }

    /// Inserts `Authorization: <token's header>` and, when the client has an API key,
    /// `X-Api-Key` into `headers`, replacing any such headers; both values are marked
    /// sensitive. For adapters to other HTTP stacks; [`Authorizer::authorize_request`] does
    /// this for `reqwest`.
    pub fn apply_headers(&self, headers: &mut http::HeaderMap, token: &CurrentToken) {
        headers.insert(AUTHORIZATION_HEADER, token.header_value().clone());
        if let Some(key) = &self.inner.api_key {
            headers.insert(API_KEY_HEADER, key.clone());
        }
    }
}

/// Joins or starts the token request that replaces the token of generation `stale`
/// (`background`: a proactive renewal, which no request waits for).
async fn renew<P: TokenProvider>(
    inner: &Arc<Inner<P>>,
    stale: u64,
    background: bool,
) -> Result<CurrentToken, Error> {
    // Another request may have landed between the caller's look and the flight's lock: a newer
    // token that nobody has rejected is the one to use, even if it already needs renewal (a
    // token with no lifetime), so that each wave of callers costs one token request.
    let fresh = || {
        let current = inner.cache.load_full();
        (current.generation() != stale && current.is_valid()).then_some(current)
    };
    let work = |id| token_request(Arc::clone(inner), id, background);
    let result = inner.flight.get(fresh, work).await.map(CurrentToken::new);
    match &result {
        Err(error) if !background => telemetry::cooldown_answered(inner.provider.flow(), error),
        _ => {}
    }
    result
}

/// Why the token request replacing the current token starts.
fn trigger<P: TokenProvider>(inner: &Inner<P>, background: bool) -> RenewalTrigger {
    let current = inner.cache.load();
    if current.generation() == 0 {
        RenewalTrigger::Initial
    } else if !current.is_valid() {
        inner.rejections.trigger_for(current.generation())
    } else if background {
        RenewalTrigger::Proactive
    } else {
        RenewalTrigger::Expired
    }
}

/// One token request, as the flight's work: the provider asked (with retries), the result
/// published to the cache and the failure cooldown set, under the flight's lock.
async fn token_request<P: TokenProvider>(
    inner: Arc<Inner<P>>,
    id: u64,
    background: bool,
) -> Result<Arc<Entry>, Error> {
    let flow = inner.provider.flow();
    let trigger = trigger(&inner, background);
    let span = telemetry::token_request_span_for(
        flow,
        inner.provider.client_info().client_id(),
        inner.provider.environment_id().unwrap_or(""),
        trigger,
    );
    span.in_scope(|| telemetry::renewal_started(flow, trigger));
    let started = Instant::now();
    // A panicking provider is a failed token request like any other: it lands, with its
    // cooldown, instead of being run again by every new wave of callers.
    let asked = std::panic::AssertUnwindSafe(inner.policy.retry(|attempt| {
        tracing::Span::current().record("attempt", attempt);
        ask_provider(&inner).inspect(move |result| {
            if let Err(error) = result {
                telemetry::attempt_failed(flow, error);
            }
        })
    }))
    .catch_unwind()
    .instrument(span.clone())
    .await;
    let result = asked
        .unwrap_or_else(|_| {
            let error = InternalError::new("the token provider panicked").into();
            telemetry::attempt_failed(flow, &error);
            Err(error)
        })
        .and_then(|token| Entry::new(token, id).map(Arc::new));
    let duration = started.elapsed();
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    telemetry::token_request_ended(&span, flow, result.as_ref().map(|_| ()), duration);

    let cooldown = inner.flight.land(
        id,
        &result,
        |entry| inner.cache.publish(Arc::clone(entry)),
        |failures, error| inner.policy.cooldown(failures, error),
    );
    let _in = span.enter();
    match &result {
        Ok(entry) => {
            tracing::info!(
                lifetime_s = entry.token().lifetime().map(|l| l.as_secs()),
                duration_ms,
                "token obtained"
            );
        }
        Err(error) => {
            // A token that is still usable may try a background renewal again after the cooldown.
            inner.cache.load().retry_background_after(cooldown);
            tracing::warn!(
                %error,
                duration_ms,
                cooldown_ms = u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX),
                "token request failed"
            );
        }
    }
    result
}

/// One call of the provider: `refresh()` when there is a token to renew (falling back to
/// `authorize()` when the refresh is refused), else `authorize()`.
async fn ask_provider<P: TokenProvider>(inner: &Inner<P>) -> Result<Token, Error> {
    let previous = inner.cache.load_full();
    let has_token = previous.generation() != 0;
    inner.token_requests.fetch_add(1, Ordering::Relaxed);
    if !has_token {
        return inner.provider.authorize().await;
    }
    match inner.provider.refresh(previous.token()).await {
        Err(e) if e.is_refresh_refused() => {
            tracing::debug!(error = %e, "refresh refused; authorizing from scratch");
            inner.token_requests.fetch_add(1, Ordering::Relaxed);
            inner.provider.authorize().await
        }
        other => other,
    }
}
