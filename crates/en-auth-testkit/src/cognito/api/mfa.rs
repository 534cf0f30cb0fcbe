//! MFA enrolment of an authenticator app: `AssociateSoftwareToken` and `VerifySoftwareToken`
//! on an `MFA_SETUP` challenge's `Session`, and real TOTP codes (RFC 6238, through `totp-rs`)
//! for the enrolled user's later `SOFTWARE_TOKEN_MFA` challenges.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};
use totp_rs::{Algorithm, TOTP};

use super::{
    err, invalid_parameter, missing, not_authorized, random_token, string, ApiError, ApiResult,
};
use super::{lock, ScriptedChallenge, Shared, State, INVALID_SESSION};
use crate::cognito::srp;

/// The enrolment state of the pool.
#[derive(Default)]
pub(crate) struct MfaState {
    /// Enrolled users' TOTP secrets, by configured user name.
    secrets: HashMap<String, Vec<u8>>,
    /// Associated, not yet verified secrets, by the `Session` `AssociateSoftwareToken` returned.
    associated: HashMap<String, Vec<u8>>,
    /// `Session`s `VerifySoftwareToken` returned: `MFA_SETUP` may be answered with them.
    verified: HashSet<String>,
}

/// RFC 6238 with Cognito's parameters: SHA-1, 6 digits, 30-second steps, one step of skew.
fn totp(secret: Vec<u8>) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("AWSCognito".into()),
        String::new(),
    )
}

/// Whether `code` is a current TOTP code of `secret`.
fn code_is_current(secret: &[u8], code: &str) -> bool {
    totp(secret.to_vec()).check_current(code).unwrap_or(false)
}

/// Moves the pending `MFA_SETUP` challenge of `session` to a new session id, which it returns.
fn renew_session(state: &mut State, session: &str) -> Result<String, ApiError> {
    let pending = state
        .sessions
        .remove(session)
        .filter(|p| matches!(p.challenge, ScriptedChallenge::MfaSetup))
        .ok_or_else(|| not_authorized(INVALID_SESSION))?;
    let next = random_token(96);
    state.sessions_issued.push(next.clone());
    state.sessions.insert(next.clone(), pending);
    Ok(next)
}

/// `AssociateSoftwareToken` with the `Session` of an `MFA_SETUP` challenge: a new random
/// 160-bit secret (`SecretCode`, base32) and a new `Session`. With an `AccessToken` instead,
/// `InvalidParameterException` (the emulator enrols within a login only).
pub(super) fn associate_software_token(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let Some(session) = string(request, "Session") else {
        return Err(invalid_parameter(
            "The en-auth testkit associates a software token with an MFA_SETUP Session only",
        ));
    };
    let mut state = lock(&shared.state);
    let next = renew_session(&mut state, session)?;
    let secret = srp::random_bytes(20);
    let code = totp(secret.clone()).get_secret_base32();
    state.mfa.associated.insert(next.clone(), secret);
    Ok(json!({"SecretCode": code, "Session": next}))
}

/// `VerifySoftwareToken` with the `Session` `AssociateSoftwareToken` returned and `UserCode`:
/// a current code of the associated secret enrols it (the user's challenge after the password
/// becomes `SOFTWARE_TOKEN_MFA`, checked against it) and returns `Status` `SUCCESS` and a
/// `Session` to answer `MFA_SETUP` with; a wrong code gets `EnableSoftwareTokenMFAException`
/// "Code mismatch".
pub(super) fn verify_software_token(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let session = string(request, "Session").ok_or_else(|| missing("Session"))?;
    let code = string(request, "UserCode").ok_or_else(|| missing("UserCode"))?;
    let mut state = lock(&shared.state);
    let secret = state
        .mfa
        .associated
        .get(session)
        .cloned()
        .ok_or_else(|| not_authorized(INVALID_SESSION))?;
    if !code_is_current(&secret, code) {
        return Err(err("EnableSoftwareTokenMFAException", "Code mismatch"));
    }
    state.mfa.associated.remove(session);
    let next = renew_session(&mut state, session)?;
    let user = state.sessions[&next].user.clone();
    state.mfa.secrets.insert(user.clone(), secret);
    if let Some(record) = state.user_mut(&user) {
        record.challenge = Some(ScriptedChallenge::software_token_mfa(String::new()));
    }
    state.mfa.verified.insert(next.clone());
    Ok(json!({"Status": "SUCCESS", "Session": next}))
}

/// Whether `MFA_SETUP` may be answered with `session` (its token verified); forgets it.
pub(super) fn take_verified_setup(state: &mut State, session: &str) -> bool {
    state.mfa.verified.remove(session)
}

/// The answer to `SOFTWARE_TOKEN_MFA` of an enrolled `user`: `Some(whether the code is
/// current)`; `None` if the user enrolled no secret here (the scripted code applies).
pub(super) fn check_enrolled_code(state: &State, user: &str, code: Option<&str>) -> Option<bool> {
    let secret = state.mfa.secrets.get(user)?;
    Some(code.is_some_and(|code| code_is_current(secret, code)))
}
