//! How a shared store writes a [`SharedToken`]: a clear header that a store may compare
//! without the key, then the token sealed with AES-256-GCM — or, for a store with no key (a
//! private local directory), in clear.
//!
//! ```text
//! 1|<expiry, Unix seconds>|<id, hex>|<nonce: 12 bytes><ciphertext><tag: 16 bytes>
//! 0|<expiry, Unix seconds>|<id, hex>|<the token as JSON>          (no key)
//! ```
//!
//! The header holds only what a store compares (put-if-newer compares expiries,
//! delete-if-same compares ids): a time and a random id reveal nothing. The ciphertext holds
//! the access token, its type, its scope, the expiry (Unix milliseconds) and the id (as JSON);
//! the associated data is the value's place in the store (the Redis key, the file name), a
//! zero byte, and the header, so a value copied to another place, or a header edited, fails to
//! open. `en-auth-redis`'s `RedisStore` and [`LocalStore`](crate::LocalStore) both use it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::SharedToken;
use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The format version of a sealed value, the first field of the header.
const FORMAT: &str = "1";

/// The format version of a value in clear (a [`Sealer::clear`]'s).
const CLEAR: &str = "0";

/// Seals and opens values with one AES-256-GCM key, a random 96-bit nonce per value; or, with
/// no key, writes and reads them in clear.
pub struct Sealer {
    key: Option<RandomizedNonceKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.key.is_some() {
            "Sealer(AES-256-GCM)"
        } else {
            "Sealer(clear)"
        })
    }
}

/// The sealed part: everything about the token.
#[derive(Serialize, Deserialize)]
struct Plain<'a> {
    #[serde(rename = "t", borrow)]
    access_token: std::borrow::Cow<'a, str>,
    #[serde(rename = "y")]
    token_type: String,
    #[serde(rename = "s")]
    scope: Option<String>,
    /// The expiry in Unix milliseconds (the header has its seconds, for the scripts).
    #[serde(rename = "e")]
    expires_at_ms: u64,
    #[serde(rename = "i")]
    id: String,
}

/// The Unix seconds of `time` (0 before 1970), as a header holds them.
pub fn unix_seconds(time: SystemTime) -> u64 {
    unix_millis(time) / 1000
}

/// The Unix milliseconds of `time` (0 before 1970).
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The header's id field: the id in hex, so that no id can forge a separator.
pub fn id_field(id: &str) -> String {
    use std::fmt::Write;
    id.bytes()
        .fold(String::with_capacity(id.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn header(format: &str, expires_at: u64, id: &str) -> String {
    format!("{format}|{expires_at}|{}|", id_field(id))
}

fn aad(redis_key: &str, header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(redis_key.len() + 1 + header.len());
    aad.extend_from_slice(redis_key.as_bytes());
    aad.push(0);
    aad.extend_from_slice(header);
    aad
}

impl Sealer {
    /// A sealer with the 32-byte AES-256-GCM `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            // Cannot fail: AES-256-GCM takes exactly 32 bytes.
            key: Some(RandomizedNonceKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key")),
        }
    }

    /// A sealer without a key: values in clear, for a store that is private by other means (a
    /// directory of mode 0700).
    pub fn clear() -> Self {
        Self { key: None }
    }

    /// The value to store at `place` (a Redis key, a file name) for `token`. `None` only if
    /// the cipher fails (it does not, short of an out-of-memory).
    pub fn seal(&self, place: &str, token: &SharedToken) -> Option<Vec<u8>> {
        let redis_key = place;
        let expires_at_ms = unix_millis(token.expires_at);
        let format = if self.key.is_some() { FORMAT } else { CLEAR };
        let header = header(format, expires_at_ms / 1000, &token.id);
        let plain = Plain {
            access_token: token.access_token.expose_secret().into(),
            token_type: token.token_type.clone(),
            scope: token.scope.clone(),
            expires_at_ms,
            id: token.id.clone(),
        };
        let mut in_out = Zeroizing::new(serde_json::to_vec(&plain).ok()?);
        let Some(key) = &self.key else {
            return Some([header.as_bytes(), in_out.as_slice()].concat());
        };
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad(redis_key, header.as_bytes())), &mut *in_out)
            .ok()?;
        let mut value = Vec::with_capacity(header.len() + NONCE_LEN + in_out.len());
        value.extend_from_slice(header.as_bytes());
        value.extend_from_slice(nonce.as_ref());
        value.extend_from_slice(&in_out);
        Some(value)
    }

    /// The token in `value`, read at `place`; `None` if it is not one this sealer wrote for
    /// this place (another encryption key, tampered, another format, sealed where this sealer
    /// has no key or clear where it has one).
    pub fn open(&self, place: &str, value: &[u8]) -> Option<SharedToken> {
        let redis_key = place;
        // The header: three fields, each ending in '|'.
        let mut fields = 0;
        let header_len = value.iter().position(|&b| {
            fields += usize::from(b == b'|');
            fields == 3
        })? + 1;
        let (header_bytes, sealed) = value.split_at(header_len);
        let header_text = std::str::from_utf8(header_bytes).ok()?;
        let mut parts = header_text.split('|');
        let format = if self.key.is_some() { FORMAT } else { CLEAR };
        if parts.next()? != format {
            return None;
        }
        let expires_at: u64 = parts.next()?.parse().ok()?;
        let id_hex = parts.next()?;
        let mut in_out;
        let plain: &[u8] = match &self.key {
            None => sealed,
            Some(key) => {
                if sealed.len() < NONCE_LEN {
                    return None;
                }
                let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
                in_out = Zeroizing::new(ciphertext.to_vec());
                key.open_in_place(nonce, Aad::from(aad(redis_key, header_bytes)), &mut in_out)
                    .ok()?
            }
        };
        let plain: Plain<'_> = serde_json::from_slice(plain).ok()?;
        if plain.expires_at_ms / 1000 != expires_at || id_field(&plain.id) != id_hex {
            return None;
        }
        Some(SharedToken {
            access_token: SecretString::from(plain.access_token.into_owned()),
            token_type: plain.token_type,
            scope: plain.scope,
            expires_at: UNIX_EPOCH + Duration::from_millis(plain.expires_at_ms),
            id: plain.id,
        })
    }
}

/// The header of a sealed blob ([`Sealer::seal_bytes`]).
const BLOB_SEALED: &[u8] = b"s1|";

/// The header of a blob in clear (a [`Sealer::clear`]'s [`Sealer::seal_bytes`]).
const BLOB_CLEAR: &[u8] = b"s0|";

impl Sealer {
    /// Whether this sealer encrypts (it has a key).
    pub fn is_sealing(&self) -> bool {
        self.key.is_some()
    }

    /// Any secret bytes (a session, say) sealed for `place` (a file name, a key in a secret
    /// store): `s1|<nonce: 12 bytes><ciphertext><tag: 16 bytes>`, the associated data `place`,
    /// a zero byte and the header, so a value moved to another place fails to open. A sealer
    /// without a key writes `s0|<plain>`. `None` only if the cipher fails.
    pub fn seal_bytes(&self, place: &str, plain: &[u8]) -> Option<Vec<u8>> {
        let Some(key) = &self.key else {
            return Some([BLOB_CLEAR, plain].concat());
        };
        let mut in_out = Zeroizing::new(plain.to_vec());
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad(place, BLOB_SEALED)), &mut *in_out)
            .ok()?;
        Some([BLOB_SEALED, nonce.as_ref(), in_out.as_slice()].concat())
    }

    /// The bytes [`seal_bytes`](Self::seal_bytes) sealed for `place`; `None` if `value` is not
    /// one this sealer wrote for this place (another key, tampered, moved, another format, in
    /// clear where this sealer has a key or sealed where it has none).
    pub fn open_bytes(&self, place: &str, value: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let Some(key) = &self.key else {
            return value
                .strip_prefix(BLOB_CLEAR)
                .map(|plain| Zeroizing::new(plain.to_vec()));
        };
        let sealed = value.strip_prefix(BLOB_SEALED)?;
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let len = key
            .open_in_place(nonce, Aad::from(aad(place, BLOB_SEALED)), &mut in_out)
            .ok()?
            .len();
        in_out.truncate(len);
        Some(in_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SharedToken {
        SharedToken {
            access_token: SecretString::from("at-secret-123".to_owned()),
            token_type: "Bearer".into(),
            scope: Some("read write".into()),
            expires_at: UNIX_EPOCH + Duration::from_millis(2_000_000_000_250),
            id: "id|with|bars".into(),
        }
    }

    #[test]
    fn seals_and_opens_under_the_same_key_only() {
        let sealer = Sealer::new(&[7; 32]);
        let value = sealer.seal("p:v1:{ab}", &token()).unwrap();
        assert!(value.starts_with(b"1|2000000000|"));
        let opened = sealer.open("p:v1:{ab}", &value).unwrap();
        assert_eq!(opened.access_token.expose_secret(), "at-secret-123");
        assert_eq!(opened.scope.as_deref(), Some("read write"));
        assert_eq!(opened.id, "id|with|bars");
        assert_eq!(opened.expires_at, token().expires_at);
        // Another Redis key, another encryption key, a header edited, a bit flipped, garbage.
        assert!(sealer.open("p:v1:{cd}", &value).is_none());
        assert!(Sealer::new(&[8; 32]).open("p:v1:{ab}", &value).is_none());
        let edited = [b"1|2000000001|".as_slice(), &value[13..]].concat();
        assert!(sealer.open("p:v1:{ab}", &edited).is_none());
        let mut flipped = value.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sealer.open("p:v1:{ab}", &flipped).is_none());
        for garbage in [&b""[..], b"1|", b"1|x|y|", b"2|1|00|abc", b"\xff\xfe|1|2|"] {
            assert!(sealer.open("p:v1:{ab}", garbage).is_none());
        }
        // Nothing readable in the value: not the token, not the scope.
        let text = String::from_utf8_lossy(&value);
        assert!(!text.contains("at-secret") && !text.contains("read write"));
        // Random nonces: two seals differ.
        assert_ne!(value, sealer.seal("p:v1:{ab}", &token()).unwrap());
        // A clear value does not open under a key, nor a sealed one without.
        assert!(Sealer::clear().open("p:v1:{ab}", &value).is_none());
    }

    #[test]
    fn a_clear_sealer_round_trips_and_checks_its_header() {
        let clear = Sealer::clear();
        let value = clear.seal("f", &token()).unwrap();
        assert!(value.starts_with(b"0|2000000000|"));
        let opened = clear.open("f", &value).unwrap();
        assert_eq!(opened.access_token.expose_secret(), "at-secret-123");
        assert_eq!(opened.expires_at, token().expires_at);
        let edited = [b"0|2000000001|".as_slice(), &value[13..]].concat();
        assert!(clear.open("f", &edited).is_none());
        assert!(Sealer::new(&[7; 32]).open("f", &value).is_none());
    }

    #[test]
    fn blobs_open_under_the_same_key_and_place_only() {
        let sealer = Sealer::new(&[7; 32]);
        let value = sealer
            .seal_bytes("alice.session", b"rt-secret-456")
            .unwrap();
        assert!(value.starts_with(b"s1|"));
        assert!(!String::from_utf8_lossy(&value).contains("rt-secret"));
        assert_eq!(
            sealer
                .open_bytes("alice.session", &value)
                .unwrap()
                .as_slice(),
            b"rt-secret-456"
        );
        assert!(sealer.open_bytes("bob.session", &value).is_none());
        assert!(Sealer::new(&[8; 32])
            .open_bytes("alice.session", &value)
            .is_none());
        assert!(Sealer::clear()
            .open_bytes("alice.session", &value)
            .is_none());
        let mut flipped = value.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sealer.open_bytes("alice.session", &flipped).is_none());
        for garbage in [&b""[..], b"s1|", b"s1|short", b"s0|plain", b"1|2|3|"] {
            assert!(sealer.open_bytes("alice.session", garbage).is_none());
        }
        let clear = Sealer::clear().seal_bytes("f", b"x").unwrap();
        assert_eq!(clear, b"s0|x");
        assert!(sealer.open_bytes("f", &clear).is_none());
    }
}
