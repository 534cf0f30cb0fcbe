//! [`LocalStore`]: a [`SharedStore`] in a local directory (its layout is in its docs).

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fs4::FileExt;

#[cfg(unix)]
use crate::private_files::effective_uid;
use crate::private_files::write_private_file as write_atomically;
use crate::sealed::Sealer;
use crate::{
    ConfigurationError, Error, SharedCacheConfig, SharedKey, SharedStore, SharedToken, StoreError,
    StoreResult,
};

/// The largest token file read: a token response is capped at 64 KiB; this is ample.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// How often a compare-and-write polls for its key's guard (held for microseconds).
const GUARD_POLL: Duration = Duration::from_millis(1);

/// A [`SharedStore`] in a local directory, for the processes of one machine — pre-forked
/// workers, cron jobs, CI steps, the `en-auth` command line — with an OS file lock for the
/// single flight.
///
/// Layout, in a directory of mode 0700 (created so; one that others can open is refused):
///
/// - `<key>.token`: until when the token may be handed out (Unix milliseconds: the time to
///   live the authorizer gave, which ends before the token's renewal point), a newline, then
///   the token ([`sealed`](crate::sealed) format: sealed with AES-256-GCM when the store has a
///   key, else in clear); mode 0600, written to a temporary file and renamed over the old one,
///   so a reader sees the old token or the new one, never a mix.
/// - `<key>.lock`: the fleet's lock, an OS file lock (`flock`) held by the process that asks
///   the token endpoint. The operating system releases it when that process exits, however it
///   exits, so a killed holder never holds the others up.
/// - `<key>.guard`: held for the few microseconds of a compare-and-write.
///
/// `<key>` is the hex of the [`SharedKey`]: a digest, so no client id, scope or secret is
/// readable in a name. The lock and guard files stay (empty) once made: one pair per key.
/// The directory must be on a local file system: on NFS, `flock` may be emulated with
/// per-process POSIX locks, which do not exclude two authorizers of one process.
///
/// ```no_run
/// use en_auth_core::LocalStore;
///
/// # fn main() -> Result<(), en_auth_core::Error> {
/// // Every worker of the service opens the same directory.
/// let store = LocalStore::open("/run/my-service/tokens")?;
/// // Sealed at rest (AES-256-GCM) with a 32-byte key from your secret manager:
/// let sealed = LocalStore::open("/run/my-service/tokens")?.with_encryption_key(&[0x42; 32]);
/// # let _ = (store, sealed);
/// # Ok(())
/// # }
/// ```
///
/// Give it to an authorizer with the flow builder's `shared_store`, or name the directory in
/// the environments file (`[<id>.shared_cache] path = "…"`, see [`SharedCacheConfig`]).
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

/// The locks this process holds, by key and owner: dropping the file releases the lock.
type HeldLocks = Arc<Mutex<HashMap<(SharedKey, String), fs::File>>>;

struct Inner {
    dir: PathBuf,
    sealer: Sealer,
    held: HeldLocks,
}

/// What a token file holds.
enum Found {
    /// No file, or one that is not ours or open to others (replaced by the next put).
    Nothing,
    /// A file that does not open: another key, in clear where a key is set, damaged (replaced
    /// by the next put).
    Unreadable,
    /// The token, and until when it may be handed out (Unix milliseconds), whatever its age.
    Token(SharedToken, u64),
}

impl Found {
    /// The token, if the file held one.
    fn token(&self) -> Option<&SharedToken> {
        match self {
            Found::Token(token, _) => Some(token),
            Found::Nothing | Found::Unreadable => None,
        }
    }
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("dir", &self.inner.dir)
            .field("sealer", &self.inner.sealer)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// The store in `dir`, created (with its parents) with mode 0700 if missing; tokens in
    /// clear (files of mode 0600) until [`with_encryption_key`](Self::with_encryption_key).
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `shared_cache.path`) if the directory cannot be
    /// created, is not a directory, or is open to other users (any of the mode bits 0077 set,
    /// on Unix) — the directory holds tokens.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        let refuse = |why: String| -> Error {
            ConfigurationError::new(format!(
                "the shared token directory {}: {why}",
                dir.display()
            ))
            .with_field("shared_cache.path")
            .into()
        };
        crate::private_files::ensure_private_dir(&dir).map_err(refuse)?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                sealer: Sealer::clear(),
                held: HeldLocks::default(),
            }),
        })
    }

    /// This store, sealing tokens with the 32-byte AES-256-GCM `key` (every process sharing
    /// the directory must use the same key; a token sealed with another reads as unreadable and
    /// is replaced). Locks taken through `self` stay held and can be released through the
    /// result.
    #[must_use]
    pub fn with_encryption_key(self, key: &[u8; 32]) -> Self {
        let inner = Inner {
            dir: self.inner.dir.clone(),
            sealer: Sealer::new(key),
            held: Arc::clone(&self.inner.held),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The store an environments file's `[<id>.shared_cache]` table with a `path` names,
    /// sealed with the key from the variable its `encryption_key_env` names, if any.
    ///
    /// # Errors
    /// [`Error::Configuration`]: no `path` in the table, the directory refused (see
    /// [`open`](Self::open)), or the key's variable unset or not the base64 of 32 bytes.
    pub fn from_config(config: &SharedCacheConfig) -> Result<Self, Error> {
        let Some(path) = &config.path else {
            return Err(ConfigurationError::new("the shared cache has no `path`")
                .with_field("shared_cache.path")
                .into());
        };
        let key = config.encryption_key_with(|name| std::env::var(name).ok())?;
        let store = Self::open(path)?;
        Ok(match key {
            Some(key) => store.with_encryption_key(&key),
            None => store,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn file(&self, key: &SharedKey, suffix: &str) -> PathBuf {
        self.inner.dir.join(format!("{}.{suffix}", key.to_hex()))
    }

    /// The token file's name, the associated data of its seal.
    fn place(key: &SharedKey) -> String {
        format!("{}.token", key.to_hex())
    }

    /// What the token file of `key` holds.
    fn read(&self, key: &SharedKey) -> StoreResult<Found> {
        let path = self.file(key, "token");
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
            Err(e) => return Err(io_error("read", &e)),
        };
        #[cfg(unix)]
        {
            // A file others could read or write, or another user's, is not trusted (and is
            // replaced).
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = file.metadata().map_err(|e| io_error("read", &e))?;
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 || meta.uid() != effective_uid() {
                tracing::warn!(store = %self.address(), mode = format!("{:o}", mode & 0o777), uid = meta.uid(), "a shared token file is open to other users or not ours: not used");
                return Ok(Found::Nothing);
            }
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error("read", &e))?;
        let bytes = zeroize::Zeroizing::new(bytes);
        let opened = bytes.iter().position(|&b| b == b'\n').and_then(|newline| {
            let until = std::str::from_utf8(&bytes[..newline]).ok()?.parse().ok()?;
            let token = self
                .inner
                .sealer
                .open(&Self::place(key), &bytes[newline + 1..])?;
            Some((token, until))
        });
        Ok(match opened {
            Some((token, until)) => Found::Token(token, until),
            None => Found::Unreadable,
        })
    }

    /// Runs `f` holding `key`'s guard: the compare-and-write of one key, across processes.
    /// The guard is polled for (never a blocking lock), so the caller's timeout bounds the
    /// wait.
    async fn guarded<T>(
        &self,
        key: &SharedKey,
        f: impl FnOnce() -> StoreResult<T>,
    ) -> StoreResult<T> {
        let guard = open_lock_file(&self.file(key, "guard")).map_err(|e| io_error("lock", &e))?;
        loop {
            match FileExt::try_lock(&guard) {
                Ok(()) => break,
                Err(fs4::TryLockError::WouldBlock) => {
                    crate::clock::sleep(GUARD_POLL).await;
                }
                Err(fs4::TryLockError::Error(e)) => return Err(io_error("lock", &e)),
            }
        }
        let result = f();
        drop(guard);
        result
    }
}

#[async_trait::async_trait]
impl SharedStore for LocalStore {
    /// The token, until the time to live it was put with ends (as a Redis key expires).
    ///
    /// # Errors
    /// [`StoreError::unreadable`] for a file that does not open (left in place: the next
    /// [`put_if_newer`](SharedStore::put_if_newer) replaces it); an I/O error.
    async fn get(&self, key: &SharedKey) -> StoreResult<Option<SharedToken>> {
        let now = unix_millis(crate::clock::wall_now());
        match self.read(key)? {
            Found::Token(token, until) => Ok((now < until).then_some(token)),
            Found::Nothing => Ok(None),
            Found::Unreadable => Err(StoreError::unreadable(format!(
                "a token file in {} does not open",
                self.address()
            ))),
        }
    }

    /// Writes unless the stored token expires later; a file that does not open, or whose
    /// token claims an expiry beyond [`latest_credible_expiry`](crate::latest_credible_expiry),
    /// is replaced.
    async fn put_if_newer(
        &self,
        key: &SharedKey,
        token: &SharedToken,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let until = unix_millis(crate::clock::wall_now() + ttl);
        let sealed = zeroize::Zeroizing::new(
            self.inner
                .sealer
                .seal(&Self::place(key), token)
                .ok_or_else(|| StoreError::new("cannot seal the token"))?,
        );
        let value = zeroize::Zeroizing::new([format!("{until}\n").as_bytes(), &sealed].concat());
        let bound = crate::latest_credible_expiry(crate::clock::wall_now());
        self.guarded(key, || {
            let newer = self.read(key)?.token().is_none_or(|stored| {
                stored.expires_at <= token.expires_at || stored.expires_at > bound
            });
            if newer {
                write_atomically(&self.inner.dir, &self.file(key, "token"), &value)
                    .map_err(|e| io_error("write", &e))?;
            }
            Ok(newer)
        })
        .await
    }

    async fn delete_if_same(&self, key: &SharedKey, id: &str) -> StoreResult<bool> {
        self.guarded(key, || {
            let same = self
                .read(key)?
                .token()
                .is_some_and(|stored| stored.id == id);
            if same {
                match fs::remove_file(self.file(key, "token")) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error("delete", &e)),
                }
            }
            Ok(same)
        })
        .await
    }

    /// An OS file lock: `ttl` is not needed (the lock ends with its holder's process).
    async fn lock(&self, key: &SharedKey, owner: &str, _ttl: Duration) -> StoreResult<bool> {
        let file = open_lock_file(&self.file(key, "lock")).map_err(|e| io_error("lock", &e))?;
        match FileExt::try_lock(&file) {
            Ok(()) => {
                let mut held = self.inner.held.lock().unwrap_or_else(|e| e.into_inner());
                held.insert((*key, owner.to_owned()), file);
                Ok(true)
            }
            Err(fs4::TryLockError::WouldBlock) => Ok(false),
            Err(fs4::TryLockError::Error(e)) => Err(io_error("lock", &e)),
        }
    }

    async fn renew_lock(&self, key: &SharedKey, owner: &str, _ttl: Duration) -> StoreResult<bool> {
        let held = self.inner.held.lock().unwrap_or_else(|e| e.into_inner());
        Ok(held.contains_key(&(*key, owner.to_owned())))
    }

    async fn unlock(&self, key: &SharedKey, owner: &str) -> StoreResult<()> {
        let mut held = self.inner.held.lock().unwrap_or_else(|e| e.into_inner());
        // Closing the file releases the lock.
        held.remove(&(*key, owner.to_owned()));
        Ok(())
    }

    fn address(&self) -> String {
        format!("file://{}", self.inner.dir.display())
    }
}

/// The Unix milliseconds of `time` (0 before 1970).
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A store error for an I/O failure: what was done and the OS's message (never a path's
/// content).
fn io_error(op: &str, e: &std::io::Error) -> StoreError {
    StoreError::new(format!("cannot {op} a token file: {e}"))
}

/// Opens (creating, mode 0600) a lock file.
fn open_lock_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};

    fn temp_dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "en-auth-local-{tag}-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ))
    }

    fn token(id: &str, secs: u64) -> SharedToken {
        SharedToken {
            access_token: SecretString::from(format!("at-{id}")),
            token_type: "Bearer".into(),
            scope: None,
            expires_at: SystemTime::now() + Duration::from_secs(secs),
            id: id.into(),
        }
    }

    fn key() -> SharedKey {
        crate::SharedIdentity::new("test")
            .with("client_id", "a")
            .key()
    }

    #[tokio::test]
    async fn put_if_newer_get_delete_if_same_and_the_os_lock() {
        let dir = temp_dir("ops");
        let store = LocalStore::open(&dir).unwrap();
        let k = key();
        let ttl = Duration::from_secs(60);
        assert!(store.get(&k).await.unwrap().is_none());
        // Handed out until its time to live ends, not until the token expires.
        assert!(store
            .put_if_newer(&k, &token("short", 90), Duration::ZERO)
            .await
            .unwrap());
        assert!(store.get(&k).await.unwrap().is_none(), "past its TTL");
        assert!(store.put_if_newer(&k, &token("a", 100), ttl).await.unwrap());
        assert!(!store
            .put_if_newer(&k, &token("old", 50), ttl)
            .await
            .unwrap());
        let got = store.get(&k).await.unwrap().unwrap();
        assert_eq!(got.access_token.expose_secret(), "at-a");
        assert!(!store.delete_if_same(&k, "other").await.unwrap());
        assert!(store.delete_if_same(&k, "a").await.unwrap());
        assert!(store.get(&k).await.unwrap().is_none());

        // The lock: one holder per key, across handles (separate open files), released by
        // unlock; renew_lock says whether it is still held; a handle made by
        // with_encryption_key releases what the original took.
        let other = LocalStore::open(&dir).unwrap();
        assert!(store.lock(&k, "p1", ttl).await.unwrap());
        assert!(!other.lock(&k, "p2", ttl).await.unwrap());
        assert!(store.renew_lock(&k, "p1", ttl).await.unwrap());
        assert!(!other.renew_lock(&k, "p2", ttl).await.unwrap());
        store.unlock(&k, "p1").await.unwrap();
        assert!(other.lock(&k, "p2", ttl).await.unwrap());
        let sealed = other.with_encryption_key(&[1; 32]);
        assert!(sealed.renew_lock(&k, "p2", ttl).await.unwrap());
        sealed.unlock(&k, "p2").await.unwrap();
        assert!(store.lock(&k, "p1", ttl).await.unwrap());
        store.unlock(&k, "p1").await.unwrap();
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn files_are_private_sealed_with_a_key_and_unreadable_under_another() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("sealed");
        let store = LocalStore::open(&dir)
            .unwrap()
            .with_encryption_key(&[7; 32]);
        let k = key();
        store
            .put_if_newer(&k, &token("a", 100), Duration::from_secs(60))
            .await
            .unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join(format!("{}.token", k.to_hex()));
        assert_eq!(mode(&file), 0o600);
        let bytes = fs::read(&file).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("at-a"));
        // Another key, or none: unreadable (reported as such, not an ordinary miss), and the
        // next put replaces it, however late the expiry it was sealed with.
        let clear = LocalStore::open(&dir).unwrap();
        assert!(clear.get(&k).await.unwrap_err().is_unreadable());
        let other = LocalStore::open(&dir)
            .unwrap()
            .with_encryption_key(&[8; 32]);
        let e = other.get(&k).await.unwrap_err();
        assert!(
            e.is_unreadable() && e.to_string().contains("does not open"),
            "{e}"
        );
        assert!(other
            .put_if_newer(&k, &token("b", 10), Duration::from_secs(5))
            .await
            .unwrap());
        assert_eq!(
            other
                .get(&k)
                .await
                .unwrap()
                .unwrap()
                .access_token
                .expose_secret(),
            "at-b"
        );
        // Garbage: unreadable, replaced.
        fs::write(&file, b"9999999999999\ngarbage").unwrap();
        assert!(other.get(&k).await.unwrap_err().is_unreadable());
        assert!(other
            .put_if_newer(&k, &token("c", 10), Duration::from_secs(5))
            .await
            .unwrap());
        assert!(format!("{store:?}").contains("AES-256-GCM"));
        // A file others can read is not used.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(other.get(&k).await.unwrap().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    /// Put-if-newer believes no stored expiry beyond now + `MAX_LIFETIME` (a clock far ahead):
    /// such a token is replaced; within the bound a later token is still kept.
    #[tokio::test]
    async fn a_token_claiming_an_expiry_beyond_the_bound_is_replaced() {
        let dir = temp_dir("bound");
        let store = LocalStore::open(&dir)
            .unwrap()
            .with_encryption_key(&[3; 32]);
        let k = key();
        let ttl = Duration::from_secs(60);
        let two_years = 2 * 365 * 24 * 3600;
        assert!(store
            .put_if_newer(&k, &token("far", two_years), ttl)
            .await
            .unwrap());
        assert!(store
            .put_if_newer(&k, &token("near", 100), ttl)
            .await
            .unwrap());
        let days_300 = 300 * 24 * 3600;
        assert!(store
            .put_if_newer(&k, &token("late", days_300), ttl)
            .await
            .unwrap());
        assert!(!store
            .put_if_newer(&k, &token("early", 100), ttl)
            .await
            .unwrap());
        let stored = store.get(&k).await.unwrap().unwrap();
        assert_eq!(stored.access_token.expose_secret(), "at-late");
        let _ = fs::remove_dir_all(&dir);
    }

    /// A directory (or a token file) of another user is never trusted: as root (CI, this
    /// project's machines) the test hands one to `nobody`; otherwise `/root` is one.
    #[cfg(unix)]
    #[tokio::test]
    async fn another_users_directory_or_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        if effective_uid() != 0 {
            let error = LocalStore::open("/root").unwrap_err().to_string();
            assert!(error.contains("owned by another user"), "{error}");
            return;
        }
        let dir = temp_dir("owner");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let error = LocalStore::open(&dir).unwrap_err().to_string();
        assert!(
            error.contains("owned by another user (uid 65534"),
            "{error}"
        );
        // Ours again; a token file planted by another user is not adopted.
        std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        let k = key();
        let ttl = Duration::from_secs(60);
        assert!(store
            .put_if_newer(&k, &token("planted", 100), ttl)
            .await
            .unwrap());
        let file = dir.join(format!("{}.token", k.to_hex()));
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        assert!(store.get(&k).await.unwrap().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("open");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let error = LocalStore::open(&dir).unwrap_err().to_string();
        assert!(error.contains("open to other users"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }
}
