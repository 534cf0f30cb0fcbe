//! Remembered devices against the testkit's Cognito emulator with device tracking "Always" and
//! a user who must answer a TOTP code: the first login answers it and confirms the device
//! (`ConfirmDevice`, a verifier the emulator stores); refreshes send its `DEVICE_KEY`; later
//! logins prove the device (`DEVICE_SRP_AUTH` → `DEVICE_PASSWORD_VERIFIER`, verified by the
//! emulator against the stored verifier) and are asked for no code. A forgotten device, or one
//! whose proof is refused, falls back to a full login (the code again) and a new device; a
//! client that could not confirm its device has its refresh token refused and logs in again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, SrpAuthorizer, UserCredentials,
    SOFTWARE_TOKEN_MFA,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser, ScriptedChallenge};

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";
const CODE: &str = "123456";

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

/// An authorizer whose handler answers the TOTP code and counts the codes asked.
fn authorizer(
    server: &CognitoServer,
    client: &str,
    remember: bool,
) -> (SrpAuthorizer, Arc<AtomicUsize>) {
    let info = match client {
        "public" => ClientInfo::public(client),
        _ => ClientInfo::new(client, SECRET),
    };
    let mut environment = Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&server.endpoint())
        .unwrap();
    if client == "rotating" {
        environment = environment.with_refresh_token_rotation(true);
    }
    let codes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&codes);
    let authorizer =
        SrpAuthorizer::builder(info, UserCredentials::new("alice", PASSWORD), environment)
            .remember_devices(remember)
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

/// Renews through the authorizer (a refresh, or a login if the refresh token is refused).
async fn renew(a: &SrpAuthorizer) {
    let generation = a.cached_token().unwrap().generation();
    a.invalidate(generation);
    a.access_token().await.unwrap();
}

#[tokio::test]
async fn the_first_login_answers_mfa_and_later_logins_and_refreshes_ask_no_code() {
    let server = server().await;
    for client in ["public", "confidential", "rotating"] {
        server.forget_devices("alice");
        let (a, codes) = authorizer(&server, client, true);
        a.access_token().await.unwrap();
        assert_eq!(
            codes.load(Ordering::SeqCst),
            1,
            "{client}: the first login's code"
        );
        let devices = server.confirmed_devices("alice");
        assert_eq!(devices.len(), 1, "{client}: the device confirmed");
        assert_eq!(
            a.provider().device_key().as_ref(),
            Some(&devices[0]),
            "{client}"
        );
        assert_eq!(
            server.device_remembered(&devices[0]),
            Some(true),
            "{client}"
        );

        // Refreshes send the DEVICE_KEY (else the emulator, like Cognito, refuses the device's
        // refresh token and a login with a code would follow).
        let logins = server.verified_logins();
        for _ in 0..2 {
            renew(&a).await;
        }
        assert_eq!(
            server.verified_logins(),
            logins,
            "{client}: refreshes, no login"
        );

        // A later login (the session ended) proves the device and is asked no code.
        let proofs = server.verified_device_proofs();
        server.revoke_refresh_tokens();
        renew(&a).await;
        assert_eq!(server.verified_logins(), logins + 1, "{client}: a login");
        assert_eq!(
            server.verified_device_proofs(),
            proofs + 1,
            "{client}: the device's proof"
        );
        assert_eq!(codes.load(Ordering::SeqCst), 1, "{client}: no second code");
        assert_eq!(
            server.confirmed_devices("alice"),
            devices,
            "{client}: the same device"
        );
        // ... and its refresh token is the device's too.
        renew(&a).await;
        assert_eq!(
            server.verified_logins(),
            logins + 1,
            "{client}: then a refresh"
        );
    }
}

#[tokio::test]
async fn a_forgotten_or_refused_device_falls_back_to_a_full_login_and_a_new_device() {
    let server = server().await;
    let (a, codes) = authorizer(&server, "confidential", false);
    a.access_token().await.unwrap();
    let first = server.confirmed_devices("alice");
    assert_eq!(first.len(), 1);
    assert_eq!(
        server.device_remembered(&first[0]),
        None,
        "not asked to remember"
    );

    // Forgotten by Cognito: DEVICE_SRP_AUTH answers "Device does not exist."; the login starts
    // again without the device, answers the code, confirms a new device.
    server.forget_devices("alice");
    server.revoke_refresh_tokens();
    renew(&a).await;
    assert_eq!(codes.load(Ordering::SeqCst), 2, "the code again");
    let second = server.confirmed_devices("alice");
    assert_eq!(second.len(), 1);
    assert_ne!(second, first, "a new device");

    // Its proof refused (a wrong answer: the stored verifier is another password's): the
    // failure is counted, and the login falls back the same way.
    assert!(server.scramble_device_verifier(&second[0]));
    let failed = server.failed_device_proofs();
    server.revoke_refresh_tokens();
    renew(&a).await;
    assert_eq!(
        server.failed_device_proofs(),
        failed + 1,
        "the wrong proof refused"
    );
    assert_eq!(codes.load(Ordering::SeqCst), 3, "the code again");
    let third = server.confirmed_devices("alice");
    assert!(third.len() == 2 && !third.contains(&first[0]), "{third:?}");
    assert_eq!(
        a.provider().device_key().as_ref(),
        third.iter().find(|k| **k != second[0])
    );

    // With the new device, the next login asks no code.
    server.revoke_refresh_tokens();
    renew(&a).await;
    assert_eq!(codes.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_device_not_confirmed_has_its_refresh_token_refused_and_logs_in_again() {
    let server = server().await;
    server.fail_next(
        "ConfirmDevice",
        "InternalErrorException",
        "Internal error",
        1,
    );
    let (a, codes) = authorizer(&server, "public", false);
    a.access_token().await.unwrap();
    assert!(server.confirmed_devices("alice").is_empty());
    assert_eq!(a.provider().device_key(), None);
    // The refresh token is the unconfirmed device's: refused ("Invalid Refresh Token"), so a
    // full login (the code again), which confirms a device this time.
    let logins = server.verified_logins();
    renew(&a).await;
    assert_eq!(server.verified_logins(), logins + 1);
    assert_eq!(codes.load(Ordering::SeqCst), 2);
    assert_eq!(server.confirmed_devices("alice").len(), 1);
}
