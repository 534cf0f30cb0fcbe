//! Custom authentication (`CUSTOM_AUTH`, Amplify's `CUSTOM_WITH_SRP` / `CUSTOM_WITHOUT_SRP`)
//! against the testkit's Cognito emulator, whose per-user auth challenge "triggers" ask a list of
//! `CUSTOM_CHALLENGE` rounds and check each `ANSWER` (and, with SRP, verify the password proof
//! first): the handler receives each round's public parameters; one and two rounds; a public
//! and a confidential client (`SECRET_HASH`); a wrong answer and a wrong password are clear
//! typed errors; a remembered device's `DEVICE_KEY` goes with the answers; the environments
//! file names the flow.

use std::sync::{Arc, Mutex};

use en_auth_srp::secrecy::ExposeSecret;
use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, Error, SignInFlow, SrpAuthorizer,
    TokenProvider, UserCredentials, CUSTOM_CHALLENGE,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";

/// alice: one round (a question); bob: two rounds; carol: none (no trigger for her).
fn pool() -> en_auth_testkit::CognitoServerBuilder {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .client(AppClient::confidential("confidential", SECRET))
        .client(AppClient::public("no-custom").without_custom_auth())
        .user(PoolUser::new("alice", PASSWORD).custom_challenge(
            "blue-whale-7",
            [("question", "favourite animal and number?")],
        ))
        .user(
            PoolUser::new("bob", PASSWORD)
                .custom_challenge("first-answer", [("round", "1")])
                .custom_challenge("second-answer", [("round", "2"), ("hint", "two")]),
        )
        .user(PoolUser::new("carol", PASSWORD))
}

fn environment(server: &CognitoServer, auth_flow: &str) -> Environment {
    let text = format!(
        "[emulator]\nuser_pool_id = \"{POOL}\"\ncognito_endpoint = \"{}\"\nauth_flow = \"{auth_flow}\"\n",
        server.endpoint()
    );
    Environment::from_toml_str(&text, "emulator").unwrap()
}

fn client(id: &str) -> ClientInfo {
    match id {
        "confidential" => ClientInfo::new(id, SECRET),
        _ => ClientInfo::public(id),
    }
}

/// The public parameters of each `CUSTOM_CHALLENGE` the handler was asked, without `USERNAME`.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// An authorizer whose handler answers the custom rounds with `answers`, in order.
fn authorizer(
    environment: Environment,
    client_id: &str,
    user: &str,
    password: &str,
    answers: &[&'static str],
) -> (SrpAuthorizer, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let answers = answers.to_vec();
    let authorizer = SrpAuthorizer::builder(
        client(client_id),
        UserCredentials::new(user, password),
        environment,
    )
    .challenge_handler(move |c: &Challenge| {
        if c.name() != CUSTOM_CHALLENGE {
            return None;
        }
        let mut parameters: Vec<(String, String)> = c
            .parameters()
            .iter()
            .filter(|(k, _)| k.as_str() != "USERNAME" && k.as_str() != "USER_ID_FOR_SRP")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        parameters.sort();
        let mut log = log.lock().unwrap();
        log.push(parameters);
        answers
            .get(log.len() - 1)
            .map(|a| ChallengeResponses::answer(*a))
    })
    .build()
    .unwrap();
    (authorizer, seen)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn with_srp_the_password_is_proved_then_the_custom_challenge_is_answered() {
    let server = pool().start().await;
    for (i, id) in ["public", "confidential"].into_iter().enumerate() {
        let env = environment(&server, "CUSTOM_WITH_SRP");
        let (a, seen) = authorizer(env, id, "alice", PASSWORD, &["blue-whale-7"]);
        let token = a.access_token().await.unwrap();
        assert_eq!(
            server
                .access_token_owner(token.secret().expose_secret())
                .as_deref(),
            Some("alice"),
            "{id}"
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [pairs(&[("question", "favourite animal and number?")])],
            "{id}"
        );
        assert_eq!(
            server.verified_logins(),
            i as u64 + 1,
            "the SRP proof: {id}"
        );
        assert_eq!(server.custom_answers_accepted(), i as u64 + 1, "{id}");
    }
    assert_eq!(server.failed_proofs(), 0);
}

#[tokio::test]
async fn with_srp_a_wrong_password_fails_before_any_custom_challenge() {
    let server = pool().start().await;
    let env = environment(&server, "CUSTOM_WITH_SRP");
    let (a, seen) = authorizer(
        env,
        "confidential",
        "alice",
        "wrong-Passw0rd!",
        &["blue-whale-7"],
    );
    let e = a.access_token().await.unwrap_err();
    assert!(matches!(e, Error::InvalidCredentials(_)), "{e:?}");
    assert_eq!(server.failed_proofs(), 1, "the emulator checked the proof");
    assert!(seen.lock().unwrap().is_empty(), "no custom challenge asked");
    assert_eq!(server.custom_answers_accepted(), 0);
}

#[tokio::test]
async fn without_srp_the_custom_challenge_comes_first_and_no_password_is_needed() {
    let server = pool().start().await;
    for id in ["public", "confidential"] {
        for flow in ["CUSTOM_WITHOUT_SRP", "CUSTOM_AUTH"] {
            let env = environment(&server, flow);
            // No password at all: CUSTOM_WITHOUT_SRP does not need one.
            let (a, seen) = authorizer(env, id, "alice", "", &["blue-whale-7"]);
            let token = a.access_token().await.unwrap();
            assert!(server
                .access_token_owner(token.secret().expose_secret())
                .is_some());
            assert_eq!(seen.lock().unwrap().len(), 1, "{id} {flow}");
        }
    }
    assert_eq!(server.verified_logins(), 0, "no SRP proof");
    assert_eq!(server.custom_answers_accepted(), 4);
}

#[tokio::test]
async fn two_rounds_are_answered_in_order_with_their_own_parameters() {
    let server = pool().start().await;
    for flow in ["CUSTOM_WITH_SRP", "CUSTOM_WITHOUT_SRP"] {
        let env = environment(&server, flow);
        let (a, seen) = authorizer(
            env,
            "confidential",
            "bob",
            PASSWORD,
            &["first-answer", "second-answer"],
        );
        a.access_token().await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                pairs(&[("round", "1")]),
                pairs(&[("hint", "two"), ("round", "2")])
            ],
            "{flow}"
        );
    }
    assert_eq!(server.custom_answers_accepted(), 4);
    assert_eq!(server.verified_logins(), 1);
}

#[tokio::test]
async fn a_wrong_answer_is_a_clear_invalid_credentials_error() {
    let server = pool().start().await;
    for (flow, user, answers) in [
        ("CUSTOM_WITH_SRP", "alice", &["purple-lion-3"][..]),
        ("CUSTOM_WITHOUT_SRP", "alice", &["purple-lion-3"][..]),
        // The second round's answer is the wrong one.
        (
            "CUSTOM_WITHOUT_SRP",
            "bob",
            &["first-answer", "purple-lion-3"][..],
        ),
    ] {
        let env = environment(&server, flow);
        let (a, _) = authorizer(env, "confidential", user, PASSWORD, answers);
        let e = a.access_token().await.unwrap_err();
        let Error::InvalidCredentials(c) = &e else {
            panic!("{flow} {user}: {e:?}");
        };
        assert_eq!(c.user_name, user);
        assert!(
            c.message
                .contains("the answer to CUSTOM_CHALLENGE was refused")
                && c.message.contains("NotAuthorizedException"),
            "{}",
            c.message
        );
        assert!(!e.is_retryable(), "a wrong answer is not retried: {flow}");
    }
    assert_eq!(server.custom_answers_refused(), 3);
    assert_eq!(server.custom_answers_accepted(), 1, "bob's first round");
}

#[tokio::test]
async fn an_unanswered_custom_challenge_names_it() {
    let server = pool().start().await;
    let env = environment(&server, "CUSTOM_WITHOUT_SRP");
    let (a, _) = authorizer(env, "public", "alice", "", &[]);
    let e = a.access_token().await.unwrap_err();
    assert!(
        matches!(&e, Error::Challenge(c) if c.challenge == CUSTOM_CHALLENGE),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_client_without_custom_auth_and_a_user_without_triggers_are_refused() {
    let server = pool().start().await;
    let env = environment(&server, "CUSTOM_WITH_SRP");
    let (a, _) = authorizer(
        env.clone(),
        "no-custom",
        "alice",
        PASSWORD,
        &["blue-whale-7"],
    );
    let e = a.access_token().await.unwrap_err();
    assert!(matches!(e, Error::InvalidClient(_)), "{e:?}");
    let (a, _) = authorizer(env, "public", "carol", PASSWORD, &["x"]);
    let e = a.access_token().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("Custom auth lambda trigger is not configured"),
        "{e}"
    );
}

#[tokio::test]
async fn a_remembered_device_key_goes_with_the_custom_answers() {
    let server = pool().device_tracking_always(true).start().await;
    let env = environment(&server, "CUSTOM_WITH_SRP");
    let (a, seen) = authorizer(
        env,
        "confidential",
        "alice",
        PASSWORD,
        &["blue-whale-7", "blue-whale-7"],
    );
    a.access_token().await.unwrap();
    let devices = server.confirmed_devices("alice");
    assert_eq!(devices.len(), 1, "the first login confirmed its device");
    assert_eq!(
        a.provider().device_key().as_deref(),
        Some(devices[0].as_str())
    );
    // A second login (the refresh token revoked): the device's key goes with the answer, so
    // the emulator binds the session to it instead of issuing a new device.
    server.revoke_refresh_tokens();
    renew(&a).await;
    assert_eq!(seen.lock().unwrap().len(), 2, "two logins, one round each");
    assert_eq!(server.confirmed_devices("alice"), devices, "no new device");
    // Its refresh token is the device's: a refresh (which sends the DEVICE_KEY) is no login.
    renew(&a).await;
    assert_eq!(seen.lock().unwrap().len(), 2, "a refresh, no third login");
    assert_eq!(server.verified_logins(), 2);
}

/// Renews through the authorizer (a refresh, or a login if the refresh token is refused).
async fn renew(a: &SrpAuthorizer) {
    let generation = a.cached_token().unwrap().generation();
    a.invalidate(generation);
    a.access_token().await.unwrap();
}

#[test]
fn the_environments_file_and_the_builder_name_the_flow() {
    let env = |flow: &str, extra: &str| {
        Environment::from_toml_str(
            &format!("[e]\nuser_pool_id = \"{POOL}\"\nauth_flow = \"{flow}\"\n{extra}"),
            "e",
        )
        .unwrap()
    };
    for (flow, with_srp) in [
        ("CUSTOM_AUTH", false),
        ("CUSTOM_WITHOUT_SRP", false),
        ("CUSTOM_WITH_SRP", true),
    ] {
        assert_eq!(
            SignInFlow::from_environment(&env(flow, "")).unwrap(),
            SignInFlow::CustomAuth { with_srp },
            "{flow}"
        );
    }
    let e = SignInFlow::from_environment(&env(
        "CUSTOM_WITH_SRP",
        "preferred_challenge = \"EMAIL_OTP\"",
    ))
    .unwrap_err();
    assert!(e.to_string().contains("preferred_challenge"), "{e}");
    let e = SignInFlow::from_environment(&env("CUSTOM", "")).unwrap_err();
    assert!(e.to_string().contains("CUSTOM_WITH_SRP"), "{e}");
    // A password is needed with SRP, not without.
    let build = |flow, password: &str| {
        SrpAuthorizer::builder(
            ClientInfo::public("app"),
            UserCredentials::new("alice", password),
            env("USER_SRP_AUTH", ""),
        )
        .sign_in_flow(flow)
        .build()
    };
    assert!(build(SignInFlow::CustomAuth { with_srp: false }, "").is_ok());
    let e = build(SignInFlow::CustomAuth { with_srp: true }, "").unwrap_err();
    assert!(e.to_string().contains("password"), "{e}");
    // Spans and metrics name the flow the login runs (they said `cognito_user_srp_auth` for all).
    for (flow, label) in [
        (SignInFlow::UserSrpAuth, "cognito_user_srp_auth"),
        (
            SignInFlow::UserAuth {
                preferred_challenge: None,
            },
            "cognito_user_auth",
        ),
        (
            SignInFlow::CustomAuth { with_srp: true },
            "cognito_custom_auth",
        ),
        (
            SignInFlow::CustomAuth { with_srp: false },
            "cognito_custom_auth",
        ),
    ] {
        assert_eq!(flow.label(), label);
        assert_eq!(build(flow, PASSWORD).unwrap().provider().flow(), label);
    }
}
