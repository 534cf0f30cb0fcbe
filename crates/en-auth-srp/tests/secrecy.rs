//! No password (the old one, nor a new one chosen at `NEW_PASSWORD_REQUIRED`), client secret,
//! `SECRET_HASH`, MFA code (an email one-time code too), authenticator-app secret (an
//! `MFA_SETUP` enrolment's, nor its `otpauth://` URI), Cognito `Session` value or token (access, id, refresh — the first
//! ones and the renewed ones) reaches `Debug`, `Display`, an error or any error of its source
//! chain, a `tracing` event on any thread (TRACE level, spans with all their fields as they
//! close), a `log` record (reqwest's) or a panic message, over an SRP login with an MFA
//! challenge, a new-password challenge, a remembered device (its password, confirmed, sent
//! with refreshes, proved at the second login), renewals, a sign-out (`RevokeToken`, its success and
//! its refusal of a wrong client secret), a session kept in a `FileSessionStore` (its files, a
//! resumption, a damaged file), a choice-based (`USER_AUTH`) sign-in with email one-time codes
//! (the codes, a wrong one, their `Session`s), custom authentication (`CUSTOM_AUTH` with and
//! without SRP: the answers of two rounds, a wrong one, their `Session`s) and failures. The scan is
//! `en_auth_peers::secrecy`, shared by every crate's tests. (Its capture is process-wide: this
//! binary holds this test only.)

use en_auth_peers::secrecy::{Capture, Scan};
use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, FileSessionStore, SessionStore,
    SrpAuthorizer, UserCredentials,
};
use en_auth_testkit::{self as testkit, AppClient, CognitoServer, PoolUser, UserStatus};
use secrecy::ExposeSecret;

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const TEMPORARY: &str = "Temp0rary!Passw0rd";
const NEW_PASSWORD: &str = "N3w-Passw0rd!chosen";
const SECRET: &str = "app-client-secret-0123456789";
const CODE: &str = "135790";
const EMAIL_CODE: &str = "975318";
const CUSTOM_ANSWERS: [&str; 2] = ["custom-answer-one-8421", "custom-answer-two-9753"];
const WRONG_ANSWER: &str = "wrong-custom-answer-3579";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::confidential("confidential", SECRET))
        .user(PoolUser::new("alice", PASSWORD))
        .user(
            PoolUser::new("totp", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::software_token_mfa(CODE)),
        )
        .user(PoolUser::new("newbie", TEMPORARY).status(UserStatus::ForceChangePassword))
        .user(
            PoolUser::new("enrol", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::MfaSetup),
        )
        .user(
            PoolUser::new("mailed", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::email_otp(EMAIL_CODE)),
        )
        // A Session with every challenge, PASSWORD_VERIFIER's too.
        .require_session(true)
        // Remembered devices: a device secret, DEVICE_KEYs on refreshes, device proofs.
        .device_tracking_always(true)
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
    ClientInfo::new(id, SECRET)
}

/// The `SECRET_HASH` of `user` for `client_id`, computed as AWS documents it
/// (`en_auth_peers::cognito`), not by the crate.
fn secret_hash(client_id: &str, user: &str) -> String {
    en_auth_peers::cognito::secret_hash(client_id, SECRET, user)
}

/// The access, id and refresh tokens of `token`, as secrets named `what`.
fn token_secrets(scan: &mut Scan, what: &str, token: &en_auth_srp::CurrentToken) {
    scan.secret(
        format!("{what}: the access token"),
        token.secret().expose_secret(),
    );
    scan.secret(
        format!("{what}: the id token"),
        token.id_token().expect("an id token").expose_secret(),
    );
    scan.secret(
        format!("{what}: the refresh token"),
        token
            .refresh_token()
            .expect("a refresh token")
            .expose_secret(),
    );
}

#[tokio::test(flavor = "current_thread")]
async fn no_password_secret_code_session_or_token_is_shown() {
    let capture = Capture::install();
    let server = server().await;
    let mut scan = Scan::new();
    scan.secret("the password", PASSWORD)
        .secret("the temporary password", TEMPORARY)
        .secret("the new password", NEW_PASSWORD)
        .secret("the client secret", SECRET)
        .secret("the MFA code", CODE)
        .secret("the email one-time code", EMAIL_CODE)
        .secret("a wrong password", "wrong-password-xyz");
    for user in ["totp", "alice", "newbie", "enrol", "mailed"] {
        scan.secret(
            format!("the SECRET_HASH of {user}"),
            secret_hash("confidential", user),
        );
    }

    // A login with an MFA challenge, then a renewal (its refresh token), then a full login again
    // (the refresh token refused): every token of each is scanned for.
    let a = SrpAuthorizer::builder(
        client("confidential"),
        UserCredentials::new("totp", PASSWORD),
        environment(&server),
    )
    .challenge_handler(|_: &Challenge| Some(ChallengeResponses::totp(CODE)))
    .build()
    .unwrap();
    let token = a.access_token().await.unwrap();
    token_secrets(&mut scan, "the first login", &token);
    scan.debug("the token", &token)
        .debug("the token's Token", &*token)
        .debug("the authorizer", &a);
    let generation = token.generation();
    drop(token);
    a.invalidate(generation);
    let renewed = a.access_token().await.unwrap();
    scan.secret(
        "the renewal: the access token",
        renewed.secret().expose_secret(),
    );
    if let Some(id) = renewed.id_token() {
        scan.secret("the renewal: the id token", id.expose_secret());
    }
    scan.debug("the renewed token", &renewed);
    let generation = renewed.generation();
    drop(renewed);
    server.revoke_refresh_tokens();
    a.invalidate(generation);
    let again = a.access_token().await.unwrap();
    token_secrets(&mut scan, "the second login", &again);
    assert_eq!(
        server.verified_device_proofs(),
        1,
        "the second login proved the device"
    );
    let device = a
        .provider()
        .remembered_device()
        .expect("a remembered device");
    scan.secret(
        "the device password",
        device.device_password().expose_secret(),
    )
    .debug("the remembered device", &device);
    let refresh_token = again.refresh_token().cloned().unwrap();
    drop(again);

    // A sign-out refused (the wrong client secret: the secret and the refresh token are in the
    // request), then one that revokes.
    let wrong_secret = SrpAuthorizer::new(
        ClientInfo::new("confidential", "wrong-client-secret-987"),
        UserCredentials::new("totp", PASSWORD),
        environment(&server),
    )
    .unwrap();
    scan.secret("a wrong client secret", "wrong-client-secret-987");
    let e = wrong_secret
        .provider()
        .revoke_token(&refresh_token)
        .await
        .unwrap_err();
    scan.error("a refused revocation's error", &e);
    assert!(
        a.revoke().await.unwrap(),
        "the session's refresh token revoked"
    );
    assert!(server.refresh_token_revoked(refresh_token.expose_secret()));
    scan.debug("the signed-out authorizer", &a);

    // NEW_PASSWORD_REQUIRED: the temporary password, then the new one.
    let newbie = SrpAuthorizer::builder(
        client("confidential"),
        UserCredentials::new("newbie", TEMPORARY),
        environment(&server),
    )
    .challenge_handler(|c: &Challenge| {
        (c.name() == "NEW_PASSWORD_REQUIRED")
            .then(|| ChallengeResponses::new_password(NEW_PASSWORD))
    })
    .build()
    .unwrap();
    let token = newbie.access_token().await.unwrap();
    assert_eq!(server.user_status("newbie"), Some(UserStatus::Confirmed));
    token_secrets(&mut scan, "the new password's login", &token);
    scan.debug("the new password's authorizer", &newbie);
    drop(token);

    // A session that survives a restart (FileSessionStore): a login, a new authorizer that
    // renews the stored session, then a damaged file (a miss, logged) and a new login.
    let dir = std::env::temp_dir().join(format!("en-auth-secrecy-sessions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let stored_authorizer = || {
        SrpAuthorizer::builder(
            client("confidential"),
            UserCredentials::new("totp", PASSWORD),
            environment(&server),
        )
        .challenge_handler(|_: &Challenge| Some(ChallengeResponses::totp(CODE)))
        .session_store(FileSessionStore::open(&dir, &[0x42; 32]).unwrap())
        .build()
        .unwrap()
    };
    let first = stored_authorizer();
    let token = first.access_token().await.unwrap();
    token_secrets(&mut scan, "the stored session's login", &token);
    drop(token);
    let key = first.provider().session_key().clone();
    drop(first);
    let store = FileSessionStore::open(&dir, &[0x42; 32]).unwrap();
    let stored = store.load(&key).await.unwrap().expect("a stored session");
    scan.secret(
        "the stored refresh token",
        stored.refresh_token().expose_secret(),
    )
    .secret(
        "the stored device password",
        stored.device().unwrap().device_password().expose_secret(),
    )
    .debug("the stored session", &stored)
    .debug("the session store", &store)
    .files("the session files", &dir);
    let resumed = stored_authorizer();
    let token = resumed.access_token().await.unwrap();
    token_secrets(&mut scan, "the resumed session", &token);
    drop(token);
    scan.debug("the resumed authorizer", &resumed);
    drop(resumed);
    std::fs::write(store.file(&key), b"s1|damaged-session-file-bytes").unwrap();
    let again = stored_authorizer();
    let token = again.access_token().await.unwrap();
    token_secrets(&mut scan, "the login after a damaged file", &token);
    drop(token);
    let stored = store.load(&key).await.unwrap().expect("replaced");
    scan.secret(
        "the replaced refresh token",
        stored.refresh_token().expose_secret(),
    )
    .files("the replaced session files", &dir);
    let _ = std::fs::remove_dir_all(&dir);

    // MFA_SETUP: an authenticator app enrolled (its secret handed to the handler as an
    // otpauth:// URI, the first code computed from it), after a wrong first code. The codes
    // themselves are random six-digit numbers that a log could hold by chance (a timestamp):
    // the secret they derive from is scanned.
    let enrolled = std::sync::Arc::new(std::sync::Mutex::new(None::<Challenge>));
    let wrong_first = |c: &Challenge| {
        (c.name() == en_auth_srp::MFA_SETUP).then(|| ChallengeResponses::totp("1234567"))
    };
    let e = SrpAuthorizer::builder(
        client("confidential"),
        UserCredentials::new("enrol", PASSWORD),
        environment(&server),
    )
    .challenge_handler(wrong_first)
    .build()
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    scan.error("a refused first code's error", &e);
    let keep = std::sync::Arc::clone(&enrolled);
    let enrol = SrpAuthorizer::builder(
        client("confidential"),
        UserCredentials::new("enrol", PASSWORD),
        environment(&server),
    )
    .challenge_handler(move |c: &Challenge| {
        let uri = c.otpauth_uri()?.expose_secret().to_owned();
        *keep.lock().unwrap() = Some(c.clone());
        let code = totp_rs::TOTP::from_url(&uri)
            .ok()?
            .generate_current()
            .ok()?;
        Some(ChallengeResponses::totp(code))
    })
    .build()
    .unwrap();
    let token = enrol.access_token().await.unwrap();
    token_secrets(&mut scan, "the enrolment's login", &token);
    drop(token);
    let challenge = enrolled.lock().unwrap().take().expect("MFA_SETUP answered");
    let uri = challenge.otpauth_uri().unwrap().expose_secret().to_owned();
    let secret = url::Url::parse(&uri)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    scan.secret("the authenticator-app secret", &secret)
        .secret("the otpauth:// URI", &uri)
        .debug("the MFA_SETUP challenge", &challenge)
        .debug("the enrolling authorizer", &enrol);
    drop(enrol);

    // EMAIL_OTP as an MFA factor.
    let mailed = SrpAuthorizer::builder(
        client("confidential"),
        UserCredentials::new("mailed", PASSWORD),
        environment(&server),
    )
    .challenge_handler(|c: &Challenge| {
        (c.name() == en_auth_srp::EMAIL_OTP).then(|| ChallengeResponses::email_otp(EMAIL_CODE))
    })
    .build()
    .unwrap();
    let token = mailed.access_token().await.unwrap();
    token_secrets(&mut scan, "the email code's login", &token);
    drop(token);

    // Failures: a wrong password, an unanswered challenge.
    let wrong = SrpAuthorizer::new(
        client("confidential"),
        UserCredentials::new("alice", "wrong-password-xyz"),
        environment(&server),
    )
    .unwrap();
    let e = wrong.access_token().await.unwrap_err();
    scan.error("a wrong password's error", &e);
    let unanswered = SrpAuthorizer::new(
        client("confidential"),
        UserCredentials::new("totp", PASSWORD),
        environment(&server),
    )
    .unwrap();
    let e = unanswered.access_token().await.unwrap_err();
    scan.error("an unanswered challenge's error", &e);

    scan.debug("challenge responses", &ChallengeResponses::totp(CODE))
        .debug(
            "email-code responses",
            &ChallengeResponses::email_otp(EMAIL_CODE),
        )
        .debug(
            "new-password responses",
            &ChallengeResponses::new_password(NEW_PASSWORD),
        )
        .debug("user credentials", &UserCredentials::new("alice", PASSWORD));

    // Choice-based sign-in (USER_AUTH): one-time codes by email, a right one and a wrong one,
    // through a handler; the codes, the wrong code and the OTP sessions are secrets.
    let otp_server = std::sync::Arc::new(
        CognitoServer::builder()
            .pool_id(POOL)
            .client(AppClient::confidential("confidential", SECRET))
            .user(PoolUser::new("otp", PASSWORD).email("otp@example.com"))
            .start()
            .await,
    );
    let otp_environment = Environment::new("emulator")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&otp_server.endpoint())
        .unwrap()
        .with_auth_flow("USER_AUTH")
        .with_preferred_challenge("EMAIL_OTP");
    for wrong in [None, Some("24680135")] {
        let emulator = std::sync::Arc::clone(&otp_server);
        let a = SrpAuthorizer::builder(
            client("confidential"),
            UserCredentials::new("otp", PASSWORD),
            otp_environment.clone(),
        )
        .challenge_handler(move |c: &Challenge| {
            (c.name() == en_auth_srp::EMAIL_OTP).then(|| {
                ChallengeResponses::email_otp(
                    wrong.map_or_else(|| emulator.last_one_time_code().unwrap(), str::to_owned),
                )
            })
        })
        .build()
        .unwrap();
        match wrong {
            None => {
                let token = a.access_token().await.unwrap();
                token_secrets(&mut scan, "the email-code login", &token);
                scan.debug("the email-code login's token", &token);
            }
            Some(code) => {
                let e = a.access_token().await.unwrap_err();
                scan.secret("a wrong email code", code);
                scan.error("a wrong email code's error", &e);
            }
        }
        scan.debug("the email-code authorizer", &a);
    }
    let codes = otp_server.one_time_codes();
    assert_eq!(codes.len(), 2, "two codes sent");
    for (i, code) in codes.iter().enumerate() {
        scan.secret(format!("email code {i}"), &code.code);
        scan.debug("a one-time code", code);
    }
    scan.debug(
        "email-code responses",
        &ChallengeResponses::email_otp(&codes[0].code),
    );
    for (i, session) in otp_server.sessions_issued().iter().enumerate() {
        scan.secret(format!("USER_AUTH Session {i}"), session);
    }

    // Custom authentication (CUSTOM_AUTH), with and without SRP: the answers of two rounds,
    // a wrong answer, and the custom rounds' Sessions are secrets; the public challenge
    // parameters are not.
    let custom_server = CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::confidential("confidential", SECRET))
        .user(
            PoolUser::new("custom", PASSWORD)
                .custom_challenge(CUSTOM_ANSWERS[0], [("question", "first?")])
                .custom_challenge(CUSTOM_ANSWERS[1], [("question", "second?")]),
        )
        .start()
        .await;
    scan.secret("a custom answer", CUSTOM_ANSWERS[0])
        .secret("another custom answer", CUSTOM_ANSWERS[1])
        .secret("a wrong custom answer", WRONG_ANSWER);
    for (flow, answers) in [
        ("CUSTOM_WITH_SRP", CUSTOM_ANSWERS),
        ("CUSTOM_WITHOUT_SRP", CUSTOM_ANSWERS),
        ("CUSTOM_WITH_SRP", [CUSTOM_ANSWERS[0], WRONG_ANSWER]),
    ] {
        let environment = Environment::new("emulator")
            .with_user_pool_id(POOL)
            .with_cognito_endpoint(&custom_server.endpoint())
            .unwrap()
            .with_auth_flow(flow);
        let round = std::sync::atomic::AtomicUsize::new(0);
        let a = SrpAuthorizer::builder(
            client("confidential"),
            UserCredentials::new("custom", PASSWORD),
            environment,
        )
        .challenge_handler(move |c: &Challenge| {
            (c.name() == en_auth_srp::CUSTOM_CHALLENGE).then(|| {
                let i = round.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ChallengeResponses::answer(answers[i % 2])
            })
        })
        .build()
        .unwrap();
        match a.access_token().await {
            Ok(token) => {
                token_secrets(&mut scan, "a custom-auth login", &token);
                scan.debug("a custom-auth token", &token);
            }
            Err(e) => {
                scan.error("a wrong custom answer's error", &e);
            }
        }
        scan.debug("a custom-auth authorizer", &a);
    }
    assert_eq!(custom_server.custom_answers_accepted(), 5);
    assert_eq!(custom_server.custom_answers_refused(), 1);
    scan.debug(
        "custom-answer responses",
        &ChallengeResponses::answer(CUSTOM_ANSWERS[0]),
    );
    scan.debug(
        "the emulator's custom user",
        &PoolUser::new("custom", PASSWORD).custom_challenge(CUSTOM_ANSWERS[0], [("q", "?")]),
    );
    scan.debug(
        "a scripted custom challenge",
        &testkit::ScriptedChallenge::custom(CUSTOM_ANSWERS[1]),
    );
    for (i, session) in custom_server.sessions_issued().iter().enumerate() {
        scan.secret(format!("CUSTOM_AUTH Session {i}"), session);
    }

    // Every Session the emulator handed out (PASSWORD_VERIFIER's, the MFA's, the new
    // password's), each a secret.
    let sessions = server.sessions_issued();
    assert!(sessions.len() >= 5, "{} sessions", sessions.len());
    for (i, session) in sessions.iter().enumerate() {
        scan.secret(format!("Session {i}"), session);
    }

    let logs = capture.events();
    assert!(logs.contains("token obtained"), "the run was logged");
    assert!(
        logs.contains("stored session renewed"),
        "the resumption was logged"
    );
    assert!(
        logs.contains("a session file does not open"),
        "the damaged file was logged"
    );
    // The token requests' spans are scanned with all their fields (as they closed), on
    // success and on failure.
    for field in [
        "en_auth.token_request",
        "close",
        "outcome=\"ok\"",
        "outcome=\"error\"",
        "error.type=\"invalid_credentials\"",
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=400",
    ] {
        assert!(logs.contains(field), "{field} not in the logs: {logs}");
    }
    scan.logs(capture);
    scan.assert_clean();
}
