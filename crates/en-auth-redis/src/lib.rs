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
//! - **Values that do not open** (another encryption key, tampered with, garbage): `get`
//!   deletes the value if it is still the one read (a compare-and-delete on its bytes, so a good
//!   token written meanwhile stays) and answers [`StoreError::unreadable`]; the authorizer counts
//!   and warns, and its next token takes the place. Put-if-newer compares the clear expiry, which
//!   nothing authenticates, only up to a bound: a stored value claiming an expiry beyond
//!   [`latest_credible_expiry`] (now + en-auth's longest token lifetime) is overwritten.
//! - **Commands**: `GET`; put-if-newer, delete-if-same, delete-if-equal (of a value that did not
//!   open), lock renewal and unlock as Lua scripts (atomic compare-and-set /
//!   compare-and-delete); the lock is `SET … NX PX`.
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
//!
//! [`SharedStore`]: en_auth_core::SharedStore
//! [`SharedKey`]: en_auth_core::SharedKey
//! [`SharedCacheConfig`]: en_auth_core::SharedCacheConfig
//! [`StoreError::unreadable`]: en_auth_core::StoreError::unreadable
//! [`latest_credible_expiry`]: en_auth_core::latest_credible_expiry

mod builder;
mod connection;
mod keys;
mod scripts;
mod store;
mod url_policy;

use std::time::Duration;

pub use builder::RedisStoreBuilder;
pub use store::RedisStore;

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
