//! The server side of Cognito's SRP-6a variant (`USER_SRP_AUTH`), written from the protocol as
//! the official clients implement it (amazon-cognito-identity-js `AuthenticationHelper`,
//! pycognito `aws_srp`), independently of any en-auth client code:
//!
//! - group: RFC 5054 appendix A, 3072 bits, `g = 2`, hash SHA-256;
//! - `pad(n)`: the big-endian bytes of `n`, with one leading zero byte when the high bit is set
//!   (Java `BigInteger.toByteArray`, the SDKs' `padHex`);
//! - `k = H(pad(N) || pad(g))`, `x = H(pad(salt) || H(pool_name || user_id || ":" || password))`,
//!   `v = g^x`, `B = k·v + g^b`, `u = H(pad(A) || pad(B))`, `S = (A·v^u)^b mod N`;
//! - key = HKDF-SHA256(salt = pad(u), ikm = pad(S), info = "Caldera Derived Key"), 16 bytes;
//! - signature = HMAC-SHA256(key, pool_name || user_id || secret_block || timestamp), base64.

use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use num_bigint::BigUint;
use num_traits::Zero;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

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

struct Group {
    n: BigUint,
    g: BigUint,
    k: BigUint,
}

fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).expect("RFC 5054 3072-bit prime");
        let g = BigUint::from(2u32);
        let k = hash_int(&[&pad(&n), &pad(&g)]);
        Group { n, g, k }
    })
}

/// The big-endian bytes of `n`, with a leading zero byte when its high bit is set.
pub(crate) fn pad(n: &BigUint) -> Vec<u8> {
    let bytes = n.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        let mut padded = Vec::with_capacity(bytes.len() + 1);
        padded.push(0);
        padded.extend_from_slice(&bytes);
        padded
    } else {
        bytes
    }
}

fn hash_int(parts: &[&[u8]]) -> BigUint {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    BigUint::from_bytes_be(&hasher.finalize())
}

/// `n` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("operating-system randomness");
    buf
}

/// A fresh 16-byte salt whose first byte is not zero: the JS SDK pads the salt as an integer and
/// pycognito as the hex string it received, and they only agree when no zero byte leads.
/// (Its first *nibble* may be zero, so the unpadded hex is sometimes of odd length.)
pub(crate) fn new_salt() -> BigUint {
    loop {
        let bytes = random_bytes(16);
        if bytes[0] != 0 {
            return BigUint::from_bytes_be(&bytes);
        }
    }
}

/// The password verifier `v = g^x mod N`, `x = H(pad(salt) || H(pool_name || user_id || ":" || password))`.
pub(crate) fn verifier(pool_name: &str, user_id: &str, password: &str, salt: &BigUint) -> BigUint {
    let grp = group();
    let inner = Sha256::digest(format!("{pool_name}{user_id}:{password}").as_bytes());
    let x = hash_int(&[&pad(salt), &inner]);
    grp.g.modpow(&x, &grp.n)
}

/// A random verifier nobody knows the password of (for unknown users when the pool hides
/// user existence).
pub(crate) fn unanswerable_verifier() -> BigUint {
    let grp = group();
    grp.g
        .modpow(&BigUint::from_bytes_be(&random_bytes(64)), &grp.n)
}

/// The server's ephemeral pair `(b, B = k·v + g^b mod N)`, with `B mod N != 0`.
pub(crate) fn server_ephemeral(v: &BigUint) -> (BigUint, BigUint) {
    let grp = group();
    loop {
        let b = BigUint::from_bytes_be(&random_bytes(64)) % &grp.n;
        if b.is_zero() {
            continue;
        }
        let big_b = (&grp.k * v + grp.g.modpow(&b, &grp.n)) % &grp.n;
        if !big_b.is_zero() {
            return (b, big_b);
        }
    }
}

/// The 16-byte password authentication key, or `None` when `A mod N == 0` or `u == 0` (the
/// SRP-6a safety checks).
pub(crate) fn session_key(
    big_a: &BigUint,
    big_b: &BigUint,
    b: &BigUint,
    v: &BigUint,
) -> Option<[u8; 16]> {
    let grp = group();
    if (big_a % &grp.n).is_zero() {
        return None;
    }
    let u = hash_int(&[&pad(big_a), &pad(big_b)]);
    if u.is_zero() {
        return None;
    }
    let s = ((big_a * v.modpow(&u, &grp.n)) % &grp.n).modpow(b, &grp.n);
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&pad(&u)), &pad(&s));
    let mut key = [0u8; 16];
    hk.expand(b"Caldera Derived Key", &mut key)
        .expect("16 bytes is a valid HKDF-SHA256 length");
    Some(key)
}

/// `HMAC-SHA256(key, pool_name || user_id || secret_block || timestamp)`.
pub(crate) fn signature(
    key: &[u8],
    pool_name: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(pool_name.as_bytes());
    mac.update(user_id.as_bytes());
    mac.update(secret_block);
    mac.update(timestamp.as_bytes());
    mac.finalize().into_bytes().into()
}

/// `base64(HMAC-SHA256(client_secret, username || client_id))`.
pub(crate) fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    use base64::Engine;
    let mut mac =
        HmacSha256::new_from_slice(client_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time equality of two byte strings (lengths may differ, which is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The canonical form of a `TIMESTAMP` challenge response (`EEE MMM d HH:mm:ss z yyyy`, English,
/// e.g. `Tue Feb 1 03:04:05 UTC 2000`), which is what the proof is checked against; `None` when
/// it does not parse.
///
/// Parsing is lenient the way Cognito's is (names in any case, a one- or two-digit day, `UTC`
/// or `GMT`), the signature is not: it is computed over the canonical form (weekday derived from
/// the date, day not zero-padded, `UTC`), so a client that zero-pads the day or names the wrong
/// weekday gets past the format check and then fails the proof.
pub(crate) fn canonical_timestamp(timestamp: &str) -> Option<String> {
    let parts: Vec<&str> = timestamp.split(' ').collect();
    let [weekday, month, day, time, zone, year] = parts.as_slice() else {
        return None;
    };
    if !WEEKDAYS.iter().any(|w| w.eq_ignore_ascii_case(weekday)) {
        return None;
    }
    let month_index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))?;
    let month_number = u32::try_from(month_index).ok()? + 1;
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let day: u32 = day.parse().ok()?;
    if *zone != "UTC" && *zone != "GMT" {
        return None;
    }
    if year.len() != 4 || !year.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let hms: Vec<&str> = time.split(':').collect();
    let [h, mi, s] = hms.as_slice() else {
        return None;
    };
    let field = |f: &str, max: u32| -> Option<u32> {
        if f.len() != 2 || !f.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        f.parse().ok().filter(|v| *v <= max)
    };
    let (h, mi, s) = (field(h, 23)?, field(mi, 59)?, field(s, 59)?);
    if day == 0 || day > days_in_month(year, month_number) {
        return None;
    }
    // 1970-01-01 was a Thursday (index 3 with Monday = 0).
    let weekday_index =
        usize::try_from((days_from_civil(year, month_number, day) + 3).rem_euclid(7))
            .expect("0..7");
    Some(format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[weekday_index], MONTHS[month_index], day, h, mi, s, year
    ))
}

/// Lower-case hex of `n` without padding (what Cognito sends for `SRP_B` and `SALT`).
pub(crate) fn to_hex(n: &BigUint) -> String {
    n.to_str_radix(16)
}

/// Parses hex of any length (odd included) as a big integer.
pub(crate) fn from_hex(s: &str) -> Option<BigUint> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    BigUint::parse_bytes(s.as_bytes(), 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_adds_a_zero_byte_only_for_a_set_high_bit() {
        assert_eq!(pad(&BigUint::from(0x7fu32)), vec![0x7f]);
        assert_eq!(pad(&BigUint::from(0x80u32)), vec![0, 0x80]);
        assert_eq!(pad(&BigUint::from(2u32)), vec![2]);
        assert_eq!(pad(&group().n).len(), 385);
    }

    #[test]
    fn timestamps_are_canonicalised() {
        assert_eq!(
            canonical_timestamp("Tue Feb 1 03:04:05 UTC 2000").as_deref(),
            Some("Tue Feb 1 03:04:05 UTC 2000")
        );
        // Padded day and lower-case names parse, but canonicalise.
        assert_eq!(
            canonical_timestamp("tue feb 01 03:04:05 GMT 2000").as_deref(),
            Some("Tue Feb 1 03:04:05 UTC 2000")
        );
        // The weekday is derived from the date.
        assert_eq!(
            canonical_timestamp("Mon Feb 29 00:00:00 UTC 2024").as_deref(),
            Some("Thu Feb 29 00:00:00 UTC 2024")
        );
        assert_eq!(canonical_timestamp("Tue Feb 1 03:04:05 utc 2000"), None);
        assert_eq!(canonical_timestamp("Tue Feb 30 03:04:05 UTC 2000"), None);
        assert_eq!(canonical_timestamp("2000-02-01T03:04:05Z"), None);
        assert_eq!(canonical_timestamp("Tue Feb 1 3:04:05 UTC 2000"), None);
    }

    #[test]
    fn odd_hex_parses() {
        assert_eq!(from_hex("abc"), Some(BigUint::from(0xabcu32)));
        assert_eq!(from_hex(""), None);
        assert_eq!(from_hex("xyz"), None);
    }
}
