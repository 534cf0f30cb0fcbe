//! Choice-based sign-in (`USER_AUTH`): `InitiateAuth` with an optional `PREFERRED_CHALLENGE`,
//! `SELECT_CHALLENGE` (`AvailableChallenges`), `PASSWORD_SRP` (the usual SRP rounds),
//! `PASSWORD`, and the one-time codes `EMAIL_OTP` / `SMS_OTP`, which the emulator "sends" by
//! keeping them for the test ([`CognitoServer::one_time_codes`](super::CognitoServer::one_time_codes)).
//!
//! See [InitiateAuth](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html)
//! and [RespondToAuthChallenge](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html).

use std::time::Instant;

use serde_json::{json, Map, Value};

use super::api::{
    after_verified, check_secret_hash, err, find_user, initiate_srp, invalid_parameter, missing,
    not_authorized, random_token, string, ApiResult, INCORRECT, INVALID_SESSION,
};
use super::{lock, srp, AppClient, Shared, State, UserStatus};

/// A one-time code the emulator sent: the challenge (`EMAIL_OTP` or `SMS_OTP`), the user and
/// the code.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// `EMAIL_OTP` or `SMS_OTP`.
    pub challenge: String,
    /// The pool user it was sent to (the configured user name).
    pub user: String,
    /// The code.
    pub code: String,
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeCode")
            .field("challenge", &self.challenge)
            .field("user", &self.user)
            .field("code", &"<redacted>")
            .finish()
    }
}

/// An open `USER_AUTH` step, keyed by its `Session`.
pub(crate) struct UserAuthPending {
    client_id: String,
    user: String,
    step: Step,
    expires: Instant,
}

enum Step {
    Select,
    Otp {
        challenge: &'static str,
        code: String,
    },
}

const EMAIL_OTP: &str = "EMAIL_OTP";
const SMS_OTP: &str = "SMS_OTP";

/// The first factors `user` can choose: `PASSWORD_SRP` (if the client allows SRP),
/// `PASSWORD`, `EMAIL_OTP` for a user with an email address, `SMS_OTP` for one with a
/// `phone_number` attribute.
fn available(client: &AppClient, state: &State, user: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if client.srp {
        out.push("PASSWORD_SRP");
    }
    out.push("PASSWORD");
    if let Some(record) = state.user(user) {
        if record.email.is_some() {
            out.push(EMAIL_OTP);
        }
        if record.attributes.iter().any(|(n, _)| n == "phone_number") {
            out.push(SMS_OTP);
        }
    }
    out
}

fn open(shared: &Shared, state: &mut State, client_id: &str, user: &str, step: Step) -> Value {
    let session = random_token(96);
    state.sessions_issued.push(session.clone());
    let srp_id = state
        .user(user)
        .map(|u| u.srp_id.clone())
        .unwrap_or_default();
    let response = match &step {
        Step::Select => json!({
            "ChallengeName": "SELECT_CHALLENGE",
            "Session": session,
            "ChallengeParameters": {},
            "AvailableChallenges": available(&shared.clients[client_id], state, user),
        }),
        Step::Otp { challenge, .. } => {
            let (medium, destination) = if *challenge == EMAIL_OTP {
                ("EMAIL", "a***@e***")
            } else {
                ("SMS", "+*******0100")
            };
            json!({
                "ChallengeName": challenge,
                "Session": session,
                "ChallengeParameters": {
                    "CODE_DELIVERY_DELIVERY_MEDIUM": medium,
                    "CODE_DELIVERY_DESTINATION": destination,
                    "USERNAME": srp_id,
                },
            })
        }
    };
    if let Step::Otp { challenge, code } = &step {
        state.one_time_codes.push(OneTimeCode {
            challenge: (*challenge).to_owned(),
            user: user.to_owned(),
            code: code.clone(),
        });
    }
    state.user_auth.insert(
        session,
        UserAuthPending {
            client_id: client_id.to_owned(),
            user: user.to_owned(),
            step,
            expires: Instant::now() + shared.auth_session,
        },
    );
    response
}

fn new_code() -> String {
    let bytes = srp::random_bytes(8);
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

/// Checks `PASSWORD` against the user's verifier; on success what follows a verified password.
fn password(
    shared: &Shared,
    state: &mut State,
    client_id: &str,
    user: &str,
    given: &str,
) -> ApiResult {
    let record = state.user(user).expect("a known user");
    let verifier = srp::verifier(&shared.pool_name, &record.srp_id, given, &record.salt);
    if !srp::ct_eq(&verifier.to_bytes_be(), &record.verifier.to_bytes_be()) {
        return Err(not_authorized(INCORRECT));
    }
    Ok(after_verified(shared, state, user, client_id, false))
}

/// What a chosen first factor leads to.
enum First {
    /// The SRP rounds, started with these `InitiateAuth`-style parameters.
    Srp(Map<String, Value>),
    /// An answer.
    Done(ApiResult),
}

/// The first step chosen by name: `PASSWORD_SRP`, `PASSWORD`, `EMAIL_OTP`, `SMS_OTP`; `None`
/// if `user` cannot use it.
fn first_step(
    shared: &Shared,
    state: &mut State,
    client: &AppClient,
    user: &str,
    choice: &str,
    params: &Map<String, Value>,
) -> Option<First> {
    if !available(client, state, user).contains(&choice) {
        return None;
    }
    Some(match choice {
        "PASSWORD_SRP" => {
            let mut srp_params = Map::new();
            for key in ["SRP_A", "SECRET_HASH", "DEVICE_KEY", "USERNAME"] {
                if let Some(value) = params.get(key) {
                    srp_params.insert(key.into(), value.clone());
                }
            }
            First::Srp(srp_params)
        }
        "PASSWORD" => First::Done(match string(params, "PASSWORD") {
            Some(given) => password(shared, state, &client.id, user, given),
            None => Err(missing("PASSWORD")),
        }),
        otp => {
            let challenge = if otp == EMAIL_OTP { EMAIL_OTP } else { SMS_OTP };
            First::Done(Ok(open(
                shared,
                state,
                &client.id,
                user,
                Step::Otp {
                    challenge,
                    code: new_code(),
                },
            )))
        }
    })
}

/// Runs `first_step` (ending the `SELECT_CHALLENGE` `session` if one was answered), and the
/// SRP start outside the state lock.
fn run_first_step(
    shared: &Shared,
    client: &AppClient,
    user: &str,
    choice: &str,
    params: &Map<String, Value>,
    session: Option<&str>,
) -> Option<ApiResult> {
    let first = {
        let mut state = lock(&shared.state);
        let first = first_step(shared, &mut state, client, user, choice, params)?;
        if let Some(session) = session {
            state.user_auth.remove(session);
        }
        first
    };
    Some(match first {
        First::Srp(params) => initiate_srp(shared, client, &params),
        First::Done(result) => result,
    })
}

/// `InitiateAuth` with `AuthFlow` = `USER_AUTH`.
pub(crate) fn initiate(
    shared: &Shared,
    client: &AppClient,
    params: &Map<String, Value>,
) -> ApiResult {
    let typed = string(params, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
    check_secret_hash(client, string(params, "SECRET_HASH"), typed, true)?;
    let user = {
        let state = lock(&shared.state);
        match find_user(shared, &state, typed) {
            None => return Err(err("UserNotFoundException", "User does not exist.")),
            Some(u) if !u.enabled => return Err(not_authorized("User is disabled.")),
            Some(u) if u.status == UserStatus::Unconfirmed => {
                return Err(err("UserNotConfirmedException", "User is not confirmed."))
            }
            Some(u) => u.username.clone(),
        }
    };
    if let Some(preferred) = string(params, "PREFERRED_CHALLENGE") {
        if let Some(result) = run_first_step(shared, client, &user, preferred, params, None) {
            return result;
        }
    }
    let mut state = lock(&shared.state);
    Ok(open(shared, &mut state, &client.id, &user, Step::Select))
}

/// `RespondToAuthChallenge` for `SELECT_CHALLENGE`, `EMAIL_OTP` and `SMS_OTP`.
pub(crate) fn respond(
    shared: &Shared,
    client: &AppClient,
    name: &str,
    request: &Map<String, Value>,
    responses: &Map<String, Value>,
) -> ApiResult {
    let session = string(request, "Session").ok_or_else(|| missing("Session"))?;
    let (user, select) = {
        let mut state = lock(&shared.state);
        let Some(pending) = state.user_auth.get(session) else {
            return Err(not_authorized(INVALID_SESSION));
        };
        if pending.expires <= Instant::now() {
            state.user_auth.remove(session);
            return Err(not_authorized(
                "Invalid session for the user, session is expired.",
            ));
        }
        if pending.client_id != client.id {
            return Err(not_authorized(INVALID_SESSION));
        }
        let awaited = match &pending.step {
            Step::Select => "SELECT_CHALLENGE",
            Step::Otp { challenge, .. } => challenge,
        };
        if awaited != name {
            return Err(invalid_parameter(format!(
                "Invalid challenge name {name}: the session awaits {awaited}"
            )));
        }
        let user = pending.user.clone();
        let username = string(responses, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
        if find_user(shared, &state, username).map(|u| u.username.as_str()) != Some(&user) {
            return Err(not_authorized(INCORRECT));
        }
        let srp_id = state
            .user(&user)
            .map(|u| u.srp_id.clone())
            .unwrap_or_default();
        check_secret_hash(client, string(responses, "SECRET_HASH"), &srp_id, false)?;
        match &state.user_auth[session].step {
            Step::Select => (user, true),
            Step::Otp { code, .. } => {
                let key = format!("{name}_CODE");
                let given = string(responses, &key).ok_or_else(|| missing(&key))?;
                if !srp::ct_eq(given.as_bytes(), code.as_bytes()) {
                    return Err(err(
                        "CodeMismatchException",
                        "Invalid code or auth state for the user.",
                    ));
                }
                state.user_auth.remove(session);
                // A one-time code is the sign-in: no further MFA.
                return Ok(after_verified(shared, &mut state, &user, &client.id, true));
            }
        }
    };
    debug_assert!(select);
    let answer = string(responses, "ANSWER").ok_or_else(|| missing("ANSWER"))?;
    run_first_step(shared, client, &user, answer, responses, Some(session)).unwrap_or_else(|| {
        Err(invalid_parameter(format!(
            "{answer} is not an available challenge for the user"
        )))
    })
}
