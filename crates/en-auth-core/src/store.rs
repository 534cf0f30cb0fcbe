//! A token store shared by the processes of a fleet: the [`SharedStore`] trait that a backend
//! (`en-auth-redis`'s `RedisStore`, or your own) implements, and what goes through it.
//!
//! The [`Authorizer`](crate::Authorizer) consults the store only on its slow path (a local
//! miss, or when the renewal window opens), never on the hot path. Everything the store holds
//! is keyed by a [`SharedKey`], a SHA-256 digest of the canonical token request (token URL or
//! issuer, client id, client authentication method, sorted scopes, resource indicators,
//! audience, extra parameters), so that two
//! authorizers that would get different tokens never share one and no client id is readable
//! in the store. A store backend must encrypt what it writes (see `en-auth-redis`).
//!
//! Store failures never fail a request: the authorizer bounds every call with a timeout and
//! falls back to asking the token endpoint itself (see [`SharedStoreSettings`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The identity of a token request, from which its [`SharedKey`] is derived: everything that
/// makes the token endpoint issue a different token.
///
/// A provider that can share tokens across processes returns one from
/// [`TokenProvider::shared_identity`](crate::TokenProvider::shared_identity); flows with user
/// sessions (SRP) return none.
#[derive(Clone, Default)]
pub struct SharedIdentity {
    fields: Vec<(&'static str, String)>,
}

impl SharedIdentity {
    /// An identity for the flow named `flow` (such as `client_credentials`).
    pub fn new(flow: &'static str) -> Self {
        Self {
            fields: vec![("flow", flow.to_owned())],
        }
    }

    /// Adds a field (`name`, `value`): the token URL, the client id, the authentication method,
    /// each scope, each extra parameter. Repeated names are allowed (one per scope); the order
    /// of fields does not matter (they are sorted when the key is derived).
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    /// Adds the credential a token is obtained with (a client secret), as a fingerprint:
    /// HMAC-SHA256 keyed with `credential` over a fixed label, so that a token obtained with one
    /// secret is never handed out to a caller with another (a rotated or wrong secret is a miss,
    /// and fails at the token endpoint), while the secret itself never reaches a key or a store.
    /// An empty credential (a public client) adds nothing.
    ///
    /// The fingerprint is fast to compute: whoever can list a store's keys and knows the other
    /// fields could test guesses of a *weak* secret against it. Client secrets are random and
    /// long; never pass a password here.
    #[must_use]
    pub fn with_credential(self, name: &'static str, credential: &SecretString) -> Self {
        use hmac::{KeyInit, Mac, SimpleHmac};
        let credential = credential.expose_secret();
        if credential.is_empty() {
            return self;
        }
        let mut mac = SimpleHmac::<Sha256>::new_from_slice(credential.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"en-auth credential fingerprint v1");
        let fingerprint = mac.finalize().into_bytes();
        self.with(name, hex(&fingerprint))
    }

    /// The key: SHA-256 over the sorted fields, each length-prefixed (so that no two
    /// different identities can hash the same bytes).
    pub fn key(&self) -> SharedKey {
        let mut fields: Vec<_> = self.fields.iter().collect();
        fields.sort();
        let mut hash = Sha256::new();
        hash.update(b"en-auth shared token v1\0");
        for (name, value) in fields {
            for part in [name.as_bytes(), value.as_bytes()] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
        }
        SharedKey(hash.finalize().into())
    }
}

/// Field values may be secrets (an extra parameter) or identify a client: only names print.
impl fmt::Debug for SharedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedIdentity")
            .field(
                "fields",
                &self.fields.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Where a shared token lives in a store: a SHA-256 digest of its [`SharedIdentity`]. A
/// backend turns it into its own key ([`SharedKey::to_hex`], with a prefix and a format
/// version).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedKey([u8; 32]);

impl SharedKey {
    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// `bytes` as lowercase hexadecimal digits.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedKey({})", &self.to_hex()[..12])
    }
}

/// A token as a shared store holds it: never a refresh token, an id token or a client secret.
#[derive(Clone)]
pub struct SharedToken {
    /// The access token.
    pub access_token: SecretString,
    /// The token type (`Bearer`).
    pub token_type: String,
    /// The granted scope, if the server said.
    pub scope: Option<String>,
    /// When the token expires, on the wall clock (a store keeps at least whole seconds).
    pub expires_at: SystemTime,
    /// Identifies this token in the store (random, not derived from the token), so that a
    /// rejected token can be deleted only if it is still the one stored
    /// ([`SharedStore::delete_if_same`]).
    pub id: String,
}

impl fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedToken")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope.as_ref().map(|_| "[REDACTED]"))
            .field("expires_at", &self.expires_at)
            .field("id", &self.id)
            .finish()
    }
}

/// A store call that failed: unreachable, timed out, refused (read-only, out of memory) or an
/// answer that makes no sense. The authorizer logs it (with [`SharedStore::address`]) and goes
/// on without the store; it never reaches a request.
///
/// Or, from [`SharedStore::get`] only, a stored value that does not open
/// ([`StoreError::unreadable`]): the store answered, so the authorizer counts it apart (a
/// lookup with result `unreadable`, a warning per window) and not against the circuit breaker.
#[derive(Debug, Clone, thiserror::Error)]
#[error("shared token store: {message}")]
pub struct StoreError {
    message: String,
    unreadable: bool,
}

impl StoreError {
    /// An error saying `message` (never a key's plaintext or a token).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unreadable: false,
        }
    }

    /// A value was stored under the key but does not open: sealed with another encryption key,
    /// tampered with, of another format, or garbage. [`SharedStore::get`]'s answer for it,
    /// once the store has removed it (or made sure the next
    /// [`put_if_newer`](SharedStore::put_if_newer) replaces it). `message` says which store
    /// (never the value).
    pub fn unreadable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unreadable: true,
        }
    }

    /// Whether this is [`StoreError::unreadable`]: the store answered, with a value that does
    /// not open.
    pub fn is_unreadable(&self) -> bool {
        self.unreadable
    }
}

/// The latest expiry a stored token may claim when a process writes at `now`: `now` plus
/// [`MAX_LIFETIME`](crate::MAX_LIFETIME), the longest lifetime en-auth gives any token. A
/// stored value that claims more (a replica whose clock runs far ahead, or a value planted by
/// someone who can write to the store) is not believed: [`SharedStore::put_if_newer`]
/// replaces it instead of keeping it as newer.
pub fn latest_credible_expiry(now: SystemTime) -> SystemTime {
    now + crate::MAX_LIFETIME
}

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A token store shared by several processes: get, put-if-newer, delete-if-same, and a lock
/// with an owner and a time to live, for a fleet-wide single flight.
///
/// The authorizer bounds every call with [`SharedStoreSettings::operation_timeout`] and runs
/// it on en-auth's I/O runtime; an implementation needs no timeouts of its own beyond its
/// connection's. Implementations encrypt values and never log keys' inputs or tokens.
#[async_trait::async_trait]
pub trait SharedStore: Send + Sync + fmt::Debug + 'static {
    /// The token stored under `key`, if any.
    ///
    /// # Errors
    /// [`StoreError::unreadable`] for a value that is there but does not open (another
    /// encryption key, tampered with, another format, garbage), after the implementation has
    /// removed exactly that value (compare-and-delete, so that a good token written meanwhile
    /// stays) or made sure the next [`put_if_newer`](Self::put_if_newer) overwrites it: a value
    /// nobody can read must never keep the fleet from sharing. The authorizer treats it as a
    /// miss, counts it, and warns (it does not log it again itself). Any other error: the call
    /// failed.
    async fn get(&self, key: &SharedKey) -> StoreResult<Option<SharedToken>>;

    /// Stores `token` under `key` for `ttl`, unless the stored token expires later. A stored
    /// value that claims an expiry beyond [`latest_credible_expiry`] of now, or that does not
    /// open, does not count: it is replaced. Returns whether it was written.
    async fn put_if_newer(
        &self,
        key: &SharedKey,
        token: &SharedToken,
        ttl: Duration,
    ) -> StoreResult<bool>;

    /// Deletes the token under `key` if its id is `id` (a rejected token), leaving a newer one
    /// in place. Returns whether it deleted.
    async fn delete_if_same(&self, key: &SharedKey, id: &str) -> StoreResult<bool>;

    /// Takes the lock of `key` for `owner`, for `ttl`, if nobody holds it. Returns whether it
    /// was taken.
    async fn lock(&self, key: &SharedKey, owner: &str, ttl: Duration) -> StoreResult<bool>;

    /// Extends the lock of `key` to `ttl` from now if `owner` still holds it (the holder's
    /// heartbeat while its token request runs). Returns whether it did: `false` when the lock
    /// lapsed or another process holds it.
    async fn renew_lock(&self, key: &SharedKey, owner: &str, ttl: Duration) -> StoreResult<bool>;

    /// Releases the lock of `key` if `owner` holds it.
    async fn unlock(&self, key: &SharedKey, owner: &str) -> StoreResult<()>;

    /// Where the store is, for logs (`redis://127.0.0.1:6379`, never a password).
    fn address(&self) -> String;
}

/// How an authorizer uses its shared store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SharedStoreSettings {
    /// The longest one store call may take before the authorizer goes on without it. Default
    /// 100 ms. Once a call fails or times out, the token request goes on without the store, so
    /// a store that stops answering delays a token request by one timeout (and the release of
    /// a lock this process took by one more); one that answers slowly, within it, by six calls
    /// at most (the delete of a rejected token, a read, the lock, a read again, the put, the
    /// unlock) — plus
    /// [`SharedStoreSettings::lock_wait`] when another process holds the lock. The put and the
    /// unlock finish before the request that needed the token goes on, so a process that exits
    /// right after it has shared its token and left no lock behind.
    pub operation_timeout: Duration,
    /// How long a process that finds another holding the fleet's lock waits for the token it
    /// is fetching before asking the token endpoint itself. Default 5 s (covers the holder's
    /// token request). Only callers without a usable token wait.
    pub lock_wait: Duration,
    /// How long the fleet's lock lives unless its holder renews it. Default 3 s. The holder
    /// renews it every third of this while its token request runs (however long that takes),
    /// so a holder that dies — killed, crashed, its machine gone — holds the others up by this
    /// long at most, plus one poll (250 ms). A store whose lock is tied to the holder's life
    /// (`LocalStore`'s OS file lock) is free at once.
    pub lock_ttl: Duration,
    /// The margin for clock skew between processes: the store's copy expires this long before
    /// the gap before the token's expiry. Default 5 s.
    pub clock_skew: Duration,
    /// Consecutive failed store calls that open the circuit breaker. Default 3.
    pub breaker_threshold: u32,
    /// How long the open breaker skips the store before one call probes it. Default 10 s.
    pub breaker_cooldown: Duration,
    /// The most a process's renewal is moved earlier at random, so that replicas don't all
    /// wake at once: a fraction of the token's renewal gap. Default 0.5.
    pub renewal_jitter: f64,
}

impl Default for SharedStoreSettings {
    fn default() -> Self {
        Self {
            operation_timeout: Duration::from_millis(100),
            lock_wait: Duration::from_secs(5),
            lock_ttl: Duration::from_secs(3),
            clock_skew: Duration::from_secs(5),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(10),
            renewal_jitter: 0.5,
        }
    }
}

/// The `[<id>.shared_cache]` table of an environments file: which shared store an environment's
/// authorizers use, and how. Either a Redis server (`url`), for a fleet of machines:
///
/// ```toml
/// [dev.shared_cache]
/// url = "rediss://cache.internal:6379"        # redis:// for plain TCP (loopback only)
/// key_prefix = "en-auth"                      # default
/// encryption_key_env = "EN_AUTH_CACHE_KEY"    # names the variable with the base64 32-byte key
/// operation_timeout_ms = 100                  # optional: SharedStoreSettings
/// lock_wait_ms = 5000
/// ```
///
/// or a local directory (`path`), for the processes of one machine — pre-forked workers, cron
/// jobs, the `en-auth` command line — with an OS file lock ([`LocalStore`](crate::LocalStore)):
///
/// ```toml
/// [dev.shared_cache]
/// path = "/run/my-service/tokens"             # created with mode 0700
/// encryption_key_env = "EN_AUTH_CACHE_KEY"    # optional here: tokens sealed at rest
/// ```
///
/// A `path` is opened by core itself. A `url` is turned into a store (`en-auth-redis`'s
/// `RedisStore`) by the flow crates when their `redis` feature is on (the default).
#[derive(Clone, PartialEq, Eq)]
pub struct SharedCacheConfig {
    /// The Redis URL (`redis://`, `rediss://`; a cluster: several, comma-separated), or `None`
    /// for a local directory. May hold a password: never printed.
    pub url: Option<String>,
    /// The local directory, or `None` for Redis.
    pub path: Option<std::path::PathBuf>,
    /// The prefix of every Redis key. Default `en-auth`.
    pub key_prefix: String,
    /// The name of the environment variable that holds the encryption key (32 bytes, base64):
    /// required with a `url`, optional with a `path`.
    pub encryption_key_env: Option<String>,
    /// [`SharedStoreSettings::operation_timeout`], in milliseconds, if set.
    pub operation_timeout_ms: Option<u64>,
    /// [`SharedStoreSettings::lock_wait`], in milliseconds, if set.
    pub lock_wait_ms: Option<u64>,
}

impl SharedCacheConfig {
    /// A table for the Redis server(s) at `url`, sealing with the key in the variable
    /// `encryption_key_env`.
    pub fn redis(url: impl Into<String>, encryption_key_env: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            path: None,
            key_prefix: "en-auth".to_owned(),
            encryption_key_env: Some(encryption_key_env.into()),
            operation_timeout_ms: None,
            lock_wait_ms: None,
        }
    }

    /// A table for the local directory `path` (tokens in clear, files of mode 0600, unless
    /// `encryption_key_env` is set).
    pub fn directory(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            url: None,
            path: Some(path.into()),
            key_prefix: "en-auth".to_owned(),
            encryption_key_env: None,
            operation_timeout_ms: None,
            lock_wait_ms: None,
        }
    }

    /// The settings: defaults, with the timeouts this table sets.
    pub fn settings(&self) -> SharedStoreSettings {
        let mut settings = SharedStoreSettings::default();
        if let Some(ms) = self.operation_timeout_ms {
            settings.operation_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.lock_wait_ms {
            settings.lock_wait = Duration::from_millis(ms);
        }
        settings
    }

    /// The URL without user information (a password), for logs; empty for a directory.
    pub fn redacted_url(&self) -> String {
        self.url.as_deref().map(redacted_urls).unwrap_or_default()
    }

    /// The encryption key, read through `lookup` (given the variable's name; `None`: not set)
    /// from the variable [`encryption_key_env`](Self::encryption_key_env) names: base64 of 32
    /// bytes, standard or URL-safe alphabet, padding optional. `None` when no variable is
    /// named.
    ///
    /// # Errors
    /// [`Error::Configuration`](crate::Error::Configuration) (field `encryption_key_env`): the
    /// variable is not set, not base64, or not 32 bytes. Its value is never printed.
    pub fn encryption_key_with(
        &self,
        lookup: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Option<zeroize::Zeroizing<[u8; 32]>>, crate::Error> {
        let Some(name) = &self.encryption_key_env else {
            return Ok(None);
        };
        let error = |message: String| -> crate::Error {
            crate::ConfigurationError::new(message)
                .with_field("encryption_key_env")
                .into()
        };
        let encoded = zeroize::Zeroizing::new(lookup(name).ok_or_else(|| {
            error(format!(
                "the environment variable {name} (the shared cache's encryption key) is not set or not UTF-8"
            ))
        })?);
        decode_encryption_key(&encoded)
            .map(Some)
            .map_err(|why| error(format!("the environment variable {name} {why}")))
    }
}

/// An AES-256 key as en-auth reads it from a variable or a key file: base64 of 32 bytes,
/// standard or URL-safe alphabet, padding optional, surrounding whitespace ignored.
///
/// # Errors
/// Why it is not one, to follow the source's name ("does not hold base64", "holds 16 bytes,
/// not 32 (an AES-256 key)"); never the value.
pub fn decode_encryption_key(encoded: &str) -> Result<zeroize::Zeroizing<[u8; 32]>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let decoded = zeroize::Zeroizing::new(
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(encoded.trim()).ok())
            .ok_or_else(|| "does not hold base64".to_owned())?,
    );
    let key: [u8; 32] = decoded
        .as_slice()
        .try_into()
        .map_err(|_| format!("holds {} bytes, not 32 (an AES-256 key)", decoded.len()))?;
    Ok(zeroize::Zeroizing::new(key))
}

/// A store's URL, or several comma-separated (a Cluster's), without user names and passwords,
/// for logs and errors; a part that is not a URL becomes `<invalid url>` (it might hold a
/// password in a form the parser does not know).
pub fn redacted_urls(urls: &str) -> String {
    urls.split(',')
        .map(|one| match url::Url::parse(one.trim()) {
            Ok(mut url) => {
                let _ = url.set_password(None);
                let _ = url.set_username("");
                url.to_string()
            }
            Err(_) => "<invalid url>".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Debug for SharedCacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCacheConfig")
            .field("url", &self.redacted_url())
            .field("path", &self.path)
            .field("key_prefix", &self.key_prefix)
            .field("encryption_key_env", &self.encryption_key_env)
            .field("operation_timeout_ms", &self.operation_timeout_ms)
            .field("lock_wait_ms", &self.lock_wait_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_any_field_and_ignore_order() {
        let base = SharedIdentity::new("client_credentials")
            .with("token_url", "https://a/token")
            .with("client_id", "id")
            .with("scope", "a")
            .with("scope", "b");
        let reordered = SharedIdentity::new("client_credentials")
            .with("scope", "b")
            .with("client_id", "id")
            .with("scope", "a")
            .with("token_url", "https://a/token");
        assert_eq!(base.key(), reordered.key());
        assert_ne!(base.key(), base.clone().with("scope", "c").key());
        assert_ne!(
            base.key(),
            base.clone().with("extra_param", "audience=x").key()
        );
        // Length prefixes: moving a boundary changes the key.
        assert_ne!(
            SharedIdentity::new("f").with("a", "bc").key(),
            SharedIdentity::new("f").with("ab", "c").key()
        );
        assert_eq!(base.key().to_hex().len(), 64);
        let mut scan = en_auth_peers::secrecy::Scan::new();
        scan.secret("the token URL", "https://a/token")
            .debug("the identity", &base)
            .debug("its key", &base.key());
        scan.assert_clean();
    }

    #[test]
    fn a_redis_table_names_no_directory() {
        let redis = SharedCacheConfig::redis("redis://127.0.0.1:6379", "KEY");
        assert_eq!(redis.path, None);
        assert_eq!(redis.url.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(redis.encryption_key_env.as_deref(), Some("KEY"));
        let directory = SharedCacheConfig::directory("/run/tokens");
        assert_eq!(directory.url, None);
        assert_eq!(directory.encryption_key_env, None);
    }

    #[test]
    fn the_credential_changes_the_key_and_never_appears_in_it() {
        let secret = |s: &str| SecretString::from(s.to_owned());
        let base = SharedIdentity::new("client_credentials").with("client_id", "id");
        let one = base
            .clone()
            .with_credential("client_secret", &secret("s3cret"));
        let same = base
            .clone()
            .with_credential("client_secret", &secret("s3cret"));
        let other = base
            .clone()
            .with_credential("client_secret", &secret("wrong"));
        assert_eq!(one.key(), same.key());
        assert_ne!(one.key(), other.key());
        assert_ne!(one.key(), base.key());
        // A public client (no secret) adds nothing.
        let public = base.clone().with_credential("client_secret", &secret(""));
        assert_eq!(public.key(), base.key());
        // The fingerprint is keyed by the secret (checked against Python's hmac module):
        // pinned, so a change is deliberate.
        let field = &one
            .fields
            .iter()
            .find(|(n, _)| *n == "client_secret")
            .unwrap()
            .1;
        assert_eq!(
            field,
            "1d280d30b839cd1a1c8780f4418e0b1b74ca4074f9adc27e217a40276750739a"
        );
        let mut scan = en_auth_peers::secrecy::Scan::new();
        scan.secret("the client secret", "s3cret")
            .output("the fingerprint", field)
            .debug("the identity", &one)
            .debug("its key", &one.key());
        scan.assert_clean();
    }
}
