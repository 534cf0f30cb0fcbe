//! Each step of the SRP computation on its own, in the hex form the reference clients print:
//! for the known-answer tests and the fuzz harness only. The login itself goes through
//! [`SrpClient::password_verifier`](super::SrpClient::password_verifier), which runs the same
//! steps on parsed values.

use crypto_bigint::{U256, U3072};
use num_bigint::{BigInt, Sign};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::{
    bits_of, decode_secret_block, group, hex_syntax, hkdf_key, pool_name, premaster, private_key,
    reduce_b, scrambler, signature, signed_hex, x_digest, Bounded, SrpError,
};

/// The SRP-6a multiplier k = H(pad(N) ‖ pad(g)) as lowercase hex without leading zeros
/// (Cognito: `538282c4…`).
#[must_use]
pub fn multiplier_k() -> String {
    group::K.to_string_radix_vartime(16)
}

/// Parses a signed hexadecimal integer (optional leading `-`, any length, either case) and
/// returns its padded encoding as lowercase hex: Java's `BigInteger.toByteArray()`, which is
/// amazon-cognito-identity-js's `padHex` (e.g. `80` → `0080`, `-80` → `80`, `-81` → `ff7f`,
/// `abc` → `0abc`, `0` → `00`).
///
/// # Errors
/// [`SrpError::InvalidHex`] (field `value`).
pub fn pad_hex(value: &str) -> Result<String, SrpError> {
    let bytes = signed_hex("value", value)?.to_signed_bytes_be();
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// u = H(pad(A) ‖ pad(B)) as lowercase hex without leading zeros. Both arguments are
/// hexadecimal integers as sent (`SRP_A`, `SRP_B`).
///
/// # Errors
/// [`SrpError::InvalidHex`], [`SrpError::IllegalScrambler`] when u = 0.
pub fn compute_u(srp_a: &str, srp_b: &str) -> Result<String, SrpError> {
    let a = signed_hex("SRP_A", srp_a)?;
    let b = signed_hex("SRP_B", srp_b)?;
    let u = scrambler(&a.to_signed_bytes_be(), &b)?;
    Ok(U256::from_be_slice(&u).to_string_radix_vartime(16))
}

/// x = H(pad(salt) ‖ H(pool_name ‖ user_id_for_srp ‖ ":" ‖ password)) as lowercase hex without
/// leading zeros. Secret: handle the result with care.
///
/// # Errors
/// [`SrpError::InvalidPoolId`], [`SrpError::InvalidHex`] (`SALT`).
pub fn compute_x(
    pool_id: &str,
    user_id_for_srp: &str,
    password: &str,
    salt: &str,
) -> Result<Zeroizing<String>, SrpError> {
    let pool_name = pool_name(pool_id)?;
    let salt = signed_hex("SALT", salt)?;
    let x = Bounded::digest(&x_digest(pool_name, user_id_for_srp, password, &salt));
    Ok(Zeroizing::new(x.value.to_string_radix_vartime(16)))
}

/// S = (B − k·g^x)^(a + u·x) mod N as lowercase hex without leading zeros, from the private value
/// `a` (big-endian bytes) and the hex of `SRP_B`, u and x. Secret.
///
/// # Errors
/// [`SrpError::InvalidPrivateKey`], [`SrpError::InvalidHex`], [`SrpError::IllegalServerB`],
/// [`SrpError::IllegalScrambler`] (u = 0; u and x must be non-negative and below 2^3072).
pub fn compute_s(a: &[u8], srp_b: &str, u: &str, x: &str) -> Result<Zeroizing<String>, SrpError> {
    let a = private_key(a)?;
    let b = reduce_b(&signed_hex("SRP_B", srp_b)?)?;
    let u = Bounded::from_hex("u", u)?;
    if u.value == U3072::ZERO {
        return Err(SrpError::IllegalScrambler);
    }
    let x = Bounded::from_hex("x", x)?;
    let s = premaster(&a, &b, &u, &x);
    Ok(Zeroizing::new(s.to_string_radix_vartime(16)))
}

/// The 16-byte password key HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived
/// Key") (RFC 5869, one block), from the hex of S and u. Secret.
///
/// # Errors
/// [`SrpError::InvalidHex`] (`S`, `u`; both non-negative and below 2^3072),
/// [`SrpError::IllegalScrambler`] (u = 0).
pub fn derive_key(s: &str, u: &str) -> Result<Zeroizing<[u8; 16]>, SrpError> {
    let s = Bounded::from_hex("S", s)?;
    let u = Bounded::from_hex("u", u)?;
    if u.value == U3072::ZERO {
        return Err(SrpError::IllegalScrambler);
    }
    Ok(hkdf_key(
        &s.value,
        &BigInt::from_bytes_be(Sign::Plus, &u.value.to_be_bytes()),
    ))
}

/// `PASSWORD_CLAIM_SIGNATURE` = base64(HMAC-SHA256(key, pool_name ‖ user_id_for_srp ‖
/// SECRET_BLOCK bytes ‖ timestamp)).
///
/// # Errors
/// [`SrpError::InvalidPoolId`], [`SrpError::InvalidSecretBlock`].
pub fn sign(
    key: &[u8; 16],
    pool_id: &str,
    user_id_for_srp: &str,
    secret_block: &str,
    timestamp: &str,
) -> Result<SecretString, SrpError> {
    let pool_name = pool_name(pool_id)?;
    let block = decode_secret_block(secret_block)?;
    Ok(signature(
        key,
        pool_name,
        user_id_for_srp,
        &block,
        timestamp,
    ))
}

impl Bounded {
    /// A non-negative hexadecimal integer (`-0` is 0) below 2^3072.
    fn from_hex(field: &'static str, text: &str) -> Result<Self, SrpError> {
        let (negative, digits) = hex_syntax(field, text)?;
        let value = U3072::from_str_radix_vartime(digits, 16)
            .map_err(|_| SrpError::InvalidHex { field })?;
        let bounded = Bounded {
            value,
            bits: bits_of(digits.len(), 4),
        };
        if negative && bounded.value != U3072::ZERO {
            return Err(SrpError::InvalidHex { field });
        }
        Ok(bounded)
    }
}
