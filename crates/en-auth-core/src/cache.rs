//! The token cache: the current token with its ready `Authorization` header, read without a
//! lock, and the marks that a token was rejected.
//!
//! The cache holds one [`Entry`] in an `ArcSwap`. Readers load it (a few atomic operations, no
//! lock, no allocation, no shared write) and decide with the provider whether it is fresh; a
//! token request publishes a new entry; a rejected token is marked invalid in place, so that
//! only requests that carried *that* token cause a renewal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use http::HeaderValue;
use secrecy::SecretString;

use crate::clock::{self, Moment};
use crate::policy::{usable_until, REPLAY_REJECTION_HOLD};
use crate::{Error, Token};

/// The cache of one authorizer.
pub(crate) struct TokenCache {
    current: ArcSwap<Entry>,
}

impl TokenCache {
    /// An empty cache: its entry is the invalid "no token yet" placeholder, generation 0.
    pub(crate) fn new() -> Self {
        Self {
            current: ArcSwap::from_pointee(Entry::empty()),
        }
    }

    /// The current entry, for a quick look (the hot path).
    #[inline]
    pub(crate) fn load(&self) -> Guard<Arc<Entry>> {
        self.current.load()
    }

    /// The current entry, to keep.
    pub(crate) fn load_full(&self) -> Arc<Entry> {
        self.current.load_full()
    }

    /// Makes `entry` the current one.
    pub(crate) fn publish(&self, entry: Arc<Entry>) {
        self.current.store(entry);
    }

    /// Marks the token of `generation` as rejected, unless it has been replaced already or a
    /// replay with it was rejected too within [`REPLAY_REJECTION_HOLD`] (then the token is not
    /// the problem). Returns whether this call marked it (false if it was marked already).
    pub(crate) fn invalidate(&self, generation: u64) -> bool {
        let entry = self.current.load();
        if entry.generation != generation || entry.rejections_held() {
            return false;
        }
        !entry.invalidated.swap(true, Ordering::AcqRel)
    }

    /// Marks the current token invalid whatever held rejections off (a sign-out: the token was
    /// revoked on purpose). Returns whether this call marked it.
    pub(crate) fn forget(&self) -> bool {
        let entry = self.current.load();
        !entry.invalidated.swap(true, Ordering::AcqRel)
    }

    /// Whether rejections of the token of `generation` are held off: it is the current token
    /// and a request replayed with it was rejected again within [`REPLAY_REJECTION_HOLD`].
    pub(crate) fn rejections_held(&self, generation: u64) -> bool {
        let entry = self.current.load();
        entry.generation == generation && entry.rejections_held()
    }

    /// Records that a request replayed with the token of `generation`, just after a rejection,
    /// was rejected again.
    pub(crate) fn replay_rejected(&self, generation: u64) {
        let entry = self.current.load();
        if entry.generation == generation {
            let now = clock::moment_now();
            entry
                .replay_rejected_at
                .store(now.ticks(), Ordering::Release);
        }
    }
}

/// One cached token with its header.
pub(crate) struct Entry {
    token: Token,
    header: HeaderValue,
    generation: u64,
    invalidated: AtomicBool,
    /// Until when the token may still be used while a renewal runs.
    usable_until: Option<Moment>,
    /// From when (a [`Moment`]'s ticks) a background renewal may start; `u64::MAX` while one
    /// runs.
    background_after: AtomicU64,
    /// When (a [`Moment`]'s ticks; [`Moment::NEVER`]: never) a request replayed with this token
    /// after a rejection was rejected again: the token is not the problem, so rejections do not
    /// invalidate it for a while.
    replay_rejected_at: AtomicU64,
    /// The token's id in the shared store, when there is one.
    shared_id: Option<String>,
    /// For a DPoP-bound token (RFC 9449): its hash for the proofs' `ath` claim.
    dpop_ath: Option<Box<str>>,
}

impl Entry {
    /// Whether a request replayed with this token was rejected again within
    /// [`REPLAY_REJECTION_HOLD`].
    fn rejections_held(&self) -> bool {
        let rejected_at = Moment::from_ticks(self.replay_rejected_at.load(Ordering::Acquire));
        rejected_at != Moment::NEVER
            && clock::moment_now() < rejected_at.later_by(REPLAY_REJECTION_HOLD)
    }

    /// The "no token yet" placeholder: generation 0, already invalid.
    fn empty() -> Self {
        Self {
            token: Token::new("", None),
            header: HeaderValue::from_static(""),
            generation: 0,
            invalidated: AtomicBool::new(true),
            usable_until: None,
            background_after: AtomicU64::new(u64::MAX),
            replay_rejected_at: AtomicU64::new(0),
            shared_id: None,
            dpop_ath: None,
        }
    }

    /// A new entry for `token`, identified by `generation` (never 0).
    ///
    /// # Errors
    /// [`Error::InvalidResponse`] if the token cannot be sent in an HTTP header.
    pub(crate) fn new(token: Token, generation: u64) -> Result<Self, Error> {
        let usable_until = token
            .expires_at()
            .map(|expires| usable_until(expires, token.lifetime().unwrap_or_default()));
        let dpop_ath = token.is_dpop().then(|| {
            use secrecy::ExposeSecret;
            crate::dpop::access_token_hash(token.access_token().expose_secret()).into_boxed_str()
        });
        Ok(Self {
            header: token.authorization_header()?,
            dpop_ath,
            token,
            generation,
            invalidated: AtomicBool::new(false),
            usable_until,
            background_after: AtomicU64::new(0),
            replay_rejected_at: AtomicU64::new(0),
            shared_id: None,
        })
    }

    /// This entry, with the token's id in the shared store.
    pub(crate) fn with_shared_id(mut self, id: Option<String>) -> Self {
        self.shared_id = id;
        self
    }

    /// The token's id in the shared store, if it came from or went to one.
    pub(crate) fn shared_id(&self) -> Option<&str> {
        self.shared_id.as_deref()
    }

    pub(crate) fn token(&self) -> &Token {
        &self.token
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether there is a token here that nobody has rejected.
    #[inline]
    pub(crate) fn is_valid(&self) -> bool {
        !self.invalidated.load(Ordering::Acquire)
    }

    /// Whether the token may still be used while it is renewed: it has time left.
    pub(crate) fn usable_while_renewed(&self) -> bool {
        self.usable_until
            .is_some_and(|until| clock::coarse_now() < until)
    }

    /// Claims the right to start this token's background renewal: true for one caller, until
    /// [`Entry::retry_background_after`] allows another.
    pub(crate) fn claim_background_renewal(&self) -> bool {
        let now = clock::coarse_now().ticks();
        let after = self.background_after.load(Ordering::Acquire);
        now >= after
            && self
                .background_after
                .compare_exchange(after, u64::MAX, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Allows another background renewal of this token `cooldown` from now (after one failed).
    pub(crate) fn retry_background_after(&self, cooldown: Duration) {
        let at = clock::moment_now().later_by(cooldown);
        self.background_after.store(at.ticks(), Ordering::Release);
    }
}

/// A token handed out by [`Authorizer::access_token`](crate::Authorizer::access_token).
/// Dereferences to [`Token`].
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

    #[inline]
    pub(crate) fn from_guard(entry: Guard<Arc<Entry>>) -> Self {
        Self { entry }
    }

    /// The access token.
    pub fn secret(&self) -> &SecretString {
        self.entry.token.access_token()
    }

    /// The ready `Authorization` header value (`Bearer <token>`, or `DPoP <token>` for a
    /// DPoP-bound token, marked sensitive).
    pub fn header_value(&self) -> &HeaderValue {
        &self.entry.header
    }

    /// For a DPoP-bound token: the `ath` of its proofs (RFC 9449 §4.2).
    #[inline]
    pub(crate) fn dpop_ath(&self) -> Option<&str> {
        self.entry.dpop_ath.as_deref()
    }

    /// Identifies this token within its authorizer; pass it to
    /// [`Authorizer::invalidate`](crate::Authorizer::invalidate).
    pub fn generation(&self) -> u64 {
        self.entry.generation
    }
}

impl std::ops::Deref for CurrentToken {
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

/// Why [`Authorizer::cached_token`](crate::Authorizer::cached_token) has no token to hand out
/// at once: there is none yet, it expired, or a resource server rejected it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no usable token in the cache (generation {generation}; 0 means none yet)")]
pub struct CacheMiss {
    generation: u64,
}

impl CacheMiss {
    pub(crate) fn new(generation: u64) -> Self {
        Self { generation }
    }

    /// The [generation](CurrentToken::generation) of the unusable token (0 when there is
    /// none), which a renewal replaces.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with_token() -> TokenCache {
        let cache = TokenCache::new();
        let token = Token::new("t", Some(Duration::from_secs(600)));
        cache.publish(Arc::new(Entry::new(token, 1).unwrap()));
        cache
    }

    #[test]
    fn a_rejected_replay_holds_off_invalidation_for_a_while_only() {
        let cache = cache_with_token();
        cache.replay_rejected(1);
        cache.invalidate(1);
        assert!(
            cache.load().is_valid(),
            "just after a rejected replay: not the token"
        );

        // 31 seconds later a rejection renews the token again: it may have been revoked since.
        let past = clock::moment_now().earlier_by(REPLAY_REJECTION_HOLD + Duration::from_secs(1));
        cache
            .load()
            .replay_rejected_at
            .store(past.ticks(), Ordering::Release);
        cache.invalidate(1);
        assert!(!cache.load().is_valid());
    }

    #[test]
    fn a_forgotten_token_is_invalid_even_while_rejections_are_held_off() {
        let cache = cache_with_token();
        cache.replay_rejected(1);
        assert!(cache.forget());
        assert!(!cache.load().is_valid());
        assert!(!cache.forget(), "marked once");
    }

    #[test]
    fn only_the_named_generation_is_invalidated() {
        let cache = cache_with_token();
        cache.invalidate(2);
        assert!(cache.load().is_valid());
        cache.invalidate(1);
        assert!(!cache.load().is_valid());
    }
}
