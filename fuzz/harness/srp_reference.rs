//! An independent reference for the checks of the SRP targets: Cognito's SRP-6a computed with
//! `num-bigint` (no Montgomery code, no shared helpers with `en_auth_srp::srp`), a signed-hex
//! parser, a base64 decoder and a civil-calendar `TIMESTAMP`.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use sha2::{Digest, Sha256};

/// RFC 5054 Appendix A, 3072-bit group (g = 2).
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// The modulus N.
pub fn n() -> &'static BigUint {
    static N: OnceLock<BigUint> = OnceLock::new();
    N.get_or_init(|| BigUint::parse_bytes(N_HEX.as_bytes(), 16).expect("N is hex"))
}

/// k = H(pad(N) ‖ pad(g)).
pub fn k() -> &'static BigUint {
    static K: OnceLock<BigUint> = OnceLock::new();
    K.get_or_init(|| {
        let n = BigInt::from_biguint(Sign::Plus, n().clone());
        BigUint::from_bytes_be(&sha256(&[&pad(&n), &pad(&BigInt::from(2))]))
    })
}

/// A signed hexadecimal integer: an optional `-`, then one or more hex digits (either case),
/// nothing else. `None` otherwise.
pub fn parse_hex(text: &str) -> Option<BigInt> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (Sign::Minus, rest),
        None => (Sign::Plus, text),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let magnitude = BigUint::parse_bytes(digits.as_bytes(), 16)?;
    Some(BigInt::from_biguint(sign, magnitude))
}

/// A non-negative hex integer below 2^3072 (how u, x and S are given to the low-level
/// functions), else `None`.
pub fn parse_unsigned_hex(text: &str) -> Option<BigUint> {
    let v = parse_hex(text)?;
    if v.sign() == Sign::Minus || v.bits() > 3072 {
        return None;
    }
    v.to_biguint()
}

/// Java's `BigInteger.toByteArray()`: the shortest big-endian two's complement.
pub fn pad(v: &BigInt) -> Vec<u8> {
    v.to_signed_bytes_be()
}

/// `pad` of a non-negative value.
pub fn pad_u(v: &BigUint) -> Vec<u8> {
    pad(&BigInt::from_biguint(Sign::Plus, v.clone()))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex without leading zeros ("0" for zero).
pub fn unpadded(v: &BigUint) -> String {
    v.to_str_radix(16)
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The `<name>` of `<region>_<name>`: exactly one `_`, text on both sides.
pub fn pool_name(pool_id: &str) -> Option<&str> {
    let mut parts = pool_id.split('_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(region), Some(name), None) if !region.is_empty() && !name.is_empty() => Some(name),
        _ => None,
    }
}

/// u = H(pad(A) ‖ pad(B)).
pub fn u(a: &BigInt, b: &BigInt) -> BigUint {
    BigUint::from_bytes_be(&sha256(&[&pad(a), &pad(b)]))
}

/// x = H(pad(salt) ‖ H(pool_name ‖ user ‖ ":" ‖ password)).
pub fn x(pool_name: &str, user: &str, password: &str, salt: &BigInt) -> BigUint {
    let inner = sha256(&[
        pool_name.as_bytes(),
        user.as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    BigUint::from_bytes_be(&sha256(&[&pad(salt), &inner]))
}

/// B mod N, floor (non-negative) modulus.
pub fn reduce(b: &BigInt) -> BigUint {
    let n = BigInt::from_biguint(Sign::Plus, n().clone());
    b.mod_floor(&n)
        .to_biguint()
        .expect("floor modulus is non-negative")
}

/// S = (B − k·g^x)^(a + u·x) mod N, `b` already reduced.
pub fn s(a: &BigUint, b: &BigUint, u: &BigUint, x: &BigUint) -> BigUint {
    let n = n();
    let kgx = k() * BigUint::from(2u8).modpow(x, n) % n;
    let base = (b + n - kgx) % n;
    base.modpow(&(a + u * x), n)
}

/// HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key"), 16 bytes.
pub fn key(s: &BigUint, u: &BigUint) -> [u8; 16] {
    let hk = Hkdf::<Sha256>::new(Some(&pad_u(u)), &pad_u(s));
    let mut okm = [0u8; 16];
    hk.expand(b"Caldera Derived Key", &mut okm)
        .expect("16 bytes is a valid HKDF length");
    okm
}

/// base64(HMAC-SHA256(key, pool_name ‖ user ‖ secret_block ‖ timestamp)), standard, padded.
pub fn signature(key: &[u8], pool_name: &str, user: &str, block: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(pool_name.as_bytes());
    mac.update(user.as_bytes());
    mac.update(block);
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// base64(HMAC-SHA256(key = secret, user ‖ client id)).
pub fn secret_hash(client_id: &str, secret: &str, user: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(user.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `SECRET_BLOCK` as documented: base64 in the standard or the URL-safe alphabet (or a mix),
/// padding optional but never more than the canonical amount, non-zero trailing bits ignored.
/// `None` if it is not. (Hand-written, not the `base64` crate the library uses.)
pub fn decode_secret_block(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    let canonical = (4 - body.len() % 4) % 4;
    if body.len() % 4 == 1 || padding > canonical {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The Cognito `TIMESTAMP` (`EEE MMM d HH:mm:ss 'UTC' yyyy`) of `secs` seconds after the epoch
/// (floor), clamped to the years -9999..=9999, from the civil calendar (H. Hinnant's
/// `civil_from_days`).
pub fn timestamp(secs: i64) -> String {
    const MIN: i64 = -377_705_116_800; // -9999-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let secs = secs.clamp(MIN, MAX);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!("{weekday} {month} {d} {h:02}:{m:02}:{s:02} UTC {year}")
}

/// The documented rule an error reports: `pool`, `empty:<field>`, `hex:<field>`, `block`,
/// `server_b`, `scrambler`, `private_key`.
pub fn rule(e: &en_auth_srp::srp::SrpError) -> String {
    use en_auth_srp::srp::SrpError;
    match e {
        SrpError::InvalidPoolId => "pool".to_owned(),
        SrpError::Empty { field } => format!("empty:{field}"),
        SrpError::InvalidHex { field } => format!("hex:{field}"),
        SrpError::InvalidSecretBlock => "block".to_owned(),
        SrpError::IllegalServerB => "server_b".to_owned(),
        SrpError::IllegalScrambler => "scrambler".to_owned(),
        SrpError::InvalidPrivateKey => "private_key".to_owned(),
        other => format!("unexpected: {other:?}"),
    }
}

/// Checks a result against the rules the input breaks (`violations`, as [`rule`] names them):
/// `Ok` only when it breaks none, an error only for a rule it does break. Returns the value.
pub fn outcome<T>(
    what: &dyn std::fmt::Debug,
    got: Result<T, en_auth_srp::srp::SrpError>,
    violations: &[String],
) -> Option<T> {
    match got {
        Ok(v) => {
            assert!(
                violations.is_empty(),
                "Ok despite {violations:?} for {what:?}"
            );
            Some(v)
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(
                violations.contains(&rule(&e)),
                "{e:?} ({}) but the input breaks only {violations:?}: {what:?}",
                rule(&e)
            );
            None
        }
    }
}

/// The `SECRET_BLOCK` rules `text` breaks.
pub fn secret_block_violations(text: &str) -> Vec<String> {
    if text.is_empty() {
        vec!["empty:SECRET_BLOCK".to_owned()]
    } else if decode_secret_block(text).is_none() {
        vec!["block".to_owned()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::timestamp(0), "Thu Jan 1 00:00:00 UTC 1970");
        assert_eq!(super::timestamp(949_374_245), "Tue Feb 1 03:04:05 UTC 2000");
        assert_eq!(super::timestamp(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }
}
