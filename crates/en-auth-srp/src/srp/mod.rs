//! The client side of AWS Cognito's SRP-6a login (`USER_SRP_AUTH` → `PASSWORD_VERIFIER`):
//! pure computation, no I/O.
//!
//! Cognito's variant, as its official clients compute it (amazon-cognito-identity-js
//! `AuthenticationHelper`, pycognito `aws_srp`) and its server checks it:
//!
//! | value | definition |
//! |---|---|
//! | N, g | the RFC 5054 Appendix A 3072-bit group, g = 2; H = SHA-256 |
//! | k | H(pad(N) ‖ pad(g)) |
//! | A | g^a mod N, sent as `SRP_A` (lowercase hex, no padding) |
//! | u | H(pad(A) ‖ pad(B)), B = `SRP_B` as received (not reduced) |
//! | x | H(pad(salt) ‖ H(pool_name ‖ USER_ID_FOR_SRP ‖ ":" ‖ password)) |
//! | S | (B − k·g^x)^(a + u·x) mod N |
//! | key | HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key"), 16 bytes |
//! | signature | base64(HMAC-SHA256(key, pool_name ‖ USER_ID_FOR_SRP ‖ SECRET_BLOCK bytes ‖ TIMESTAMP)) |
//!
//! `pad(v)` is the big-endian two's-complement encoding with the fewest bytes, i.e. Java's
//! `BigInteger.toByteArray()`: a leading `00` byte when the high bit of a positive value is set,
//! `ff…` for negative values (see `pad_hex`). `pool_name` is the part of the user pool id
//! after the `_`. Both `SALT` and `SRP_B` are hexadecimal *integers*: odd length and a leading
//! `-` occur and are honoured, redundant leading zeros are insignificant.
//!
//! The entry points are [`SrpClient`] and [`timestamp`]; [`secret_hash`] computes the
//! `SECRET_HASH` of confidential app clients. The lower-level functions of `steps.rs`
//! (`multiplier_k`, `pad_hex`, `compute_u`, `compute_x`, `compute_s`, `derive_key`, `sign`)
//! expose each step in the hex form the reference clients print, for known-answer tests.
//!
//! Not public API: the crate's own module, reachable from outside only with the `__internals`
//! feature, which the crate's tests and benches and the fuzz harness turn on.
//!
//! Arithmetic mod N is `crypto-bigint`'s constant-time Montgomery form (the group and a table of
//! powers of g are in `group.rs`); the hexadecimal integers Cognito sends, which may be negative
//! or longer than N, are parsed and padded with `num-bigint`'s `BigInt`.
//!
//! Sources: RFC 5054 (SRP for TLS; group and SRP-6a), RFC 5869 (HKDF), the AWS Cognito API
//! reference for `InitiateAuth` / `RespondToAuthChallenge` (`PASSWORD_VERIFIER` parameters), and
//! the official client amazon-cognito-identity-js.

mod device;
mod group;
#[cfg(any(test, feature = "__internals"))]
mod steps;
mod timestamp;

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use crypto_bigint::{U256, U3072, U6144};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use num_bigint::{BigInt, Sign};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use group::Residue;

pub use device::{DeviceSecret, DeviceVerifierInput};
#[cfg(any(test, feature = "__internals"))]
pub use steps::{compute_s, compute_u, compute_x, derive_key, multiplier_k, pad_hex, sign};
pub use timestamp::timestamp;

type HmacSha256 = Hmac<Sha256>;

/// The HKDF `info` Cognito uses for the password-verifier key.
const HKDF_INFO: &[u8] = b"Caldera Derived Key";

/// Bytes of the random private value `a` drawn by [`SrpClient::new`] (256 bits, the minimum
/// RFC 5054 §2.5.4 asks for).
const PRIVATE_KEY_BYTES: usize = 32;

/// Why an SRP computation was refused. Messages name the offending parameter, never its value
/// when that value is secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SrpError {
    /// The user pool id is not `<region>_<name>` (exactly one `_`, both parts non-empty).
    #[error("invalid user pool id: expected `<region>_<name>`, e.g. `us-east-1_AbCdEf123`")]
    InvalidPoolId,
    /// A required input is empty (`field` names it: `USER_ID_FOR_SRP`, `password`,
    /// `SECRET_BLOCK`, `TIMESTAMP`).
    #[error("{field} is empty")]
    Empty {
        /// Which input.
        field: &'static str,
    },
    /// A value that must be a hexadecimal integer is not one: an optional leading `-`, then at
    /// least one hex digit (either case), nothing else.
    #[error("{field} is not a hexadecimal integer")]
    InvalidHex {
        /// Which input (`SRP_B`, `SALT`, `SRP_A`, `u`, `x`, `S`, `value`).
        field: &'static str,
    },
    /// `SECRET_BLOCK` is not base64 (standard or URL-safe alphabet, padding optional).
    #[error("SECRET_BLOCK is not valid base64")]
    InvalidSecretBlock,
    /// The server's `SRP_B` is a multiple of N (RFC 5054 §2.5.4: the client must abort).
    #[error("illegal SRP_B from the server: B mod N is 0")]
    IllegalServerB,
    /// The scrambling parameter u = H(pad(A) ‖ pad(B)) is 0 (RFC 5054 §2.5.4: abort).
    #[error("illegal scrambling parameter: u is 0")]
    IllegalScrambler,
    /// A private value `a` that is 0 or not below N.
    #[error("invalid SRP private value: it must be in [1, N - 1]")]
    InvalidPrivateKey,
    /// A = g^a mod N is 0 (cannot happen for g = 2 and a prime N; checked like the references).
    #[error("illegal SRP_A: A mod N is 0")]
    IllegalClientA,
    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Random(getrandom::Error),
}

// ------------------------------------------------------------------------------- the client

/// One login attempt's client state: the private value `a` (zeroized on drop) and the public
/// value A = g^a mod N.
///
/// Make one per `InitiateAuth` (send [`srp_a`](Self::srp_a) as `SRP_A`), then answer the
/// `PASSWORD_VERIFIER` challenge with [`password_verifier`](Self::password_verifier). `Debug`
/// shows only the beginning of A.
pub struct SrpClient {
    /// a (zeroized on drop).
    a: Bounded,
    /// pad(A): Java `toByteArray` bytes of A.
    a_padded: Vec<u8>,
    /// A as lowercase hex without padding.
    a_hex: String,
}

impl SrpClient {
    /// A client with a fresh random private value: 256 bits from the operating system's RNG
    /// (`getrandom`).
    ///
    /// The first call in a process also builds a table for powers of g (a few milliseconds,
    /// ~400 KiB, kept for the process lifetime).
    ///
    /// # Errors
    /// [`SrpError::Random`] when the OS RNG fails.
    pub fn new() -> Result<Self, SrpError> {
        let mut bytes = Zeroizing::new([0u8; PRIVATE_KEY_BYTES]);
        loop {
            getrandom::fill(bytes.as_mut()).map_err(SrpError::Random)?;
            match Self::with_private_key(bytes.as_ref()) {
                // a == 0 (probability 2^-256): draw again
                Err(SrpError::InvalidPrivateKey) => continue,
                other => return other,
            }
        }
    }

    /// A client with a given private value `a` (big-endian bytes, any length; leading zero bytes
    /// are ignored). For known-answer tests: a real login must use [`new`](Self::new).
    ///
    /// The exponentiations take a time that depends on the length of `a` in bytes, never on its
    /// value; up to 32 bytes (what [`new`](Self::new) draws) use the table of powers of g.
    ///
    /// # Errors
    /// [`SrpError::InvalidPrivateKey`] when `a` is 0 or not below N;
    /// [`SrpError::IllegalClientA`] if A mod N were 0.
    pub fn with_private_key(a: &[u8]) -> Result<Self, SrpError> {
        let a = private_key(a)?;
        let big_a = group::pow_g(&a.value, a.bits).retrieve();
        if big_a == U3072::ZERO {
            return Err(SrpError::IllegalClientA);
        }
        let big_a = BigInt::from_bytes_be(Sign::Plus, &big_a.to_be_bytes());
        Ok(SrpClient {
            a,
            a_padded: big_a.to_signed_bytes_be(),
            a_hex: big_a.to_str_radix(16),
        })
    }

    /// The public value A = g^a mod N as the `SRP_A` auth parameter: lowercase hexadecimal
    /// without leading zeros (so possibly of odd length), exactly as amazon-cognito-identity-js
    /// (`A.toString(16)`) and pycognito send it.
    #[must_use]
    pub fn srp_a(&self) -> String {
        self.a_hex.clone()
    }

    /// Answers a `PASSWORD_VERIFIER` challenge: computes u, x, S, the HKDF key and the
    /// `PASSWORD_CLAIM_SIGNATURE`.
    ///
    /// Send the result with `PASSWORD_CLAIM_SECRET_BLOCK` = the challenge's `SECRET_BLOCK` as
    /// received, `TIMESTAMP` = `input.timestamp`, and `USERNAME` (the official JS client sends
    /// `USER_ID_FOR_SRP` there; pycognito the challenge's `USERNAME`).
    ///
    /// # Errors
    /// [`SrpError::InvalidPoolId`], [`SrpError::Empty`] (user id, password, secret block or
    /// timestamp), [`SrpError::InvalidHex`] (`SRP_B`, `SALT`), [`SrpError::InvalidSecretBlock`],
    /// [`SrpError::IllegalServerB`] (B ≡ 0 mod N) and [`SrpError::IllegalScrambler`] (u = 0).
    pub fn password_verifier(&self, input: &VerifierInput<'_>) -> Result<PasswordClaim, SrpError> {
        let pool_name = pool_name(input.pool_id)?;
        non_empty("USER_ID_FOR_SRP", input.user_id_for_srp)?;
        non_empty("password", input.password)?;
        self.claim(&Proof {
            name: pool_name,
            user: input.user_id_for_srp,
            password: input.password,
            srp_b: input.srp_b,
            salt: input.salt,
            secret_block: input.secret_block,
            timestamp: input.timestamp,
        })
    }

    /// The proof of a `PASSWORD_VERIFIER` or `DEVICE_PASSWORD_VERIFIER` answer: the same
    /// steps for a user (pool name, `USER_ID_FOR_SRP`, password) and a remembered device
    /// (`DeviceGroupKey`, `DeviceKey`, device password).
    pub(crate) fn claim(&self, proof: &Proof<'_>) -> Result<PasswordClaim, SrpError> {
        non_empty("TIMESTAMP", proof.timestamp)?;
        let b = signed_hex("SRP_B", proof.srp_b)?;
        let salt = signed_hex("SALT", proof.salt)?;
        let secret_block = decode_secret_block(proof.secret_block)?;

        let b_reduced = reduce_b(&b)?;
        let u = scrambler(&self.a_padded, &b)?;
        let x = exponent_x(proof.name, proof.user, proof.password, &salt);
        let s = premaster(&self.a, &b_reduced, &Bounded::digest(&u), &x);
        let key = hkdf_key(&s, &BigInt::from_bytes_be(Sign::Plus, &u));
        let signature = signature(&key, proof.name, proof.user, &secret_block, proof.timestamp);
        Ok(PasswordClaim { signature })
    }
}

/// What a proof is over: see [`SrpClient::claim`].
pub(crate) struct Proof<'a> {
    /// The pool name, or the `DeviceGroupKey`.
    pub(crate) name: &'a str,
    /// `USER_ID_FOR_SRP`, or the `DeviceKey`.
    pub(crate) user: &'a str,
    /// The user's or the device's password.
    pub(crate) password: &'a str,
    pub(crate) srp_b: &'a str,
    pub(crate) salt: &'a str,
    pub(crate) secret_block: &'a str,
    pub(crate) timestamp: &'a str,
}

impl fmt::Debug for SrpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.a_hex.get(..16).unwrap_or(&self.a_hex);
        f.debug_struct("SrpClient")
            .field("srp_a", &format_args!("{prefix}…"))
            .field("a", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// The `PASSWORD_VERIFIER` challenge as the client needs it: the challenge parameters as
/// received, the user's password, and the timestamp it will send.
///
/// All strings are used as UTF-8 bytes. `Debug` redacts the password.
#[derive(Clone, Copy)]
pub struct VerifierInput<'a> {
    /// The user pool id, `<region>_<name>` (e.g. `us-east-1_AbCdEf123`); the `<name>` part goes
    /// into x and into the signature.
    pub pool_id: &'a str,
    /// The challenge's `USER_ID_FOR_SRP` (not the name the user typed, nor `USERNAME`): both
    /// reference clients hash and sign this one.
    pub user_id_for_srp: &'a str,
    /// The user's password.
    pub password: &'a str,
    /// The challenge's `SRP_B`: a hexadecimal integer, possibly of odd length or signed.
    pub srp_b: &'a str,
    /// The challenge's `SALT`: a hexadecimal integer, possibly of odd length or signed.
    pub salt: &'a str,
    /// The challenge's `SECRET_BLOCK`: base64 (standard or URL-safe, padding optional).
    pub secret_block: &'a str,
    /// The `TIMESTAMP` that will be sent, normally [`timestamp`]`(SystemTime::now())`.
    pub timestamp: &'a str,
}

impl fmt::Debug for VerifierInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierInput")
            .field("pool_id", &self.pool_id)
            .field("user_id_for_srp", &self.user_id_for_srp)
            .field("password", &format_args!("[REDACTED]"))
            .field("srp_b", &self.srp_b)
            .field("salt", &self.salt)
            .field(
                "secret_block",
                &format_args!("<{} chars>", self.secret_block.len()),
            )
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// The client's proof for `RespondToAuthChallenge`. `Debug` redacts it.
pub struct PasswordClaim {
    signature: SecretString,
}

impl PasswordClaim {
    /// `PASSWORD_CLAIM_SIGNATURE`: standard base64 (with padding) of the 32-byte HMAC-SHA256.
    #[must_use]
    pub fn signature(&self) -> &SecretString {
        &self.signature
    }
}

impl fmt::Debug for PasswordClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordClaim")
            .field("signature", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// `SECRET_HASH` for app clients that have a secret: base64(HMAC-SHA256(key = client secret,
/// message = user name ‖ client id)), standard alphabet with padding.
///
/// `user_name` is the `USERNAME` of the same request: the typed name in `InitiateAuth`; in
/// `RespondToAuthChallenge`, the `USERNAME` sent there. Source: AWS Cognito developer guide,
/// "Computing secret hash values".
#[must_use]
pub fn secret_hash(client_id: &str, client_secret: &str, user_name: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(client_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(user_name.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `<name>` part of a user pool id `<region>_<name>` (what Cognito's clients call the pool
/// name), which enters x and the signature.
///
/// # Errors
/// [`SrpError::InvalidPoolId`] unless the id has exactly one `_` with text on both sides.
pub fn pool_name(pool_id: &str) -> Result<&str, SrpError> {
    match pool_id.split_once('_') {
        Some((region, name)) if !region.is_empty() && !name.is_empty() && !name.contains('_') => {
            Ok(name)
        }
        _ => Err(SrpError::InvalidPoolId),
    }
}

// ------------------------------------------------------------------------------ internals

fn non_empty(field: &'static str, value: &str) -> Result<(), SrpError> {
    if value.is_empty() {
        Err(SrpError::Empty { field })
    } else {
        Ok(())
    }
}

/// Checks the syntax of Cognito's hexadecimal integers: an optional `-`, then one or more hex
/// digits (either case, any length, odd included), nothing else (no `+`, `_`, `0x` or spaces).
/// Returns whether there was a `-`, and the digits.
fn hex_syntax<'t>(field: &'static str, text: &'t str) -> Result<(bool, &'t str), SrpError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(SrpError::InvalidHex { field });
    }
    Ok((negative, digits))
}

/// A signed hexadecimal integer (`SRP_B`, `SALT`, `SRP_A`): never an even-length byte decoder,
/// `abc` is 0x0abc. Its `to_signed_bytes_be` is pad(v), Java's `BigInteger.toByteArray()`.
fn signed_hex(field: &'static str, text: &str) -> Result<BigInt, SrpError> {
    hex_syntax(field, text)?;
    BigInt::parse_bytes(text.as_bytes(), 16).ok_or(SrpError::InvalidHex { field })
}

/// A secret or exponent below 2^3072 (a, u, x, S) with a bound on its length in bits taken from
/// the size of its encoding (bytes or hex digits), never from its value: exponentiations take
/// time that depends on the bound only. Zeroized on drop.
struct Bounded {
    value: U3072,
    bits: u32,
}

impl Bounded {
    /// From big-endian bytes of any length; `None` when the value is 2^3072 or more.
    fn from_be_bytes(bytes: &[u8]) -> Option<Self> {
        let (excess, tail) = bytes.split_at(bytes.len().saturating_sub(U3072::BYTES));
        if excess.iter().fold(0, |acc, &b| acc | b) != 0 {
            return None;
        }
        let mut buf = Zeroizing::new([0u8; U3072::BYTES]);
        buf[U3072::BYTES - tail.len()..].copy_from_slice(tail);
        Some(Bounded {
            value: U3072::from_be_slice(&buf[..]),
            bits: bits_of(bytes.len(), 8),
        })
    }

    /// A SHA-256 value.
    fn digest(digest: &[u8; 32]) -> Self {
        Bounded {
            value: U256::from_be_slice(digest).resize(),
            bits: 256,
        }
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

/// The bits of `len` digits of `bits_per_digit` bits, at most 3072 (the values are below 2^3072).
fn bits_of(len: usize, bits_per_digit: u32) -> u32 {
    u32::try_from(len).map_or(U3072::BITS, |len| {
        len.saturating_mul(bits_per_digit).min(U3072::BITS)
    })
}

/// A private value `a` from big-endian bytes: 0 < a < N.
fn private_key(a: &[u8]) -> Result<Bounded, SrpError> {
    match Bounded::from_be_bytes(a) {
        Some(a) if a.value != U3072::ZERO && a.value < group::N => Ok(a),
        _ => Err(SrpError::InvalidPrivateKey),
    }
}

/// B mod N (floor modulus, so a negative B gives N − (|B| mod N)); B is public.
///
/// Errors with [`SrpError::IllegalServerB`] when it is 0.
fn reduce_b(b: &BigInt) -> Result<Residue, SrpError> {
    let n = BigInt::from_bytes_be(Sign::Plus, &group::N.to_be_bytes());
    let mut r = b % &n;
    match r.sign() {
        Sign::NoSign => return Err(SrpError::IllegalServerB),
        Sign::Minus => r += &n,
        Sign::Plus => {}
    }
    let r = Bounded::from_be_bytes(&r.magnitude().to_bytes_be()).ok_or(SrpError::IllegalServerB)?;
    Ok(Residue::new(&r.value))
}

/// u = H(pad(A) ‖ pad(B)), B as received (signed, not reduced); refuses u = 0.
fn scrambler(a_padded: &[u8], b: &BigInt) -> Result<[u8; 32], SrpError> {
    let u: [u8; 32] = Sha256::new()
        .chain_update(a_padded)
        .chain_update(b.to_signed_bytes_be())
        .finalize()
        .into();
    if u.iter().all(|&b| b == 0) {
        return Err(SrpError::IllegalScrambler);
    }
    Ok(u)
}

/// x = H(pad(salt) ‖ H(pool_name ‖ user ‖ ":" ‖ password)).
///
/// Both digests are written straight into zeroized buffers (`finalize_into`, no copy on the
/// way), and the hash states, which held the password's bytes, wipe themselves on drop (sha2's
/// `zeroize` feature).
fn x_digest(pool_name: &str, user: &str, password: &str, salt: &BigInt) -> Zeroizing<[u8; 32]> {
    let mut hash = Sha256::new();
    hash.update(pool_name.as_bytes());
    hash.update(user.as_bytes());
    hash.update(b":");
    hash.update(password.as_bytes());
    let mut inner = Zeroizing::new([0u8; 32]);
    hash.finalize_into((&mut *inner).into());
    let mut x = Zeroizing::new([0u8; 32]);
    Sha256::new()
        .chain_update(salt.to_signed_bytes_be())
        .chain_update(&inner[..])
        .finalize_into((&mut *x).into());
    x
}

/// x as an exponent: [`x_digest`] of a user (pool name, `USER_ID_FOR_SRP`, password) or of a
/// remembered device (`DeviceGroupKey`, `DeviceKey`, device password).
fn exponent_x(name: &str, user: &str, password: &str, salt: &BigInt) -> Bounded {
    Bounded::digest(&x_digest(name, user, password, salt))
}

/// The verifier v = g^x mod N of [`exponent_x`]: what `ConfirmDevice` registers for a
/// device (and a pool stores for a user), and the g^x of the premaster secret.
fn verifier(x: &Bounded) -> Zeroizing<Residue> {
    group::pow_g(&x.value, x.bits)
}

/// S = (B − k·g^x)^(a + u·x) mod N; `b` already reduced mod N.
///
/// a + u·x < 2^(max(a.bits, u.bits + x.bits) + 1), which bounds the exponentiation; it fits
/// 6144 bits since a < N and u, x < 2^3072.
fn premaster(a: &Bounded, b: &Residue, u: &Bounded, x: &Bounded) -> Zeroizing<U3072> {
    let ux: Zeroizing<U6144> = Zeroizing::new(u.value.widening_mul(&x.value));
    let e = Zeroizing::new(ux.wrapping_add(&a.value.resize()));
    let e_bits = (a.bits.max(u.bits + x.bits) + 1).min(U6144::BITS);
    let kgx = Zeroizing::new(group::K_RESIDUE.mul(&verifier(x)));
    let base = Zeroizing::new(b.sub(&kgx));
    Zeroizing::new(base.pow_bounded_exp(&e, e_bits).retrieve())
}

/// pad(S) for the secret S: what `BigInt::to_signed_bytes_be` gives for a non-negative value (the
/// big-endian bytes without leading zeros, one `00` byte first when the top bit is set), built
/// in buffers that are zeroized, which a `BigInt`'s are not.
fn pad_secret(s: &U3072) -> Zeroizing<Vec<u8>> {
    let be = Zeroizing::new(s.to_be_bytes());
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len() - 1);
    let mut out = Zeroizing::new(Vec::with_capacity(U3072::BYTES + 1));
    if be[start] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&be[start..]);
    out
}

/// HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key"), first 16 bytes.
///
/// The PRK is taken from the extract step and wiped here (`Hkdf::new` would drop its copy
/// as is); the HMAC state keyed with it wipes itself on drop (hmac's `zeroize` feature).
fn hkdf_key(s: &U3072, u: &BigInt) -> Zeroizing<[u8; 16]> {
    let ikm = pad_secret(s);
    let (mut prk, hk) = Hkdf::<Sha256>::extract(Some(&u.to_signed_bytes_be()), &ikm);
    prk.as_mut_slice().zeroize();
    let mut key = Zeroizing::new([0u8; 16]);
    hk.expand(HKDF_INFO, key.as_mut())
        .expect("16 bytes is a valid HKDF-SHA256 output length");
    key
}

fn signature(
    key: &[u8; 16],
    pool_name: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> SecretString {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(pool_name.as_bytes());
    mac.update(user_id_for_srp.as_bytes());
    mac.update(secret_block);
    mac.update(timestamp.as_bytes());
    SecretString::from(STANDARD.encode(mac.finalize().into_bytes()))
}

/// Standard alphabet, padding optional, non-zero trailing bits tolerated (as Node's `Buffer`
/// and Python's `b64decode` do).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `SECRET_BLOCK` bytes: base64 in the standard or URL-safe alphabet, with or without padding.
fn decode_secret_block(text: &str) -> Result<Vec<u8>, SrpError> {
    non_empty("SECRET_BLOCK", text)?;
    let decoded = if text.contains(['-', '_']) {
        LENIENT.decode(text.replace('-', "+").replace('_', "/"))
    } else {
        LENIENT.decode(text)
    };
    decoded.map_err(|_| SrpError::InvalidSecretBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_byte_array_encoding() {
        let cases = [
            ("0", "00"),
            ("-0", "00"),
            ("7f", "7f"),
            ("80", "0080"),
            ("-80", "80"),
            ("-81", "ff7f"),
            ("-100", "ff00"),
            ("-8000", "8000"),
            ("-800001", "ff7fffff"),
            ("000abc", "0abc"),
            ("-abc", "f544"),
            ("ABC", "0abc"),
        ];
        for (input, expect) in cases {
            assert_eq!(pad_hex(input).unwrap(), expect, "{input}");
        }
        for bad in ["", "-", "0x12", "+1", " 1", "1 ", "g", "--1", "1-2"] {
            assert!(
                matches!(pad_hex(bad), Err(SrpError::InvalidHex { field: "value" })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secret_padding_is_java_to_byte_array() {
        let mut values = vec![
            U3072::ZERO,
            U3072::ONE,
            U3072::from_u8(0x7f),
            U3072::from_u8(0x80),
        ];
        values.push(group::N);
        values.push(group::N.shr_vartime(1));
        values.push(U3072::MAX.shr_vartime(1));
        values.push(U3072::MAX);
        for v in values {
            let expect = BigInt::from_bytes_be(Sign::Plus, &v.to_be_bytes()).to_signed_bytes_be();
            assert_eq!(*pad_secret(&v), expect, "{v}");
        }
    }

    #[test]
    fn pool_names() {
        assert_eq!(pool_name("us-east-1_AbC").unwrap(), "AbC");
        for bad in ["", "_", "us-east-1", "us-east-1_", "_abc", "a_b_c"] {
            assert!(
                matches!(pool_name(bad), Err(SrpError::InvalidPoolId)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secret_block_alphabets() {
        let std = decode_secret_block("+/8=").unwrap();
        assert_eq!(std, [0xfb, 0xff]);
        assert_eq!(decode_secret_block("-_8").unwrap(), std);
        assert_eq!(decode_secret_block("+/8").unwrap(), std);
        assert!(matches!(
            decode_secret_block("a b"),
            Err(SrpError::InvalidSecretBlock)
        ));
        assert!(matches!(
            decode_secret_block(""),
            Err(SrpError::Empty {
                field: "SECRET_BLOCK"
            })
        ));
    }
}
