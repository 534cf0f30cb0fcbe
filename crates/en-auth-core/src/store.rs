//! A token store shared by the processes of a fleet: the [`SharedStore`] trait that a backend
//! (`en-auth-redis`'s `RedisStore`, or your own) implements, and what goes through it.
//!
//! The [`Authorizer`](crate::Authorizer) consults the store only on its slow path (a local
//! miss, or when the renewal window opens), never on the hot path. Everything the store holds
//! is keyed by a [`SharedKey`], a SHA-256 digest of the canonical token request (token URL,
//! client id, client authentication method, sorted scopes, extra parameters), so that two
//! authorizers that would get different tokens never share one and no client id is readable
//! in the store. A store backend must encrypt what it writes (see `en-auth-redis`).
//!
//! Store failures never fail a request: the authorizer bounds every call with a timeout and
//! falls back to asking the token endpoint itself (see [`SharedStoreSettings`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
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
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
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
#[derive(Debug, Clone, thiserror::Error)]
#[error("shared token store: {message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error saying `message` (never a key's plaintext or a token).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
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
    /// The token stored under `key`, if any. A value that cannot be read (another encryption
    /// key, tampered, an old format) is `Ok(None)`, logged once by the implementation.
    async fn get(&self, key: &SharedKey) -> StoreResult<Option<SharedToken>>;

    /// Stores `token` under `key` for `ttl`, unless the stored token expires later. Returns
    /// whether it was written.
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
    /// a store that stops answering delays a token request by one timeout; one that answers
    /// slowly, within it, by three calls at most (a read, the lock, a read again) — plus
    /// [`SharedStoreSettings::lock_wait`] when another process holds the lock. Writes (the
    /// put, the unlock) run in the background.
    pub operation_timeout: Duration,
    /// How long a process that finds another holding the fleet's lock waits for the token it
    /// is fetching before asking the token endpoint itself. Default 5 s (covers the holder's
    /// token request). Only callers without a usable token wait.
    pub lock_wait: Duration,
    /// How long the fleet's lock lives if its holder dies. Default 30 s: longer than a token
    /// request with the default retries; raise it with longer timeouts or more attempts.
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
            lock_ttl: Duration::from_secs(30),
            clock_skew: Duration::from_secs(5),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(10),
            renewal_jitter: 0.5,
        }
    }
}

/// The `[<id>.shared_cache]` table of an environments file: which shared store an environment's
/// authorizers use, and how.
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
/// The flow crates turn it into a store (`en-auth-redis`'s `RedisStore`) when their `redis`
/// feature is on (the default).
#[derive(Clone, PartialEq, Eq)]
pub struct SharedCacheConfig {
    /// The store's URL (`redis://`, `rediss://`; a cluster: several, comma-separated). May
    /// hold a password: never printed.
    pub url: String,
    /// The prefix of every key. Default `en-auth`.
    pub key_prefix: String,
    /// The name of the environment variable that holds the encryption key (32 bytes, base64).
    pub encryption_key_env: String,
    /// [`SharedStoreSettings::operation_timeout`], in milliseconds, if set.
    pub operation_timeout_ms: Option<u64>,
    /// [`SharedStoreSettings::lock_wait`], in milliseconds, if set.
    pub lock_wait_ms: Option<u64>,
}

impl SharedCacheConfig {
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

    /// The URL without user information (a password), for logs.
    pub fn redacted_url(&self) -> String {
        redacted_urls(&self.url)
    }
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
        assert!(!format!("{base:?}").contains("https://a"));
    }
}
