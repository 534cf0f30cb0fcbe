//! The session store of a user session whose refresh token is kept unsealed in its JSON cache
//! file (`--allow-unsealed-sessions`, when no session key can be had): the session lives in
//! memory for the run, seeded from the file, and the command writes the token it ends with back
//! to the file. It lets the unsealed session go through the same provider calls as a sealed
//! one (`CognitoSrp::resume`, `log_in`).

use std::sync::{Mutex, PoisonError};

use en_auth_srp::{SessionKey, SessionStore, SessionStoreError, StoredSession};

/// One session, in memory. `Debug` shows whether it holds one, never the session.
#[derive(Default)]
pub struct UnsealedSession(Mutex<Option<(SessionKey, StoredSession)>>);

impl std::fmt::Debug for UnsealedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("UnsealedSession")
            .field("held", &held)
            .finish()
    }
}

#[async_trait::async_trait]
impl SessionStore for UnsealedSession {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, SessionStoreError> {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(held
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, session)| session.clone()))
    }

    async fn save(
        &self,
        key: &SessionKey,
        session: &StoredSession,
    ) -> Result<(), SessionStoreError> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((key.clone(), session.clone()));
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), SessionStoreError> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().is_some_and(|(k, _)| k == key) {
            *held = None;
        }
        Ok(())
    }
}
