//! The cache between invocations, in a directory of mode 0700, used two ways:
//!
//! - as the library's [`LocalStore`]: client-credentials tokens go through a
//!   `ServiceAccountAuthorizer` sharing through it, so the processes of one machine make one
//!   token request between them (the core's single flight, its OS file lock);
//! - for Cognito user sessions (they hold a refresh token, which no shared store holds): one
//!   JSON file per canonical request, named by the SHA-256 of that request, of mode 0600,
//!   replaced by an atomic rename, renewed under the store's lock for that session, so that
//!   concurrent processes make one refresh between them (a one-time refresh token is spent
//!   once). Anything unreadable, corrupt, foreign or for another request is a miss.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use en_auth_oauth2::core::{SharedIdentity, SharedKey};
use en_auth_oauth2::{LocalStore, SharedStore};
use en_auth_srp::FileSessionStore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::token::IssuedToken;
use crate::Notes;

/// The version of the file format; a file of another version is a miss.
const FORMAT: u32 = 1;

/// The largest cache file read (a token response is capped at 64 KiB; this is ample).
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// The file that records that the refresh-token notice was printed.
const NOTICE_MARKER: &str = ".refresh-token-notice";

/// What a token was asked for: two requests that differ in any field never share a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The environment id.
    pub environment: String,
    /// The token URL, or the Cognito endpoint.
    pub endpoint: String,
    /// The Cognito user pool, for a user.
    pub user_pool_id: Option<String>,
    /// The client id.
    pub client_id: String,
    /// The requested scopes, sorted, without duplicates.
    pub scopes: Vec<String>,
    /// The user, for a Cognito login.
    pub user: Option<String>,
    /// The names of the environment's extra token parameters (their values are in the key,
    /// not in the file: they may be secrets).
    #[serde(default)]
    pub extra_params: Vec<String>,
    /// The key: SHA-256 over all of the above, the extra parameters' values and a keyed
    /// fingerprint of the client secret (so a session is not handed to another secret).
    #[serde(skip)]
    key: String,
}

impl Request {
    /// The request for these fields; `scopes` are sorted and deduplicated, `extra_params`
    /// sorted; `secret` (the client secret, if any) enters the key as a keyed fingerprint.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        environment: &str,
        endpoint: &str,
        user_pool_id: Option<&str>,
        client_id: &str,
        scopes: &[String],
        user: Option<&str>,
        extra_params: &[(String, String)],
        secret: Option<&SecretString>,
    ) -> Self {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let mut extra = extra_params.to_vec();
        extra.sort();
        // A JSON array: unambiguous whatever the fields contain.
        let credential = secret.map(|secret| {
            SharedIdentity::new("en-auth cli session")
                .with_credential("client_secret", secret)
                .key()
                .to_hex()
        });
        let canonical = serde_json::json!([
            FORMAT,
            environment,
            endpoint,
            user_pool_id,
            client_id,
            scopes,
            user,
            extra,
            credential
        ]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        let key = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            environment: environment.to_owned(),
            endpoint: endpoint.to_owned(),
            user_pool_id: user_pool_id.map(str::to_owned),
            client_id: client_id.to_owned(),
            scopes,
            user: user.map(str::to_owned),
            extra_params: extra.into_iter().map(|(name, _)| name).collect(),
            key,
        }
    }

    /// The key: 64 hex digits.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn same_as(&self, other: &Request) -> bool {
        self.environment == other.environment
            && self.endpoint == other.endpoint
            && self.user_pool_id == other.user_pool_id
            && self.client_id == other.client_id
            && self.scopes == other.scopes
            && self.user == other.user
            && self.extra_params == other.extra_params
    }
}

/// A cached token, with the session's refresh token for a user.
pub struct Entry {
    /// The access token and what is known of it.
    pub token: IssuedToken,
    /// The Cognito refresh token.
    pub refresh_token: Option<SecretString>,
    /// The user's canonical name in the pool (for the refresh's SECRET_HASH).
    pub canonical_user: Option<String>,
    /// When the token was obtained.
    pub obtained_at: SystemTime,
}

/// Which client secret a user's session was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSecret {
    /// The one given to the command.
    Given,
    /// None: a public app client.
    None,
    /// Another (or one not given).
    Unknown,
}

/// A user's session file, for a logout.
pub struct UserSession {
    /// The file.
    pub path: PathBuf,
    /// The app client.
    pub client_id: String,
    /// The Cognito endpoint.
    pub endpoint: String,
    /// The user pool.
    pub user_pool_id: Option<String>,
    /// The client secret it was made with.
    pub client_secret: ClientSecret,
    /// Its refresh token.
    pub refresh_token: Option<SecretString>,
}

/// The file's layout.
#[derive(Serialize, Deserialize)]
struct File {
    format: u32,
    request: Request,
    access_token: String,
    token_type: String,
    /// Seconds since the Unix epoch.
    obtained_at: u64,
    /// Seconds since the Unix epoch.
    expires_at: u64,
    lifetime_secs: u64,
    scope: Option<String>,
    refresh_token: Option<String>,
    canonical_user: Option<String>,
}

/// Why a lookup found no usable entry.
#[derive(Debug)]
pub enum Miss {
    /// No file.
    Absent,
    /// A file that could not be read or parsed, or is not ours: it is replaced.
    Unusable(String),
}

/// The cache directory.
pub struct Cache {
    /// The library's store in the directory (which it created and checked).
    store: LocalStore,
    /// The sealed user sessions (`sessions/` in the directory): refresh tokens and remembered
    /// devices; or why no session key could be had (naming the key file or variable, never
    /// its content).
    sessions: std::sync::OnceLock<Result<Arc<FileSessionStore>, String>>,
    /// Its key.
    keys: SessionKeySource,
    /// Whether the unsealed warning was printed.
    warned: std::sync::atomic::AtomicBool,
}

/// Where the key that seals user sessions comes from.
#[derive(Debug, Clone, Default)]
pub struct SessionKeySource {
    /// A key file (`--session-key-file`).
    pub file: Option<PathBuf>,
    /// A variable (`--session-key-env`).
    pub variable: Option<String>,
    /// Whether a user session may keep its refresh token unsealed in its JSON file when no
    /// session key can be had (`--allow-unsealed-sessions`); otherwise that is an error.
    pub allow_unsealed: bool,
}

impl SessionKeySource {
    /// The session store in `dir` with this key: the variable's, else the key file's (created
    /// with a random key if missing).
    fn open(&self, dir: PathBuf) -> Result<FileSessionStore, String> {
        let why = |e: en_auth_oauth2::Error| match &e {
            en_auth_oauth2::Error::Configuration(c) => c.message.clone(),
            other => other.to_string(),
        };
        if let Some(variable) = &self.variable {
            return FileSessionStore::open_with_key_env(dir, variable).map_err(why);
        }
        let file = match &self.file {
            Some(file) => file.clone(),
            None => default_key_file().ok_or(
                "no session key (neither XDG_CONFIG_HOME nor HOME is set; name one with --session-key-file)",
            )?,
        };
        create_key_file(&file)?;
        FileSessionStore::open_with_key_file(dir, &file).map_err(why)
    }
}

/// `$XDG_CONFIG_HOME/en-auth/session.key`, else `$HOME/.config/en-auth/session.key`.
fn default_key_file() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        return absolute("APPDATA").map(|d| d.join("en-auth").join("session.key"));
    }
    absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".config")))
        .map(|d| d.join("en-auth").join("session.key"))
}

/// Creates `file` (mode 0600, its directory 0700) with a random 32-byte key, base64, unless
/// it exists.
fn create_key_file(file: &Path) -> Result<(), String> {
    use base64::Engine;
    if file.exists() {
        return Ok(());
    }
    let dir = file.parent().ok_or("the key file has no directory")?;
    en_auth_oauth2::core::private_files::ensure_private_dir(dir)
        .map_err(|why| format!("the session key directory {}: {why}", dir.display()))?;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *key).map_err(|e| format!("no random key: {e}"))?;
    let text = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*key));
    en_auth_oauth2::core::private_files::write_private_file(dir, file, text.as_bytes())
        .map_err(|e| format!("cannot write the session key file {}: {e}", file.display()))
}

/// A user session's lock, held across processes: released by [`SessionLock::release`], or by
/// the operating system when the process exits.
pub struct SessionLock<'a> {
    cache: &'a Cache,
    key: SharedKey,
    owner: String,
}

impl SessionLock<'_> {
    /// Releases the lock.
    pub async fn release(self) {
        let _ = self.cache.store.unlock(&self.key, &self.owner).await;
    }
}

impl Cache {
    /// The cache in `dir`, or in `$XDG_CACHE_HOME/en-auth` (else `~/.cache/en-auth`), created
    /// with mode 0700. `None`, after a warning, if there is no such directory or it is open to
    /// others: then nothing is cached.
    pub fn open(dir: Option<PathBuf>, keys: &SessionKeySource, notes: &Notes) -> Option<Cache> {
        let Some(dir) = dir.or_else(default_dir) else {
            notes.warn("no cache directory (neither XDG_CACHE_HOME nor HOME is set): not caching");
            return None;
        };
        // Created with mode 0700; one that others can open is refused.
        match LocalStore::open(&dir) {
            Ok(store) => Some(Cache {
                store,
                sessions: std::sync::OnceLock::new(),
                keys: keys.clone(),
                warned: std::sync::atomic::AtomicBool::new(false),
            }),
            Err(e) => {
                let why = match &e {
                    en_auth_oauth2::Error::Configuration(c) => c.message.clone(),
                    other => other.to_string(),
                };
                notes.warn(&format!(
                    "{why}: not caching; choose another directory with --cache-dir"
                ));
                None
            }
        }
    }

    /// The sealed user sessions (opened, and the default key file created, at the first
    /// call), or why no session key could be had (naming the key file or variable, never its
    /// content).
    pub fn sealed(&self) -> Result<&Arc<FileSessionStore>, &str> {
        self.sessions
            .get_or_init(|| self.keys.open(self.dir().join("sessions")).map(Arc::new))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Where a user session's refresh token is kept: `Some`, the sealed sessions; `None`,
    /// unsealed in the session's JSON file, which only `--allow-unsealed-sessions` allows
    /// when no session key can be had (warned once).
    ///
    /// # Errors
    /// Why no session key can be had, and what to do, when unsealed sessions are not allowed.
    pub fn sessions(&self, notes: &Notes) -> Result<Option<&Arc<FileSessionStore>>, String> {
        match self.sealed() {
            Ok(sessions) => Ok(Some(sessions)),
            Err(why) if self.keys.allow_unsealed => {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    notes.warn(&format!(
                        "{why}: --allow-unsealed-sessions: the refresh token is kept unsealed \
                         in the cache (mode 0600) and no device is remembered"
                    ));
                }
                Ok(None)
            }
            Err(why) => Err(format!(
                "cannot seal the user session: {why}; fix it, name another key with \
                 --session-key-file or --session-key-env, or pass --allow-unsealed-sessions \
                 (EN_AUTH_ALLOW_UNSEALED_SESSIONS=1) to keep refresh tokens unsealed in the cache"
            )),
        }
    }

    /// Whether refresh tokens go unsealed into the JSON files: only when allowed and no
    /// session key can be had.
    fn unsealed(&self) -> bool {
        self.keys.allow_unsealed && self.sealed().is_err()
    }

    /// The library's store in the directory, for client-credentials tokens.
    pub fn shared_store(&self) -> &LocalStore {
        &self.store
    }

    /// Takes the lock of `request`'s session, waiting (polling) for another process that holds
    /// it — one renewing the same session — for up to `wait`. `None` if it could not be taken
    /// in that time or the lock file is unusable: the caller goes on without it.
    pub async fn lock_session(
        &self,
        request: &Request,
        wait: Duration,
        notes: &Notes,
    ) -> Option<SessionLock<'_>> {
        let key = SharedIdentity::new("en-auth cli session")
            .with("request", request.key())
            .key();
        let owner = format!("{}-{:016x}", std::process::id(), fastrand::u64(..));
        let deadline = std::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            match self.store.lock(&key, &owner, wait).await {
                Ok(true) => {
                    return Some(SessionLock {
                        cache: self,
                        key,
                        owner,
                    })
                }
                Ok(false) if std::time::Instant::now() < deadline => {
                    if pause == Duration::from_millis(10) {
                        notes.info(
                            "another en-auth process is renewing this session: waiting for it",
                        );
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                _ => return None,
            }
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The file of `request`.
    pub fn path(&self, request: &Request) -> PathBuf {
        self.dir().join(format!("{}.json", request.key()))
    }

    /// The entry of `request`.
    pub fn load(&self, request: &Request) -> Result<Entry, Miss> {
        let path = self.path(request);
        let file = read_file(&path)?;
        if !file.request.same_as(request) {
            return Err(Miss::Unusable("it holds another request's token".into()));
        }
        if file.access_token.is_empty() {
            return Err(Miss::Unusable("no access token".into()));
        }
        // The library's one check (a file could have been written by anyone with the user's
        // rights): a token that would inject header lines is never handed out.
        if en_auth_oauth2::Token::new(file.access_token.as_str(), None)
            .bearer_header()
            .is_err()
        {
            return Err(Miss::Unusable(
                "the token is not a valid header value".into(),
            ));
        }
        let obtained_at = UNIX_EPOCH + Duration::from_secs(file.obtained_at);
        let expires_at = UNIX_EPOCH + Duration::from_secs(file.expires_at);
        if SystemTime::now() < obtained_at {
            return Err(Miss::Unusable(
                "obtained in the future (the clock went back)".into(),
            ));
        }
        Ok(Entry {
            token: IssuedToken {
                access_token: SecretString::from(file.access_token),
                token_type: file.token_type,
                expires_at: Some(expires_at),
                lifetime: Some(Duration::from_secs(file.lifetime_secs)),
                scope: file.scope,
            },
            refresh_token: file.refresh_token.map(SecretString::from),
            canonical_user: file.canonical_user,
            obtained_at,
        })
    }

    /// Stores `entry` for `request`: written to a new file of mode 0600 in the same directory,
    /// then renamed over the old one, so that a reader sees the old file or the new one, never
    /// a mix. A token of unknown lifetime is not stored (its validity cannot be judged later).
    pub fn store(&self, request: &Request, entry: &Entry) -> std::io::Result<bool> {
        let (Some(expires_at), Some(lifetime)) = (entry.token.expires_at, entry.token.lifetime)
        else {
            return Ok(false);
        };
        let file = File {
            format: FORMAT,
            request: request.clone(),
            access_token: entry.token.access_token.expose_secret().to_owned(),
            token_type: entry.token.token_type.clone(),
            obtained_at: unix_secs(entry.obtained_at),
            expires_at: unix_secs(expires_at),
            lifetime_secs: lifetime.as_secs(),
            scope: entry.token.scope.clone(),
            // Sealed in the session store (the provider saved it there), never here unless
            // unsealed sessions are allowed and there is no session key.
            refresh_token: entry
                .refresh_token
                .as_ref()
                .filter(|_| self.unsealed())
                .map(|r| r.expose_secret().to_owned()),
            canonical_user: entry.canonical_user.clone(),
        };
        let text = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        write_atomically(self.dir(), &self.path(request), &text)?;
        Ok(true)
    }

    /// Removes the entry of `request`; whether there was one.
    pub fn remove(&self, request: &Request) -> std::io::Result<bool> {
        remove_if_present(&self.path(request))
    }

    /// The session files of `user` in `environment` (of `client_id` only, if given), read for a
    /// logout: each file's path, its request, whether its name is `request`'s key with the
    /// client secret `secret` (or with none: a public client), and its refresh token.
    pub fn user_sessions(
        &self,
        environment: &str,
        user: &str,
        client_id: Option<&str>,
        secret: Option<&SecretString>,
    ) -> std::io::Result<Vec<UserSession>> {
        let mut sessions = Vec::new();
        for dirent in fs::read_dir(self.dir())? {
            let path = dirent?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(file) = read_file(&path) else { continue };
            let r = &file.request;
            if r.environment != environment
                || r.user.as_deref() != Some(user)
                || client_id.is_some_and(|c| c != r.client_id)
            {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let keyed = |secret: Option<&SecretString>| {
                Request::new(
                    &r.environment,
                    &r.endpoint,
                    r.user_pool_id.as_deref(),
                    &r.client_id,
                    &r.scopes,
                    r.user.as_deref(),
                    &[],
                    secret,
                )
                .key()
                    == stem
            };
            let client_secret = if secret.is_some_and(|s| keyed(Some(s))) {
                ClientSecret::Given
            } else if keyed(None) {
                ClientSecret::None
            } else {
                ClientSecret::Unknown
            };
            sessions.push(UserSession {
                path,
                client_id: r.client_id.clone(),
                endpoint: r.endpoint.clone(),
                user_pool_id: r.user_pool_id.clone(),
                client_secret,
                refresh_token: file.refresh_token.map(SecretString::from),
            });
        }
        Ok(sessions)
    }

    /// Removes a session file; whether it was there.
    pub fn forget(&self, session: &UserSession) -> std::io::Result<bool> {
        remove_if_present(&session.path)
    }

    /// Whether the refresh-token notice is still to be printed; records that it was.
    pub fn first_refresh_token(&self) -> bool {
        let marker = self.dir().join(NOTICE_MARKER);
        if marker.exists() {
            return false;
        }
        let _ = write_atomically(self.dir(), &marker, b"");
        true
    }
}

/// `$XDG_CACHE_HOME/en-auth` (an absolute path, per the XDG base directory specification),
/// else `$HOME/.cache/en-auth`; `%LOCALAPPDATA%\en-auth` on Windows.
fn default_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        return absolute("LOCALAPPDATA").map(|d| d.join("en-auth"));
    }
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("en-auth"))
}

fn read_file(path: &Path) -> Result<File, Miss> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
        Err(e) => return Err(Miss::Unusable(format!("cannot open it: {e}"))),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = file.metadata().map_err(|e| Miss::Unusable(e.to_string()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Miss::Unusable(format!(
                "mode {:o}: readable by others, not ours",
                mode & 0o777
            )));
        }
        // The directory is ours (LocalStore::open checks its owner); a file in it that is not
        // (planted by root for another user) is not trusted.
        let directory = path.parent().and_then(|dir| fs::metadata(dir).ok());
        if directory.is_none_or(|dir| dir.uid() != meta.uid()) {
            return Err(Miss::Unusable(format!(
                "owned by another user (uid {})",
                meta.uid()
            )));
        }
    }
    let mut text = Vec::new();
    file.take(MAX_FILE_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| Miss::Unusable(format!("cannot read it: {e}")))?;
    // serde_json's messages name a position and what was expected, never the content.
    let file: File =
        serde_json::from_slice(&text).map_err(|e| Miss::Unusable(format!("corrupt: {e}")))?;
    if file.format != FORMAT {
        return Err(Miss::Unusable(format!("format {}", file.format)));
    }
    Ok(file)
}

/// Writes `bytes` to `path` through a temporary file of mode 0600 in `dir` and a rename.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map(drop).map_err(|e| e.error)
}

fn remove_if_present(path: &Path) -> std::io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(scopes: &[&str], client: &str, user: Option<&str>) -> Request {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        Request::new(
            "dev",
            "https://auth.example.com/token",
            None,
            client,
            &scopes,
            user,
            &[],
            None,
        )
    }

    fn with_secret(secret: &str) -> Request {
        Request::new(
            "dev",
            "https://auth.example.com/token",
            None,
            "svc",
            &["a".into(), "b".into()],
            None,
            &[],
            Some(&SecretString::from(secret.to_owned())),
        )
    }

    #[test]
    fn the_key_depends_on_every_field_and_not_on_scope_order() {
        let base = request(&["a", "b"], "svc", None);
        assert_eq!(base.key(), request(&["b", "a", "a"], "svc", None).key());
        assert_eq!(base.key().len(), 64);
        for other in [
            request(&["a"], "svc", None),
            request(&["a", "b"], "svc2", None),
            request(&["a", "b"], "svc", Some("alice")),
            Request::new(
                "dev",
                "https://other/token",
                None,
                "svc",
                &[],
                None,
                &[],
                None,
            ),
            Request::new(
                "dev",
                "https://auth.example.com/token",
                None,
                "svc",
                &["a".into(), "b".into()],
                None,
                &[("audience".into(), "x".into())],
                None,
            ),
            with_secret("s3cret"),
        ] {
            assert_ne!(base.key(), other.key(), "{other:?}");
        }
        // Another secret, another session; the secret is in no field.
        assert_ne!(with_secret("s3cret").key(), with_secret("wrong").key());
        assert!(!format!("{:?}", with_secret("s3cret")).contains("s3cret"));
        // Field boundaries cannot be shifted to collide.
        assert_ne!(
            request(&["a b"], "svc", None).key(),
            request(&["a", "b"], "svc", None).key()
        );
    }
}
