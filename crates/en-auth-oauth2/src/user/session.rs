//! [`UserSession`]: a person's session as a [`TokenProvider`] — the refresh token grant (RFC
//! 6749 §6), rotation kept.

use std::sync::{Arc, Mutex, PoisonError};

use en_auth_core::{Authorizer, ClientInfo, Error, Token, TokenProvider};
use secrecy::{ExposeSecret, SecretString};

use super::{error_code, Client};

/// The caching authorizer over a person's session: [`UserSession::authorizer`].
pub type UserAuthorizer = Authorizer<UserSession>;

/// A session store's failure. The session goes on in memory; the error is logged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {message}")]
pub struct UserSessionStoreError {
    message: String,
}

impl UserSessionStoreError {
    /// An error saying `message` (never a token or a key).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Where one session's refresh token survives the process: an encrypted file, a secret manager,
/// the OS keyring. Implementations keep it secret and never log it.
///
/// ```
/// use en_auth_oauth2::{UserSessionStore, UserSessionStoreError};
/// use en_auth_oauth2::secrecy::{ExposeSecret, SecretString};
///
/// /// One session in memory (a real store encrypts it at rest).
/// #[derive(Debug, Default)]
/// struct Memory(std::sync::Mutex<Option<String>>);
///
/// #[async_trait::async_trait]
/// impl UserSessionStore for Memory {
///     async fn save(&self, refresh_token: &SecretString) -> Result<(), UserSessionStoreError> {
///         *self.0.lock().unwrap() = Some(refresh_token.expose_secret().to_owned());
///         Ok(())
///     }
///     async fn delete(&self) -> Result<(), UserSessionStoreError> {
///         *self.0.lock().unwrap() = None;
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait UserSessionStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores the session's current `refresh_token`, replacing the one stored. It must be
    /// stored (readable in this process or another) when this returns.
    async fn save(&self, refresh_token: &SecretString) -> Result<(), UserSessionStoreError>;

    /// Deletes the stored session (a sign-out); none is not an error.
    async fn delete(&self) -> Result<(), UserSessionStoreError>;
}

/// What a session holds between token requests.
struct State {
    /// The current refresh token (`None`: the server refused it; sign in again).
    refresh_token: Option<SecretString>,
    /// The sign-in's own access token, handed out by the first `authorize()`.
    first: Option<Token>,
}

/// A person's session: hands out the sign-in's access token first, then renews it with the
/// refresh token grant (RFC 6749 §6). When the server rotates the refresh token (issues a new
/// one with each access token), the new one replaces the old at once — in memory, and in the
/// [`UserSessionStore`] if there is one, **before** the new access token is handed out, so it
/// is never lost while the old one is spent. A refresh token the server refuses
/// (`invalid_grant`: expired, revoked, or a rotated one used twice) ends the session:
/// [`Error::RefreshRefused`], then, without a request, [`Error::InvalidCredentials`] until the
/// person signs in again.
///
/// Sessions are never shared through a [`SharedStore`](crate::SharedStore): tokens are a
/// person's.
pub struct UserSession {
    client: Arc<Client>,
    state: Mutex<State>,
    store: Option<Arc<dyn UserSessionStore>>,
}

impl std::fmt::Debug for UserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let active = self.lock().refresh_token.is_some();
        f.debug_struct("UserSession")
            .field("client_info", &self.client.client_info)
            .field("environment", &self.client.environment.id())
            .field("active", &active)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl UserSession {
    pub(crate) fn from_token(client: Arc<Client>, token: Token) -> Result<Self, Error> {
        let refresh_token = token.refresh_token().cloned().ok_or_else(|| {
            super::configuration(format!(
                "the authorization server issued no refresh token to `{}`: the session cannot \
                 outlive its access token (allow the client the refresh_token grant, or ask \
                 for the `offline_access` scope)",
                client.client_info.client_id()
            ))
        })?;
        Ok(Self {
            client,
            state: Mutex::new(State {
                refresh_token: Some(refresh_token),
                first: Some(token),
            }),
            store: None,
        })
    }

    pub(crate) fn resume(client: Arc<Client>, refresh_token: SecretString) -> Self {
        Self {
            client,
            state: Mutex::new(State {
                refresh_token: Some(refresh_token),
                first: None,
            }),
            store: None,
        }
    }

    /// Saves every new refresh token to `store` before the access token that came with it is
    /// handed out.
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn UserSessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The caching authorizer over this session (renewal before expiry, single flight, the
    /// 401 replay, the `reqwest` middleware and tower adapters).
    pub fn authorizer(self) -> UserAuthorizer {
        Authorizer::new(self)
    }

    /// The current refresh token (to store it yourself), `None` once the server refused it.
    pub fn refresh_token(&self) -> Option<SecretString> {
        self.lock().refresh_token.clone()
    }

    /// Saves the current refresh token to the store, if there is one (after a sign-in, so that
    /// the next process resumes the session).
    ///
    /// # Errors
    /// The store's error.
    pub async fn save(&self) -> Result<(), UserSessionStoreError> {
        let (Some(store), Some(token)) = (&self.store, self.refresh_token()) else {
            return Ok(());
        };
        store.save(&token).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The refresh token grant with the current refresh token.
    async fn renew(&self) -> Result<Token, Error> {
        let Some(refresh_token) = self.refresh_token() else {
            return Err(self.ended());
        };
        let result = self
            .client
            .token_request(
                "refresh_token",
                &[("refresh_token", refresh_token.expose_secret())],
            )
            .await;
        match result {
            Ok(mut token) => {
                match token.refresh_token().cloned() {
                    Some(rotated) if rotated.expose_secret() != refresh_token.expose_secret() => {
                        // Stored before the access token is handed out (and so before the
                        // rotated refresh token can be used again).
                        if let Some(store) = &self.store {
                            if let Err(error) = store.save(&rotated).await {
                                tracing::warn!(%error, "the rotated refresh token could not be stored: the session goes on in memory only");
                            }
                        }
                        self.lock().refresh_token = Some(rotated);
                    }
                    Some(_) => {}
                    // RFC 6749 §6: no new refresh token, the old one stays.
                    None => token = token.with_refresh_token(refresh_token.expose_secret()),
                }
                Ok(token)
            }
            Err(error) if error_code(&error) == Some("invalid_grant") => {
                self.lock().refresh_token = None;
                tracing::info!(
                    client_id = self.client.client_info.client_id(),
                    "the refresh token was refused: the session has ended, sign in again"
                );
                Err(match error {
                    Error::Authorization(a) => Error::RefreshRefused(a),
                    other => other,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// The error of a session that has ended.
    fn ended(&self) -> Error {
        let issuer = self.client.environment.issuer().map_or_else(
            || self.client.environment.id().to_owned(),
            |i| i.to_string(),
        );
        en_auth_core::InvalidCredentialsError::new(
            "the signed-in person",
            issuer,
            "the session has ended (its refresh token was refused or revoked): sign in again",
        )
        .into()
    }
}

impl TokenProvider for UserSession {
    /// The sign-in's access token the first time, then the refresh token grant.
    async fn authorize(&self) -> Result<Token, Error> {
        let first = self.lock().first.take();
        match first {
            Some(token) if !token.needs_renewal() => Ok(token),
            _ => self.renew().await,
        }
    }

    async fn refresh(&self, _token: &Token) -> Result<Token, Error> {
        self.renew().await
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client.client_info
    }

    fn flow(&self) -> &'static str {
        "user_session"
    }

    fn environment_id(&self) -> Option<&str> {
        Some(self.client.environment.id())
    }
}
