//! [`RedisStore`]: the [`SharedStore`] calls as Redis commands and scripts, on a connection
//! made once, by a task of its own, on en-auth's I/O runtime.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use en_auth_core::sealed::{self as value, Sealer};
use en_auth_core::{SharedKey, SharedStore, SharedToken, StoreError, StoreResult};
use redis::{RedisError, Value};
use tokio::sync::watch;

use crate::connection::{Connection, Target};
use crate::keys::KeyNames;
use crate::scripts::Scripts;

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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The URL(s), without credentials.
    pub(crate) address: String,
    pub(crate) prefix: String,
    sealer: Sealer,
    pub(crate) names: KeyNames,
    pub(crate) target: Target,
    /// The connection, or where making it stands: made by a task of its own (see
    /// [`RedisStore::connection`]), so that a caller's timeout never cancels it.
    connection: watch::Sender<ConnectState>,
    scripts: Scripts,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("address", &self.inner.address)
            .field("key_prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `address` (the URL(s) without credentials) whose keys start with `prefix`,
    /// sealing with `key` and connecting to `target` on first use.
    pub(crate) fn new(address: String, prefix: String, key: &[u8; 32], target: Target) -> Self {
        RedisStore {
            inner: Arc::new(Inner {
                address,
                prefix,
                sealer: Sealer::new(key),
                names: KeyNames::new(key),
                target,
                connection: watch::Sender::new(ConnectState::Idle),
                scripts: Scripts::new(),
            }),
        }
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
}

#[async_trait::async_trait]
impl SharedStore for RedisStore {
    /// `GET`, and the value opened. A value that does not open is deleted if it is still the
    /// one read (compare-and-delete on its bytes, in the same call), then reported as
    /// [`StoreError::unreadable`]: the authorizer counts it and warns; the next token takes its
    /// place.
    async fn get(&self, key: &SharedKey) -> StoreResult<Option<SharedToken>> {
        let redis_key = self.redis_key(key);
        let (opened, deleted) = self
            .run(move |inner, mut c| async move {
                let raw: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&redis_key)
                    .query_async(&mut c)
                    .await?;
                let Some(raw) = raw else {
                    return Ok((Ok(None), false));
                };
                if let Some(token) = inner.sealer.open(&redis_key, &raw) {
                    return Ok((Ok(Some(token)), false));
                }
                let deleted: i64 = inner
                    .scripts
                    .delete_if_equal
                    .key(&redis_key)
                    .arg(raw)
                    .invoke_async(&mut c)
                    .await?;
                Ok((Err(()), deleted == 1))
            })
            .await?;
        opened.map_err(|()| {
            StoreError::unreadable(format!(
                "a value at {} does not open ({})",
                self.inner.address,
                if deleted {
                    "deleted"
                } else {
                    "gone or replaced since it was read"
                }
            ))
        })
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
        let bound = value::unix_seconds(en_auth_core::latest_credible_expiry(SystemTime::now()));
        let written: i64 = self
            .run(move |inner, mut c| async move {
                inner
                    .scripts
                    .put_if_newer
                    .key(redis_key)
                    .arg(value)
                    .arg(expiry)
                    .arg(ttl_ms)
                    .arg(bound)
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
                    .scripts
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
                    .scripts
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
                    .scripts
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
