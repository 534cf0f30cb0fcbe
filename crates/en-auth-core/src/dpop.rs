//! DPoP (RFC 9449, OAuth 2.0 Demonstrating Proof of Possession): the seam between the
//! [`Authorizer`](crate::Authorizer) and a proof signer.
//!
//! A DPoP-bound access token (`token_type` `DPoP`, RFC 9449 §5) is sent as `Authorization:
//! DPoP <token>` together with a `DPoP` header: a JWT signed by the client's key, naming the
//! request's method (`htm`) and URI (`htu`), the hash of the token (`ath`), and the server's
//! latest nonce (`nonce`) when it gave one. This module holds what does not need JOSE code —
//! the claims, the normalised `htu`, `ath`, the latest nonce of each origin — and the
//! [`DpopSigner`] trait that signs; `en-auth-oauth2`'s `DpopKey` (cargo feature `dpop`)
//! implements it with `jsonwebtoken`, so a consumer that never uses DPoP compiles no JOSE code.
//!
//! The design: the token carries its scheme (its `token_type`), and the cached entry of a DPoP
//! token its `ath`, computed once; the [`Authorizer`](crate::Authorizer) holds the provider's
//! [`Dpop`] and calls it with the request's method and URI when, and only when, the token is
//! DPoP-bound. A bearer token's hot path is unchanged: one more test of a field already in
//! the cache line, no lock, no allocation.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use sha2::Digest as _;
use url::Url;

use crate::contract::RequestTarget;
use crate::{ConfigurationError, Error, InternalError};

/// The `DPoP` request header, which carries the proof (RFC 9449 §4.1).
pub const DPOP_HEADER: HeaderName = HeaderName::from_static("dpop");

/// The `DPoP-Nonce` response header, which carries a server's nonce (RFC 9449 §8, §9).
pub const DPOP_NONCE_HEADER: HeaderName = HeaderName::from_static("dpop-nonce");

/// The error code a server answers when it wants a proof with its nonce: `use_dpop_nonce`
/// (RFC 9449 §8 at the token endpoint, §9 at a resource server).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// The longest nonce kept, in bytes; a longer `DPoP-Nonce` is ignored.
const MAX_NONCE_BYTES: usize = 1024;

/// How many origins' nonces are kept; beyond that the map is emptied (a server whose nonce
/// was forgotten asks for it again once).
const MAX_ORIGINS: usize = 1024;

/// The claims of one DPoP proof that depend on the request (RFC 9449 §4.2); the signer adds
/// `iat` and a unique `jti`, and the header (`typ` `dpop+jwt`, `alg`, `jwk`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DpopClaims<'a> {
    /// `htm`: the request's method (`GET`, `POST`, …).
    pub htm: &'a str,
    /// `htu`: the request's URI without query and fragment.
    pub htu: &'a str,
    /// `nonce`: the server's latest `DPoP-Nonce` for this origin, if it gave one.
    pub nonce: Option<&'a str>,
    /// `ath`: base64url(SHA-256(access token)), on requests to a resource server.
    pub ath: Option<&'a str>,
}

impl<'a> DpopClaims<'a> {
    /// Claims for a request of `htm` to `htu`, with no nonce and no `ath`.
    pub fn new(htm: &'a str, htu: &'a str) -> Self {
        Self {
            htm,
            htu,
            nonce: None,
            ath: None,
        }
    }

    /// With the server's nonce.
    #[must_use]
    pub fn with_nonce(mut self, nonce: Option<&'a str>) -> Self {
        self.nonce = nonce;
        self
    }

    /// With the access token's hash (see [`access_token_hash`]).
    #[must_use]
    pub fn with_ath(mut self, ath: Option<&'a str>) -> Self {
        self.ath = ath;
        self
    }
}

/// Signs DPoP proofs with the client's private key (RFC 9449 §4.2): a JWT with header `typ`
/// `dpop+jwt`, `alg` and `jwk` (the public key), and the claims given plus `iat` (now) and a
/// unique `jti`. `en-auth-oauth2`'s `DpopKey` implements it; implement it to sign with a key
/// held elsewhere (an HSM).
///
/// Implementations must never show the private key or a proof in `Debug` or in errors.
pub trait DpopSigner: Send + Sync + 'static {
    /// A new proof for `claims`, in compact serialisation.
    ///
    /// # Errors
    /// [`Error::Internal`] when the key cannot sign.
    fn sign_proof(&self, claims: &DpopClaims<'_>) -> Result<String, Error>;

    /// The JWK SHA-256 thumbprint of the public key (RFC 7638, base64url): what the server
    /// binds tokens to (`cnf.jkt`, RFC 9449 §6).
    fn jwk_thumbprint(&self) -> &str;

    /// The signing algorithm's JOSE name (`ES256`, `EdDSA`), for logs.
    fn algorithm(&self) -> &str;
}

/// A client's DPoP key and what it has learnt from servers: the proof signer, the latest nonce
/// of each origin, and whether a `Bearer` answer to a DPoP token request is accepted.
///
/// A provider that binds its tokens to a key returns it from
/// [`TokenProvider::dpop`](crate::TokenProvider::dpop); the
/// [`Authorizer`](crate::Authorizer) then signs a proof for every request that carries a
/// DPoP-bound token, and answers a resource server's `use_dpop_nonce` challenge with one replay
/// carrying the nonce given. Cheap to clone (clones share the nonces).
#[derive(Clone)]
pub struct Dpop {
    inner: Arc<DpopInner>,
    allow_bearer: bool,
}

struct DpopInner {
    signer: Box<dyn DpopSigner>,
    /// The latest `DPoP-Nonce` of each origin (keyed by [`origin_key`]).
    nonces: RwLock<HashMap<u64, Arc<str>>>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("alg", &self.inner.signer.algorithm())
            .field("jkt", &self.inner.signer.jwk_thumbprint())
            .field("allow_bearer", &self.allow_bearer)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// DPoP with `signer`'s key; a `Bearer` answer to a token request is refused.
    pub fn new(signer: impl DpopSigner) -> Self {
        Self {
            inner: Arc::new(DpopInner {
                signer: Box::new(signer),
                nonces: RwLock::new(HashMap::new()),
            }),
            allow_bearer: false,
        }
    }

    /// Whether a token endpoint may answer a DPoP token request with a `Bearer` token (RFC 9449
    /// §5 lets a server do so; the token is then sent as a bearer token, without proofs).
    /// Default `false`: such an answer is an error, since the client asked for a bound token.
    #[must_use]
    pub fn with_bearer_allowed(mut self, allow: bool) -> Self {
        self.allow_bearer = allow;
        self
    }

    /// Whether a `Bearer` answer to a DPoP token request is accepted.
    pub fn bearer_allowed(&self) -> bool {
        self.allow_bearer
    }

    /// The public key's JWK SHA-256 thumbprint (RFC 7638), which a server puts in the token's
    /// `cnf.jkt`.
    pub fn jwk_thumbprint(&self) -> &str {
        self.inner.signer.jwk_thumbprint()
    }

    /// The signing algorithm's JOSE name.
    pub fn algorithm(&self) -> &str {
        self.inner.signer.algorithm()
    }

    /// The `DPoP` header for a request of `method` to `url` (its query and fragment left out of
    /// `htu`), with the origin's latest nonce and, when `access_token` is given, its `ath`.
    /// The value is marked sensitive.
    ///
    /// # Errors
    /// [`Error::Internal`] when the key cannot sign; [`Error::Configuration`] for a URL that is
    /// not `http` or `https`.
    pub fn proof(
        &self,
        method: &Method,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<HeaderValue, Error> {
        let ath = access_token.map(access_token_hash);
        self.proof_for(method, RequestTarget::Url(url), ath.as_deref())
            .map(|(value, _)| value)
    }

    /// The proof for a request to `target`, and its origin's key (for the answer's nonce).
    pub(crate) fn proof_for(
        &self,
        method: &Method,
        target: RequestTarget<'_>,
        ath: Option<&str>,
    ) -> Result<(HeaderValue, u64), Error> {
        let htu = target_uri(target)?;
        let origin = origin_key(&htu);
        let nonce = self.nonce_of(origin);
        let claims = DpopClaims::new(method.as_str(), htu.as_str())
            .with_nonce(nonce.as_deref())
            .with_ath(ath);
        let jwt = self.inner.signer.sign_proof(&claims)?;
        let mut value = HeaderValue::from_maybe_shared(Bytes::from(jwt)).map_err(|_| {
            Error::from(InternalError::new(
                "the DPoP proof is not a valid header value",
            ))
        })?;
        value.set_sensitive(true);
        Ok((value, origin))
    }

    /// The latest nonce `url`'s origin gave, if any.
    pub fn nonce(&self, url: &Url) -> Option<Arc<str>> {
        self.nonce_of(origin_key(url))
    }

    /// Keeps the `DPoP-Nonce` of an answer from `url`'s origin, if it has one; returns whether
    /// it had one (a valid one: `1*NQCHAR`, RFC 9449 §8.1).
    pub fn remember_nonce(&self, url: &Url, headers: &HeaderMap) -> bool {
        self.remember_nonce_for(origin_key(url), headers)
    }

    /// As [`Dpop::remember_nonce`], for the origin of `key`.
    pub(crate) fn remember_nonce_for(&self, key: u64, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid_nonce(v))
        else {
            return false;
        };
        if self.nonce_of(key).as_deref() == Some(nonce) {
            return true;
        }
        let mut nonces = self
            .inner
            .nonces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if nonces.len() >= MAX_ORIGINS && !nonces.contains_key(&key) {
            nonces.clear();
        }
        nonces.insert(key, Arc::from(nonce));
        tracing::debug!("DPoP nonce updated");
        true
    }

    fn nonce_of(&self, key: u64) -> Option<Arc<str>> {
        self.inner
            .nonces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
    }
}

/// `ath` (RFC 9449 §4.2): base64url(SHA-256(the access token's ASCII)).
pub fn access_token_hash(access_token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(access_token.as_bytes()))
}

/// `htu` (RFC 9449 §4.2): the URI without query, fragment or user information, normalised as a
/// URL (lower-case scheme and host, no default port).
///
/// # Errors
/// [`Error::Configuration`] for a target that is not an absolute `http`/`https` URI.
pub fn htu(url: &Url) -> Result<Url, Error> {
    target_uri(RequestTarget::Url(url))
}

fn target_uri(target: RequestTarget<'_>) -> Result<Url, Error> {
    let mut url = match target {
        RequestTarget::Url(url) => url.clone(),
        RequestTarget::Uri(uri) => {
            let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
                return Err(not_http());
            };
            Url::parse(&format!("{scheme}://{authority}{}", uri.path())).map_err(|_| not_http())?
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(not_http());
    }
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(url)
}

fn not_http() -> Error {
    ConfigurationError::new("a DPoP proof needs an absolute http or https URI").into()
}

/// Identifies `url`'s origin (scheme, host, port) for the nonce map.
pub(crate) fn origin_key(url: &Url) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.scheme().hash(&mut hasher);
    url.host_str().hash(&mut hasher);
    url.port_or_known_default().hash(&mut hasher);
    // 0 means "no origin" in a ticket.
    hasher.finish().max(1)
}

/// `1*NQCHAR` (RFC 9449 §8.1; RFC 6749 Appendix A: `%x21 / %x23-5B / %x5D-7E`), not too long.
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_BYTES
        && nonce
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A resource server's refusal of the proof, not of the token (RFC 9449 §7.1):
/// `WWW-Authenticate: DPoP error="invalid_dpop_proof"`.
pub(crate) fn proof_refused(status: StatusCode, headers: &HeaderMap) -> bool {
    status.is_client_error() && dpop_error(headers, "invalid_dpop_proof")
}

/// A `DPoP` challenge with `error` = `code`.
fn dpop_error(headers: &HeaderMap, code: &str) -> bool {
    crate::contract::challenges(headers).any(|challenge| {
        challenge.scheme.eq_ignore_ascii_case("dpop")
            && challenge.params.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("error") && value.to_unescaped() == code
            })
    })
}

/// A resource server's answer asking for a proof with its nonce (RFC 9449 §9): `401` with a
/// `DPoP` challenge whose `error` is `use_dpop_nonce`.
pub(crate) fn nonce_challenge(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED && dpop_error(headers, USE_DPOP_NONCE)
}

#[cfg(test)]
mod tests {
    use http::header::WWW_AUTHENTICATE;

    use super::*;

    struct Fake;
    impl DpopSigner for Fake {
        fn sign_proof(&self, claims: &DpopClaims<'_>) -> Result<String, Error> {
            Ok(format!(
                "{}.{}.{}.{}",
                claims.htm,
                claims.htu,
                claims.nonce.unwrap_or("-"),
                claims.ath.unwrap_or("-")
            ))
        }
        fn jwk_thumbprint(&self) -> &str {
            "jkt"
        }
        fn algorithm(&self) -> &str {
            "ES256"
        }
    }

    #[test]
    fn htu_leaves_out_query_fragment_and_credentials() {
        let url = Url::parse("HTTPS://u:p@API.example.com:443/a/b?x=1#f").unwrap();
        assert_eq!(htu(&url).unwrap().as_str(), "https://api.example.com/a/b");
        let uri: http::Uri = "http://127.0.0.1:8080/r?q".parse().unwrap();
        assert_eq!(
            target_uri(RequestTarget::Uri(&uri)).unwrap().as_str(),
            "http://127.0.0.1:8080/r"
        );
        let relative: http::Uri = "/r".parse().unwrap();
        assert!(target_uri(RequestTarget::Uri(&relative)).is_err());
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let dpop = Dpop::new(Fake);
        let a = Url::parse("https://a.example/x").unwrap();
        let b = Url::parse("https://b.example/x").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("n-1"));
        assert!(dpop.remember_nonce(&a, &headers));
        assert_eq!(dpop.nonce(&a).as_deref(), Some("n-1"));
        assert_eq!(dpop.nonce(&b), None);
        let proof = dpop.proof(&Method::GET, &a, Some("tok")).unwrap();
        assert!(proof.is_sensitive());
        assert_eq!(
            proof.to_str().unwrap(),
            format!("GET.https://a.example/x.n-1.{}", access_token_hash("tok"))
        );
        // A nonce with a quote or a space is no NQCHAR string: ignored.
        headers.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("a b"));
        assert!(!dpop.remember_nonce(&a, &headers));
        assert_eq!(dpop.nonce(&a).as_deref(), Some("n-1"));
    }

    #[test]
    fn ath_is_base64url_sha256() {
        // RFC 9449 §7.1's example token and ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn the_nonce_challenge_is_a_401_with_a_dpop_use_dpop_nonce_error() {
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"DPoP error="use_dpop_nonce", error_description="x""#),
        );
        assert!(nonce_challenge(StatusCode::UNAUTHORIZED, &headers));
        assert!(!nonce_challenge(StatusCode::BAD_REQUEST, &headers));
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="use_dpop_nonce""#),
        );
        assert!(!nonce_challenge(StatusCode::UNAUTHORIZED, &headers));
    }
}
