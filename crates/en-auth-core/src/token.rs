//! [`Token`]: what a provider's `authorize()` / `refresh()` returns, with its expiry judged on
//! the monotonic clock.

use std::fmt;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::client::redacted;
use crate::clock::{self, Moment};
use crate::policy::{coarse_deadline, renewal_time};
#[cfg(doc)]
use crate::{EXPIRATION_GAP, MAX_GAP_FRACTION};

/// The longest lifetime a token is believed to have, whatever the server says: 365 days.
/// Larger `expires_in` values are clamped to it (so that no `Instant` arithmetic overflows).
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// The resolution of wire-format lifetimes: one second. See [`Token::from_expires_in`].
pub const EXPIRES_IN_RESOLUTION: Duration = Duration::from_secs(1);

/// An access token and what is known of it: type, lifetime, and optional refresh and id tokens.
///
/// The lifetime is measured on the monotonic clock ([`Instant`]) from when the token was
/// received, so wall-clock jumps do not affect it. The token [needs
/// renewal](Token::needs_renewal) [`EXPIRATION_GAP`] before it [expires](Token::expires_at),
/// or a quarter of its lifetime ([`MAX_GAP_FRACTION`]) before, whichever is shorter.
///
/// ```
/// use std::time::Duration;
/// use en_auth_core::Token;
///
/// let token = Token::new("abc", Some(Duration::from_secs(3600)));
/// assert!(!token.needs_renewal());
/// assert!(!format!("{token:?}").contains("abc"));
/// ```
#[derive(Clone)]
pub struct Token {
    access_token: SecretString,
    token_type: String,
    received_at: Instant,
    lifetime: Option<Duration>,
    renew_at: Option<Instant>,
    /// `renew_at` for the hot path's coarse reading of the clock.
    renew_at_coarse: Option<Moment>,
    scope: Option<String>,
    refresh_token: Option<SecretString>,
    id_token: Option<SecretString>,
}

impl Token {
    /// A bearer token received now that lives `lifetime` (the `expires_in` of the response;
    /// `None` when the expiry is unknown: such a token is renewed only when a resource server
    /// rejects it with 401). Lifetimes above [`MAX_LIFETIME`] are clamped to it. "Now" is
    /// Tokio's clock: `std`'s monotonic clock, or the paused clock of a test's runtime.
    pub fn new(access_token: impl Into<String>, lifetime: Option<Duration>) -> Self {
        Self::received_at(access_token, lifetime, clock::now())
    }

    /// As [`Token::new`], received at `received_at` (useful when the response was read a
    /// while ago, and in tests).
    pub fn received_at(
        access_token: impl Into<String>,
        lifetime: Option<Duration>,
        received_at: Instant,
    ) -> Self {
        let lifetime = lifetime.map(|l| l.min(MAX_LIFETIME));
        let renew_at = lifetime.map(|l| renewal_time(received_at, l));
        let renew_at_coarse = renew_at.map(coarse_deadline);
        Self {
            access_token: SecretString::from(access_token.into()),
            token_type: "Bearer".to_owned(),
            received_at,
            lifetime,
            renew_at,
            renew_at_coarse,
            scope: None,
            refresh_token: None,
            id_token: None,
        }
    }

    /// A token from a wire-format lifetime (`expires_in` of RFC 6749 §5.1, Cognito's
    /// `ExpiresIn`): whole seconds, which servers derive from an expiry rounded to the second.
    /// The lifetime is therefore counted from `requested_at` — when the token request was sent,
    /// not when the answer arrived — and shortened by [`EXPIRES_IN_RESOLUTION`], so that a
    /// token is never believed valid after the server's expiry.
    pub fn from_expires_in(
        access_token: impl Into<String>,
        expires_in: Duration,
        requested_at: Instant,
    ) -> Self {
        Self::received_at(
            access_token,
            Some(expires_in.saturating_sub(EXPIRES_IN_RESOLUTION)),
            requested_at,
        )
    }

    /// Sets the token type as the server named it (RFC 6749 §7.1; `Bearer` by default).
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Sets the granted scope (RFC 6749 §5.1, space-separated).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Attaches a refresh token (RFC 6749 §1.5; Cognito's `RefreshToken`).
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: impl Into<String>) -> Self {
        self.refresh_token = Some(SecretString::from(refresh_token.into()));
        self
    }

    /// Attaches an OpenID Connect id token (Cognito's `IdToken`).
    #[must_use]
    pub fn with_id_token(mut self, id_token: impl Into<String>) -> Self {
        self.id_token = Some(SecretString::from(id_token.into()));
        self
    }

    /// `Authorization: Bearer <token>`'s value, marked sensitive: the one check that an access
    /// token can be sent at all (visible ASCII: no CR, LF or other control character a hostile
    /// token endpoint could use to inject header lines). The scheme is always written `Bearer`
    /// (RFC 6750 §2.1), whatever case the server used for `token_type`. Every path that hands a
    /// token on — the authorizer's cache, the `en-auth` command line — goes through it.
    ///
    /// # Errors
    /// [`Error::InvalidResponse`](crate::Error::InvalidResponse) naming no part of the token.
    ///
    /// ```
    /// use en_auth_core::Token;
    ///
    /// assert!(Token::new("eyJhbGciOi.x.y", None).bearer_header().is_ok());
    /// assert!(Token::new("tok\r\nX-Injected: 1", None).bearer_header().is_err());
    /// ```
    pub fn bearer_header(&self) -> Result<http::HeaderValue, crate::Error> {
        use secrecy::ExposeSecret;
        let secret = self.access_token.expose_secret();
        let mut bytes = Vec::with_capacity(7 + secret.len());
        bytes.extend_from_slice(b"Bearer ");
        bytes.extend_from_slice(secret.as_bytes());
        let mut value =
            http::HeaderValue::from_maybe_shared(bytes::Bytes::from(bytes)).map_err(|_| {
                crate::InvalidResponseError::new(
                    "token provider",
                    None,
                    "the access token contains characters not allowed in an HTTP header",
                )
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The `Authorization` header's value for this token, marked sensitive: `DPoP <token>` for
    /// a DPoP-bound token ([`Token::is_dpop`], RFC 9449 §7.1), else as
    /// [`Token::bearer_header`].
    ///
    /// # Errors
    /// As [`Token::bearer_header`].
    pub fn authorization_header(&self) -> Result<http::HeaderValue, crate::Error> {
        if !self.is_dpop() {
            return self.bearer_header();
        }
        let bearer = self.bearer_header()?;
        let mut bytes = Vec::with_capacity(bearer.len() - 2);
        bytes.extend_from_slice(b"DPoP ");
        bytes.extend_from_slice(&bearer.as_bytes()[7..]);
        let mut value =
            http::HeaderValue::from_maybe_shared(bytes::Bytes::from(bytes)).map_err(|_| {
                crate::InternalError::new("the DPoP Authorization header could not be built")
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Whether the token is DPoP-bound (`token_type` `DPoP` in any case, RFC 9449 §5): it is
    /// sent as `Authorization: DPoP <token>`, with a proof signed by the client's key.
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop")
    }

    /// The access token.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The token type as the server named it (`Bearer`, `bearer`, …).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// When the token was received (monotonic clock).
    pub fn received(&self) -> Instant {
        self.received_at
    }

    /// The lifetime the server gave (`expires_in`), clamped to [`MAX_LIFETIME`]; `None` if unknown.
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// When the token really expires; `None` if unknown.
    pub fn expires_at(&self) -> Option<Instant> {
        self.lifetime.and_then(|l| self.received_at.checked_add(l))
    }

    /// When the token becomes due for renewal: its expiry less the capped gap; `None` if unknown.
    pub fn renew_at(&self) -> Option<Instant> {
        self.renew_at
    }

    /// The granted scope, if the server said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The refresh token, if any.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The id token, if any.
    pub fn id_token(&self) -> Option<&SecretString> {
        self.id_token.as_ref()
    }

    /// Whether the token needs renewal now (see [`Token::renew_at`]); not whether it has
    /// expired ([`Token::expires_at`]), which comes later. A token with an unknown lifetime
    /// never needs renewal by time (only when a resource server rejects it).
    ///
    /// Read on the hot path, so it uses the coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`
    /// on Linux: a few nanoseconds instead of a few tens, at a resolution of a few
    /// milliseconds). It answers `true` from at most 25 ms before [`Token::renew_at`] on, and
    /// always from `renew_at` on. [`Token::needs_renewal_at`] is exact.
    #[inline]
    pub fn needs_renewal(&self) -> bool {
        self.renew_at_coarse
            .is_some_and(|at| clock::coarse_now() >= at)
    }

    /// This token, due for renewal `by` earlier (never before it was received); its expiry is
    /// unchanged. For the jitter of a fleet's renewals.
    pub(crate) fn renewing_earlier(mut self, by: Duration) -> Self {
        if let Some(at) = self.renew_at {
            let at = at
                .checked_sub(by)
                .unwrap_or(self.received_at)
                .max(self.received_at);
            self.renew_at = Some(at);
            self.renew_at_coarse = Some(coarse_deadline(at));
        }
        self
    }

    /// Whether the token needs renewal at `now` (exact).
    #[inline]
    pub fn needs_renewal_at(&self, now: Instant) -> bool {
        self.renew_at.is_some_and(|at| now >= at)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &redacted(true))
            .field("token_type", &self.token_type)
            .field("lifetime", &self.lifetime)
            .field("scope", &self.scope)
            .field("refresh_token", &redacted(self.refresh_token.is_some()))
            .field("id_token", &redacted(self.id_token.is_some()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tokens_renew_one_gap_early() {
        let t0 = Instant::now();
        let t = Token::received_at("x", Some(Duration::from_secs(3600)), t0);
        assert_eq!(
            t.renew_at(),
            Some(t0 + Duration::from_secs(3600) - crate::EXPIRATION_GAP)
        );
        assert!(!t.needs_renewal_at(t0 + Duration::from_secs(3539)));
        assert!(t.needs_renewal_at(t0 + Duration::from_secs(3540)));
    }

    #[test]
    fn short_tokens_keep_three_quarters_of_their_life() {
        let t0 = Instant::now();
        let t = Token::received_at("x", Some(Duration::from_secs(4)), t0);
        assert_eq!(t.renew_at(), Some(t0 + Duration::from_secs(3)));
        assert!(!t.needs_renewal_at(t0 + Duration::from_millis(2999)));
        assert!(t.needs_renewal_at(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn zero_lifetime_is_due_at_once_and_unknown_never() {
        let t0 = Instant::now();
        assert!(Token::received_at("x", Some(Duration::ZERO), t0).needs_renewal_at(t0));
        assert!(!Token::received_at("x", None, t0).needs_renewal_at(t0 + MAX_LIFETIME));
    }

    #[test]
    fn wire_lifetimes_count_from_the_request_less_one_second() {
        let sent = Instant::now();
        let t = Token::from_expires_in("x", Duration::from_secs(3), sent);
        assert_eq!(t.lifetime(), Some(Duration::from_secs(2)));
        assert_eq!(t.expires_at(), Some(sent + Duration::from_secs(2)));
        assert_eq!(t.renew_at(), Some(sent + Duration::from_millis(1500)));
        assert_eq!(
            Token::from_expires_in("x", Duration::ZERO, sent).lifetime(),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn the_coarse_check_is_never_later_than_renew_at() {
        let past = Token::received_at(
            "x",
            Some(Duration::from_secs(4)),
            Instant::now() - Duration::from_secs(3),
        );
        assert!(past.needs_renewal(), "due exactly now");
        let fresh = Token::new("x", Some(Duration::from_secs(4)));
        assert!(!fresh.needs_renewal());
    }

    #[test]
    fn huge_lifetimes_are_clamped_without_overflow() {
        let t = Token::new("x", Some(Duration::MAX));
        assert_eq!(t.lifetime(), Some(MAX_LIFETIME));
        assert!(t.expires_at().is_some());
    }
}
