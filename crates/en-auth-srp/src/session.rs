//! Sessions that survive a restart: a [`SessionStore`] keeps what a user's session needs to
//! go on without the user's password or MFA code — the refresh token, the canonical user name
//! and the remembered device (`DeviceKey`, `DeviceGroupKey`, the device password) — and the
//! provider ([`CognitoSrp::with_session_store`](crate::CognitoSrp::with_session_store))
//! loads it before it logs in, and saves every new refresh token and every newly confirmed
//! device before the token is handed out (so before a rotated refresh token is used again).
//!
//! [`FileSessionStore`] keeps each session in a file sealed with AES-256-GCM (en-auth-core's
//! [`Sealer`]), mode 0600, in a directory of mode 0700 that this user owns. A service plugs its
//! own store (a secret manager) by implementing the trait:
//!
//! ```
//! use en_auth_srp::{SessionKey, SessionStore, SessionStoreError, StoredSession};
//!
//! /// Sessions in a secret manager (here a map; a real one calls its API).
//! #[derive(Debug, Default)]
//! struct SecretManager(std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>);
//!
//! #[async_trait::async_trait]
//! impl SessionStore for SecretManager {
//!     async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, SessionStoreError> {
//!         let secrets = self.0.lock().unwrap();
//!         Ok(secrets.get(&key.id()).and_then(|json| StoredSession::from_json(json).ok()))
//!     }
//!     async fn save(&self, key: &SessionKey, session: &StoredSession) -> Result<(), SessionStoreError> {
//!         self.0.lock().unwrap().insert(key.id(), session.to_json().to_vec());
//!         Ok(())
//!     }
//!     async fn delete(&self, key: &SessionKey) -> Result<(), SessionStoreError> {
//!         self.0.lock().unwrap().remove(&key.id());
//!         Ok(())
//!     }
//! }
//! ```

use std::path::{Path, PathBuf};

use en_auth_core::private_files::{ensure_private_dir, read_private_file, write_private_file};
use en_auth_core::sealed::Sealer;
use en_auth_core::{ConfigurationError, Error};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::provider::RememberedDevice;

/// The largest session file read.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The version of the stored session's JSON; another version is a miss.
const FORMAT: u32 = 1;

/// Whose session: the Cognito endpoint, the user pool, the app client and the user name as
/// configured (the name typed, not the canonical one, which the session holds). The endpoint
/// keeps apart the sessions of one pool id, client and user at two endpoints (an emulator and
/// AWS, or two regions through an endpoint override).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SessionKey {
    /// The Cognito endpoint the session was made with (`https://cognito-idp.<region>.amazonaws.com`,
    /// or the environment's `cognito_endpoint`), without a trailing `/`.
    pub endpoint: String,
    /// The user pool id.
    pub user_pool_id: String,
    /// The app client id.
    pub client_id: String,
    /// The user name as configured.
    pub user_name: String,
}

/// The domain tag that starts the hashed input of [`SessionKey::id`]: a new format of the key
/// changes the tag, so that an id of one format never equals an id of another.
const KEY_FORMAT_TAG: &str = "en-auth session key v2";

impl SessionKey {
    /// The key of `user_name`'s session of `client_id` in `user_pool_id` at the Cognito
    /// `endpoint` (a trailing `/` is dropped, so `https://h/` and `https://h` are one endpoint).
    pub fn new(
        endpoint: impl Into<String>,
        user_pool_id: impl Into<String>,
        client_id: impl Into<String>,
        user_name: impl Into<String>,
    ) -> Self {
        let mut endpoint = endpoint.into();
        while endpoint.ends_with('/') {
            endpoint.pop();
        }
        Self {
            endpoint,
            user_pool_id: user_pool_id.into(),
            client_id: client_id.into(),
            user_name: user_name.into(),
        }
    }

    /// A stable id for the key: hex SHA-256 over the format tag `en-auth session key v2`,
    /// the endpoint (without a trailing `/`), the user pool id, the client id and the user
    /// name, each preceded by its length in bytes (8 bytes, big-endian). A file name, a
    /// secret's name; reveals no field.
    ///
    /// The ids of en-auth before the endpoint was part of the key (no tag, no endpoint) are
    /// not found: such a stored session is a miss, and the next authorization logs in.
    pub fn id(&self) -> String {
        let mut hash = Sha256::new();
        let endpoint = self.endpoint.trim_end_matches('/');
        for field in [
            KEY_FORMAT_TAG,
            endpoint,
            &self.user_pool_id,
            &self.client_id,
            &self.user_name,
        ] {
            hash.update((field.len() as u64).to_be_bytes());
            hash.update(field.as_bytes());
        }
        hash.finalize()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                use std::fmt::Write;
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}

/// What a session needs to survive a restart. `Debug` redacts the refresh token and the
/// device password.
#[derive(Clone)]
pub struct StoredSession {
    user_name: String,
    refresh_token: SecretString,
    device: Option<RememberedDevice>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("user_name", &self.user_name)
            .field("refresh_token", &"[REDACTED]")
            .field("device", &self.device)
            .finish()
    }
}

/// The JSON of a stored session.
#[derive(Serialize, Deserialize)]
struct Json {
    v: u32,
    user: String,
    refresh_token: String,
    device: Option<DeviceJson>,
}

#[derive(Serialize, Deserialize)]
struct DeviceJson {
    key: String,
    group_key: String,
    password: String,
}

impl Drop for Json {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.refresh_token.zeroize();
        if let Some(device) = &mut self.device {
            device.password.zeroize();
        }
    }
}

impl StoredSession {
    /// A session of `user_name` (the canonical name Cognito's challenges named) with
    /// `refresh_token` and, if confirmed, its remembered `device`.
    pub fn new(
        user_name: impl Into<String>,
        refresh_token: SecretString,
        device: Option<RememberedDevice>,
    ) -> Self {
        Self {
            user_name: user_name.into(),
            refresh_token,
            device,
        }
    }

    /// The canonical user name (for the refresh's `SECRET_HASH`).
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The refresh token (secret).
    pub fn refresh_token(&self) -> &SecretString {
        &self.refresh_token
    }

    /// The remembered device, if one is confirmed.
    pub fn device(&self) -> Option<&RememberedDevice> {
        self.device.as_ref()
    }

    /// The session as JSON (holds the secrets in clear: seal it before it leaves memory).
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let json = Json {
            v: FORMAT,
            user: self.user_name.clone(),
            refresh_token: self.refresh_token.expose_secret().to_owned(),
            device: self.device.as_ref().map(|d| DeviceJson {
                key: d.device_key().to_owned(),
                group_key: d.device_group_key().to_owned(),
                password: d.device_password().expose_secret().to_owned(),
            }),
        };
        // Serializing strings cannot fail.
        Zeroizing::new(serde_json::to_vec(&json).unwrap_or_default())
    }

    /// The session in `json` ([`to_json`](Self::to_json)'s).
    ///
    /// # Errors
    /// A [`SessionStoreError`] if it is not such JSON (never quoting it).
    pub fn from_json(json: &[u8]) -> Result<Self, SessionStoreError> {
        let parsed: Json = serde_json::from_slice(json)
            .map_err(|_| SessionStoreError::new("a stored session is not valid JSON"))?;
        if parsed.v != FORMAT {
            return Err(SessionStoreError::new(format!(
                "a stored session has format {}, not {FORMAT}",
                parsed.v
            )));
        }
        if parsed.refresh_token.is_empty() {
            return Err(SessionStoreError::new(
                "a stored session has no refresh token",
            ));
        }
        Ok(Self {
            user_name: parsed.user.clone(),
            refresh_token: SecretString::from(parsed.refresh_token.clone()),
            device: parsed.device.as_ref().map(|d| {
                RememberedDevice::new(
                    d.key.clone(),
                    d.group_key.clone(),
                    SecretString::from(d.password.clone()),
                )
            }),
        })
    }
}

/// A session store call that failed. The provider logs it and goes on (a failed load is a
/// login; a failed save leaves the session in memory only).
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {message}")]
pub struct SessionStoreError {
    message: String,
}

impl SessionStoreError {
    /// An error saying `message` (never a token or a key).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Where sessions survive a restart: a file, a secret manager, the OS keyring. Implementations
/// keep the session secret (encrypted at rest, or in a store made for secrets) and never log
/// it. Calls run on the provider's renewal path; they should be quick.
///
/// The provider does not lock the store: two processes that renew one stored session at the
/// same moment with one-time refresh tokens (rotation without a grace period) spend it once,
/// and the other logs in again (proving the stored device, so with no MFA code).
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug + 'static {
    /// The session stored for `key`; `Ok(None)` if there is none, or none this store can
    /// read (another key's, damaged).
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, SessionStoreError>;

    /// Stores `session` for `key`, replacing the one stored. It must be stored (readable by
    /// the next [`load`](Self::load), in this process or another) when this returns.
    async fn save(
        &self,
        key: &SessionKey,
        session: &StoredSession,
    ) -> Result<(), SessionStoreError>;

    /// Deletes the session of `key` (a sign-out); no session is not an error.
    async fn delete(&self, key: &SessionKey) -> Result<(), SessionStoreError>;
}

/// Sessions in files sealed with AES-256-GCM: one file per [`SessionKey`]
/// (`<SessionKey::id>.session`, the id in the associated data, so a file renamed to another
/// user's does not open), mode 0600, written by an atomic rename, in a directory of mode 0700
/// that this user owns (one open to others, or another user's, is refused). There is no
/// plaintext mode.
///
/// A file that does not open (another key's, damaged, another format) is a miss, logged as a
/// warning: the provider logs in and replaces it.
///
/// ```no_run
/// # fn main() -> Result<(), en_auth_srp::Error> {
/// use en_auth_srp::FileSessionStore;
/// // The key: base64 of 32 random bytes (`openssl rand -base64 32`), in a variable you name …
/// let store = FileSessionStore::open_with_key_env("/var/lib/my-service/sessions", "MY_SESSION_KEY")?;
/// // … or in a file.
/// let store = FileSessionStore::open_with_key_file(
///     "/var/lib/my-service/sessions",
///     "/etc/my-service/session.key",
/// )?;
/// # Ok(()) }
/// ```
pub struct FileSessionStore {
    dir: PathBuf,
    sealer: Sealer,
}

impl std::fmt::Debug for FileSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSessionStore")
            .field("dir", &self.dir)
            .field("sealer", &self.sealer)
            .finish()
    }
}

impl FileSessionStore {
    /// The store in `dir` (created with mode 0700 if missing), sealing with the AES-256 `key`.
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `session_store.path`) if the directory cannot be
    /// created, is not a directory, is open to other users or is another user's.
    pub fn open(dir: impl Into<PathBuf>, key: &[u8; 32]) -> Result<Self, Error> {
        let dir = dir.into();
        ensure_private_dir(&dir).map_err(|why| {
            Error::from(
                ConfigurationError::new(format!("the session directory {}: {why}", dir.display()))
                    .with_field("session_store.path"),
            )
        })?;
        Ok(Self {
            dir,
            sealer: Sealer::new(key),
        })
    }

    /// The store in `dir`, its key read from the environment variable `variable` (base64 of
    /// 32 bytes).
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `session_store.key_env`) if the variable is not set,
    /// not base64 or not 32 bytes (its value is never printed); [`open`](Self::open)'s.
    pub fn open_with_key_env(dir: impl Into<PathBuf>, variable: &str) -> Result<Self, Error> {
        let refuse = |why: String| -> Error {
            ConfigurationError::new(format!(
                "the environment variable {variable} (the session key) {why}"
            ))
            .with_field("session_store.key_env")
            .into()
        };
        let encoded = Zeroizing::new(
            std::env::var(variable).map_err(|_| refuse("is not set or not UTF-8".into()))?,
        );
        let key = en_auth_core::decode_encryption_key(&encoded).map_err(refuse)?;
        Self::open(dir, &key)
    }

    /// The store in `dir`, its key read from `key_file` (base64 of 32 bytes; a file open to
    /// other users is refused).
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `session_store.key_file`) if the file is missing,
    /// unreadable, open to other users, another user's, or not a base64 32-byte key;
    /// [`open`](Self::open)'s.
    pub fn open_with_key_file(
        dir: impl Into<PathBuf>,
        key_file: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let key_file = key_file.as_ref();
        let refuse = |why: String| -> Error {
            ConfigurationError::new(format!(
                "the session key file {}: {why}",
                key_file.display()
            ))
            .with_field("session_store.key_file")
            .into()
        };
        let bytes = read_private_file(key_file, 4096)
            .map_err(|e| refuse(e.to_string()))?
            .ok_or_else(|| {
                refuse("missing, open to other users or not ours (`chmod 600` it)".into())
            })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| refuse("not UTF-8".into()))?;
        let key = en_auth_core::decode_encryption_key(text).map_err(refuse)?;
        Self::open(dir, &key)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `key`'s session.
    pub fn file(&self, key: &SessionKey) -> PathBuf {
        self.dir.join(format!("{}.session", key.id()))
    }
}

#[async_trait::async_trait]
impl SessionStore for FileSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, SessionStoreError> {
        let path = self.file(key);
        let Some(bytes) = read_private_file(&path, MAX_FILE_BYTES)
            .map_err(|e| SessionStoreError::new(format!("cannot read a session file: {e}")))?
        else {
            return Ok(None);
        };
        let Some(json) = self.sealer.open_bytes(&key.id(), &bytes) else {
            tracing::warn!(
                file = %path.display(),
                "a session file does not open (another key's, damaged or another format): ignored, a login replaces it"
            );
            return Ok(None);
        };
        match StoredSession::from_json(&json) {
            Ok(session) => Ok(Some(session)),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "a session file is unusable: ignored");
                Ok(None)
            }
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        session: &StoredSession,
    ) -> Result<(), SessionStoreError> {
        let json = session.to_json();
        let sealed = self
            .sealer
            .seal_bytes(&key.id(), &json)
            .ok_or_else(|| SessionStoreError::new("cannot seal a session"))?;
        write_private_file(&self.dir, &self.file(key), &sealed)
            .map_err(|e| SessionStoreError::new(format!("cannot write a session file: {e}")))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), SessionStoreError> {
        match std::fs::remove_file(self.file(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SessionStoreError::new(format!(
                "cannot delete a session file: {e}"
            ))),
        }
    }
}

/// A shared store: clones of one `Arc` are the same store.
#[async_trait::async_trait]
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<S> {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, SessionStoreError> {
        (**self).load(key).await
    }

    async fn save(
        &self,
        key: &SessionKey,
        session: &StoredSession,
    ) -> Result<(), SessionStoreError> {
        (**self).save(key, session).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), SessionStoreError> {
        (**self).delete(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers, computed independently (Python's hashlib over the documented layout:
    /// each field's length as 8 bytes big-endian, then its bytes, the format tag first).
    #[test]
    fn the_key_id_is_the_documented_derivation() {
        let aws = SessionKey::new(
            "https://cognito-idp.eu-west-1.amazonaws.com",
            "eu-west-1_Example",
            "app",
            "alice",
        );
        assert_eq!(
            aws.id(),
            "f618d65d4ca1508e7cf446ba2e6fd090829cd639b283f199310dc828afe330f2"
        );
        let emulator = SessionKey::new(
            "http://127.0.0.1:9229/",
            "eu-west-1_Example",
            "app",
            "alice",
        );
        assert_eq!(
            emulator.endpoint, "http://127.0.0.1:9229",
            "the trailing / dropped"
        );
        assert_eq!(
            emulator.id(),
            "94e3384d7141903d775df248528a9c394c2c30b192021e67355c8871013501e6"
        );
        // The same id whether the slash was dropped by `new` or is still in a field set by hand.
        let mut by_hand = emulator.clone();
        by_hand.endpoint.push('/');
        assert_eq!(by_hand.id(), emulator.id());
        // Each field counts; boundaries cannot be shifted.
        let other = |f: fn(&mut SessionKey)| {
            let mut key = aws.clone();
            f(&mut key);
            key.id()
        };
        for id in [
            other(|k| k.endpoint = "https://cognito-idp.eu-west-2.amazonaws.com".into()),
            other(|k| k.user_pool_id.push('x')),
            other(|k| k.client_id.push('x')),
            other(|k| k.user_name.push('x')),
            other(|k| {
                k.client_id = "appa".into();
                k.user_name = "lice".into();
            }),
        ] {
            assert_ne!(id, aws.id());
        }
    }
}
