//! The testkit's Cognito emulator and ministack must agree wherever both apply: the same
//! scenarios, run against each, end in the same outcome (a token, or the same error kind).

use en_auth_peers::{field, ministack};
use en_auth_srp::{ClientInfo, Environment, Error, SrpAuthorizer, UserCredentials};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser};
use secrecy::ExposeSecret;

/// One Cognito deployment: where it is, and its clients and user.
struct Pool {
    environment: Environment,
    public: ClientInfo,
    confidential: ClientInfo,
    no_srp: ClientInfo,
    user: String,
    email: String,
    password: String,
}

fn ministack_pool() -> Pool {
    let info = ministack();
    Pool {
        environment: Environment::new("ministack")
            .with_user_pool_id(field(info, "user_pool_id"))
            .with_cognito_endpoint(field(info, "endpoint"))
            .unwrap(),
        public: ClientInfo::public(field(info, "srp/public_client_id")),
        confidential: ClientInfo::new(
            field(info, "srp/confidential_client_id"),
            field(info, "srp/confidential_client_secret"),
        ),
        no_srp: ClientInfo::public(field(info, "srp/no_srp_client_id")),
        user: field(info, "user/username").to_owned(),
        email: field(info, "user/email").to_owned(),
        password: field(info, "user/password").to_owned(),
    }
}

async fn emulator_pool(server: &CognitoServer) -> Pool {
    Pool {
        environment: Environment::new("emulator")
            .with_user_pool_id(server.pool_id())
            .with_cognito_endpoint(&server.endpoint())
            .unwrap(),
        public: ClientInfo::public("public"),
        confidential: ClientInfo::new("confidential", "a-secret-0123456789"),
        no_srp: ClientInfo::public("no-srp"),
        user: "alice".into(),
        email: "alice@example.com".into(),
        password: "Corr3ct-Horse!Battery".into(),
    }
}

/// The outcome of a login, as a kind.
async fn login(pool: &Pool, client: &ClientInfo, user: &str, password: &str) -> String {
    let auth = SrpAuthorizer::new(
        client.clone(),
        UserCredentials::new(user, password),
        pool.environment.clone(),
    )
    .unwrap();
    match auth.access_token().await {
        Ok(token)
            if !token.secret().expose_secret().is_empty() && token.refresh_token().is_some() =>
        {
            "token".into()
        }
        Ok(_) => "incomplete token".into(),
        Err(Error::InvalidCredentials(_)) => "InvalidCredentials".into(),
        Err(Error::InvalidClient(_)) => "InvalidClient".into(),
        Err(other) => format!("{other:?}"),
    }
}

async fn scenarios(pool: &Pool) -> Vec<(&'static str, String)> {
    let wrong_secret = ClientInfo::new(pool.confidential.client_id(), "not-the-secret");
    let missing_secret = ClientInfo::public(pool.confidential.client_id());
    let unknown_client = ClientInfo::public("no-such-client");
    vec![
        (
            "public client, user name",
            login(pool, &pool.public, &pool.user, &pool.password).await,
        ),
        (
            "public client, e-mail alias",
            login(pool, &pool.public, &pool.email, &pool.password).await,
        ),
        (
            "confidential client, user name",
            login(pool, &pool.confidential, &pool.user, &pool.password).await,
        ),
        (
            "confidential client, e-mail alias",
            login(pool, &pool.confidential, &pool.email, &pool.password).await,
        ),
        (
            "wrong password",
            login(pool, &pool.public, &pool.user, "Wrong-passw0rd!").await,
        ),
        (
            "unknown user",
            login(pool, &pool.public, "nobody-here", &pool.password).await,
        ),
        (
            "client without USER_SRP_AUTH",
            login(pool, &pool.no_srp, &pool.user, &pool.password).await,
        ),
        (
            "wrong client secret",
            login(pool, &wrong_secret, &pool.user, &pool.password).await,
        ),
        (
            "no SECRET_HASH for a confidential client",
            login(pool, &missing_secret, &pool.user, &pool.password).await,
        ),
        (
            "unknown client",
            login(pool, &unknown_client, &pool.user, &pool.password).await,
        ),
    ]
}

/// How every scenario ends, on both: the names of `scenarios`, in order, with their outcome
/// (TESTING.md's Cognito fault cases 51 and 52 for the failures).
const EXPECTED: [(&str, &str); 10] = [
    ("public client, user name", "token"),
    ("public client, e-mail alias", "token"),
    ("confidential client, user name", "token"),
    ("confidential client, e-mail alias", "token"),
    ("wrong password", "InvalidCredentials"),
    ("unknown user", "InvalidCredentials"),
    ("client without USER_SRP_AUTH", "InvalidClient"),
    ("wrong client secret", "InvalidClient"),
    ("no SECRET_HASH for a confidential client", "InvalidClient"),
    ("unknown client", "InvalidClient"),
];

/// Every scenario of `outcomes` that did not end as [`EXPECTED`] says, named with `who`.
fn unexpected(who: &str, outcomes: &[(&'static str, String)]) -> Vec<String> {
    let names: Vec<&str> = outcomes.iter().map(|(name, _)| *name).collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names, expected,
        "the scenarios and EXPECTED list the same, in order"
    );
    outcomes
        .iter()
        .zip(EXPECTED)
        .filter(|((_, got), (_, want))| got != want)
        .map(|((name, got), (_, want))| format!("{who}, {name}: {got}, expected {want}"))
        .collect()
}

#[tokio::test]
async fn the_emulator_and_ministack_agree() {
    let server = CognitoServer::builder()
        .pool_id("us-east-1_Agreement")
        .client(AppClient::public("public"))
        .client(AppClient::confidential(
            "confidential",
            "a-secret-0123456789",
        ))
        .client(AppClient::public("no-srp").without_srp())
        .user(PoolUser::new("alice", "Corr3ct-Horse!Battery").email("alice@example.com"))
        .start()
        .await;
    let emulator = scenarios(&emulator_pool(&server).await).await;
    let ministack = scenarios(&ministack_pool()).await;
    // Both end every scenario as expected (and so the same way).
    let mut wrong = unexpected("emulator", &emulator);
    wrong.extend(unexpected("ministack", &ministack));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
