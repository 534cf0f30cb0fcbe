//! Choice-based sign-in (`USER_AUTH`) against the testkit's Cognito emulator: a preferred first
//! factor from the environments file (`EMAIL_OTP`, `SMS_OTP`, `PASSWORD_SRP`, `PASSWORD`),
//! `SELECT_CHALLENGE` answered by the challenge handler from the available challenges, the
//! one-time codes the emulator "sends" read by the handler, SRP proofs verified by the
//! emulator; a wrong code, a wrong password, `WEB_AUTHN` and bad configuration are clear typed
//! errors that show no code.

use std::sync::{Arc, Mutex};

use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, Error, FirstFactor, SignInFlow,
    SrpAuthorizer, UserCredentials, EMAIL_OTP, PASSWORD_SRP, SELECT_CHALLENGE, SMS_OTP, WEB_AUTHN,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";

async fn server() -> Arc<CognitoServer> {
    Arc::new(
        CognitoServer::builder()
            .pool_id(POOL)
            .client(AppClient::public("public"))
            .client(AppClient::confidential("confidential", SECRET))
            .user(
                PoolUser::new("alice", PASSWORD)
                    .email("alice@example.com")
                    .attribute("phone_number", "+15555550100"),
            )
            .start()
            .await,
    )
}

fn environment(server: &CognitoServer, toml_extra: &str) -> Environment {
    let text = format!(
        "[emulator]\nuser_pool_id = \"{POOL}\"\ncognito_endpoint = \"{}\"\n{toml_extra}\n",
        server.endpoint()
    );
    Environment::from_toml_str(&text, "emulator").unwrap()
}

/// What the handler saw: challenge names and, for `SELECT_CHALLENGE`, the available ones.
type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A handler that chooses `choice` at `SELECT_CHALLENGE` and answers one-time codes with the
/// emulator's last code (or `wrong_code`).
fn authorizer(
    server: &Arc<CognitoServer>,
    client: &str,
    environment: Environment,
    password: &str,
    choice: &'static str,
    wrong_code: Option<&'static str>,
) -> (SrpAuthorizer, Seen) {
    let info = match client {
        "public" => ClientInfo::public(client),
        _ => ClientInfo::new(client, SECRET),
    };
    let seen: Seen = Arc::default();
    let (log, emulator) = (Arc::clone(&seen), Arc::clone(server));
    let authorizer =
        SrpAuthorizer::builder(info, UserCredentials::new("alice", password), environment)
            .challenge_handler(move |c: &Challenge| {
                log.lock()
                    .unwrap()
                    .push((c.name().to_owned(), c.available_challenges().to_vec()));
                let code = || {
                    wrong_code.map_or_else(|| emulator.last_one_time_code().unwrap(), str::to_owned)
                };
                match c.name() {
                    SELECT_CHALLENGE => Some(ChallengeResponses::answer(choice)),
                    EMAIL_OTP => Some(ChallengeResponses::email_otp(code())),
                    SMS_OTP => Some(ChallengeResponses::sms_otp(code())),
                    _ => None,
                }
            })
            .build()
            .unwrap();
    (authorizer, seen)
}

fn names(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect()
}

#[tokio::test]
async fn a_preferred_email_code_from_the_environments_file_signs_in_without_a_password() {
    let server = server().await;
    for client in ["public", "confidential"] {
        let env = environment(
            &server,
            "auth_flow = \"USER_AUTH\"\npreferred_challenge = \"EMAIL_OTP\"",
        );
        let (a, seen) = authorizer(&server, client, env, "not-the-password", "unused", None);
        a.access_token().await.unwrap();
        assert_eq!(names(&seen), [EMAIL_OTP], "{client}");
        assert_eq!(server.verified_logins(), 0, "no SRP proof: {client}");
    }
    let codes = server.one_time_codes();
    assert_eq!(codes.len(), 2);
    assert!(codes
        .iter()
        .all(|c| c.challenge == EMAIL_OTP && c.user == "alice"));
}

#[tokio::test]
async fn select_challenge_lists_the_factors_and_each_choice_signs_in() {
    let server = server().await;
    let env = || environment(&server, "auth_flow = \"USER_AUTH\"");
    // PASSWORD_SRP: the SRP proof, verified by the emulator.
    let (a, seen) = authorizer(&server, "confidential", env(), PASSWORD, PASSWORD_SRP, None);
    a.access_token().await.unwrap();
    assert_eq!(server.verified_logins(), 1);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, SELECT_CHALLENGE);
        assert_eq!(
            seen[0].1,
            ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]
        );
    }
    // PASSWORD: the password itself.
    let (a, seen) = authorizer(&server, "public", env(), PASSWORD, "PASSWORD", None);
    a.access_token().await.unwrap();
    assert_eq!(names(&seen), [SELECT_CHALLENGE]);
    // SMS_OTP: the code the emulator sent.
    let (a, seen) = authorizer(&server, "public", env(), "not-the-password", SMS_OTP, None);
    a.access_token().await.unwrap();
    assert_eq!(names(&seen), [SELECT_CHALLENGE, SMS_OTP]);
    assert_eq!(server.one_time_codes().len(), 1);
    assert_eq!(server.one_time_codes()[0].challenge, SMS_OTP);
    assert_eq!(
        server.verified_logins(),
        1,
        "only the PASSWORD_SRP login proved"
    );
}

#[tokio::test]
async fn preferred_password_factors_set_in_the_builder() {
    let server = server().await;
    // PASSWORD_SRP proves the password (one more verified proof); PASSWORD sends it.
    for (first, verified) in [(FirstFactor::PasswordSrp, 1), (FirstFactor::Password, 1)] {
        let info = ClientInfo::new("confidential", SECRET);
        let a = SrpAuthorizer::builder(
            info,
            UserCredentials::new("alice", PASSWORD),
            environment(&server, ""),
        )
        .sign_in_flow(SignInFlow::UserAuth {
            preferred_challenge: Some(first),
        })
        .build()
        .unwrap();
        a.access_token().await.unwrap();
        assert_eq!(server.verified_logins(), verified, "{first}");
    }
}

#[tokio::test]
async fn a_wrong_code_or_password_is_a_clear_error_that_shows_no_code() {
    let server = server().await;
    let env = environment(
        &server,
        "auth_flow = \"USER_AUTH\"\npreferred_challenge = \"EMAIL_OTP\"",
    );
    let (a, _) = authorizer(&server, "public", env, PASSWORD, "unused", Some("00000000"));
    let e = a.access_token().await.unwrap_err();
    assert!(matches!(&e, Error::InvalidCredentials(_)), "{e:?}");
    assert!(
        format!("{e} {e:?}").contains("CodeMismatchException"),
        "{e}"
    );
    for code in server.one_time_codes() {
        assert!(!format!("{e} {e:?}").contains(&code.code));
    }
    let env = environment(
        &server,
        "auth_flow = \"USER_AUTH\"\npreferred_challenge = \"PASSWORD\"",
    );
    let (a, _) = authorizer(&server, "public", env, "Wr0ng-Horse!", "unused", None);
    let e = a.access_token().await.unwrap_err();
    assert!(matches!(&e, Error::InvalidCredentials(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("Wr0ng-Horse!"));
}

#[tokio::test]
async fn web_authn_is_not_supported() {
    let server = server().await;
    // Chosen at SELECT_CHALLENGE: a typed challenge error before anything is sent.
    let env = environment(&server, "auth_flow = \"USER_AUTH\"");
    let (a, _) = authorizer(&server, "public", env, PASSWORD, WEB_AUTHN, None);
    let e = a.access_token().await.unwrap_err();
    assert!(
        matches!(&e, Error::Challenge(c) if c.challenge == WEB_AUTHN && c.user_name == "alice"),
        "{e:?}"
    );
    assert!(e.to_string().contains("not supported"), "{e}");
    // Preferred in the environments file: a configuration error naming the field.
    let env = environment(
        &server,
        "auth_flow = \"USER_AUTH\"\npreferred_challenge = \"WEB_AUTHN\"",
    );
    let e = SrpAuthorizer::builder(
        ClientInfo::public("public"),
        UserCredentials::new("alice", PASSWORD),
        env,
    )
    .build()
    .unwrap_err();
    assert!(matches!(&e, Error::Configuration(_)), "{e:?}");
    assert!(
        e.to_string().contains("preferred_challenge") && e.to_string().contains("not supported"),
        "{e}"
    );
}

#[tokio::test]
async fn bad_flow_settings_are_configuration_errors_naming_the_field() {
    let server = server().await;
    for (extra, field) in [
        ("auth_flow = \"CUSTOM_WHATEVER\"", "auth_flow"),
        ("preferred_challenge = \"EMAIL_OTP\"", "preferred_challenge"),
        (
            "auth_flow = \"USER_AUTH\"\npreferred_challenge = \"CARRIER_PIGEON\"",
            "preferred_challenge",
        ),
    ] {
        let e = SrpAuthorizer::builder(
            ClientInfo::public("public"),
            UserCredentials::new("alice", PASSWORD),
            environment(&server, extra),
        )
        .build()
        .unwrap_err();
        assert!(matches!(&e, Error::Configuration(_)), "{extra}: {e:?}");
        assert!(e.to_string().contains(field), "{extra}: {e}");
    }
}
