//! The store's key names in Redis: `{prefix}:v2:{<name>}` for a token and
//! `{prefix}:v2:{<name>}:lock` for its lock, the name a keyed HMAC of the token request's digest.

use en_auth_core::SharedKey;
use zeroize::Zeroizing;

use crate::RedisStore;

/// Names keys in Redis: HMAC-SHA256 of a [`SharedKey`] under a subkey of the encryption key.
pub(crate) struct KeyNames {
    subkey: Zeroizing<[u8; 32]>,
}

/// The HKDF `info` of the key-name subkey: a new format of names gets a new label.
const KEY_NAMES_INFO: &[u8] = b"en-auth redis key names v2";

impl KeyNames {
    /// The subkey: HKDF-SHA256 (RFC 5869) of the 32-byte encryption key, no salt,
    /// [`KEY_NAMES_INFO`].
    pub(crate) fn new(encryption_key: &[u8; 32]) -> Self {
        use zeroize::Zeroize;
        let mut subkey = Zeroizing::new([0u8; 32]);
        // The PRK wiped here (`Hkdf::new` would drop its copy as is); the HMAC states keyed
        // with it and with the subkey wipe themselves on drop (hmac's `zeroize` feature).
        let (mut prk, hkdf) = hkdf::Hkdf::<sha2::Sha256>::extract(None, encryption_key);
        prk.as_mut_slice().zeroize();
        hkdf.expand(KEY_NAMES_INFO, subkey.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { subkey }
    }

    /// `key`'s name: 64 lowercase hex digits.
    pub(crate) fn name(&self, key: &SharedKey) -> String {
        self.name_of(key.as_bytes())
    }

    /// The name of a digest.
    fn name_of(&self, digest: &[u8; 32]) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.subkey.as_ref())
            .expect("HMAC takes a key of any length");
        mac.update(digest);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl RedisStore {
    /// The Redis key of `key`'s token: `{prefix}:v2:{<hex>}`, the hex a keyed HMAC of `key`
    /// (public for tests and operators: `redis-cli --scan --pattern '<prefix>:v2:*'`).
    pub fn redis_key(&self, key: &SharedKey) -> String {
        format!(
            "{}:v2:{{{}}}",
            self.inner.prefix,
            self.inner.names.name(key)
        )
    }

    /// The Redis key of `key`'s lock: `{prefix}:v2:{<hex>}:lock`, in the token's Cluster slot.
    pub fn lock_key(&self, key: &SharedKey) -> String {
        format!(
            "{}:v2:{{{}}}:lock",
            self.inner.prefix,
            self.inner.names.name(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key names' derivation, pinned by a known answer computed with Python's `hmac` and
    /// `hashlib` (HKDF written out from RFC 5869): encryption key 32 × 0x42, the digest
    /// 32 × 0x07.
    #[test]
    fn key_names_match_an_independent_computation() {
        const KNOWN_NAME: &str = "cc8128fd5320fd0bc864e3fb09f4f7f6ad43a179b5b6e5790dde8cf7fb124276";
        let names = KeyNames::new(&[0x42; 32]);
        assert_eq!(names.name_of(&[7; 32]), KNOWN_NAME);
        // Another encryption key, another name.
        assert_ne!(KeyNames::new(&[0x43; 32]).name_of(&[7; 32]), KNOWN_NAME);
    }
}
