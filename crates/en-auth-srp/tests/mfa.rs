//! MFA beyond a fixed code, against the testkit's Cognito emulator: `MFA_SETUP` (a pool that
//! requires MFA, a user with no factor) enrolled through the challenge handler — the secret
//! handed over as an `otpauth://` URI, real RFC 6238 codes computed from it with `totp-rs`,
//! checked by the emulator — and `EMAIL_OTP` as an MFA factor; each with its wrong answer.

use std::sync::{Arc, Mutex};

use en_auth_srp::{
    Challenge, ChallengeResponses, ClientInfo, Environment, Error, SrpAuthorizer, UserCredentials,
    EMAIL_OTP, MFA_SETUP, SOFTWARE_TOKEN_MFA,
};
use en_auth_testkit::{AppClient, CognitoServer, PoolUser, ScriptedChallenge};
use secrecy::ExposeSecret;
use totp_rs::TOTP;

const POOL: &str = "us-east-1_EnAuthTest";
const PASSWORD: &str = "Corr3ct-Horse!Battery";
const SECRET: &str = "app-client-secret-0123456789";
const EMAIL_CODE: &str = "864209";

async fn server() -> CognitoServer {
    CognitoServer::builder()
        .pool_id(POOL)
        .client(AppClient::public("public"))
        .client(AppClient::confidential("confidential", SECRET))
        // MFA required: users without a factor of their own are asked MFA_SETUP.
        .mfa_required(true)
        .user(PoolUser::new("alice", PASSWORD))
        .user(PoolUser::new("bob", PASSWORD))
        .user(PoolUser::new("carol", PASSWORD))
        .user(
            PoolUser::new("mailed", PASSWORD)
                .email("mailed@example.com")
                .challenge_after_password(ScriptedChallenge::email_otp(EMAIL_CODE)),
        )
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
        "confidential" => ClientInfo::new(id, SECRET),
        _ => ClientInfo::public(id),
    }
}

/// The current code of the authenticator app that scanned `uri`.
fn current_code(uri: &str) -> String {
    TOTP::from_url(uri)
        .expect("an otpauth:// URI totp-rs reads")
        .generate_current()
        .unwrap()
}

/// An authenticator app: it keeps the URI of an `MFA_SETUP` and answers it, and every later
/// `SOFTWARE_TOKEN_MFA`, with its current code; it records the challenges it saw.
#[derive(Clone, Default)]
struct App {
    uri: Arc<Mutex<Option<String>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl App {
    fn handler(&self) -> impl Fn(&Challenge) -> Option<ChallengeResponses> + Send + Sync {
        let app = self.clone();
        move |c: &Challenge| {
            app.seen.lock().unwrap().push(c.name().to_owned());
            let mut uri = app.uri.lock().unwrap();
            match c.name() {
                MFA_SETUP => {
                    let given = c.otpauth_uri()?.expose_secret().to_owned();
                    let code = current_code(&given);
                    *uri = Some(given);
                    Some(ChallengeResponses::totp(code))
                }
                SOFTWARE_TOKEN_MFA => Some(ChallengeResponses::totp(current_code(uri.as_ref()?))),
                _ => None,
            }
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    fn uri(&self) -> String {
        self.uri.lock().unwrap().clone().expect("an enrolment")
    }
}

fn authorizer(
    server: &CognitoServer,
    client_id: &str,
    user: &str,
    handler: impl en_auth_srp::ChallengeHandler,
) -> SrpAuthorizer {
    SrpAuthorizer::builder(
        client(client_id),
        UserCredentials::new(user, PASSWORD),
        environment(server),
    )
    .challenge_handler(handler)
    .build()
    .unwrap()
}

#[tokio::test]
async fn mfa_setup_enrols_an_authenticator_app_then_its_codes_are_asked() {
    let server = server().await;
    for (client_id, user) in [("public", "alice"), ("confidential", "bob")] {
        let app = App::default();
        let first = authorizer(&server, client_id, user, app.handler());
        first.access_token().await.unwrap();
        assert_eq!(app.seen(), [MFA_SETUP], "{user}");
        assert_eq!(
            server.calls("AssociateSoftwareToken"),
            1 + u64::from(user == "bob")
        );
        assert_eq!(
            server.calls("VerifySoftwareToken"),
            1 + u64::from(user == "bob")
        );
        // The Key URI format, with the label and issuer Amplify uses.
        let uri = url::Url::parse(&app.uri()).unwrap();
        assert_eq!(uri.scheme(), "otpauth");
        assert_eq!(uri.host_str(), Some("totp"));
        assert_eq!(uri.path(), format!("/AWSCognito:{user}"));
        let query: Vec<(String, String)> = uri.query_pairs().into_owned().collect();
        assert_eq!(query[0].0, "secret");
        assert!(query[0].1.len() >= 32, "a 160-bit secret in base32");
        assert_eq!(query[1], ("issuer".into(), "AWSCognito".into()));

        // Enrolled: a new login is asked the app's code, which the emulator checks against
        // the secret it associated.
        let later = authorizer(&server, client_id, user, app.handler());
        let token = later.access_token().await.unwrap();
        assert_eq!(app.seen(), [MFA_SETUP, SOFTWARE_TOKEN_MFA], "{user}");
        assert_eq!(
            server
                .access_token_owner(token.secret().expose_secret())
                .as_deref(),
            Some(user)
        );
    }
}

#[tokio::test]
async fn a_wrong_first_code_enrols_nothing() {
    let server = server().await;
    let wrong = |c: &Challenge| {
        (c.name() == MFA_SETUP).then(|| {
            // A code of another secret: what a mistyped or stale code looks like.
            let other = TOTP::from_url(
                "otpauth://totp/AWSCognito:carol?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=AWSCognito",
            )
            .unwrap();
            let mine = current_code(c.otpauth_uri().unwrap().expose_secret());
            let code = other.generate_current().unwrap();
            let code = if code == mine { "000000".to_owned() } else { code };
            ChallengeResponses::totp(code)
        })
    };
    let e = authorizer(&server, "public", "carol", wrong)
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidCredentials(c) if c.message.contains("EnableSoftwareTokenMFAException")),
        "{e:?}"
    );
    // Nothing was enrolled: the next login is asked MFA_SETUP again, and can enrol.
    let app = App::default();
    authorizer(&server, "public", "carol", app.handler())
        .access_token()
        .await
        .unwrap();
    assert_eq!(app.seen(), [MFA_SETUP]);

    // A wrong code at a later login is the user's credentials failing.
    let e = authorizer(&server, "public", "carol", |c: &Challenge| {
        (c.name() == SOFTWARE_TOKEN_MFA).then(|| ChallengeResponses::totp("12345"))
    })
    .access_token()
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidCredentials(c) if c.message.contains("CodeMismatch")),
        "{e:?}"
    );
}

#[tokio::test]
async fn mfa_setup_unanswered_is_named() {
    let server = server().await;
    // No handler: nothing is associated.
    let e = SrpAuthorizer::new(
        client("public"),
        UserCredentials::new("alice", PASSWORD),
        environment(&server),
    )
    .unwrap()
    .access_token()
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::Challenge(c) if c.challenge == MFA_SETUP && c.message.contains("no challenge handler")),
        "{e:?}"
    );
    assert_eq!(server.calls("AssociateSoftwareToken"), 0);
    // A handler that declines it: the secret was associated, nothing verified.
    let e = authorizer(&server, "public", "alice", |_: &Challenge| None)
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Challenge(c) if c.challenge == MFA_SETUP && c.message.contains("does not answer")),
        "{e:?}"
    );
    assert_eq!(server.calls("VerifySoftwareToken"), 0);
}

#[tokio::test]
async fn email_otp_is_an_mfa_factor() {
    let server = server().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let a = authorizer(&server, "confidential", "mailed", move |c: &Challenge| {
        s.lock().unwrap().push((
            c.name().to_owned(),
            c.parameters().get("CODE_DELIVERY_DELIVERY_MEDIUM").cloned(),
        ));
        (c.name() == EMAIL_OTP).then(|| ChallengeResponses::email_otp(EMAIL_CODE))
    });
    a.access_token().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [(EMAIL_OTP.to_owned(), Some("EMAIL".to_owned()))]
    );

    let e = authorizer(&server, "public", "mailed", |_: &Challenge| {
        Some(ChallengeResponses::email_otp("000000"))
    })
    .access_token()
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidCredentials(c) if c.message.contains("CodeMismatch")),
        "{e:?}"
    );
}
