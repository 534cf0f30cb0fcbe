//! The caching, single-flight [`Authorizer`]: what the Python `en_auth` package's `Authorizer`
//! provides (`__call__`, `access_token`, `client_id`) over any [`TokenProvider`].
//!
//! It composes the parts: the token cache (`cache.rs`) read on the hot path, the renewal timing
//! and retries (`policy.rs`), the single flight with its cooldown (`flight.rs`) on the slow
//! path, and the rules for the requests it authorizes (`request_policy.rs`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::Guard;
use futures::future::{Either, FutureExt};
use http::HeaderValue;
use secrecy::ExposeSecret;
use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use crate::cache::{CacheMiss, CurrentToken, Entry, TokenCache};
use crate::clock;
use crate::flight::SingleFlight;
use crate::shared::{NewToken, ReplacedToken, Shared, TokenOrigin};
use crate::telemetry::{self, LastRejection, RenewalTrigger};
use crate::{
    AuthorizerBuilder, Error, InternalError, RenewalPolicy, RequestPolicy, SharedStore,
    SharedStoreSettings, Token, TokenProvider, API_KEY_HEADER, AUTHORIZATION_HEADER,
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
///
/// # Which call to use
///
/// | You have | Call | It |
/// |---|---|---|
/// | a request (reqwest, `http::Request`, any [`OutgoingRequest`](crate::OutgoingRequest)) | [`authorize`](Authorizer::authorize), then [`verdict`](Authorizer::verdict) on the answer | checks where it goes, waits for a usable token, writes the headers; judges the answer (the request contract) |
/// | a request, in a synchronous fast path (a tower `call`) | [`authorize_cached`](Authorizer::authorize_cached) | as `authorize`, but `Ok(None)` instead of waiting |
/// | async code that needs the token itself | [`access_token`](Authorizer::access_token) | waits for a usable token (ready at once when cached) |
/// | async code that must not wait | [`cached_token`](Authorizer::cached_token) | the cached token or a [`CacheMiss`]; starts nothing but a background renewal of a token still usable |
/// | a synchronous hook on any thread (a tonic interceptor) | [`try_current_token`](Authorizer::try_current_token) | never waits; starts the renewal on en-auth's I/O runtime when there is no usable token |
/// | synchronous code that may block | `blocking()` → `BlockingAuthorizer::access_token` | blocks the thread until a token is there (cargo feature `blocking`) |
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
    /// The fleet's shared store, when one is configured and the provider can share.
    shared: Option<Shared>,
    /// Why the current token was last rejected, for the renewal's trigger.
    rejections: LastRejection,
    /// The provider's DPoP key (RFC 9449), when its tokens are DPoP-bound.
    dpop: Option<crate::Dpop>,
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
            .field("shared_store", &self.shared_store())
            .field("dpop", &self.inner.dpop)
            .finish()
    }
}

impl<P: TokenProvider> Authorizer<P> {
    /// An authorizer over `provider` with the default policies and an empty cache: the first
    /// request obtains a token. [`AuthorizerBuilder`] sets the policies and a shared store.
    pub fn new(provider: P) -> Self {
        AuthorizerBuilder::new().build(provider)
    }

    pub(crate) fn assemble(
        provider: P,
        policy: RenewalPolicy,
        requests: RequestPolicy,
        store: Option<(Arc<dyn SharedStore>, SharedStoreSettings)>,
    ) -> Self {
        let shared = store.and_then(|(store, settings)| match provider.shared_identity() {
            Some(identity) => Some(Shared::new(
                store,
                settings,
                identity.key(),
                provider.flow(),
            )),
            None => {
                tracing::debug!(
                    client_id = provider.client_info().client_id(),
                    flow = provider.flow(),
                    "this flow does not share tokens; the shared store is not used"
                );
                None
            }
        });
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
        let dpop = provider.dpop();
        Self {
            inner: Arc::new(Inner {
                dpop,
                provider,
                policy,
                requests,
                api_key,
                cache: TokenCache::new(),
                flight: SingleFlight::new(),
                token_requests: AtomicU64::new(0),
                shared,
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

    /// The DPoP key (RFC 9449) its provider binds tokens to, if any.
    pub fn dpop(&self) -> Option<&crate::Dpop> {
        self.inner.dpop.as_ref()
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

    /// The address of the shared store this authorizer uses (`redis://127.0.0.1:6379`), if
    /// any.
    pub fn shared_store(&self) -> Option<&str> {
        self.inner.shared.as_ref().map(Shared::address)
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

    /// The cached token if it is fresh (usable, not due for renewal), without starting
    /// anything: the blocking API's first look, which must not start a background renewal on
    /// the caller's runtime.
    #[cfg(feature = "blocking")]
    #[inline]
    pub(crate) fn fresh_token(&self) -> Option<CurrentToken> {
        let entry = self.inner.cache.load();
        (entry.is_valid() && !self.inner.provider.expired(entry.token()))
            .then(|| CurrentToken::from_guard(entry))
    }

    /// The usable token now, for synchronous callers (a tonic interceptor, say): never waits.
    ///
    /// Works from any thread, with or without a Tokio runtime. When no token is usable (none
    /// yet, expired, or rejected) it starts the renewal — or joins the one under way — on
    /// en-auth's own I/O runtime and returns at once; a later call gets the new token once the
    /// renewal has landed. A token that needs renewal but may still be used is returned, with
    /// its renewal started in the background. Concurrent callers share one token request, as
    /// with [`Authorizer::access_token`].
    ///
    /// ```
    /// # use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider, TokenUnavailable};
    /// # struct Fixed(ClientInfo);
    /// # impl TokenProvider for Fixed {
    /// #     async fn authorize(&self) -> Result<Token, Error> { Ok(Token::new("t", None)) }
    /// #     fn client_info(&self) -> &ClientInfo { &self.0 }
    /// # }
    /// let authorizer = Authorizer::new(Fixed(ClientInfo::new("svc", "secret")));
    /// // A plain thread, no runtime: the first call starts the token request.
    /// match authorizer.try_current_token() {
    ///     Ok(token) => println!("Authorization: {:?}", token.header_value()),
    ///     Err(TokenUnavailable::Renewing) => println!("not yet: ask again shortly"),
    ///     Err(TokenUnavailable::Failed(error)) => println!("{error}"),
    /// }
    /// ```
    ///
    /// # Errors
    /// [`TokenUnavailable::Renewing`] while the renewal is under way;
    /// [`TokenUnavailable::Failed`] with the token request's error when it has failed (during
    /// its cooldown, marked with [`Error::cooldown`]), or when en-auth's I/O runtime cannot be
    /// started.
    pub fn try_current_token(&self) -> Result<CurrentToken, TokenUnavailable> {
        if let Ok(token) = self.cached_token() {
            return Ok(token);
        }
        // Inside the I/O runtime's context, a background renewal (of a token still usable) or
        // a new token request is spawned there, whatever runtime (or none) the caller has.
        let io = crate::io::handle().map_err(TokenUnavailable::Failed)?;
        let _io = io.enter();
        if let Ok(token) = self.cached_token() {
            return Ok(token);
        }
        // One poll: a fresh token, a cooldown's error, or the flight started (or joined) and
        // left running when the poll's future is dropped.
        match self.access_token().now_or_never() {
            Some(result) => result.map_err(TokenUnavailable::Failed),
            None => Err(TokenUnavailable::Renewing),
        }
    }

    /// The token needs renewal: keep using it while a background renewal runs, if the policy
    /// allows and it has time left. The renewal runs on en-auth's I/O runtime
    /// ([`clock::task_runtime`]), whatever runtime the caller has, or none.
    #[cold]
    fn due(&self, entry: Guard<Arc<Entry>>) -> Result<CurrentToken, CacheMiss> {
        if !(self.inner.policy.proactive() && entry.usable_while_renewed()) {
            return Err(CacheMiss::new(entry.generation()));
        }
        if entry.claim_background_renewal() {
            let inner = Arc::clone(&self.inner);
            let claimed = Arc::clone(&entry);
            let renewal = async move {
                if let Err(error) = renew(&inner, claimed.generation(), true).await {
                    // Whatever ended it (a cooldown, a panic), allow another background renewal
                    // of this token later, so that it is not waited for at its expiry.
                    let wait = error
                        .cooldown()
                        .map_or(inner.policy.cooldown(1, &error), |c| c.next_attempt_in);
                    claimed.retry_background_after(wait);
                }
            };
            match clock::task_runtime() {
                Ok(runtime) => {
                    runtime.spawn(renewal.with_current_subscriber());
                }
                Err(error) => {
                    // No runtime to renew on: the token is used while it may be, and tried
                    // again after a cooldown; a caller that must wait gets the error.
                    entry.retry_background_after(self.inner.policy.cooldown(1, &error));
                    tracing::warn!(%error, "cannot start a background renewal");
                }
            }
        }
        Ok(CurrentToken::from_guard(entry))
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
    /// the renewals metric).
    pub fn invalidate_with(&self, generation: u64, trigger: RenewalTrigger) {
        if self.inner.cache.invalidate(generation) {
            self.inner.rejections.note(generation, trigger);
            telemetry::token_rejected(self.inner.provider.flow(), generation, trigger);
        }
    }

    /// Forgets the cached token in this process, so that the next request obtains a new one
    /// from the provider ([`TokenProvider::refresh`] with it, or [`TokenProvider::authorize`]),
    /// whatever holds rejections off (see [`Authorizer::invalidate`]). For a sign-out: a
    /// provider that has just revoked its session (`en_auth_srp::SrpAuthorizer::revoke`) makes
    /// sure the revoked tokens are not sent again. A token request already under way still
    /// publishes its token; a token in a shared store is not touched. Nothing is recorded as a
    /// rejection.
    pub fn forget(&self) {
        if self.inner.cache.forget() {
            tracing::debug!(flow = self.inner.provider.flow(), "cached token forgotten");
        }
    }

    /// Records that a request replayed with the token of `generation`, just after a rejection
    /// and a renewal, was rejected again: the token is not the problem, so rejections do not
    /// renew it for 30 seconds.
    pub(crate) fn replay_rejected(&self, generation: u64) {
        self.inner.cache.replay_rejected(generation);
    }

    /// Whether rejections of the token of `generation` are held off (see
    /// [`Authorizer::invalidate`]): a rejection then neither renews it nor earns a replay.
    pub(crate) fn rejections_held(&self, generation: u64) -> bool {
        self.inner.cache.rejections_held(generation)
    }

    /// Inserts `Authorization: <token's header>` and, when the client has an API key,
    /// `X-Api-Key` into `headers`, replacing any such headers; both values are marked
    /// sensitive. For a synchronous hook that sees only headers (a tonic interceptor, with
    /// [`Authorizer::try_current_token`]); adapters that see the whole request use
    /// [`Authorizer::authorize`], which checks where the request goes first.
    ///
    /// A DPoP-bound token (RFC 9449, [`Token::is_dpop`]) also needs a `DPoP` proof of the
    /// request's method and URI, which headers alone do not tell: this writes only
    /// `Authorization: DPoP …`; use [`Authorizer::authorize`] (or `en-auth-tower`'s layer),
    /// which signs the proof.
    pub fn apply_headers(&self, headers: &mut http::HeaderMap, token: &CurrentToken) {
        headers.insert(AUTHORIZATION_HEADER, token.header_value().clone());
        if let Some(key) = &self.inner.api_key {
            headers.insert(API_KEY_HEADER, key.clone());
        }
    }
}

/// Why [`Authorizer::try_current_token`] has no token to hand out now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenUnavailable {
    /// No usable token: its renewal is under way (started by this call or an earlier one). Ask
    /// again later, or await [`Authorizer::access_token`] to wait for it.
    #[error("no usable token yet: its renewal is under way")]
    Renewing,
    /// The token request failed (during its cooldown, the error says so:
    /// [`Error::cooldown`]).
    #[error(transparent)]
    Failed(Error),
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
    let started = clock::now();
    // A panicking provider is a failed token request like any other: it lands, with its
    // cooldown, instead of being run again by every new wave of callers.
    let asked = std::panic::AssertUnwindSafe(obtain(&inner, flow))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let mut origin = TokenOrigin::Provider;
    let result = asked
        .unwrap_or_else(|_| {
            let error = InternalError::new("the token provider panicked").into();
            telemetry::attempt_failed(flow, &error);
            Err(error)
        })
        .and_then(|new| {
            origin = new.origin;
            Entry::new(new.token, id).map(|entry| Arc::new(entry.with_shared_id(new.shared_id)))
        });
    let adopted = origin == TokenOrigin::SharedStore;
    let duration = clock::now().saturating_duration_since(started);
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    telemetry::token_request_ended(&span, flow, result.as_ref().map(|_| adopted), duration);

    let result = result.map_err(|e| e.with_environment(inner.provider.environment_id()));
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
                shared = adopted,
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

/// A token from the shared store, if there is one to adopt, else from the provider with
/// retries.
async fn obtain<P: TokenProvider>(inner: &Inner<P>, flow: &'static str) -> Result<NewToken, Error> {
    let fetch = || {
        inner.policy.retry(|attempt| {
            tracing::Span::current().record("attempt", attempt);
            ask_provider(inner).inspect(move |result| {
                if let Err(error) = result {
                    telemetry::attempt_failed(flow, error);
                }
            })
        })
    };
    let Some(shared) = &inner.shared else {
        return fetch().await.map(|token| NewToken {
            token,
            shared_id: None,
            origin: TokenOrigin::Provider,
        });
    };
    let previous = inner.cache.load_full();
    let replaced = ReplacedToken {
        shared_id: previous.shared_id(),
        rejected: previous.generation() != 0 && !previous.is_valid(),
    };
    shared.obtain(replaced, fetch).await
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;
    use crate::ClientInfo;

    /// Issues `token-1`, `token-2`, … once its gate is open.
    struct Gated {
        client: ClientInfo,
        calls: AtomicUsize,
        gate: tokio::sync::watch::Sender<bool>,
    }

    impl TokenProvider for Arc<Gated> {
        async fn authorize(&self) -> Result<Token, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let mut open = self.gate.subscribe();
            let _ = open.wait_for(|open| *open).await;
            Ok(Token::new(
                format!("token-{n}"),
                Some(Duration::from_secs(600)),
            ))
        }

        fn client_info(&self) -> &ClientInfo {
            &self.client
        }
    }

    /// Waits for the renewal under way (joining it: no new token request) on a runtime of its
    /// own.
    fn wait_for_renewal(authorizer: &Authorizer<Arc<Gated>>) -> u64 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(authorizer.access_token())
            .unwrap()
            .generation()
    }

    #[test]
    fn try_current_token_renews_in_the_background_from_a_thread_without_a_runtime() {
        let provider = Arc::new(Gated {
            client: ClientInfo::new("gated", "secret"),
            calls: AtomicUsize::new(0),
            gate: tokio::sync::watch::channel(false).0,
        });
        let authorizer = Authorizer::new(Arc::clone(&provider));
        assert!(tokio::runtime::Handle::try_current().is_err());

        // No token yet: the first call starts the token request, the second joins it.
        for _ in 0..2 {
            assert!(matches!(
                authorizer.try_current_token(),
                Err(TokenUnavailable::Renewing)
            ));
        }
        provider.gate.send_replace(true);
        let generation = wait_for_renewal(&authorizer);
        let token = authorizer.try_current_token().expect("the renewed token");
        assert_eq!(token.generation(), generation);
        assert_eq!(token.header_value(), "Bearer token-1");
        assert!(token.header_value().is_sensitive());
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);

        // A rejected token: the next call starts its renewal, once.
        authorizer.invalidate(generation);
        assert!(matches!(
            authorizer.try_current_token(),
            Err(TokenUnavailable::Renewing) | Ok(_)
        ));
        let renewed = wait_for_renewal(&authorizer);
        assert_ne!(renewed, generation);
        assert_eq!(
            authorizer.try_current_token().unwrap().header_value(),
            "Bearer token-2"
        );
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }
}
