//! Sign-out: `SrpAuthorizer::revoke` and `CognitoSrp::revoke_token` against the testkit's
//! Cognito emulator, whose `RevokeToken` revokes the refresh token, the ones rotated from the
//! same login and every access token issued with them, and checks a confidential client's
//! `ClientSecret`. A revoked session is never renewed with its refresh token: the next request
//! logs in anew. Refusals (a wrong or missing client secret, revocation off for the client, an
//! access token instead of a refresh token) are typed errors, and the session is forgotten all
//! the same.

use en_auth_srp::{
    ClientInfo, Environment, Error, SessionKey, SessionStore, SessionStoreError, SrpAuthorizer,
    StoredSession, Token, TokenProvider, UserCredentials,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};
use secrecy::{ExposeSecret, SecretString};

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .client(AppClient::confidential("confidential", SECRET))
        .client(AppClient::confidential("rotating", SECRET).refresh_token_rotation(0))
        .client(AppClient::public("no-revocation").without_token_revocation())
        .user(PoolUser::new("alice", PASSWORD).email("alice@example.com"))
        .start()
        .await
}

fn environment(server: &CognitoServer) -> Environment {
    Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&server.endpoint())
        .unwrap()
}

fn client(id: &str) -> ClientInfo {
    match id {
        "confidential" | "rotating" => ClientInfo::new(id, SECRET),
        _ => ClientInfo::public(id),
    }
}

fn auth(server: &CognitoServer, client: ClientInfo, user: &str) -> SrpAuthorizer {
    let mut environment = environment(server);
    if client.client_id() == "rotating" {
        environment = environment.with_refresh_token_rotation(true);
    }
    SrpAuthorizer::new(client, UserCredentials::new(user, PASSWORD), environment).unwrap()
}

#[tokio::test]
async fn revoke_signs_out_and_the_next_request_logs_in_anew() {
    let server = server().await;
    for id in ["public", "confidential", "rotating"] {
        let revocations = server.calls("RevokeToken");
        let a = auth(&server, client(id), "alice@example.com");
        assert!(!a.revoke().await.unwrap(), "{id}: nothing to revoke yet");
        assert_eq!(
            server.calls("RevokeToken"),
            revocations,
            "{id}: no call without a session"
        );

        let first = a.access_token().await.unwrap();
        let access = first.secret().expose_secret().to_owned();
        let refresh = first.refresh_token().unwrap().expose_secret().to_owned();
        drop(first);
        // A renewal first (a rotation for "rotating"): the session's refresh token is the
        // latest one, and revoking it revokes the whole login.
        let generation = a.cached_token().unwrap().generation();
        a.invalidate(generation);
        let renewed = a.access_token().await.unwrap();
        let renewed_access = renewed.secret().expose_secret().to_owned();
        let latest = renewed.refresh_token().unwrap().expose_secret().to_owned();
        drop(renewed);
        let logins = server.verified_logins();

        assert!(a.revoke().await.unwrap(), "{id}: revoked");
        assert!(server.refresh_token_revoked(&latest), "{id}");
        assert!(
            server.refresh_token_revoked(&refresh),
            "{id}: the login's first refresh token"
        );
        assert_eq!(server.access_token_owner(&access), None, "{id}");
        assert_eq!(server.access_token_owner(&renewed_access), None, "{id}");
        assert!(
            a.cached_token().is_err(),
            "{id}: the cached token is forgotten"
        );

        // Another process holding the refresh token cannot renew with it.
        let other = auth(&server, client(id), "alice");
        let previous = Token::new("expired", None).with_refresh_token(latest.clone());
        let e = other.provider().refresh(&previous).await.unwrap_err();
        assert!(e.is_refresh_refused(), "{id}: {e:?}");

        // The signed-out authorizer logs in again instead of sending the revoked token.
        let refreshes_before =
            server.calls("GetTokensFromRefreshToken") + server.calls("InitiateAuth");
        let again = a.access_token().await.unwrap();
        assert_eq!(server.verified_logins(), logins + 1, "{id}: a new login");
        assert_eq!(
            server.calls("GetTokensFromRefreshToken") + server.calls("InitiateAuth"),
            refreshes_before + 1,
            "{id}: one InitiateAuth (USER_SRP_AUTH), no refresh with the revoked token"
        );
        assert_eq!(
            server
                .access_token_owner(again.secret().expose_secret())
                .as_deref(),
            Some("alice"),
            "{id}"
        );
        drop(again);
        assert!(
            a.revoke().await.unwrap(),
            "{id}: the new session revoked too"
        );
        assert!(!a.revoke().await.unwrap(), "{id}: signed out already");
    }
    assert_eq!(server.calls("RevokeToken"), 6);
}

#[tokio::test]
async fn a_refused_revocation_is_a_typed_error_and_the_session_is_forgotten_all_the_same() {
    let server = server().await;
    let a = auth(&server, client("confidential"), "alice");
    let token = a.access_token().await.unwrap();
    let refresh = token.refresh_token().cloned().unwrap();
    let access = SecretString::from(token.secret().expose_secret().to_owned());
    drop(token);

    // A wrong client secret, and none (a public ClientInfo for a confidential client).
    for (what, info) in [
        (
            "a wrong secret",
            ClientInfo::new("confidential", "not-the-secret-0000"),
        ),
        ("no secret", ClientInfo::public("confidential")),
    ] {
        let e = auth_unchecked(&server, info)
            .provider()
            .revoke_token(&refresh)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidClient(c) if c.client_id == "confidential"),
            "{what}: {e:?}"
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(refresh.expose_secret()), "{what}: {shown}");
        assert!(!shown.contains("not-the-secret-0000"), "{what}: {shown}");
        assert!(
            !server.refresh_token_revoked(refresh.expose_secret()),
            "{what}"
        );
    }

    // An access token is not a refresh token.
    let e = a.provider().revoke_token(&access).await.unwrap_err();
    assert!(
        matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("UnsupportedTokenTypeException")),
        "{e:?}"
    );

    // Revocation off for the client: the error says so, and the authorizer still forgets the
    // session (the next request logs in; the refresh token stays valid at Cognito).
    let off = auth(&server, client("no-revocation"), "alice");
    let token = off.access_token().await.unwrap();
    let kept = token.refresh_token().unwrap().expose_secret().to_owned();
    drop(token);
    let logins = server.verified_logins();
    let e = off.revoke().await.unwrap_err();
    assert!(
        matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("UnsupportedOperationException")),
        "{e:?}"
    );
    assert!(!e.is_retryable(), "{e:?}");
    assert!(!server.refresh_token_revoked(&kept));
    assert!(off.cached_token().is_err(), "forgotten in this process");
    off.access_token().await.unwrap();
    assert_eq!(server.verified_logins(), logins + 1, "a new login");
    assert!(!off.revoke().await.unwrap_err().is_retryable());
}

/// An authorizer for the confidential client with `info` (whatever its secret): its provider
/// revokes tokens it did not obtain.
fn auth_unchecked(server: &CognitoServer, info: ClientInfo) -> SrpAuthorizer {
    SrpAuthorizer::new(
        info,
        UserCredentials::new("alice", PASSWORD),
        environment(server),
    )
    .unwrap()
}

/// A session store in memory whose `load` can be held at a gate: what a test needs to stop a
/// sign-out between its start (the sign-out counted, the cache forgotten) and the rest.
#[derive(Debug, Default)]
struct GatedStore {
    sessions: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
    saves: std::sync::atomic::AtomicUsize,
    armed: std::sync::atomic::AtomicBool,
    reached: std::sync::atomic::AtomicBool,
    gate: tokio::sync::Notify,
}

impl GatedStore {
    fn refresh_token(&self, key: &SessionKey) -> Option<String> {
        self.sessions
            .lock()
            .unwrap()
            .get(&key.id())
            .map(|(_, token)| token.clone())
    }
}

#[async_trait::async_trait]
impl SessionStore for GatedStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, SessionStoreError> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            self.reached
                .store(true, std::sync::atomic::Ordering::SeqCst);
            self.gate.notified().await;
        }
        let sessions = self.sessions.lock().unwrap();
        Ok(sessions.get(&key.id()).map(|(user, token)| {
            StoredSession::new(user.clone(), SecretString::from(token.clone()), None)
        }))
    }

    async fn save(
        &self,
        key: &SessionKey,
        session: &StoredSession,
    ) -> Result<(), SessionStoreError> {
        self.saves.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.sessions.lock().unwrap().insert(
            key.id(),
            (
                session.user_name().to_owned(),
                session.refresh_token().expose_secret().to_owned(),
            ),
        );
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), SessionStoreError> {
        self.sessions.lock().unwrap().remove(&key.id());
        Ok(())
    }
}

/// Review finding: a renewal waiting for Cognito when `revoke()` ran stored its tokens
/// afterwards (cache and session store), bringing the signed-out session back. Now the
/// renewal keeps nothing and fails; the sign-out revokes the refresh token; the next request
/// logs in anew. Deterministic: the emulator holds the renewal's call, the store holds the
/// sign-out after it started, and the renewal completes in between.
#[tokio::test]
async fn a_renewal_under_way_when_revoke_runs_keeps_nothing() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;
    let server = server().await;
    for id in ["public", "confidential", "rotating"] {
        let store = std::sync::Arc::new(GatedStore::default());
        let mut environment = environment(&server);
        if id == "rotating" {
            environment = environment.with_refresh_token_rotation(true);
        }
        let a = SrpAuthorizer::builder(
            client(id),
            UserCredentials::new("alice", PASSWORD),
            environment,
        )
        .session_store(std::sync::Arc::clone(&store))
        // No failure cooldown: the renewal's failure is not handed out again to the next
        // request (by default for a second), which shows the new login at once.
        .renewal_policy(
            en_auth_srp::RenewalPolicy::default()
                .with_failure_cooldown(Duration::ZERO, Duration::ZERO),
        )
        .build()
        .unwrap();
        let key = a.provider().session_key().clone();
        let first = a.access_token().await.unwrap();
        let refresh = first.refresh_token().unwrap().expose_secret().to_owned();
        let generation = first.generation();
        drop(first);
        assert_eq!(store.refresh_token(&key).as_deref(), Some(refresh.as_str()));
        let saves = store.saves.load(SeqCst);

        // A renewal, held at the emulator.
        let operation = if id == "rotating" {
            "GetTokensFromRefreshToken"
        } else {
            "InitiateAuth"
        };
        let calls = server.calls(operation);
        server.hold_requests();
        a.invalidate(generation);
        let renewing = tokio::spawn({
            let a = a.clone();
            async move { a.access_token().await.map(|t| t.generation()) }
        });
        en_auth_peers::wait::until_async(
            "the renewal reaches Cognito",
            Duration::from_secs(10),
            || server.calls(operation) == calls + 1,
        )
        .await;

        // The sign-out starts (counted, cache forgotten) and waits at the store.
        store.armed.store(true, SeqCst);
        let revoking = tokio::spawn({
            let a = a.clone();
            async move { a.revoke().await }
        });
        en_auth_peers::wait::until_async(
            "the sign-out reaches the store",
            Duration::from_secs(10),
            || store.reached.load(SeqCst),
        )
        .await;

        // Cognito answers the renewal: its tokens must not be kept.
        server.release_requests();
        // (A renewal that waits for the store the sign-out holds is the bug too: bounded.)
        let renewed = tokio::time::timeout(Duration::from_secs(10), renewing)
            .await
            .expect("the renewal ends while the sign-out waits at the store")
            .unwrap();
        match &renewed {
            Err(Error::Internal(e)) => assert!(e.message.contains("signed out"), "{id}: {e}"),
            other => panic!("{id}: the renewal must fail, got {other:?}"),
        }
        assert!(a.cached_token().is_err(), "{id}: nothing cached");
        assert_eq!(store.saves.load(SeqCst), saves, "{id}: nothing stored");

        // The sign-out goes on: the stored session deleted, its refresh token revoked.
        store.gate.notify_one();
        assert!(revoking.await.unwrap().unwrap(), "{id}: revoked");
        assert_eq!(store.refresh_token(&key), None, "{id}: deleted");
        assert!(server.refresh_token_revoked(&refresh), "{id}");

        // The next request logs in anew.
        store.armed.store(false, SeqCst);
        let logins = server.verified_logins();
        a.access_token().await.unwrap();
        assert_eq!(server.verified_logins(), logins + 1, "{id}: a new login");
    }
}

/// Review finding: `revoke()` in a new process (nothing in memory) deleted the stored session
/// without revoking its refresh token, which stayed valid at Cognito. Now it loads it first
/// and revokes it: the emulator refuses it afterwards.
#[tokio::test]
async fn revoke_in_a_new_process_revokes_the_stored_sessions_refresh_token() {
    let server = server().await;
    for id in ["public", "confidential", "rotating"] {
        let store = std::sync::Arc::new(GatedStore::default());
        let build = || {
            let mut environment = environment(&server);
            if id == "rotating" {
                environment = environment.with_refresh_token_rotation(true);
            }
            SrpAuthorizer::builder(
                client(id),
                UserCredentials::new("alice", PASSWORD),
                environment,
            )
            .session_store(std::sync::Arc::clone(&store))
            .build()
            .unwrap()
        };
        let first = build();
        first.access_token().await.unwrap();
        let key = first.provider().session_key().clone();
        let refresh = store.refresh_token(&key).expect("the session is stored");
        drop(first);

        // A new process: nothing in memory.
        let revocations = server.calls("RevokeToken");
        let later = build();
        assert!(
            later.revoke().await.unwrap(),
            "{id}: the stored token revoked"
        );
        assert_eq!(server.calls("RevokeToken"), revocations + 1, "{id}");
        assert!(server.refresh_token_revoked(&refresh), "{id}");
        assert_eq!(store.refresh_token(&key), None, "{id}: deleted");
        // Cognito refuses that refresh token now (asked by a provider that never saw it).
        let mut environment = environment(&server);
        if id == "rotating" {
            environment = environment.with_refresh_token_rotation(true);
        }
        let stranger = SrpAuthorizer::new(
            client(id),
            UserCredentials::new("alice", PASSWORD),
            environment,
        )
        .unwrap();
        let stale = Token::new("unused", None).with_refresh_token(refresh.as_str());
        let refused = stranger.provider().refresh(&stale).await.unwrap_err();
        assert!(
            matches!(refused, Error::RefreshRefused(_)),
            "{id}: {refused:?}"
        );
        // Signing out again: nothing in memory, nothing stored.
        assert!(!later.revoke().await.unwrap(), "{id}: nothing left");
    }
}
