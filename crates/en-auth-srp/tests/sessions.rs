//! Sessions that survive a restart, against the testkit's Cognito emulator with device
//! tracking "Always" and a user who must answer a TOTP code: a login through an authorizer
//! with a [`FileSessionStore`] answers the code once; a new authorizer over the same
//! directory and key (what a restarted process builds) renews the stored session — no
//! password proof, no code — and, when the refresh token is refused, proves the stored
//! device (no code either). A rotated refresh token is in the store when the renewal returns.
//! A damaged file, or one sealed with another key, is a miss (a login with the code), never a
//! panic; a sign-out deletes the file. The files hold no secret in clear.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use en_auth_peers::secrecy::Scan;
use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, Error, FileSessionStore, SessionKey,
    SessionStore, SrpAuthorizer, UserCredentials, SOFTWARE_TOKEN_MFA,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser, ScriptedChallenge};
use secrecy::ExposeSecret;

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";
const CODE: &str = "123456";
const KEY: [u8; 32] = [0x5a; 32];

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .client(AppClient::confidential("confidential", SECRET))
        .client(AppClient::confidential("rotating", SECRET).refresh_token_rotation(0))
        .user(
            PoolUser::new("alice", PASSWORD)
                .challenge_after_password(ScriptedChallenge::software_token_mfa(CODE)),
        )
        .device_tracking_always(true)
        .start()
        .await
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "en-auth-sessions-{tag}-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn fastrand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    u64::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    )
}

fn environment(server: &CognitoServer, client: &str) -> Environment {
    let environment = Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&server.endpoint())
        .unwrap();
    if client == "rotating" {
        environment.with_refresh_token_rotation(true)
    } else {
        environment
    }
}

fn info(client: &str) -> ClientInfo {
    match client {
        "public" => ClientInfo::public(client),
        _ => ClientInfo::new(client, SECRET),
    }
}

fn key(server: &CognitoServer, client: &str) -> SessionKey {
    SessionKey::new(server.endpoint(), POOL, client, "alice")
}

/// A new authorizer over a new store in `dir` (what a restarted process builds), whose
/// handler answers the TOTP code and counts the codes asked.
fn authorizer(
    server: &CognitoServer,
    client: &str,
    dir: &PathBuf,
    key: &[u8; 32],
) -> (SrpAuthorizer, Arc<AtomicUsize>) {
    let codes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&codes);
    let store = FileSessionStore::open(dir, key).unwrap();
    let authorizer = SrpAuthorizer::builder(
        info(client),
        UserCredentials::new("alice", PASSWORD),
        environment(server, client),
    )
    .session_store(store)
    .challenge_handler(move |c: &Challenge| {
        (c.name() == SOFTWARE_TOKEN_MFA).then(|| {
            counted.fetch_add(1, Ordering::SeqCst);
            ChallengeResponses::totp(CODE)
        })
    })
    .build()
    .unwrap();
    (authorizer, codes)
}

async fn stored(
    server: &CognitoServer,
    dir: &PathBuf,
    client: &str,
) -> Option<en_auth_srp::StoredSession> {
    FileSessionStore::open(dir, &KEY)
        .unwrap()
        .load(&key(server, client))
        .await
        .unwrap()
}

/// Renews through the authorizer (a refresh, or a login if the refresh token is refused).
async fn renew(a: &SrpAuthorizer) {
    let generation = a.cached_token().unwrap().generation();
    a.invalidate(generation);
    a.access_token().await.unwrap();
}

#[tokio::test]
async fn a_new_authorizer_over_the_same_store_renews_the_session_without_a_code() {
    let server = server().await;
    for client in ["public", "confidential", "rotating"] {
        server.forget_devices("alice");
        let dir = temp_dir(client);
        let (first, codes) = authorizer(&server, client, &dir, &KEY);
        first.access_token().await.unwrap();
        assert_eq!(
            codes.load(Ordering::SeqCst),
            1,
            "{client}: the first login's code"
        );
        let session = stored(&server, &dir, client)
            .await
            .expect("the session is stored");
        let device = session.device().expect("the confirmed device is stored");
        assert_eq!(
            server.confirmed_devices("alice"),
            vec![device.device_key().to_owned()],
            "{client}"
        );
        drop(first);

        // A restart: a new authorizer over a new store in the same directory.
        let logins = server.verified_logins();
        let refreshes = server.calls("InitiateAuth") + server.calls("GetTokensFromRefreshToken");
        let (second, codes) = authorizer(&server, client, &dir, &KEY);
        second.access_token().await.unwrap();
        assert_eq!(
            codes.load(Ordering::SeqCst),
            0,
            "{client}: no code after a restart"
        );
        assert_eq!(
            server.verified_logins(),
            logins,
            "{client}: a refresh, no login"
        );
        assert_eq!(
            server.calls("InitiateAuth") + server.calls("GetTokensFromRefreshToken"),
            refreshes + 1,
            "{client}: one refresh"
        );
        assert_eq!(
            second.provider().device_key().as_deref(),
            Some(device.device_key()),
            "{client}: the stored device adopted"
        );
        drop(second);

        // The session's refresh token refused: a new process proves the stored device, and is
        // asked no code; the new refresh token is stored.
        server.revoke_refresh_tokens();
        let proofs = server.verified_device_proofs();
        let (third, codes) = authorizer(&server, client, &dir, &KEY);
        third.access_token().await.unwrap();
        assert_eq!(
            codes.load(Ordering::SeqCst),
            0,
            "{client}: the device spares the code"
        );
        assert_eq!(server.verified_logins(), logins + 1, "{client}: a login");
        assert_eq!(server.verified_device_proofs(), proofs + 1, "{client}");
        let after = stored(&server, &dir, client).await.unwrap();
        assert_ne!(
            after.refresh_token().expose_secret(),
            session.refresh_token().expose_secret(),
            "{client}: the new session stored"
        );
        drop(third);
        let (fourth, codes) = authorizer(&server, client, &dir, &KEY);
        fourth.access_token().await.unwrap();
        assert_eq!(codes.load(Ordering::SeqCst), 0, "{client}");
        assert_eq!(
            server.verified_logins(),
            logins + 1,
            "{client}: renewed, no login"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_before_it_is_used_again() {
    let server = server().await;
    let dir = temp_dir("rotation");
    let (a, _codes) = authorizer(&server, "rotating", &dir, &KEY);
    a.access_token().await.unwrap();
    let mut previous = stored(&server, &dir, "rotating").await.unwrap();
    for _ in 0..3 {
        renew(&a).await;
        // The renewal has returned: the rotated token is in the store already.
        let now = stored(&server, &dir, "rotating").await.unwrap();
        assert_ne!(
            now.refresh_token().expose_secret(),
            previous.refresh_token().expose_secret(),
            "rotated and stored"
        );
        previous = now;
    }
    // The grace period is 0: only the last rotated token is valid. A new process renews with
    // it (no login, no code).
    drop(a);
    let logins = server.verified_logins();
    let (b, codes) = authorizer(&server, "rotating", &dir, &KEY);
    b.access_token().await.unwrap();
    assert_eq!(server.verified_logins(), logins);
    assert_eq!(codes.load(Ordering::SeqCst), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_damaged_or_foreign_session_file_is_a_miss_and_a_sign_out_deletes_it() {
    let server = server().await;
    let dir = temp_dir("damaged");
    let (a, _) = authorizer(&server, "confidential", &dir, &KEY);
    a.access_token().await.unwrap();
    drop(a);
    let file = FileSessionStore::open(&dir, &KEY)
        .unwrap()
        .file(&key(&server, "confidential"));
    assert!(file.exists());
    let good = std::fs::read(&file).unwrap();

    // Another key: a miss (a login with the code), then the file is replaced under this key.
    let (b, codes) = authorizer(&server, "confidential", &dir, &[0x11; 32]);
    b.access_token().await.unwrap();
    assert_eq!(
        codes.load(Ordering::SeqCst),
        1,
        "another key's file is a miss"
    );
    assert!(
        stored(&server, &dir, "confidential").await.is_none(),
        "re-sealed under the other key"
    );
    drop(b);

    // Damaged files: a miss each, no panic.
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    for damaged in [
        Vec::new(),
        b"s1|".to_vec(),
        b"not a session".to_vec(),
        flipped,
    ] {
        std::fs::write(&file, &damaged).unwrap();
        let (c, codes) = authorizer(&server, "confidential", &dir, &KEY);
        c.access_token().await.unwrap();
        assert_eq!(codes.load(Ordering::SeqCst), 1, "a damaged file is a miss");
        assert!(
            stored(&server, &dir, "confidential").await.is_some(),
            "replaced"
        );
    }

    // A file renamed to another client's session does not open there.
    let other = FileSessionStore::open(&dir, &KEY)
        .unwrap()
        .file(&key(&server, "public"));
    std::fs::copy(&file, &other).unwrap();
    assert!(stored(&server, &dir, "public").await.is_none());

    // A sign-out revokes and deletes the stored session.
    let (d, _) = authorizer(&server, "confidential", &dir, &KEY);
    d.access_token().await.unwrap();
    let session = stored(&server, &dir, "confidential").await.unwrap();
    assert!(d.revoke().await.unwrap());
    assert!(!file.exists(), "the session file deleted");
    assert!(server.refresh_token_revoked(session.refresh_token().expose_secret()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_key_or_directory_is_a_configuration_error() {
    let dir = temp_dir("config");
    // PATH is set, and its colons are not base64; its value is not printed.
    let path = std::env::var("PATH").unwrap();
    let error = FileSessionStore::open_with_key_env(&dir, "PATH").unwrap_err();
    assert!(matches!(error, Error::Configuration(_)));
    assert!(
        error
            .to_string()
            .contains("PATH (the session key) does not hold base64"),
        "{error}"
    );
    assert!(!error.to_string().contains(&path), "{error}");
    let error =
        FileSessionStore::open_with_key_env(&dir, "EN_AUTH_TEST_SESSION_KEY_UNSET").unwrap_err();
    assert!(error.to_string().contains("is not set"), "{error}");

    let key_file = dir.with_extension("key");
    std::fs::write(&key_file, "QUFB").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = FileSessionStore::open_with_key_file(&dir, &key_file).unwrap_err();
        assert!(error.to_string().contains("open to other users"), "{error}");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let error = FileSessionStore::open_with_key_file(&dir, &key_file).unwrap_err();
    assert!(error.to_string().contains("not 32"), "{error}");
    use base64::Engine;
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode(KEY),
    )
    .unwrap();
    let store = FileSessionStore::open_with_key_file(&dir, &key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = FileSessionStore::open(&dir, &KEY).unwrap_err();
        assert!(error.to_string().contains("open to other users"), "{error}");
    }
    let _ = std::fs::remove_file(&key_file);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn session_files_hold_no_secret_in_clear() {
    let server = server().await;
    let dir = temp_dir("secrecy");
    let (a, _) = authorizer(&server, "rotating", &dir, &KEY);
    a.access_token().await.unwrap();
    renew(&a).await;
    let session = stored(&server, &dir, "rotating").await.unwrap();
    let device = session.device().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = FileSessionStore::open(&dir, &KEY)
            .unwrap()
            .file(&key(&server, "rotating"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut scan = Scan::new();
    scan.secret("the refresh token", session.refresh_token().expose_secret())
        .secret(
            "the device password",
            device.device_password().expose_secret(),
        )
        .secret("the password", PASSWORD)
        .secret("the client secret", SECRET)
        .files("the session directory", &dir)
        .debug("the stored session", &session)
        .debug("the store", &FileSessionStore::open(&dir, &KEY).unwrap());
    scan.assert_clean();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two emulators with the same pool id, app client and user (an emulator and AWS, or two
/// regions through an endpoint override): a session made at one is not resumed at the other
/// (whose refresh-token call would send it the first endpoint's refresh token), though both
/// use one store. Regression: the session key had no endpoint.
#[tokio::test]
async fn the_sessions_of_two_endpoints_are_kept_apart() {
    let (one, two) = (server().await, server().await);
    assert_ne!(one.endpoint(), two.endpoint());
    let dir = temp_dir("endpoints");
    let (first, _) = authorizer(&one, "confidential", &dir, &KEY);
    first.access_token().await.unwrap();
    drop(first);
    assert!(
        std::fs::read_dir(&dir).unwrap().count() == 1,
        "one session stored"
    );

    // The other endpoint, the same store: no refresh sent there, a login.
    let (second, codes) = authorizer(&two, "confidential", &dir, &KEY);
    second.access_token().await.unwrap();
    assert_eq!(
        two.calls("InitiateAuth") + two.calls("GetTokensFromRefreshToken"),
        two.verified_logins(),
        "no refresh at the second endpoint with the first endpoint's refresh token"
    );
    assert_eq!(two.verified_logins(), 1);
    assert_eq!(codes.load(Ordering::SeqCst), 1, "a login of its own");
    drop(second);
    // Each endpoint's session is its own file; the first is still resumed at the first.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let logins = one.verified_logins();
    let (again, codes) = authorizer(&one, "confidential", &dir, &KEY);
    again.access_token().await.unwrap();
    assert_eq!(one.verified_logins(), logins, "renewed, no login");
    assert_eq!(codes.load(Ordering::SeqCst), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
