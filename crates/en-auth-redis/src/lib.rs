//! # en-auth-redis
//!
//! [`RedisStore`]: en-auth's shared token store ([`SharedStore`]) on Redis, standalone or
//! Cluster, so that a fleet of processes shares one token per client instead of each asking
//! the token endpoint for its own.
//!
//! - **Keys**: `{prefix}:v2:{<name, hex>}`, and its lock `{prefix}:v2:{<name>}:lock`, where the
//!   name is HMAC-SHA256 of the token request's digest ([`SharedKey`]) under a subkey derived
//!   from the encryption key (HKDF-SHA256, info `en-auth redis key names v2`): without the key,
//!   a reader of Redis cannot confirm a guessed client id, scope or secret from a key name.
//!   The braces are a Redis Cluster hash tag: a key and its lock
//!   land in one slot. No client id, scope or URL is readable in a key.
//! - **Values**: AES-256-GCM (aws-lc-rs) with a 32-byte key you supply, a random 96-bit nonce
//!   per value, and the Redis key as associated data (a value copied under another key does
//!   not open). Sealed: the access token, its type, its scope, its expiry and an id. In clear,
//!   for the Lua scripts only: the expiry (Unix seconds) and the random id. Never a client
//!   secret or a refresh token (the store is never given them).
//! - **Commands**: `GET`; put-if-newer, delete-if-same, lock renewal and unlock as Lua scripts (atomic
//!   compare-and-set / compare-and-delete); the lock is `SET … NX PX`.
//! - **Connections**: made on first use, on en-auth's I/O runtime
//!   ([`en_auth_core::run_on_io_runtime`]), so that one store serves callers on any runtime;
//!   a connection manager (or the Cluster connection) reconnects after failures. The first
//!   connect runs in a task of its own that no caller's timeout cancels, so a connect slower
//!   than the authorizer's bound per call (a cold TLS connect to a Cluster) still finishes and
//!   serves the calls after it. Each call fails rather than blocks when Redis is down; the
//!   authorizer bounds it with its own timeout, which cancels the call, and goes on without
//!   the store.
//!
//! ```no_run
//! use en_auth_redis::RedisStore;
//!
//! # fn main() -> Result<(), en_auth_core::Error> {
//! let key = [0x42; 32]; // in practice: 32 random bytes from your secret manager
//! let store = RedisStore::builder("rediss://cache.internal:6379")
//!     .key_prefix("billing")
//!     .encryption_key(key)
//!     .build()?;
//! assert_eq!(en_auth_core::SharedStore::address(&store), "rediss://cache.internal:6379");
//! # Ok(()) }
//! ```
//!
//! From an environments file's `[<id>.shared_cache]` table ([`SharedCacheConfig`]), the key
//! read from the environment variable it names: [`RedisStore::from_config`].

mod connection;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use en_auth_core::{
    ConfigurationError, Error, SharedCacheConfig, SharedKey, SharedStore, SharedToken, StoreError,
    StoreResult,
};
use redis::{RedisError, Script, Value};
use tokio::sync::watch;
use zeroize::Zeroizing;

use connection::{Connection, Target, Timeouts};
use en_auth_core::sealed::{self as value, Sealer};

/// The default key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "en-auth";

/// How long connecting (TCP and TLS) may take by default before the call fails.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an answer may take by default before the connection's call fails. The
/// authorizer's own bound per call is shorter (100 ms by default): when it expires, the call's
/// task is cancelled at once (nothing of it goes on in the background; an answer that comes
/// later is dropped by the connection). This one bounds a call whose caller waits longer, and
/// the connection's own connect (which no caller's timeout cancels).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes the value unless the stored one expires later (its header's second field).
/// KEYS[1] the key; ARGV[1] the value, ARGV[2] its expiry (Unix seconds), ARGV[3] its TTL (ms).
const PUT_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local expiry = string.match(current, '^1|(%d+)|')
  if expiry and tonumber(expiry) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Deletes the value if its id (the header's third field) is ARGV[1].
const DELETE_IF_SAME: &str = r"
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^1|%d+|([0-9a-f]*)|') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Deletes the lock if ARGV[1] holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Sets the lock's time to live to ARGV[2] milliseconds if ARGV[1] holds it.
const RENEW_LOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Names keys in Redis: HMAC-SHA256 of a [`SharedKey`] under a subkey of the encryption key.
struct KeyNames {
    subkey: Zeroizing<[u8; 32]>,
}

/// The HKDF `info` of the key-name subkey: a new format of names gets a new label.
const KEY_NAMES_INFO: &[u8] = b"en-auth redis key names v2";

impl KeyNames {
    /// The subkey: HKDF-SHA256 (RFC 5869) of the 32-byte encryption key, no salt,
    /// [`KEY_NAMES_INFO`].
    fn new(encryption_key: &[u8; 32]) -> Self {
        let mut subkey = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, encryption_key)
            .expand(KEY_NAMES_INFO, subkey.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { subkey }
    }

    /// `key`'s name: 64 lowercase hex digits.
    fn name(&self, key: &SharedKey) -> String {
        self.name_of(key.as_bytes())
    }

    /// The name of a digest.
    fn name_of(&self, digest: &[u8; 32]) -> String {
        use hmac::Mac;
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

/// Where the store's connection stands.
#[derive(Clone)]
enum ConnectState {
    /// Not tried yet.
    Idle,
    /// A connect task is running.
    Connecting,
    Ready(Connection),
    /// The last connect failed: the next call starts another.
    Failed(StoreError),
}

/// A [`SharedStore`] on Redis (one server, or a Cluster): see the [crate] docs for what it
/// stores and how. Cheap to clone (clones share the connection).
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    address: String,
    prefix: String,
    sealer: Sealer,
    names: KeyNames,
    target: Target,
    /// The connection, or where making it stands: made by a task of its own (see
    /// [`RedisStore::connection`]), so that a caller's timeout never cancels it.
    connection: watch::Sender<ConnectState>,
    /// Set once a value failed to open, so that it is logged once per store.
    warned_unreadable: AtomicBool,
    put_if_newer: Script,
    delete_if_same: Script,
    renew_lock: Script,
    unlock: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("address", &self.inner.address)
            .field("key_prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`]: [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: String,
    key_prefix: String,
    key: Option<Zeroizing<Vec<u8>>>,
    cluster: bool,
    timeouts: Timeouts,
    root_certificate: Option<Vec<u8>>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &en_auth_core::redacted_urls(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("encryption_key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("cluster", &self.cluster)
            .field("root_certificate", &self.root_certificate.is_some())
            .finish()
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key (default [`DEFAULT_KEY_PREFIX`]); no braces (`{`, `}`), which
    /// would move the Cluster hash tag.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The AES-256-GCM key: exactly 32 bytes (checked by [`build`](Self::build)). Required.
    /// Every process of a fleet must use the same key; a value sealed with another key reads
    /// as a miss (and is overwritten by the next token).
    #[must_use]
    pub fn encryption_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(Zeroizing::new(key.as_ref().to_vec()));
        self
    }

    /// Whether the URL(s) name a Redis Cluster. Default: a Cluster when the URL lists several
    /// nodes (comma-separated), one server otherwise; set it for a Cluster reached through one
    /// seed node.
    #[must_use]
    pub fn cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// For `rediss://`: trust the CA certificate(s) in `pem` (PEM) instead of the system's
    /// roots (a private CA, as ElastiCache and self-hosted Redis often use).
    #[must_use]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// How long connecting (TCP and TLS) may take before the call fails. Default
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// How long an answer may take before the call fails. Default
    /// [`DEFAULT_RESPONSE_TIMEOUT`].
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.response = timeout;
        self
    }

    /// The store. Does not connect (that happens on first use).
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the field: `url` (not a `redis://`/`rediss://` URL, a
    /// fragment such as `#insecure`, or plain `redis://` to a host that is not loopback: use
    /// `rediss://`), `key_prefix`
    /// (braces), `encryption_key` (missing, or not 32 bytes). The key is never printed.
    pub fn build(self) -> Result<RedisStore, Error> {
        let urls: Vec<&str> = self.url.split(',').map(str::trim).collect();
        for url in &urls {
            check_url(url)?;
        }
        if self.key_prefix.contains(['{', '}']) {
            return Err(config_error(
                "key_prefix",
                "must not contain braces (they would move the Redis Cluster hash tag)",
            ));
        }
        let key = self.key.ok_or_else(|| {
            config_error("encryption_key", "a 32-byte encryption key is required")
        })?;
        let key: &[u8; 32] = key.as_slice().try_into().map_err(|_| {
            config_error(
                "encryption_key",
                format!("must be 32 bytes, not {}", key.len()),
            )
        })?;
        let bad_url = |e: RedisError| {
            config_error(
                "url",
                format!(
                    "not a usable Redis URL ({}): {}",
                    e.category(),
                    en_auth_core::redacted_urls(&self.url)
                ),
            )
        };
        let certificates = |root: &Vec<u8>| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root.clone()),
        };
        let target = if self.cluster || urls.len() > 1 {
            let mut client = redis::cluster::ClusterClient::builder(urls.clone())
                .connection_timeout(self.timeouts.connect)
                .response_timeout(self.timeouts.response)
                .retries(2);
            let plain = |url: &&str| url::Url::parse(url).is_ok_and(|u| u.scheme() == "redis");
            if urls.iter().any(plain) {
                // Plain TCP: the seeds are loopback (checked above), and so must be every node
                // the Cluster announces.
                client = client.async_dns_resolver(connection::LoopbackOnly);
            }
            if let Some(root) = &self.root_certificate {
                client = client.certs(certificates(root));
            }
            Target::Cluster(client.build().map_err(bad_url)?)
        } else {
            let client = match &self.root_certificate {
                Some(root) => redis::Client::build_with_tls(urls[0], certificates(root)),
                None => redis::Client::open(urls[0]),
            };
            Target::single(client.map_err(bad_url)?, self.timeouts)
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                address: en_auth_core::redacted_urls(&self.url),
                prefix: self.key_prefix,
                sealer: Sealer::new(key),
                names: KeyNames::new(key),
                target,
                connection: watch::Sender::new(ConnectState::Idle),
                warned_unreadable: AtomicBool::new(false),
                put_if_newer: Script::new(PUT_IF_NEWER),
                delete_if_same: Script::new(DELETE_IF_SAME),
                renew_lock: Script::new(RENEW_LOCK),
                unlock: Script::new(UNLOCK),
            }),
        })
    }
}

impl RedisStore {
    /// A builder for a store at `url`: `redis://host:port[/db]` (plain TCP: loopback only),
    /// `rediss://host:port` (TLS, rustls with the system's roots), with an optional
    /// `user:password@` and no fragment (`#…`); several comma-separated URLs for a Redis
    /// Cluster. A plain `redis://` Cluster must be on loopback whole: the seeds are checked
    /// here, and a node the Cluster announces at another address is refused when connecting
    /// (the call fails; nothing is sent to it).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            key: None,
            cluster: false,
            timeouts: Timeouts {
                connect: DEFAULT_CONNECT_TIMEOUT,
                response: DEFAULT_RESPONSE_TIMEOUT,
            },
            root_certificate: None,
        }
    }

    /// The store an environments file's `[<id>.shared_cache]` table describes, with the
    /// encryption key read from the environment variable it names (base64 of 32 bytes,
    /// standard or URL-safe alphabet, padding optional).
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the field: `encryption_key_env` (the variable is not
    /// set, not base64, or not 32 bytes: its value is never printed), and the errors of
    /// [`RedisStoreBuilder::build`].
    pub fn from_config(config: &SharedCacheConfig) -> Result<Self, Error> {
        Self::from_config_with(config, |name| std::env::var(name).ok())
    }

    /// [`from_config`](Self::from_config), with the encryption key's variable read through
    /// `lookup` (given its name; `None`: not set) instead of the process environment: for
    /// keys from elsewhere, and for tests (setting a process variable while other threads
    /// run is not sound).
    ///
    /// # Errors
    /// As [`from_config`](Self::from_config).
    pub fn from_config_with(
        config: &SharedCacheConfig,
        lookup: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let url = config.url.clone().ok_or_else(|| {
            config_error(
                "shared_cache.url",
                "the shared cache has no `url` (a `path` is a local directory: en_auth_core::LocalStore)",
            )
        })?;
        let key = config.encryption_key_with(lookup)?.ok_or_else(|| {
            config_error(
                "encryption_key_env",
                "a Redis shared cache needs `encryption_key_env` (tokens in Redis are always sealed)",
            )
        })?;
        Self::builder(url)
            .key_prefix(config.key_prefix.clone())
            .encryption_key(key.as_slice())
            .build()
    }

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

    /// Runs `op` with a connection, on en-auth's I/O runtime.
    async fn run<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: FnOnce(Arc<Inner>, Connection) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        let task = async move {
            let connection = Self::connection(&inner).await?;
            op(inner, connection).await.map_err(|e| store_error(&e))
        };
        match en_auth_core::run_on_io_runtime(task).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new("the I/O runtime failed")),
        }
    }

    /// The connection, once made. Must run on en-auth's I/O runtime. The connect (TCP, TLS, and
    /// for a Cluster the slots and the nodes) runs in a task of its own, spawned here on that
    /// runtime and detached: [`en_auth_core::run_on_io_runtime`] aborts a call's task when the
    /// caller's timeout (100 ms by default) expires, and a connect slower than that must still
    /// finish for the next call. Callers meanwhile wait for it (until their own timeout); a
    /// failed connect is retried by the next call.
    async fn connection(inner: &Arc<Inner>) -> StoreResult<Connection> {
        let mut state = inner.connection.subscribe();
        Self::start_connecting(inner);
        let state = state
            .wait_for(|s| !matches!(s, ConnectState::Connecting | ConnectState::Idle))
            .await
            .map_err(|_| StoreError::new("the store was dropped"))?;
        match &*state {
            ConnectState::Ready(connection) => Ok(connection.clone()),
            ConnectState::Failed(e) => Err(e.clone()),
            ConnectState::Idle | ConnectState::Connecting => {
                Err(StoreError::new("no connection to Redis"))
            }
        }
    }

    /// Spawns the connect task unless there is a connection or a connect under way. Must run
    /// inside a Tokio runtime (the task lands on it).
    fn start_connecting(inner: &Arc<Inner>) {
        let start = inner.connection.send_if_modified(|state| {
            if matches!(state, ConnectState::Idle | ConnectState::Failed(_)) {
                *state = ConnectState::Connecting;
                true
            } else {
                false
            }
        });
        if start {
            let inner = inner.clone();
            // Detached: dropping the handle does not abort the task.
            drop(tokio::spawn(async move {
                let state = match inner.target.connect().await {
                    Ok(connection) => ConnectState::Ready(connection),
                    Err(e) => ConnectState::Failed(store_error(&e)),
                };
                inner.connection.send_replace(state);
            }));
        }
    }

    fn warn_unreadable(&self) {
        if !self.inner.warned_unreadable.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                store = %self.inner.address,
                "a shared token could not be read (sealed with another encryption key, tampered with, or an older format): treated as a miss; logged once per store"
            );
        }
    }
}

#[async_trait::async_trait]
impl SharedStore for RedisStore {
    async fn get(&self, key: &SharedKey) -> StoreResult<Option<SharedToken>> {
        let redis_key = self.redis_key(key);
        let k = redis_key.clone();
        let raw: Option<Vec<u8>> = self
            .run(move |_, mut c| async move { redis::cmd("GET").arg(k).query_async(&mut c).await })
            .await?;
        let Some(raw) = raw else { return Ok(None) };
        match self.inner.sealer.open(&redis_key, &raw) {
            Some(token) => Ok(Some(token)),
            None => {
                self.warn_unreadable();
                Ok(None)
            }
        }
    }

    async fn put_if_newer(
        &self,
        key: &SharedKey,
        token: &SharedToken,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return Ok(false);
        }
        let redis_key = self.redis_key(key);
        let value = self
            .inner
            .sealer
            .seal(&redis_key, token)
            .ok_or_else(|| StoreError::new("cannot encrypt the token"))?;
        let expiry = value::unix_seconds(token.expires_at);
        let written: i64 = self
            .run(move |inner, mut c| async move {
                inner
                    .put_if_newer
                    .key(redis_key)
                    .arg(value)
                    .arg(expiry)
                    .arg(ttl_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(written == 1)
    }

    async fn delete_if_same(&self, key: &SharedKey, id: &str) -> StoreResult<bool> {
        let redis_key = self.redis_key(key);
        let id = value::id_field(id);
        let deleted: i64 = self
            .run(move |inner, mut c| async move {
                inner
                    .delete_if_same
                    .key(redis_key)
                    .arg(id)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(deleted == 1)
    }

    async fn lock(&self, key: &SharedKey, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let lock_key = self.lock_key(key);
        let owner = owner.to_owned();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let answer: Value = self
            .run(move |_, mut c| async move {
                redis::cmd("SET")
                    .arg(lock_key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        match answer {
            Value::Okay => Ok(true),
            Value::SimpleString(s) if s == "OK" => Ok(true),
            Value::Nil => Ok(false),
            _ => Err(StoreError::new("unexpected answer to SET NX")),
        }
    }

    async fn renew_lock(&self, key: &SharedKey, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let lock_key = self.lock_key(key);
        let owner = owner.to_owned();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let renewed: i64 = self
            .run(move |inner, mut c| async move {
                inner
                    .renew_lock
                    .key(lock_key)
                    .arg(owner)
                    .arg(ttl_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(renewed == 1)
    }

    async fn unlock(&self, key: &SharedKey, owner: &str) -> StoreResult<()> {
        let lock_key = self.lock_key(key);
        let owner = owner.to_owned();
        let _: i64 = self
            .run(move |inner, mut c| async move {
                inner
                    .unlock
                    .key(lock_key)
                    .arg(owner)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    fn address(&self) -> String {
        self.inner.address.clone()
    }
}

/// A short message for a Redis failure: its error code (`READONLY`, `OOM`), or what went wrong
/// with the connection. Never the server's full text (it can echo a script), a key or a value.
fn store_error(e: &RedisError) -> StoreError {
    if let Some(code) = e.code() {
        return StoreError::new(format!("Redis answered {code}"));
    }
    StoreError::new(if e.is_timeout() {
        "Redis did not answer in time".to_owned()
    } else if e.is_connection_refusal() {
        "Redis refused the connection".to_owned()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "the connection to Redis failed".to_owned()
    } else {
        format!("Redis call failed ({})", e.category())
    })
}

fn config_error(field: &str, message: impl Into<String>) -> Error {
    ConfigurationError::new(message).with_field(field).into()
}

/// `localhost` or a loopback address (IPv6 with or without brackets).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks one URL: `redis://` (loopback only) or `rediss://`, no fragment.
fn check_url(raw: &str) -> Result<(), Error> {
    let url = url::Url::parse(raw).map_err(|_| {
        config_error(
            "url",
            format!("not a URL: {}", en_auth_core::redacted_urls(raw)),
        )
    })?;
    if url.fragment().is_some() {
        // The redis crate reads `#insecure` as "do not verify the server's certificate".
        return Err(config_error(
            "url",
            format!(
                "must not have a fragment (#…; `#insecure` would turn off certificate verification): {}",
                en_auth_core::redacted_urls(raw)
            ),
        ));
    }
    match url.scheme() {
        "rediss" => Ok(()),
        "redis" => {
            let loopback = match url.host() {
                // `redis:` is not a special scheme: its host is opaque text, even an address.
                Some(url::Host::Domain(d)) => is_loopback_host(d),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(config_error(
                    "url",
                    format!(
                        "plain redis:// is allowed to loopback only (the password and the sealed tokens would cross the network in clear): use rediss:// for {}",
                        en_auth_core::redacted_urls(raw)
                    ),
                ))
            }
        }
        other => Err(config_error(
            "url",
            format!("the scheme must be redis:// or rediss://, not {other}://"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn configuration_errors_name_the_field_and_never_the_key() {
        let key = [1u8; 32];
        let e = message(
            RedisStore::builder("http://x")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("url"), "{e}");
        let e = message(
            RedisStore::builder("redis://cache.example.com:6379")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("rediss://"), "{e}");
        let e = message(
            RedisStore::builder("redis://:hunter2@10.0.0.1:6379")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = message(
            RedisStore::builder("redis://127.0.0.1:1")
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("encryption_key"), "{e}");
        let e = message(
            RedisStore::builder("redis://127.0.0.1:1")
                .encryption_key([1u8; 16])
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("32 bytes"), "{e}");
        let e = message(
            RedisStore::builder("redis://127.0.0.1:1")
                .key_prefix("a{b}")
                .encryption_key(key)
                .build()
                .unwrap_err(),
        );
        assert!(e.contains("key_prefix"), "{e}");

        let store = RedisStore::builder("rediss://user:hunter2@cache.example.com:6380")
            .encryption_key(key)
            .build()
            .unwrap();
        assert_eq!(store.address(), "rediss://cache.example.com:6380");
        assert!(!format!("{store:?}").contains("hunter2"));
        let cluster = RedisStore::builder("redis://127.0.0.1:1,redis://127.0.0.1:2")
            .encryption_key(key)
            .build()
            .unwrap();
        assert!(matches!(cluster.inner.target, Target::Cluster(_)));
    }

    #[test]
    fn from_config_reads_the_key_variable() {
        let config = |var: &str| SharedCacheConfig {
            key_prefix: "p".into(),
            ..SharedCacheConfig::redis("redis://127.0.0.1:6379", var)
        };
        // Through a lookup, not the process environment: setting a variable while other
        // tests' threads run is not sound.
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
        let lookup = |name: &str| {
            match name {
                "NOT_B64" => Some("not base64 at all!"),
                "SHORT" => Some("c2hvcnQta2V5"),
                "GOOD" => Some(b64.as_str()),
                _ => None,
            }
            .map(str::to_owned)
        };
        let from = |var: &str| RedisStore::from_config_with(&config(var), lookup);
        let e = message(from("UNSET").unwrap_err());
        assert!(
            e.contains("encryption_key_env") && e.contains("not set"),
            "{e}"
        );
        let e = message(from("NOT_B64").unwrap_err());
        assert!(
            e.contains("base64") && !e.contains("not base64 at all"),
            "{e}"
        );
        let e = message(from("SHORT").unwrap_err());
        assert!(e.contains("9 bytes") && !e.contains("c2hvcnQta2V5"), "{e}");
        let store = from("GOOD").unwrap();
        assert_eq!(store.address(), "redis://127.0.0.1:6379");
        let key = en_auth_core::SharedIdentity::new("t").key();
        let name = store.inner.names.name(&key);
        assert_eq!(store.redis_key(&key), format!("p:v2:{{{name}}}"));
        assert_eq!(store.lock_key(&key), format!("p:v2:{{{name}}}:lock"));
        assert!(!store.redis_key(&key).contains(&key.to_hex()));
    }

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

    #[test]
    fn a_url_with_a_fragment_is_refused() {
        // The redis crate reads `#insecure` as "do not verify the server's certificate".
        for url in [
            "rediss://cache.example.com:6380/#insecure",
            "rediss://cache.example.com:6380#insecure",
            "redis://127.0.0.1:6379/#insecure",
            "rediss://a.example:6380,rediss://b.example:6380/#insecure",
        ] {
            let e = message(
                RedisStore::builder(url)
                    .encryption_key([1u8; 32])
                    .build()
                    .unwrap_err(),
            );
            assert!(e.contains("url") && e.contains("fragment"), "{url}: {e}");
        }
    }

    /// A plain-TCP Cluster's resolver: the nodes a Cluster announces (not only the seeds)
    /// must be loopback; another host is refused without being looked up.
    #[tokio::test]
    async fn a_plain_cluster_connects_to_loopback_nodes_only() {
        use redis::io::AsyncDNSResolver as _;
        let resolver = connection::LoopbackOnly;
        for host in [
            "10.0.0.7",
            "192.0.2.1",
            "cache.example.com",
            "::ffff:10.0.0.7",
            "",
        ] {
            let resolved = resolver
                .resolve(host, 6379)
                .await
                .map(Iterator::collect::<Vec<_>>);
            assert!(resolved.is_err(), "{host}: {resolved:?}");
        }
        for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"] {
            let resolved: Vec<_> = resolver.resolve(host, 6379).await.unwrap().collect();
            assert!(!resolved.is_empty(), "{host}");
            assert!(
                resolved
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == 6379),
                "{host}: {resolved:?}"
            );
        }
    }
}
