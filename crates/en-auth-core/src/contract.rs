//! The request contract: how any HTTP stack authorizes a request with an [`Authorizer`] and
//! what it does with the answer. The `reqwest-middleware` adapter, the blocking API and
//! `en-auth-tower` use it; so can an adapter to any other stack.
//!
//! 1. **Before sending**: [`Authorizer::authorize`] (or, without waiting,
//!    [`Authorizer::authorize_cached`]) checks that the request's URI may carry a token
//!    ([`RequestPolicy`](crate::RequestPolicy)), writes the headers for this request
//!    (`Authorization`, `X-Api-Key`) and hands back a [`Ticket`] naming the token used. Keep a
//!    copy of the request if its body can be sent twice.
//! 2. **After the answer**: [`Authorizer::verdict`] reads its status and headers and says what
//!    to do ([`Verdict`]): keep the answer, replay the request once with new credentials, or
//!    return the answer as it is.
//! 3. **The replay**: [`Authorizer::authorize_replay`] renews the token and writes the new
//!    headers into the copy; `None` means "return the first answer". The replay's answer goes
//!    through [`Authorizer::verdict`] too (with the replay's ticket).
//!
//! With DPoP (RFC 9449) the same three steps sign a proof for each request, and a resource's
//! nonce challenge is answered by one replay with the same token (see [`Authorizer::verdict`]).
//!
//! The rules live here, once: a burst of rejections of one token costs one renewal (only the
//! token a request carried is invalidated); a replay rejected again means the token is not the
//! problem, and rejections do not renew it for 30 seconds; a request that cannot be copied is
//! not replayed (its rejection is returned, and the next request gets the new token).

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderName, Method, StatusCode};

use crate::cache::CurrentToken;
use crate::telemetry::RenewalTrigger;
use crate::{Authorizer, Error, TokenProvider};

/// The gRPC status code `UNAUTHENTICATED` (16): "the request does not have valid
/// authentication credentials" (gRPC status codes, `grpc/doc/statuscodes.md`).
pub const GRPC_STATUS_UNAUTHENTICATED: &str = "16";

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// A request an [`Authorizer`] can authorize: its method, its target URI and its headers.
///
/// Implemented for `reqwest::Request`, `reqwest::blocking::Request` (cargo feature `blocking`)
/// and `http::Request<B>` (tower, hyper, tonic, axum); implement it for another stack's
/// request type to use [`Authorizer::authorize`] there.
pub trait OutgoingRequest {
    /// The request method (a per-request proof of possession signs it).
    fn method(&self) -> &Method;
    /// Where the request goes, to check that it may carry a token.
    fn target(&self) -> RequestTarget<'_>;
    /// The headers, where the authorization goes.
    fn headers_mut(&mut self) -> &mut HeaderMap;
}

/// Where a request goes: a parsed [`url::Url`] (`reqwest`) or an [`http::Uri`] (the `http`
/// crate's requests).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RequestTarget<'a> {
    /// A `reqwest` request's URL.
    Url(&'a url::Url),
    /// An `http::Request`'s URI, absolute (`https://host/path`) as a client sends it.
    Uri(&'a http::Uri),
}

impl OutgoingRequest for reqwest::Request {
    fn method(&self) -> &Method {
        self.method()
    }
    fn target(&self) -> RequestTarget<'_> {
        RequestTarget::Url(self.url())
    }
    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers_mut()
    }
}

#[cfg(feature = "blocking")]
impl OutgoingRequest for reqwest::blocking::Request {
    fn method(&self) -> &Method {
        self.method()
    }
    fn target(&self) -> RequestTarget<'_> {
        RequestTarget::Url(self.url())
    }
    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers_mut()
    }
}

impl<B> OutgoingRequest for http::Request<B> {
    fn method(&self) -> &Method {
        self.method()
    }
    fn target(&self) -> RequestTarget<'_> {
        RequestTarget::Uri(self.uri())
    }
    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers_mut()
    }
}

/// Which token an authorized request carried, from [`Authorizer::authorize`]: what
/// [`Authorizer::verdict`] needs to judge the answer. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    generation: u64,
    replay: bool,
    /// The request's origin, for the answer's `DPoP-Nonce` (0: no DPoP proof was sent).
    origin: u64,
    /// Whether this ticket authorized a replay with a DPoP nonce (the same token).
    nonce_retry: bool,
}

impl Ticket {
    pub(crate) fn first(token: &CurrentToken) -> Self {
        Self {
            generation: token.generation(),
            replay: false,
            origin: 0,
            nonce_retry: false,
        }
    }

    /// This ticket, for a request whose DPoP proof went to the origin of `origin`.
    pub(crate) fn with_origin(mut self, origin: u64) -> Self {
        self.origin = origin;
        self
    }

    /// The token's [generation](CurrentToken::generation): it changes with every new token.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether this ticket authorized a replay with a renewed token (from
    /// [`Authorizer::authorize_replay`]).
    pub fn is_replay(&self) -> bool {
        self.replay
    }

    /// Whether this ticket authorized a replay with the same DPoP-bound token and the nonce a
    /// resource server asked for (RFC 9449 §9; from [`Authorizer::authorize_replay`]).
    pub fn is_nonce_retry(&self) -> bool {
        self.nonce_retry
    }
}

/// What to do with an answer, from [`Authorizer::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The answer stands: hand it to the caller (a success, or a failure that is not about
    /// the token, such as `403 Forbidden` by default).
    Keep,
    /// The answer rejected the token, which is now invalidated: send the copy of the request
    /// once more, after [`Authorizer::authorize_replay`].
    Replay,
    /// The answer rejected the token, but this request is not sent again; hand the answer to
    /// the caller. For a first request that cannot be copied, or a gRPC `UNAUTHENTICATED`
    /// answer, the token is now invalidated and the next request gets a new one. For a replay
    /// rejected again, the token is not the problem: it is kept, and rejections do not renew it
    /// for 30 seconds.
    Return,
}

impl<P: TokenProvider> Authorizer<P> {
    /// Authorizes `request`: checks that its URI may carry a token, gets the token (waiting
    /// for a renewal when there is no usable one) and inserts `Authorization` (and `X-Api-Key`
    /// when the client has an API key), replacing any such headers; both values are marked
    /// sensitive. The Python `en_auth` package's `__call__(request)`.
    ///
    /// ```
    /// # use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider, Verdict};
    /// # struct Fixed(ClientInfo);
    /// # impl TokenProvider for Fixed {
    /// #     async fn authorize(&self) -> Result<Token, Error> { Ok(Token::new("t", None)) }
    /// #     fn client_info(&self) -> &ClientInfo { &self.0 }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// let authorizer = Authorizer::new(Fixed(ClientInfo::new("svc", "secret")));
    /// let mut request = http::Request::get("https://api.example.com/v1").body(()).unwrap();
    /// let ticket = authorizer.authorize(&mut request).await?;
    /// assert_eq!(request.headers()["authorization"], "Bearer t");
    ///
    /// // … send it; then judge the answer:
    /// let verdict = authorizer.verdict(&ticket, http::StatusCode::OK, &http::HeaderMap::new(), true);
    /// assert_eq!(verdict, Verdict::Keep);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Configuration`] if the [`RequestPolicy`](crate::RequestPolicy) forbids sending
    /// a token to the request's URI (plain `http` to a host that is not loopback, by default;
    /// an `http::Uri` without scheme and host): no token is requested then. Otherwise as
    /// [`Authorizer::access_token`]. The request is left unchanged on error.
    pub async fn authorize(&self, request: &mut impl OutgoingRequest) -> Result<Ticket, Error> {
        self.check_target(request.target())?;
        let token = self.access_token().await?;
        let origin = self.write_headers(request, &token)?;
        Ok(Ticket::first(&token).with_origin(origin))
    }

    /// [`Authorizer::authorize`] without waiting: `Ok(None)` when no usable token is cached
    /// (then await [`Authorizer::authorize`]); a token due for renewal but still usable is
    /// used, its renewal started in the background. For adapters with a synchronous fast path
    /// (a tower service's `call`).
    ///
    /// # Errors
    /// [`Error::Configuration`] as [`Authorizer::authorize`]; the request is left unchanged.
    #[inline]
    pub fn authorize_cached(
        &self,
        request: &mut impl OutgoingRequest,
    ) -> Result<Option<Ticket>, Error> {
        self.check_target(request.target())?;
        let Ok(token) = self.cached_token() else {
            return Ok(None);
        };
        let origin = self.write_headers(request, &token)?;
        Ok(Some(Ticket::first(&token).with_origin(origin)))
    }

    /// Writes the token's headers into `request`: `Authorization` (and `X-Api-Key`), and for a
    /// DPoP-bound token (RFC 9449) a `DPoP` proof for the request's method and URI, signed
    /// first, so that the request is unchanged on error. Returns the origin's key for the
    /// answer's nonce (0 without a proof).
    #[inline]
    pub(crate) fn write_headers(
        &self,
        request: &mut impl OutgoingRequest,
        token: &CurrentToken,
    ) -> Result<u64, Error> {
        let Some(ath) = token.dpop_ath() else {
            self.apply_headers(request.headers_mut(), token);
            return Ok(0);
        };
        self.write_dpop_headers(request, token, ath)
    }

    #[cold]
    fn write_dpop_headers(
        &self,
        request: &mut impl OutgoingRequest,
        token: &CurrentToken,
        ath: &str,
    ) -> Result<u64, Error> {
        let dpop = self.dpop().ok_or_else(|| {
            Error::from(crate::ConfigurationError::new(
                "the token is DPoP-bound (token_type DPoP), and the authorizer has no DPoP key \
                 to sign proofs with (TokenProvider::dpop)",
            ))
        })?;
        let (proof, origin) = dpop.proof_for(request.method(), request.target(), Some(ath))?;
        let headers = request.headers_mut();
        headers.insert(crate::dpop::DPOP_HEADER, proof);
        self.apply_headers(headers, token);
        Ok(origin)
    }

    /// Judges the answer to a request authorized with `ticket`, from its `status` and
    /// `headers`; `replayable` says whether the adapter holds a copy of the request to send
    /// again.
    ///
    /// The token was rejected when the status is one of the
    /// [`RequestPolicy`](crate::RequestPolicy)'s rejection statuses (`401` by default), or
    /// when a `Bearer` challenge in `WWW-Authenticate` says `error="invalid_token"` (RFC 6750
    /// §3.1), or when a gRPC answer says `grpc-status: 16` (`UNAUTHENTICATED`) in its headers
    /// (a trailers-only response). Then the token the request carried is invalidated — only
    /// that one, so a burst of rejections costs one renewal — and the verdict is
    /// [`Verdict::Replay`] for a first request with a copy, else [`Verdict::Return`]. A
    /// replay rejected again holds off renewals by rejection for 30 seconds: the token is not
    /// the problem (a wrong audience or scope, say), so meanwhile a rejection of that token is
    /// [`Verdict::Return`] (no renewal, no replay).
    ///
    /// For a request that carried a DPoP proof (RFC 9449), the answer's `DPoP-Nonce` is kept
    /// for its origin first; a `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` is
    /// no rejection of the token: [`Verdict::Replay`] once, with the nonce given (a copy is
    /// needed; [`Authorizer::authorize_replay`] signs a new proof for the same token), else
    /// [`Verdict::Return`]; and `DPoP error="invalid_dpop_proof"` is [`Verdict::Keep`] (the
    /// proof was refused, not the token: nothing is renewed).
    pub fn verdict(
        &self,
        ticket: &Ticket,
        status: StatusCode,
        headers: &HeaderMap,
        replayable: bool,
    ) -> Verdict {
        if ticket.origin != 0 {
            if let Some(verdict) = self.dpop_verdict(ticket, status, headers, replayable) {
                return verdict;
            }
        }
        let Some(trigger) = self.rejection(status, headers) else {
            return Verdict::Keep;
        };
        if ticket.replay {
            tracing::warn!(%status, "a request replayed with a new token was rejected again: the token is not the problem");
            self.replay_rejected(ticket.generation);
            return Verdict::Return;
        }
        if self.rejections_held(ticket.generation) {
            tracing::debug!(%status, "the token was rejected again within 30 seconds of a rejected replay: it is not renewed, and the answer is returned");
            return Verdict::Return;
        }
        self.invalidate_with(ticket.generation, trigger);
        if trigger == RenewalTrigger::GrpcUnauthenticated {
            tracing::debug!(
                "the gRPC server answered UNAUTHENTICATED; the token is renewed for the next call"
            );
            return Verdict::Return;
        }
        if !replayable {
            tracing::debug!(%status, "the token was rejected, and the request cannot be replayed; returning the answer");
            return Verdict::Return;
        }
        tracing::debug!(%status, "the resource server rejected the token; renewing it and replaying once");
        Verdict::Replay
    }

    /// Keeps the `DPoP-Nonce` of an answer to a request that carried a DPoP proof, and judges
    /// a resource server's `use_dpop_nonce` challenge (RFC 9449 §9): the token is not
    /// rejected; the request is replayed once with the nonce given (a copy is needed), else
    /// the answer is returned (the next request carries the nonce). `None`: judge as usual.
    #[cold]
    fn dpop_verdict(
        &self,
        ticket: &Ticket,
        status: StatusCode,
        headers: &HeaderMap,
        replayable: bool,
    ) -> Option<Verdict> {
        let dpop = self.dpop()?;
        let fresh_nonce = dpop.remember_nonce_for(ticket.origin, headers);
        if crate::dpop::proof_refused(status, headers) {
            tracing::warn!(
                %status,
                "the resource server refused the DPoP proof (invalid_dpop_proof): the token is \
                 kept, and the answer returned (was the request changed after it was signed?)"
            );
            return Some(Verdict::Keep);
        }
        if !crate::dpop::nonce_challenge(status, headers) {
            return None;
        }
        if fresh_nonce && replayable && !ticket.nonce_retry && !ticket.replay {
            tracing::debug!("the resource server asked for a DPoP nonce; replaying once with it");
            return Some(Verdict::Replay);
        }
        tracing::warn!(
            %status,
            nonce_given = fresh_nonce,
            replayable,
            "the resource server asked for a DPoP nonce, and the request is not replayed (no \
             copy, no nonce given, or asked again after a replay); returning its answer"
        );
        Some(Verdict::Return)
    }

    /// Authorizes the copy of a request whose first answer was [`Verdict::Replay`]: waits for
    /// the renewed token and writes its headers into `replay` — or, when the answer was a
    /// resource server's DPoP nonce challenge (the token is still valid), signs a new proof
    /// with the nonce for the same token. `None` means "return the first answer": the renewal
    /// failed (the request itself completed, so its rejection is the answer, not the renewal
    /// error, which is logged), or the token was not renewed (a replay with it was rejected
    /// before).
    pub async fn authorize_replay(
        &self,
        first: &Ticket,
        replay: &mut impl OutgoingRequest,
    ) -> Option<Ticket> {
        let renewal = self.access_token().await;
        self.replay_ticket(first, renewal, replay)
    }

    /// The replay's ticket from the renewal's outcome, with its headers written: the decision
    /// of [`Authorizer::authorize_replay`], shared with the blocking API.
    pub(crate) fn replay_ticket(
        &self,
        first: &Ticket,
        renewal: Result<CurrentToken, Error>,
        replay: &mut impl OutgoingRequest,
    ) -> Option<Ticket> {
        let written = |token: &CurrentToken, replay: &mut _| match self.write_headers(replay, token)
        {
            Ok(origin) => Some(origin),
            Err(error) => {
                tracing::warn!(%error, "cannot authorize the replay; returning the first answer");
                None
            }
        };
        match renewal {
            Ok(token) if token.generation() != first.generation => {
                let origin = written(&token, replay)?;
                Some(Ticket {
                    generation: token.generation(),
                    replay: true,
                    origin,
                    nonce_retry: false,
                })
            }
            // The same token, still valid: the answer was a DPoP nonce challenge, not a
            // rejection (a rejected token is never handed out again).
            Ok(token) if token.dpop_ath().is_some() && !first.replay && !first.nonce_retry => {
                let origin = written(&token, replay)?;
                Some(Ticket {
                    generation: token.generation(),
                    replay: false,
                    origin,
                    nonce_retry: true,
                })
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "renewing a rejected token failed; returning the rejection");
                None
            }
        }
    }

    /// Checks that a token may go to `target`.
    pub(crate) fn check_target(&self, target: RequestTarget<'_>) -> Result<(), Error> {
        match target {
            RequestTarget::Url(url) => self.request_policy().check_url(url),
            RequestTarget::Uri(uri) => self.request_policy().check_uri(uri),
        }
    }

    /// What rejected the token, if the answer did.
    fn rejection(&self, status: StatusCode, headers: &HeaderMap) -> Option<RenewalTrigger> {
        if self.request_policy().is_rejection(status) || invalid_token_challenge(headers) {
            return Some(RenewalTrigger::Rejected);
        }
        (status == StatusCode::OK && grpc_unauthenticated(headers))
            .then_some(RenewalTrigger::GrpcUnauthenticated)
    }
}

/// `grpc-status: 16` in the headers: a trailers-only gRPC response saying UNAUTHENTICATED.
#[inline]
fn grpc_unauthenticated(headers: &HeaderMap) -> bool {
    headers
        .get(GRPC_STATUS)
        .is_some_and(|status| status.as_bytes() == GRPC_STATUS_UNAUTHENTICATED.as_bytes())
}

/// The challenges of `WWW-Authenticate`, parsed by `http-auth` (RFC 7235 challenges); an
/// unparsable header value yields the challenges before the fault.
pub(crate) fn challenges(headers: &HeaderMap) -> impl Iterator<Item = http_auth::ChallengeRef<'_>> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        // Each header value parsed on its own: one that does not parse does not hide a later
        // header's challenge.
        .flat_map(|value| http_auth::parser::ChallengeParser::new(value).map_while(Result::ok))
}

/// A `Bearer` (RFC 6750 §3.1) or `DPoP` (RFC 9449 §7.1) challenge with
/// `error="invalid_token"` in `WWW-Authenticate`. An unparsable header is no such challenge.
fn invalid_token_challenge(headers: &HeaderMap) -> bool {
    challenges(headers).any(|challenge| {
        (challenge.scheme.eq_ignore_ascii_case("bearer")
            || challenge.scheme.eq_ignore_ascii_case("dpop"))
            && challenge.params.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("error") && value.to_unescaped() == "invalid_token"
            })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use http::HeaderValue;

    use super::*;
    use crate::{ClientInfo, RequestPolicy, Token};

    /// Issues `token-1`, `token-2`, … (or fails once told to).
    struct Counting {
        client: ClientInfo,
        calls: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl TokenProvider for Arc<Counting> {
        async fn authorize(&self) -> Result<Token, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail.load(Ordering::SeqCst) {
                return Err(crate::InternalError::new("the token endpoint is down").into());
            }
            Ok(Token::new(
                format!("token-{n}"),
                Some(Duration::from_secs(600)),
            ))
        }
        fn client_info(&self) -> &ClientInfo {
            &self.client
        }
    }

    fn authorizer(policy: RequestPolicy) -> (Authorizer<Arc<Counting>>, Arc<Counting>) {
        let provider = Arc::new(Counting {
            client: ClientInfo::new("svc", "secret"),
            calls: AtomicUsize::new(0),
            fail: false.into(),
        });
        let authorizer = crate::AuthorizerBuilder::new()
            .request_policy(policy)
            .renewal_policy(
                crate::RenewalPolicy::default()
                    .with_failure_cooldown(Duration::from_millis(1), Duration::from_millis(1)),
            )
            .build(Arc::clone(&provider));
        (authorizer, provider)
    }

    fn request(uri: &str) -> http::Request<()> {
        http::Request::get(uri).body(()).unwrap()
    }

    fn challenge(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
        headers
    }

    #[tokio::test]
    async fn a_burst_of_rejections_of_one_token_costs_one_renewal() {
        let (authorizer, provider) = authorizer(RequestPolicy::default());
        let mut tickets = Vec::new();
        for _ in 0..5 {
            let mut request = request("https://api.example.com/");
            tickets.push(authorizer.authorize(&mut request).await.unwrap());
        }
        let empty = HeaderMap::new();
        for ticket in &tickets {
            assert_eq!(
                authorizer.verdict(ticket, StatusCode::UNAUTHORIZED, &empty, true),
                Verdict::Replay
            );
        }
        let mut replays = Vec::new();
        for ticket in &tickets {
            let mut copy = request("https://api.example.com/");
            replays.push(authorizer.authorize_replay(ticket, &mut copy).await);
            assert_eq!(copy.headers()["authorization"], "Bearer token-2");
        }
        assert!(replays.iter().all(|t| t.is_some_and(|t| t.is_replay())));
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_replay_rejected_again_holds_off_renewals() {
        let (authorizer, provider) = authorizer(RequestPolicy::default());
        let empty = HeaderMap::new();
        let first = authorizer
            .authorize(&mut request("https://api.example.com/"))
            .await
            .unwrap();
        assert_eq!(
            authorizer.verdict(&first, StatusCode::UNAUTHORIZED, &empty, true),
            Verdict::Replay
        );
        let replay = authorizer
            .authorize_replay(&first, &mut request("https://api.example.com/"))
            .await
            .unwrap();
        assert_eq!(
            authorizer.verdict(&replay, StatusCode::UNAUTHORIZED, &empty, true),
            Verdict::Return
        );
        // The next request's rejection does not renew the token again.
        let next = authorizer
            .authorize(&mut request("https://api.example.com/"))
            .await
            .unwrap();
        assert_eq!(next.generation(), replay.generation());
        // Nor is it replayed: the verdict returns the answer at once (it used to say Replay,
        // log "replaying once" and clone the request for nothing).
        assert_eq!(
            authorizer.verdict(&next, StatusCode::UNAUTHORIZED, &empty, true),
            Verdict::Return
        );
        assert!(authorizer
            .authorize_replay(&next, &mut request("https://api.example.com/"))
            .await
            .is_none());
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_without_a_copy_returns_the_rejection_and_the_next_gets_a_new_token() {
        let (authorizer, provider) = authorizer(RequestPolicy::default());
        let first = authorizer
            .authorize(&mut request("https://api.example.com/"))
            .await
            .unwrap();
        assert_eq!(
            authorizer.verdict(&first, StatusCode::UNAUTHORIZED, &HeaderMap::new(), false),
            Verdict::Return
        );
        let next = authorizer
            .authorize(&mut request("https://api.example.com/"))
            .await
            .unwrap();
        assert_ne!(next.generation(), first.generation());
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_renewal_returns_the_first_answer() {
        let (authorizer, provider) = authorizer(RequestPolicy::default());
        let first = authorizer
            .authorize(&mut request("https://api.example.com/"))
            .await
            .unwrap();
        authorizer.verdict(&first, StatusCode::UNAUTHORIZED, &HeaderMap::new(), true);
        provider.fail.store(true, Ordering::SeqCst);
        let mut copy = request("https://api.example.com/");
        assert!(authorizer
            .authorize_replay(&first, &mut copy)
            .await
            .is_none());
        assert!(copy.headers().get("authorization").is_none());
    }

    #[tokio::test]
    async fn which_answers_reject_the_token() {
        let (authorizer, _) = authorizer(
            RequestPolicy::default()
                .with_rejection_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]),
        );
        let authorizer = &authorizer;
        let judge = |status, headers: HeaderMap| async move {
            let ticket = authorizer
                .authorize(&mut request("https://api.example.com/"))
                .await
                .unwrap();
            authorizer.verdict(&ticket, status, &headers, true)
        };
        assert_eq!(judge(StatusCode::OK, HeaderMap::new()).await, Verdict::Keep);
        assert_eq!(
            judge(StatusCode::NOT_FOUND, HeaderMap::new()).await,
            Verdict::Keep
        );
        assert_eq!(
            judge(StatusCode::FORBIDDEN, HeaderMap::new()).await,
            Verdict::Replay
        );
        // RFC 6750 §3.1: an invalid_token challenge rejects the token whatever the status.
        assert_eq!(
            judge(
                StatusCode::BAD_REQUEST,
                challenge(
                    r#"Bearer realm="api", error="invalid_token", error_description="expired""#
                )
            )
            .await,
            Verdict::Replay
        );
        // insufficient_scope refuses the request, not the token.
        assert_eq!(
            judge(
                StatusCode::BAD_REQUEST,
                challenge(r#"Bearer error="insufficient_scope", scope="admin""#)
            )
            .await,
            Verdict::Keep
        );
        // Another scheme's error parameter, and a header that does not parse, say nothing.
        assert_eq!(
            judge(
                StatusCode::BAD_REQUEST,
                challenge(r#"Basic error="invalid_token""#)
            )
            .await,
            Verdict::Keep
        );
        assert_eq!(
            judge(
                StatusCode::BAD_REQUEST,
                challenge("Bearer error=\"invalid_token")
            )
            .await,
            Verdict::Keep
        );
        // A header that does not parse does not hide the next header's challenge.
        let mut two = challenge("Bearer error=\"invalid_token");
        two.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );
        assert_eq!(judge(StatusCode::BAD_REQUEST, two).await, Verdict::Replay);
        // gRPC UNAUTHENTICATED in a trailers-only answer: renewed for the next call.
        let mut grpc = HeaderMap::new();
        grpc.insert(GRPC_STATUS, HeaderValue::from_static("16"));
        assert_eq!(judge(StatusCode::OK, grpc).await, Verdict::Return);
        let mut grpc_ok = HeaderMap::new();
        grpc_ok.insert(GRPC_STATUS, HeaderValue::from_static("0"));
        assert_eq!(judge(StatusCode::OK, grpc_ok).await, Verdict::Keep);
    }

    /// Signs "proofs" that name their claims; issues DPoP-bound tokens.
    struct Signer;
    impl crate::DpopSigner for Signer {
        fn sign_proof(&self, claims: &crate::DpopClaims<'_>) -> Result<String, Error> {
            Ok(format!(
                "{} {} {}",
                claims.htm,
                claims.htu,
                claims.nonce.unwrap_or("-")
            ))
        }
        fn jwk_thumbprint(&self) -> &str {
            "jkt"
        }
        fn algorithm(&self) -> &str {
            "ES256"
        }
    }

    struct Bound {
        client: ClientInfo,
        calls: AtomicUsize,
        dpop: crate::Dpop,
    }

    impl TokenProvider for Arc<Bound> {
        async fn authorize(&self) -> Result<Token, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(
                Token::new(format!("bound-{n}"), Some(Duration::from_secs(600)))
                    .with_token_type("DPoP"),
            )
        }
        fn client_info(&self) -> &ClientInfo {
            &self.client
        }
        fn dpop(&self) -> Option<crate::Dpop> {
            Some(self.dpop.clone())
        }
    }

    fn dpop_challenge(error: &str, nonce: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!(r#"DPoP error="{error}""#)).unwrap(),
        );
        if let Some(nonce) = nonce {
            headers.insert(
                crate::dpop::DPOP_NONCE_HEADER,
                HeaderValue::from_static(nonce),
            );
        }
        headers
    }

    #[tokio::test]
    async fn a_dpop_nonce_challenge_is_replayed_once_without_renewal() {
        let provider = Arc::new(Bound {
            client: ClientInfo::new("svc", "secret"),
            calls: AtomicUsize::new(0),
            dpop: crate::Dpop::new(Signer),
        });
        let authorizer = Authorizer::new(Arc::clone(&provider));
        let mut first = request("https://api.example.com/r?q");
        let ticket = authorizer.authorize(&mut first).await.unwrap();
        assert_eq!(first.headers()["authorization"], "DPoP bound-1");
        assert_eq!(first.headers()["dpop"], "GET https://api.example.com/r -");
        assert!(first.headers()["dpop"].is_sensitive());
        let challenge = dpop_challenge("use_dpop_nonce", Some("n-1"));
        // No copy: the answer is returned, the token kept, the nonce remembered.
        assert_eq!(
            authorizer.verdict(&ticket, StatusCode::UNAUTHORIZED, &challenge, false),
            Verdict::Return
        );
        assert_eq!(
            authorizer.verdict(&ticket, StatusCode::UNAUTHORIZED, &challenge, true),
            Verdict::Replay
        );
        let mut copy = request("https://api.example.com/r?q");
        let retry = authorizer
            .authorize_replay(&ticket, &mut copy)
            .await
            .unwrap();
        assert!(retry.is_nonce_retry() && !retry.is_replay());
        assert_eq!(retry.generation(), ticket.generation());
        assert_eq!(copy.headers()["dpop"], "GET https://api.example.com/r n-1");
        // Asked again: the answer is returned, nothing renewed.
        assert_eq!(
            authorizer.verdict(&retry, StatusCode::UNAUTHORIZED, &challenge, true),
            Verdict::Return
        );
        // A challenge without a nonce cannot be answered.
        assert_eq!(
            authorizer.verdict(
                &ticket,
                StatusCode::UNAUTHORIZED,
                &dpop_challenge("use_dpop_nonce", None),
                true
            ),
            Verdict::Return
        );
        // A refused proof is not a refused token.
        assert_eq!(
            authorizer.verdict(
                &ticket,
                StatusCode::UNAUTHORIZED,
                &dpop_challenge("invalid_dpop_proof", None),
                true
            ),
            Verdict::Keep
        );
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
        // The next request carries the nonce; a DPoP invalid_token renews the token.
        let mut next = request("https://api.example.com/other");
        let ticket = authorizer.authorize(&mut next).await.unwrap();
        assert_eq!(
            next.headers()["dpop"],
            "GET https://api.example.com/other n-1"
        );
        assert_eq!(
            authorizer.verdict(
                &ticket,
                StatusCode::UNAUTHORIZED,
                &dpop_challenge("invalid_token", None),
                true
            ),
            Verdict::Replay
        );
        let mut copy = request("https://api.example.com/other");
        let renewed = authorizer
            .authorize_replay(&ticket, &mut copy)
            .await
            .unwrap();
        assert!(renewed.is_replay());
        assert_eq!(copy.headers()["authorization"], "DPoP bound-2");
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_dpop_bound_token_without_a_key_is_a_configuration_error() {
        // A custom provider that hands out a DPoP token but no key.
        struct Keyless(ClientInfo);
        impl TokenProvider for Keyless {
            async fn authorize(&self) -> Result<Token, Error> {
                Ok(Token::new("t", None).with_token_type("dpop"))
            }
            fn client_info(&self) -> &ClientInfo {
                &self.0
            }
        }
        let keyless = Authorizer::new(Keyless(ClientInfo::new("svc", "secret")));
        let mut request = request("https://api.example.com/");
        let error = keyless.authorize(&mut request).await.unwrap_err();
        assert!(matches!(error, Error::Configuration(_)), "{error}");
        assert!(request.headers().is_empty(), "unchanged on error");
    }

    #[tokio::test]
    async fn a_uri_that_may_not_carry_a_token_is_refused_before_any_token_request() {
        let (authorizer, provider) = authorizer(RequestPolicy::default());
        for uri in ["http://api.example.com/", "/relative"] {
            let mut request = request(uri);
            let error = authorizer.authorize(&mut request).await.unwrap_err();
            assert!(matches!(error, Error::Configuration(_)), "{error}");
            assert!(authorizer.authorize_cached(&mut request).is_err());
            assert!(request.headers().is_empty());
        }
        assert_eq!(provider.calls.load(Ordering::SeqCst), 0);
        let mut loopback = request("http://127.0.0.1:8080/");
        assert_eq!(authorizer.authorize_cached(&mut loopback).unwrap(), None);
        authorizer.authorize(&mut loopback).await.unwrap();
        let ticket = authorizer.authorize_cached(&mut loopback).unwrap().unwrap();
        assert!(!ticket.is_replay());
    }
}
