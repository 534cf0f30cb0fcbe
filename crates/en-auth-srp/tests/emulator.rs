//! `SrpAuthorizer` against the testkit's Cognito emulator, which verifies SRP proofs
//! independently of our client code (and is itself checked against amazon-cognito-identity-js):
//! every scenario of the ministack tests, plus every challenge, refresh-token rotation, the
//! fallback to a full login, throttling and the secrecy of everything printed.

use std::sync::Arc;
use std::time::Duration;

use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, Error, RenewalPolicy, SrpAuthorizer,
    UserCredentials, CUSTOM_CHALLENGE, DEVICE_SRP_AUTH, MFA_SETUP, NEW_PASSWORD_REQUIRED,
    SELECT_MFA_TYPE, SMS_MFA, SOFTWARE_TOKEN_MFA,
};
use en_auth_testkit::{self as testkit, AppClient, CognitoServer, PoolUser, Script, UserStatus};
use secrecy::ExposeSecret;

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .client(AppClient::confidential("confidential", SECRET))
        .client(AppClient::public("no-srp").without_srp())
        .client(AppClient::confidential("rotating", SECRET).refresh_token_rotation(0))
        .user(PoolUser::new("alice", PASSWORD).email("alice@example.com"))
        .user(PoolUser::new("unconfirmed", PASSWORD).status(UserStatus::Unconfirmed))
        .user(PoolUser::new("reset", PASSWORD).status(UserStatus::ResetRequired))
        .user(PoolUser::new("newbie", "Temp0rary!").status(UserStatus::ForceChangePassword))
        .user(
            PoolUser::new("totp", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::software_token_mfa("123456")),
        )
        .user(
            PoolUser::new("sms", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::sms_mfa("654321")),
        )
        .user(PoolUser::new("choosy", PASSWORD).challenge_after_password(
            testkit::ScriptedChallenge::SelectMfaType {
                sms_code: "111111".into(),
                totp_code: "222222".into(),
            },
        ))
        .user(
            PoolUser::new("custom", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::custom("42")),
        )
        .user(
            PoolUser::new("setup", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::MfaSetup),
        )
        .user(
            PoolUser::new("device", PASSWORD)
                .challenge_after_password(testkit::ScriptedChallenge::DeviceSrpAuth),
        )
        .access_token_lifetime_secs(3)
        .id_token_lifetime_secs(3)
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

fn auth(server: &CognitoServer, client_id: &str, user: &str, password: &str) -> SrpAuthorizer {
    SrpAuthorizer::new(
        client(client_id),
        UserCredentials::new(user, password),
        environment(server),
    )
    .unwrap()
}

fn with_handler(
    server: &CognitoServer,
    user: &str,
    handler: impl en_auth_srp::ChallengeHandler,
) -> SrpAuthorizer {
    SrpAuthorizer::builder(
        client("public"),
        UserCredentials::new(user, PASSWORD),
        environment(server),
    )
    .challenge_handler(handler)
    .build()
    .unwrap()
}

#[tokio::test]
async fn login_by_name_and_alias_with_and_without_a_secret_and_a_protected_call() {
    let server = server().await;
    for (client_id, user) in [
        ("public", "alice"),
        ("confidential", "alice"),
        ("public", "alice@example.com"),
        ("confidential", "alice@example.com"),
    ] {
        let a = auth(&server, client_id, user, PASSWORD);
        let token = a
            .access_token()
            .await
            .unwrap_or_else(|e| panic!("{client_id} / {user}: {e}"));
        assert_eq!(
            server
                .access_token_owner(token.secret().expose_secret())
                .as_deref(),
            Some("alice")
        );
        assert!(token.id_token().is_some() && token.refresh_token().is_some());
    }
    assert_eq!(server.verified_logins(), 4);

    let a = auth(&server, "public", "alice", PASSWORD);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(a)
        .build();
    let response = http.get(server.resource_url()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.resource_authorized(), 1);
}

#[tokio::test]
async fn a_session_returned_with_the_challenge_is_sent_back() {
    let server = CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .user(PoolUser::new("alice", PASSWORD))
        .require_session(true)
        .start()
        .await;
    auth(&server, "public", "alice", PASSWORD)
        .access_token()
        .await
        .unwrap();
    assert_eq!(server.verified_logins(), 1);
}

#[tokio::test]
async fn errors_map_onto_their_kinds() {
    let server = server().await;
    let err = |client_id: &'static str, user: &'static str, password: &'static str| {
        let a = auth(&server, client_id, user, password);
        async move { a.access_token().await.unwrap_err() }
    };
    let e = err("public", "alice", "wrong-password").await;
    assert!(
        matches!(&e, Error::InvalidCredentials(c) if c.user_name == "alice" && c.message.contains("Incorrect")),
        "{e:?}"
    );
    assert_eq!(
        server.failed_proofs(),
        1,
        "the wrong proof was checked and refused"
    );
    let e = err("public", "nobody", PASSWORD).await;
    assert!(matches!(&e, Error::InvalidCredentials(_)), "{e:?}");
    let e = err("unknown-client", "alice", PASSWORD).await;
    assert!(
        matches!(&e, Error::InvalidClient(c) if c.client_id == "unknown-client"),
        "{e:?}"
    );
    let e = err("no-srp", "alice", PASSWORD).await;
    assert!(matches!(&e, Error::InvalidClient(_)), "{e:?}");
    let e = err("public", "unconfirmed", PASSWORD).await;
    assert!(
        matches!(&e, Error::UserNotConfirmed(a) if a.code == "UserNotConfirmedException"),
        "{e:?}"
    );
    let e = err("public", "reset", PASSWORD).await;
    assert!(matches!(&e, Error::PasswordResetRequired(_)), "{e:?}");
    let wrong_secret = SrpAuthorizer::new(
        ClientInfo::new("confidential", "not-the-secret"),
        UserCredentials::new("alice", PASSWORD),
        environment(&server),
    )
    .unwrap();
    let e = wrong_secret.access_token().await.unwrap_err();
    assert!(matches!(&e, Error::InvalidClient(_)), "{e:?}");
    let no_secret = SrpAuthorizer::new(
        ClientInfo::public("confidential"),
        UserCredentials::new("alice", PASSWORD),
        environment(&server),
    )
    .unwrap();
    let e = no_secret.access_token().await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidClient(c) if c.message.contains("SECRET_HASH")),
        "{e:?}"
    );
    server.fail_next(
        "RespondToAuthChallenge",
        "NotAuthorizedException",
        "Password attempts exceeded",
        1,
    );
    let e = err("public", "alice", PASSWORD).await;
    assert!(matches!(&e, Error::TooManyFailedAttempts(_)), "{e:?}");
}

#[tokio::test]
async fn throttling_and_internal_errors_are_retried() {
    let server = server().await;
    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        1,
    );
    server.fail_next(
        "RespondToAuthChallenge",
        "InternalErrorException",
        "Internal error",
        1,
    );
    let a = SrpAuthorizer::builder(
        client("public"),
        UserCredentials::new("alice", PASSWORD),
        environment(&server),
    )
    .renewal_policy(
        RenewalPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    )
    .build()
    .unwrap();
    a.access_token().await.unwrap();
    assert_eq!(a.token_requests(), 3, "two failed attempts, then a login");
    assert_eq!(server.verified_logins(), 1);

    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        10,
    );
    let b = SrpAuthorizer::builder(
        client("public"),
        UserCredentials::new("alice", PASSWORD),
        environment(&server),
    )
    .renewal_policy(
        RenewalPolicy::default()
            .with_max_attempts(2)
            .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    )
    .build()
    .unwrap();
    let e = b.access_token().await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(
        matches!(&e, Error::Authorization(a) if a.code.as_deref() == Some("TooManyRequestsException"))
    );
    assert_eq!(b.token_requests(), 2);
}

#[tokio::test]
async fn sessions_are_renewed_with_refresh_tokens_and_fall_back_to_a_login() {
    let server = server().await;
    let a = auth(&server, "confidential", "alice@example.com", PASSWORD);
    let first = a.access_token().await.unwrap();
    let (generation, refresh) = (
        first.generation(),
        first.refresh_token().unwrap().expose_secret().to_owned(),
    );
    drop(first);
    a.invalidate(generation);
    let second = a.access_token().await.unwrap();
    assert_eq!(
        server.verified_logins(),
        1,
        "renewed by REFRESH_TOKEN_AUTH, not a login"
    );
    assert_eq!(server.calls("InitiateAuth"), 2);
    assert_eq!(
        second.refresh_token().unwrap().expose_secret(),
        refresh,
        "the refresh token is kept"
    );
    let generation = second.generation();
    drop(second);

    // The refresh token is revoked: the refresh is refused, and a full login takes over.
    server.revoke_refresh_tokens();
    a.invalidate(generation);
    let third = a.access_token().await.unwrap();
    assert_eq!(server.verified_logins(), 2, "fell back to a full login");
    assert_ne!(third.refresh_token().unwrap().expose_secret(), refresh);
    assert_eq!(
        a.token_requests(),
        4,
        "login, refresh, refused refresh, login"
    );
}

#[tokio::test]
async fn rotated_refresh_tokens_are_adopted() {
    let server = server().await;
    let a = SrpAuthorizer::new(
        client("rotating"),
        UserCredentials::new("alice", PASSWORD),
        environment(&server).with_refresh_token_rotation(true),
    )
    .unwrap();
    let mut refresh = a
        .access_token()
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .expose_secret()
        .to_owned();
    for _ in 0..3 {
        let generation = a.access_token().await.unwrap().generation();
        a.invalidate(generation);
        let token = a.access_token().await.unwrap();
        let rotated = token.refresh_token().unwrap().expose_secret().to_owned();
        assert_ne!(rotated, refresh, "a new refresh token each time");
        refresh = rotated;
    }
    assert_eq!(server.calls("GetTokensFromRefreshToken"), 3);
    assert_eq!(
        server.verified_logins(),
        1,
        "every renewal by rotation, none by login"
    );
}

#[tokio::test]
async fn a_refresh_refused_in_the_middle_of_a_burst_costs_one_refresh_and_one_login() {
    let server = server().await;
    let a = auth(&server, "public", "alice", PASSWORD);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(a.clone())
        .build();
    assert_eq!(
        http.get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.revoke_refresh_tokens();
    server.revoke_access_tokens();
    let requests = (0..200).map(|_| http.get(server.resource_url()).send());
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    assert_eq!(
        server.calls("InitiateAuth"),
        3,
        "login, then one refused refresh and one login"
    );
    assert_eq!(server.verified_logins(), 2);
    assert_eq!(a.token_requests(), 3);
}

#[tokio::test]
async fn every_challenge_is_answered_by_the_handler_or_named_in_the_error() {
    let server = server().await;
    let handler = |c: &Challenge| match c.name() {
        SOFTWARE_TOKEN_MFA => Some(ChallengeResponses::totp(if c.user_name() == "choosy" {
            "222222"
        } else {
            "123456"
        })),
        SMS_MFA => Some(ChallengeResponses::sms("654321")),
        SELECT_MFA_TYPE => Some(ChallengeResponses::answer("SOFTWARE_TOKEN_MFA")),
        CUSTOM_CHALLENGE => Some(ChallengeResponses::answer("42")),
        NEW_PASSWORD_REQUIRED => Some(ChallengeResponses::new_password("N3w-Passw0rd!chosen")),
        _ => None,
    };
    let handler = Arc::new(handler);
    for user in ["totp", "sms", "choosy", "custom"] {
        let h = Arc::clone(&handler);
        let a = with_handler(&server, user, move |c: &Challenge| h(c));
        a.access_token()
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
    }
    // NEW_PASSWORD_REQUIRED: the temporary password, then the new one.
    let h = Arc::clone(&handler);
    let a = SrpAuthorizer::builder(
        client("public"),
        UserCredentials::new("newbie", "Temp0rary!"),
        environment(&server),
    )
    .challenge_handler(move |c: &Challenge| h(c))
    .build()
    .unwrap();
    let generation = a.access_token().await.unwrap().generation();
    assert_eq!(server.user_status("newbie"), Some(UserStatus::Confirmed));
    // A later full login (the refresh token refused) uses the new password.
    server.revoke_refresh_tokens();
    a.invalidate(generation);
    a.access_token().await.unwrap();
    assert_eq!(server.failed_proofs(), 0, "the new password was used");

    // A wrong code is the user's credentials failing.
    let a = with_handler(&server, "totp", |_: &Challenge| {
        Some(ChallengeResponses::totp("000000"))
    });
    let e = a.access_token().await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidCredentials(c) if c.message.contains("CodeMismatch")),
        "{e:?}"
    );

    // No handler, or one that declines: the challenge is named.
    for (user, challenge) in [
        ("totp", SOFTWARE_TOKEN_MFA),
        ("sms", SMS_MFA),
        ("choosy", SELECT_MFA_TYPE),
        ("custom", CUSTOM_CHALLENGE),
    ] {
        let e = auth(&server, "public", user, PASSWORD)
            .access_token()
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Challenge(c) if c.challenge == challenge && c.user_name == user),
            "{user}: {e:?}"
        );
    }
    // MFA_SETUP left unanswered by the handler, and DEVICE_SRP_AUTH without a device: named.
    for (user, challenge) in [("setup", MFA_SETUP), ("device", DEVICE_SRP_AUTH)] {
        let h = Arc::clone(&handler);
        let a = with_handler(&server, user, move |c: &Challenge| h(c));
        let e = a.access_token().await.unwrap_err();
        assert!(
            matches!(&e, Error::Challenge(c) if c.challenge == challenge),
            "{user}: {e:?}"
        );
    }
    // A challenge the server puts in the way mid-login, by script.
    server.script(
        "RespondToAuthChallenge",
        Script::challenge(testkit::ScriptedChallenge::software_token_mfa("123456")),
        1,
    );
    let h = Arc::clone(&handler);
    with_handler(&server, "alice", move |c: &Challenge| h(c))
        .access_token()
        .await
        .unwrap();
}

/// The Cognito side of the fault matrix (TESTING.md): each fault ends in its typed error or a
/// token, with the number of Cognito calls it cost, and nothing hangs.
#[tokio::test]
async fn cognito_faults_end_in_typed_errors() {
    let server = server().await;
    let quick = || {
        RenewalPolicy::default()
            .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
            .with_failure_cooldown(Duration::ZERO, Duration::ZERO)
    };
    let build = |timeout: Duration| {
        SrpAuthorizer::builder(
            client("public"),
            UserCredentials::new("alice", PASSWORD),
            environment(&server),
        )
        .timeout(timeout)
        .renewal_policy(quick())
        .build()
        .unwrap()
    };
    let deadline = Duration::from_secs(20);

    // An HTML 502 from a proxy in front of Cognito, three times: retried, then reported.
    server.script(
        "InitiateAuth",
        Script::raw(502, "<html>Bad gateway</html>"),
        3,
    );
    let e = tokio::time::timeout(deadline, build(Duration::from_secs(5)).access_token())
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(
        matches!(&e, Error::Authorization(a) if a.status_code == 502),
        "{e:?}"
    );

    // A 200 whose body is not JSON: not retried.
    let before = server.calls("InitiateAuth");
    server.script("InitiateAuth", Script::raw(200, "{\"ChallengeName\": "), 1);
    let e = tokio::time::timeout(deadline, build(Duration::from_secs(5)).access_token())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(&e, Error::InvalidResponse(_)), "{e:?}");
    assert_eq!(server.calls("InitiateAuth") - before, 1);

    // Cognito answers too slowly: the call times out, is retried, then reported.
    server.script("InitiateAuth", Script::Delay(Duration::from_secs(3)), 3);
    let e = tokio::time::timeout(deadline, build(Duration::from_millis(200)).access_token())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Transport(t) if t.kind == en_auth_srp::TransportErrorKind::Timeout),
        "{e:?}"
    );

    // Throttled twice, then served: one login.
    server.clear_scripts();
    server.fail_next(
        "InitiateAuth",
        "TooManyRequestsException",
        "Rate exceeded",
        2,
    );
    let a = build(Duration::from_secs(5));
    tokio::time::timeout(deadline, a.access_token())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.token_requests(), 3);

    // Nobody listening.
    let port = en_auth_peers::support::closed_port();
    let closed = Environment::new("closed")
        .with_user_pool_id(POOL)
        .with_cognito_endpoint(&format!("http://127.0.0.1:{port}"))
        .unwrap();
    let a = SrpAuthorizer::builder(
        client("public"),
        UserCredentials::new("alice", PASSWORD),
        closed,
    )
    .renewal_policy(quick())
    .build()
    .unwrap();
    let e = tokio::time::timeout(deadline, a.access_token())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Transport(t) if t.kind == en_auth_srp::TransportErrorKind::Connect),
        "{e:?}"
    );
    assert_eq!(a.token_requests(), 3, "retried");
}

#[tokio::test]
async fn a_rejected_password_is_found_behind_the_middleware_error() {
    let server = server().await;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth(&server, "public", "alice", "wrong-password"))
        .build();
    let failure = http.get(server.resource_url()).send().await.unwrap_err();
    match en_auth_srp::auth_error(&failure) {
        Some(Error::InvalidCredentials(e)) => assert_eq!(e.user_name, "alice"),
        other => panic!("expected InvalidCredentials, got {other:?}"),
    }
    assert_eq!(server.resource_requests(), 0);
}
