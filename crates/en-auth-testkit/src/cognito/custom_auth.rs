//! Custom authentication (`CUSTOM_AUTH`): the pool's auth challenge Lambda triggers, emulated
//! per user ([`PoolUser::custom_challenge`](super::PoolUser::custom_challenge)): a list of
//! `CUSTOM_CHALLENGE` rounds, each with its public parameters and expected `ANSWER`, asked in
//! order; with SRP (`AuthParameters.CHALLENGE_NAME = SRP_A`) the password is proved first
//! (`PASSWORD_VERIFIER`, verified as for `USER_SRP_AUTH`).
//!
//! See [custom authentication challenge Lambda triggers](https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-challenge.html)
//! and [InitiateAuth](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html).

use serde_json::{Map, Value};

use super::api::{
    check_secret_hash, device_signed_in, err, find_user, initiate_srp_flow, invalid_parameter,
    issue, missing, new_device, not_authorized, open_challenge, prune, signed_in, string,
    ApiResult, NewRefresh,
};
use super::{lock, AppClient, ScriptedChallenge, Shared, State, UserStatus};

const NOT_CONFIGURED: &str = "Custom auth lambda trigger is not configured for the user pool.";

/// `InitiateAuth` with `CUSTOM_AUTH`.
pub(crate) fn initiate(
    shared: &Shared,
    client: &AppClient,
    params: &Map<String, Value>,
) -> ApiResult {
    if !client.custom_auth {
        return Err(invalid_parameter(
            "CUSTOM_AUTH is not enabled for the client.",
        ));
    }
    let typed = string(params, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
    {
        let state = lock(&shared.state);
        if let Some(user) = find_user(shared, &state, typed) {
            if user.custom_challenges.is_empty() {
                return Err(invalid_parameter(NOT_CONFIGURED));
            }
        }
    }
    match string(params, "CHALLENGE_NAME") {
        Some("SRP_A") => return initiate_srp_flow(shared, client, params, true),
        Some(other) => {
            return Err(invalid_parameter(format!(
                "Unsupported CHALLENGE_NAME {other} for CUSTOM_AUTH: the triggers know SRP_A"
            )))
        }
        None => {}
    }
    check_secret_hash(client, string(params, "SECRET_HASH"), typed, true)?;
    let mut state = lock(&shared.state);
    prune(&mut state);
    let user = match find_user(shared, &state, typed) {
        None => return Err(err("UserNotFoundException", "User does not exist.")),
        Some(u) if !u.enabled => return Err(not_authorized("User is disabled.")),
        Some(u) if u.status == UserStatus::Unconfirmed => {
            return Err(err("UserNotConfirmedException", "User is not confirmed."))
        }
        Some(u) => u.username.clone(),
    };
    let device_key = string(params, "DEVICE_KEY").map(str::to_owned);
    Ok(round(shared, &mut state, &user, &client.id, 0, device_key))
}

/// Round `index` of `user`'s custom authentication (a `CUSTOM_CHALLENGE` with a new
/// `Session`, which keeps `device_key`), or the tokens once every round is answered: a
/// remembered device's login when `device_key` (sent with the last answer) names a confirmed
/// device of the user (device tracking), else a new device's.
pub(crate) fn round(
    shared: &Shared,
    state: &mut State,
    user: &str,
    client_id: &str,
    index: usize,
    device_key: Option<String>,
) -> Value {
    let next = state
        .user(user)
        .and_then(|u| u.custom_challenges.get(index).cloned());
    if let Some(next) = next {
        let challenge = ScriptedChallenge::CustomChallenge {
            answer: next.answer,
            parameters: next.parameters,
        };
        let response = open_challenge(shared, state, user, client_id, challenge, false);
        if let Some(pending) = response["Session"]
            .as_str()
            .and_then(|s| state.sessions.get_mut(s))
        {
            pending.custom_round = Some(index);
            pending.device_key = device_key;
        }
        return response;
    }
    let remembered = device_key.filter(|key| {
        shared.device_tracking
            && state
                .devices
                .get(key)
                .is_some_and(|d| d.user == user && d.verifier.is_some())
    });
    if let Some(key) = remembered {
        return device_signed_in(shared, state, user, client_id, &key);
    }
    let mut result = issue(shared, state, user, client_id, NewRefresh::Fresh);
    if shared.device_tracking {
        new_device(shared, state, user, &mut result);
    }
    signed_in(result)
}
