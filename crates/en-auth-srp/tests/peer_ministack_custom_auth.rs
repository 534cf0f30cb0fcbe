//! Custom authentication (`CUSTOM_AUTH`) against ministack (PyPI, pinned in `peers/`), whose
//! user pool runs real Lambda triggers (`peers/ministack/custom_auth.py`): with SRP
//! (`CUSTOM_WITH_SRP`: ministack verifies the password proof, then one `CUSTOM_CHALLENGE`) and
//! without (`CUSTOM_WITHOUT_SRP`: two rounds), public and confidential clients; a wrong answer
//! is the clear typed error ministack's `NotAuthorizedException` becomes.

use std::sync::{Arc, Mutex};

use en_auth_peers::{field, ministack_custom_auth};
use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, Error, SrpAuthorizer, UserCredentials,
    CUSTOM_CHALLENGE,
};
use secrecy::ExposeSecret;

fn environment(flow: &str) -> Environment {
    let info = ministack_custom_auth();
    Environment::new("ministack")
        .with_region(field(info, "region"))
        .with_user_pool_id(field(info, "custom_auth/user_pool_id"))
        .with_cognito_endpoint(field(info, "endpoint"))
        .unwrap()
        .with_auth_flow(flow)
}

fn client(kind: &str) -> ClientInfo {
    let info = ministack_custom_auth();
    match kind {
        "confidential" => ClientInfo::new(
            field(info, "custom_auth/confidential_client_id"),
            field(info, "custom_auth/confidential_client_secret"),
        ),
        _ => ClientInfo::public(field(info, "custom_auth/public_client_id")),
    }
}

fn answer(round: &str) -> String {
    field(
        ministack_custom_auth(),
        &format!("custom_auth/answers/{round}"),
    )
    .to_owned()
}

/// An authorizer answering each round with `answers(round)`; what rounds it was asked.
fn authorizer(
    kind: &str,
    flow: &str,
    password: &str,
    answers: fn(&str) -> String,
) -> (SrpAuthorizer, Arc<Mutex<Vec<String>>>) {
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&rounds);
    let user = field(ministack_custom_auth(), "custom_auth/username");
    let authorizer = SrpAuthorizer::builder(
        client(kind),
        UserCredentials::new(user, password),
        environment(flow),
    )
    .challenge_handler(move |c: &Challenge| {
        if c.name() != CUSTOM_CHALLENGE {
            return None;
        }
        let round = c.parameters().get("round").cloned().unwrap_or_default();
        seen.lock().unwrap().push(round.clone());
        Some(ChallengeResponses::answer(answers(&round)))
    })
    .build()
    .unwrap();
    (authorizer, rounds)
}

/// ministack's `GetUser`: whose the access token is.
async fn get_user(access_token: &str) -> String {
    let endpoint = field(ministack_custom_auth(), "endpoint");
    en_auth_peers::get_user_at(endpoint, access_token)
        .await
        .unwrap_or_else(|refused| panic!("GetUser refused the token: {refused}"))
}

fn password() -> &'static str {
    field(ministack_custom_auth(), "custom_auth/password")
}

#[tokio::test]
async fn custom_auth_with_and_without_srp_signs_in_through_real_triggers() {
    for kind in ["public", "confidential"] {
        for (flow, expected) in [
            ("CUSTOM_WITH_SRP", vec!["1"]),
            ("CUSTOM_WITHOUT_SRP", vec!["1", "2"]),
        ] {
            let (a, rounds) = authorizer(kind, flow, password(), answer);
            let token = a
                .access_token()
                .await
                .unwrap_or_else(|e| panic!("{kind} {flow}: {e}"));
            assert_eq!(*rounds.lock().unwrap(), expected, "{kind} {flow}");
            let user = get_user(token.secret().expose_secret()).await;
            assert_eq!(user, "riddler", "{kind} {flow}");
        }
    }
}

#[tokio::test]
async fn a_wrong_password_or_answer_is_refused() {
    // With SRP a wrong password fails the proof: no custom round is asked.
    let (a, rounds) = authorizer("confidential", "CUSTOM_WITH_SRP", "Wr0ng-Passw0rd!", answer);
    let e = a.access_token().await.unwrap_err();
    assert!(matches!(e, Error::InvalidCredentials(_)), "{e:?}");
    assert!(rounds.lock().unwrap().is_empty());
    for flow in ["CUSTOM_WITH_SRP", "CUSTOM_WITHOUT_SRP"] {
        let (a, rounds) = authorizer("public", flow, password(), |_| "wrong".to_owned());
        let e = a.access_token().await.unwrap_err();
        let Error::InvalidCredentials(c) = &e else {
            panic!("{flow}: {e:?}");
        };
        assert!(
            c.message
                .contains("the answer to CUSTOM_CHALLENGE was refused"),
            "{flow}: {}",
            c.message
        );
        assert_eq!(*rounds.lock().unwrap(), ["1"], "{flow}");
    }
}
