//! The AWS JSON 1.1 wire: request dispatch, the operations, errors, tokens, and the protected
//! resource.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use num_bigint::BigUint;
use serde_json::{json, Map, Value};

mod mfa;

pub(crate) use mfa::MfaState;

use super::srp;
use super::{
    lock, random_uuid, AccessRecord, AppClient, DeviceChallenge, DeviceRecord, PendingChallenge,
    RefreshRecord, RefreshState, Script, ScriptedChallenge, Shared, SrpChallenge, State,
    UserRecord, UserStatus,
};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
pub(crate) const INCORRECT: &str = "Incorrect username or password.";
pub(crate) const INVALID_SESSION: &str = "Invalid session for the user.";

/// A Cognito error response.
pub(crate) struct ApiError {
    status: u16,
    error_type: String,
    message: String,
}

pub(crate) type ApiResult = Result<Value, ApiError>;

pub(crate) fn err(error_type: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: if error_type == "InternalErrorException" {
            500
        } else {
            400
        },
        error_type: error_type.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn not_authorized(message: impl Into<String>) -> ApiError {
    err("NotAuthorizedException", message)
}

pub(crate) fn invalid_parameter(message: impl Into<String>) -> ApiError {
    err("InvalidParameterException", message)
}

pub(crate) fn missing(name: &str) -> ApiError {
    invalid_parameter(format!("Missing required parameter {name}"))
}

fn request_id_header() -> HeaderValue {
    HeaderValue::from_str(&random_uuid()).expect("a UUID is a valid header value")
}

fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert("x-amzn-requestid", request_id_header());
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.error_type, "message": self.message}).to_string();
        let mut response = json_response(self.status, body);
        if let Ok(value) = HeaderValue::from_str(&self.error_type) {
            response.headers_mut().insert("x-amzn-errortype", value);
        }
        response
    }
}

/// `POST /`: one Cognito API call.
pub(crate) async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(operation) = target.strip_prefix(TARGET_PREFIX).map(str::to_owned) else {
        return err(
            "UnknownOperationException",
            format!("Unknown operation target '{target}'"),
        )
        .into_response();
    };
    *lock(&shared.calls).entry(operation.clone()).or_insert(0) += 1;

    let mut hold = shared.hold.subscribe();
    let _ = hold.wait_for(|held| !held).await;

    // At most one script per call; a queued challenge waits for a success (see `Script`).
    let script = {
        let mut scripts = lock(&shared.scripts);
        let queue = scripts.get_mut(&operation);
        match queue.as_ref().and_then(|q| q.front()) {
            Some(Script::Challenge(_)) | None => None,
            Some(_) => queue.and_then(|q| q.pop_front()),
        }
    };
    match script {
        Some(Script::Error {
            error_type,
            message,
            status,
        }) => {
            let mut e = err(&error_type, message);
            e.status = status;
            return e.into_response();
        }
        Some(Script::Raw { status, body }) => return json_response(status, body),
        Some(Script::Delay(d)) => tokio::time::sleep(d).await,
        Some(Script::Challenge(_)) | None => {}
    }

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with(CONTENT_TYPE) {
        return err(
            "SerializationException",
            format!("Content-Type must be {CONTENT_TYPE}, got '{content_type}'"),
        )
        .into_response();
    }
    let request: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => map,
        _ => {
            return err(
                "SerializationException",
                "Request body is not a JSON object",
            )
            .into_response()
        }
    };
    let result = match operation.as_str() {
        "InitiateAuth" => initiate_auth(&shared, &request),
        "RespondToAuthChallenge" => respond_to_auth_challenge(&shared, &request),
        "GetTokensFromRefreshToken" => get_tokens_from_refresh_token(&shared, &request),
        "GetUser" => get_user(&shared, &request),
        "RevokeToken" => revoke_token(&shared, &request),
        "ConfirmDevice" => confirm_device(&shared, &request),
        "UpdateDeviceStatus" => update_device_status(&shared, &request),
        "AssociateSoftwareToken" => mfa::associate_software_token(&shared, &request),
        "VerifySoftwareToken" => mfa::verify_software_token(&shared, &request),
        other => Err(err(
            "UnknownOperationException",
            format!("The en-auth testkit does not emulate {other}"),
        )),
    };
    match result {
        Ok(value) => json_response(200, value.to_string()),
        Err(e) => e.into_response(),
    }
}

/// A string member of a JSON object; non-strings and empty strings count as absent.
pub(crate) fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn object<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    request.get(key).and_then(Value::as_object)
}

fn client<'a>(shared: &'a Shared, request: &Map<String, Value>) -> Result<&'a AppClient, ApiError> {
    let id = string(request, "ClientId").ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: Member must not be null",
        )
    })?;
    shared.clients.get(id).ok_or_else(|| {
        err(
            "ResourceNotFoundException",
            format!("User pool client {id} does not exist."),
        )
    })
}

/// Checks `SECRET_HASH` over `username` for a client with a secret. A client without one ignores
/// the hash unless `reject_unexpected` (initial authentication rejects it).
pub(crate) fn check_secret_hash(
    client: &AppClient,
    supplied: Option<&str>,
    username: &str,
    reject_unexpected: bool,
) -> Result<(), ApiError> {
    match (&client.secret, supplied) {
        (None, Some(_)) if reject_unexpected => Err(invalid_parameter(format!(
            "App client {} is not configured for secret but secret hash was received",
            client.id
        ))),
        (None, _) => Ok(()),
        (Some(_), None) => Err(not_authorized(format!(
            "Client {} is configured with secret but SECRET_HASH was not received",
            client.id
        ))),
        (Some(secret), Some(supplied)) => {
            let expected = srp::secret_hash(secret, username, &client.id);
            if srp::ct_eq(expected.as_bytes(), supplied.as_bytes()) {
                Ok(())
            } else {
                Err(not_authorized(format!(
                    "Unable to verify secret hash for client {}",
                    client.id
                )))
            }
        }
    }
}

/// The user a sign-in name designates: the user name, or the e-mail alias (case-insensitive);
/// with e-mail as user name, also the sub.
pub(crate) fn find_user<'a>(
    shared: &Shared,
    state: &'a State,
    name: &str,
) -> Option<&'a UserRecord> {
    state
        .users
        .iter()
        .find(|u| u.username == name || (shared.email_as_username && u.sub == name))
        .or_else(|| {
            state.users.iter().find(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(name))
            })
        })
}

pub(crate) fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(srp::random_bytes(bytes))
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The id token of `result` (an `AuthenticationResult`) again, with OpenID Connect's `nonce`
/// claim (managed login's authorization code grant).
pub(crate) fn id_token_with_nonce(result: &Value, nonce: &str) -> String {
    let payload = result["IdToken"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let mut claims = payload.unwrap_or_else(|| json!({}));
    claims["nonce"] = json!(nonce);
    jwt(&claims)
}

fn jwt(claims: &Value) -> String {
    let header = json!({"alg": "none", "kid": "en-auth-testkit", "typ": "JWT"});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        random_token(32)
    )
}

pub(crate) enum NewRefresh {
    /// A login: a fresh refresh token, of a new family.
    Fresh,
    /// A refresh without rotation: none; the access token joins the refresh token's family.
    None(String),
    /// A rotation: a new token of the family that expires when the one it replaces would have.
    Rotated(Instant, String),
}

/// Issues an `AuthenticationResult` (the object) for `user` through `client`.
pub(crate) fn issue(
    shared: &Shared,
    state: &mut State,
    username: &str,
    client_id: &str,
    refresh: NewRefresh,
) -> Value {
    let user = state.user(username).expect("issuing for a known user");
    let now = now_unix();
    let origin_jti = random_uuid();
    let access = jwt(&json!({
        "sub": user.sub,
        "iss": shared.issuer(),
        "client_id": client_id,
        "origin_jti": origin_jti,
        "event_id": random_uuid(),
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "exp": now + shared.access_lifetime.as_secs(),
        "iat": now,
        "jti": random_uuid(),
        "username": user.srp_id,
    }));
    let mut id_claims = json!({
        "sub": user.sub,
        "aud": client_id,
        "iss": shared.issuer(),
        "cognito:username": user.srp_id,
        "origin_jti": origin_jti,
        "event_id": random_uuid(),
        "token_use": "id",
        "auth_time": now,
        "exp": now + shared.id_lifetime.as_secs(),
        "iat": now,
        "jti": random_uuid(),
    });
    if let Some(email) = &user.email {
        id_claims["email"] = json!(email);
        id_claims["email_verified"] = json!(true);
    }
    let id = jwt(&id_claims);
    let instant = Instant::now();
    let family = match &refresh {
        NewRefresh::Fresh => random_uuid(),
        NewRefresh::None(family) | NewRefresh::Rotated(_, family) => family.clone(),
    };
    state.access_tokens.insert(
        access.clone(),
        AccessRecord {
            user: username.to_owned(),
            family: family.clone(),
            expires: instant + shared.access_lifetime,
            revoked: false,
        },
    );
    let mut result = json!({
        "AccessToken": access,
        "IdToken": id,
        "ExpiresIn": shared.access_lifetime.as_secs(),
        "TokenType": "Bearer",
    });
    let refresh_expiry = match refresh {
        NewRefresh::Fresh => Some(instant + shared.refresh_lifetime),
        NewRefresh::Rotated(expires, _) => Some(expires),
        NewRefresh::None(_) => None,
    };
    if let Some(expires) = refresh_expiry {
        // Shaped like Cognito's (a JWE compact serialization: five segments, opaque).
        let token = format!(
            "{}.{}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"cty":"JWT","enc":"A256GCM","alg":"RSA-OAEP"}"#),
            random_token(256),
            random_token(12),
            random_token(192),
            random_token(16)
        );
        state.refresh_tokens.insert(
            token.clone(),
            RefreshRecord {
                user: username.to_owned(),
                device_key: None,
                family,
                client_id: client_id.to_owned(),
                expires,
                state: RefreshState::Active,
            },
        );
        result["RefreshToken"] = json!(token);
    }
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    result
}

/// The `InitiateAuth` / `RespondToAuthChallenge` answer carrying tokens.
pub(crate) fn signed_in(result: Value) -> Value {
    json!({"AuthenticationResult": result, "ChallengeParameters": {}})
}

pub(crate) fn prune(state: &mut State) {
    let now = Instant::now();
    state.srp_challenges.retain(|_, c| c.expires > now);
    state.sessions.retain(|_, s| s.expires > now);
    state.device_challenges.retain(|_, c| c.expires > now);
}

/// Opens a challenge `Session` and answers with it. `user_challenge_pending`: whether the user's
/// own challenge (if any) still follows once this one is answered.
pub(crate) fn open_challenge(
    shared: &Shared,
    state: &mut State,
    username: &str,
    client_id: &str,
    challenge: ScriptedChallenge,
    user_challenge_pending: bool,
) -> Value {
    let user = state.user(username).expect("a challenge for a known user");
    let srp_id = user.srp_id.clone();
    let mut parameters = Map::new();
    parameters.insert("USER_ID_FOR_SRP".into(), json!(srp_id));
    match &challenge {
        ScriptedChallenge::NewPasswordRequired => {
            let mut attributes = Map::new();
            if let Some(email) = &user.email {
                attributes.insert("email".into(), json!(email));
                attributes.insert("email_verified".into(), json!("true"));
            }
            for (name, value) in &user.attributes {
                attributes.insert(name.clone(), json!(value));
            }
            parameters.insert("requiredAttributes".into(), json!("[]"));
            parameters.insert(
                "userAttributes".into(),
                json!(Value::Object(attributes).to_string()),
            );
        }
        ScriptedChallenge::SmsMfa { .. } => {
            parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), json!("SMS"));
            parameters.insert("CODE_DELIVERY_DESTINATION".into(), json!("+*******0100"));
        }
        ScriptedChallenge::SoftwareTokenMfa { .. } => {
            parameters.insert("FRIENDLY_DEVICE_NAME".into(), json!("TOTP device"));
        }
        ScriptedChallenge::EmailOtp { .. } => {
            parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), json!("EMAIL"));
            parameters.insert("CODE_DELIVERY_DESTINATION".into(), json!("a***@e***"));
        }
        ScriptedChallenge::SelectMfaType { .. } => {
            parameters.insert(
                "MFAS_CAN_CHOOSE".into(),
                json!(r#"["SMS_MFA","SOFTWARE_TOKEN_MFA"]"#),
            );
        }
        ScriptedChallenge::MfaSetup => {
            parameters.insert("MFAS_CAN_SETUP".into(), json!(r#"["SOFTWARE_TOKEN_MFA"]"#));
        }
        ScriptedChallenge::CustomChallenge {
            parameters: extra, ..
        } => {
            parameters.insert("USERNAME".into(), json!(srp_id));
            for (name, value) in extra {
                parameters.insert(name.clone(), json!(value));
            }
        }
        ScriptedChallenge::DeviceSrpAuth => {
            parameters.insert("USERNAME".into(), json!(srp_id));
        }
    }
    let name = challenge.name();
    let session = random_token(96);
    state.sessions_issued.push(session.clone());
    state.sessions.insert(
        session.clone(),
        PendingChallenge {
            client_id: client_id.to_owned(),
            user: username.to_owned(),
            challenge,
            user_challenge_pending,
            device_key: None,
            custom_round: None,
            expires: Instant::now() + shared.auth_session,
        },
    );
    json!({"ChallengeName": name, "Session": session, "ChallengeParameters": parameters})
}

/// Pops a queued challenge script for `operation`, if one is next.
fn scripted_challenge(shared: &Shared, operation: &str) -> Option<ScriptedChallenge> {
    let mut scripts = lock(&shared.scripts);
    let queue = scripts.get_mut(operation)?;
    match queue.front() {
        Some(Script::Challenge(_)) => match queue.pop_front() {
            Some(Script::Challenge(c)) => Some(c),
            _ => None,
        },
        _ => None,
    }
}

/// What a verified sign-in step leads to: a scripted challenge, the user's own challenge, or the
/// tokens.
pub(crate) fn after_verified(
    shared: &Shared,
    state: &mut State,
    username: &str,
    client_id: &str,
    skip_user_challenge: bool,
) -> Value {
    if let Some(challenge) = scripted_challenge(shared, "RespondToAuthChallenge") {
        return open_challenge(
            shared,
            state,
            username,
            client_id,
            challenge,
            !skip_user_challenge,
        );
    }
    if !skip_user_challenge {
        if let Some(challenge) = state.user(username).and_then(|u| u.challenge.clone()) {
            return open_challenge(shared, state, username, client_id, challenge, false);
        }
    }
    let mut result = issue(shared, state, username, client_id, NewRefresh::Fresh);
    if shared.device_tracking {
        new_device(shared, state, username, &mut result);
    }
    signed_in(result)
}

/// Device tracking: a new (unconfirmed) device of `username` in `result`'s
/// `NewDeviceMetadata`, its refresh token bound to it.
pub(crate) fn new_device(shared: &Shared, state: &mut State, username: &str, result: &mut Value) {
    let group_key = state
        .user(username)
        .map(|u| u.device_group_key.clone())
        .unwrap_or_default();
    let device_key = format!("{}_{}", shared.region, random_uuid());
    state.devices.insert(
        device_key.clone(),
        DeviceRecord {
            user: username.to_owned(),
            group_key: group_key.clone(),
            verifier: None,
            remembered: None,
        },
    );
    if let Some(token) = result["RefreshToken"].as_str() {
        if let Some(record) = state.refresh_tokens.get_mut(token) {
            record.device_key = Some(device_key.clone());
        }
    }
    result["NewDeviceMetadata"] = json!({"DeviceKey": device_key, "DeviceGroupKey": group_key});
}

/// The tokens of a login ended by a remembered device's proof: no user challenge, no new
/// device, the refresh token bound to the device.
pub(crate) fn device_signed_in(
    shared: &Shared,
    state: &mut State,
    username: &str,
    client_id: &str,
    device_key: &str,
) -> Value {
    let result = issue(shared, state, username, client_id, NewRefresh::Fresh);
    if let Some(token) = result["RefreshToken"].as_str() {
        if let Some(record) = state.refresh_tokens.get_mut(token) {
            record.device_key = Some(device_key.to_owned());
        }
    }
    signed_in(result)
}

/// A refresh of a device's refresh token must name the device, still confirmed.
fn check_refresh_device(
    state: &State,
    token: &str,
    device_key: Option<&str>,
) -> Result<(), ApiError> {
    let Some(bound) = state
        .refresh_tokens
        .get(token)
        .and_then(|r| r.device_key.as_deref())
    else {
        return Ok(());
    };
    let confirmed = state
        .devices
        .get(bound)
        .is_some_and(|d| d.verifier.is_some());
    if device_key == Some(bound) && confirmed {
        Ok(())
    } else {
        Err(not_authorized("Invalid Refresh Token"))
    }
}

pub(crate) fn initiate_auth(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let client = client(shared, request)?;
    let flow = string(request, "AuthFlow").ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value null at 'authFlow' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let empty = Map::new();
    let params = object(request, "AuthParameters").unwrap_or(&empty);
    match flow {
        "USER_SRP_AUTH" => initiate_srp(shared, client, params),
        "USER_AUTH" => super::user_auth::initiate(shared, client, params),
        "CUSTOM_AUTH" => super::custom_auth::initiate(shared, client, params),
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
            if client.rotation.is_some() {
                return Err(not_authorized(format!(
                    "Refresh token rotation is enabled for client {}: REFRESH_TOKEN_AUTH is not allowed, use GetTokensFromRefreshToken",
                    client.id
                )));
            }
            let token = string(params, "REFRESH_TOKEN").ok_or_else(|| missing("REFRESH_TOKEN"))?;
            let mut state = lock(&shared.state);
            let username = refresh_owner(&state, client, token)?;
            let srp_id = state.user(&username).map(|u| u.srp_id.clone()).unwrap_or_default();
            check_secret_hash(client, string(params, "SECRET_HASH"), &srp_id, false)?;
            check_refresh_device(&state, token, string(params, "DEVICE_KEY"))?;
            let family = family_of(&state, token);
            Ok(signed_in(issue(
                shared,
                &mut state,
                &username,
                &client.id,
                NewRefresh::None(family),
            )))
        }
        "USER_PASSWORD_AUTH" => Err(invalid_parameter(
            "USER_PASSWORD_AUTH flow not enabled for this client",
        )),
        "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => Err(
            invalid_parameter(format!("{flow} is not enabled for the client.")),
        ),
        other => Err(invalid_parameter(format!(
            "1 validation error detected: Value '{other}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, USER_PASSWORD_AUTH, USER_AUTH]"
        ))),
    }
}

pub(crate) fn initiate_srp(
    shared: &Shared,
    client: &AppClient,
    params: &Map<String, Value>,
) -> ApiResult {
    initiate_srp_flow(shared, client, params, false)
}

/// The `PASSWORD_VERIFIER` step of `USER_SRP_AUTH` (and `USER_AUTH`'s `PASSWORD_SRP`), or,
/// `custom`, of `CUSTOM_AUTH` with SRP (whose client needs `ALLOW_CUSTOM_AUTH`, checked by the
/// caller, rather than `ALLOW_USER_SRP_AUTH`).
pub(crate) fn initiate_srp_flow(
    shared: &Shared,
    client: &AppClient,
    params: &Map<String, Value>,
    custom: bool,
) -> ApiResult {
    if !client.srp && !custom {
        return Err(invalid_parameter(
            "USER_SRP_AUTH is not enabled for the client.",
        ));
    }
    let typed = string(params, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
    check_secret_hash(client, string(params, "SECRET_HASH"), typed, true)?;
    let srp_a = string(params, "SRP_A").ok_or_else(|| missing("SRP_A"))?;
    let big_a = srp::from_hex(srp_a).ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value at 'sRPA' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-fA-F]+$",
        )
    })?;
    let mut state = lock(&shared.state);
    prune(&mut state);
    let (user, user_id, salt, verifier) = match find_user(shared, &state, typed) {
        None if shared.prevent_user_existence_errors => (
            None,
            typed.to_owned(),
            srp::new_salt(),
            srp::unanswerable_verifier(),
        ),
        None => return Err(err("UserNotFoundException", "User does not exist.")),
        Some(u) if !u.enabled => return Err(not_authorized("User is disabled.")),
        Some(u) if u.status == UserStatus::Unconfirmed => {
            return Err(err("UserNotConfirmedException", "User is not confirmed."))
        }
        Some(u) => (
            Some(u.username.clone()),
            u.srp_id.clone(),
            u.salt.clone(),
            u.verifier.clone(),
        ),
    };
    if let Some(username) = user.as_ref().filter(|_| !custom) {
        if let Some(challenge) = scripted_challenge(shared, "InitiateAuth") {
            return Ok(open_challenge(
                shared, &mut state, username, &client.id, challenge, true,
            ));
        }
    }
    let (b, big_b) = srp::server_ephemeral(&verifier);
    let secret_block = STANDARD.encode(srp::random_bytes(128));
    let session = shared.require_session.then(|| random_token(96));
    let mut response = json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": srp::to_hex(&salt),
            "SECRET_BLOCK": secret_block,
            "SRP_B": srp::to_hex(&big_b),
            "USERNAME": user_id,
            "USER_ID_FOR_SRP": user_id,
        },
    });
    if let Some(session) = &session {
        response["Session"] = json!(session);
        state.sessions_issued.push(session.clone());
    }
    state.srp_challenges.insert(
        secret_block,
        SrpChallenge {
            client_id: client.id.clone(),
            user,
            user_id,
            big_a,
            b,
            big_b,
            verifier,
            session,
            device_key: string(params, "DEVICE_KEY").map(str::to_owned),
            custom,
            expires: Instant::now() + shared.auth_session,
        },
    );
    Ok(response)
}

fn respond_to_auth_challenge(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let client = client(shared, request)?;
    let name = string(request, "ChallengeName").ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value null at 'challengeName' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let empty = Map::new();
    let responses = object(request, "ChallengeResponses").unwrap_or(&empty);
    if name == "PASSWORD_VERIFIER" {
        password_verifier(shared, client, request, responses)
    } else if name == "DEVICE_PASSWORD_VERIFIER" {
        device_password_verifier(shared, client, request, responses)
    } else if name == "SELECT_CHALLENGE"
        || (matches!(name, "EMAIL_OTP" | "SMS_OTP") && user_auth_session(shared, request))
    {
        // A one-time code of a USER_AUTH sign-in; `EMAIL_OTP` after a password is an MFA
        // factor, answered below.
        super::user_auth::respond(shared, client, name, request, responses)
    } else {
        answer_challenge(shared, client, name, request, responses)
    }
}

/// Whether the request's `Session` is an open `USER_AUTH` step.
fn user_auth_session(shared: &Shared, request: &Map<String, Value>) -> bool {
    string(request, "Session")
        .is_some_and(|session| lock(&shared.state).user_auth.contains_key(session))
}

fn password_verifier(
    shared: &Shared,
    client: &AppClient,
    request: &Map<String, Value>,
    responses: &Map<String, Value>,
) -> ApiResult {
    if responses.is_empty() {
        return Err(invalid_parameter(
            "Missing required parameter challenge responses.",
        ));
    }
    for key in [
        "USERNAME",
        "TIMESTAMP",
        "PASSWORD_CLAIM_SIGNATURE",
        "PASSWORD_CLAIM_SECRET_BLOCK",
    ] {
        if string(responses, key).is_none() {
            return Err(missing(key));
        }
    }
    let username = string(responses, "USERNAME").unwrap_or_default();
    let timestamp = string(responses, "TIMESTAMP").unwrap_or_default();
    let secret_block = string(responses, "PASSWORD_CLAIM_SECRET_BLOCK").unwrap_or_default();
    let timestamp = srp::canonical_timestamp(timestamp).ok_or_else(|| {
        invalid_parameter("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")
    })?;
    let signature = STANDARD
        .decode(string(responses, "PASSWORD_CLAIM_SIGNATURE").unwrap_or_default())
        .map_err(|_| {
            invalid_parameter("Invalid PASSWORD_CLAIM_SIGNATURE format. Must be a Base64 string.")
        })?;
    // A missing hash is reported before anything else is looked at; a wrong one once the
    // challenged user (whose name it must be computed over) is known.
    if client.secret.is_some() && string(responses, "SECRET_HASH").is_none() {
        check_secret_hash(client, None, "", false)?;
    }
    let mut state = lock(&shared.state);
    prune(&mut state);
    let Some(challenge) = state.srp_challenges.get(secret_block) else {
        shared.failed_proofs.fetch_add(1, Ordering::SeqCst);
        return Err(not_authorized(INCORRECT));
    };
    if challenge.client_id != client.id {
        shared.failed_proofs.fetch_add(1, Ordering::SeqCst);
        return Err(not_authorized(INCORRECT));
    }
    if let Some(expected) = &challenge.session {
        match string(request, "Session") {
            None => return Err(missing("Session")),
            Some(s) if s != expected => return Err(not_authorized(INVALID_SESSION)),
            Some(_) => {}
        }
    }
    // The USERNAME answered must designate the challenged user; the secret hash is over
    // Cognito's user name (USER_ID_FOR_SRP), whatever name was typed at InitiateAuth.
    let designated = find_user(shared, &state, username).map(|u| u.username.clone());
    let user = match (&challenge.user, designated) {
        (Some(user), Some(designated)) if *user == designated => user.clone(),
        _ => {
            shared.failed_proofs.fetch_add(1, Ordering::SeqCst);
            return Err(not_authorized(INCORRECT));
        }
    };
    check_secret_hash(
        client,
        string(responses, "SECRET_HASH"),
        &challenge.user_id,
        false,
    )?;
    let key = srp::session_key(
        &challenge.big_a,
        &challenge.big_b,
        &challenge.b,
        &challenge.verifier,
    );
    let secret_block_bytes = STANDARD.decode(secret_block).unwrap_or_default();
    let verified = key.is_some_and(|key| {
        let expected = srp::signature(
            &key,
            &shared.pool_name,
            &challenge.user_id,
            &secret_block_bytes,
            &timestamp,
        );
        srp::ct_eq(&expected, &signature)
    });
    if !verified {
        shared.failed_proofs.fetch_add(1, Ordering::SeqCst);
        return Err(not_authorized(INCORRECT));
    }
    shared.verified_logins.fetch_add(1, Ordering::SeqCst);
    let challenge_device_key = challenge.device_key.clone();
    let challenge_user_id = challenge.user_id.clone();
    let custom = challenge.custom;
    let record = state.user(&user).expect("a challenged user exists");
    if !record.enabled {
        return Err(not_authorized("User is disabled."));
    }
    match record.status {
        UserStatus::ResetRequired => Err(err(
            "PasswordResetRequiredException",
            "Password reset required for the user",
        )),
        UserStatus::Unconfirmed => Err(err("UserNotConfirmedException", "User is not confirmed.")),
        UserStatus::ForceChangePassword => Ok(open_challenge(
            shared,
            &mut state,
            &user,
            &client.id,
            ScriptedChallenge::NewPasswordRequired,
            true,
        )),
        UserStatus::Confirmed if custom => {
            // CUSTOM_AUTH with SRP: the password is proved; the custom rounds follow.
            let device_key = string(responses, "DEVICE_KEY")
                .map(str::to_owned)
                .or(challenge_device_key);
            Ok(super::custom_auth::round(
                shared, &mut state, &user, &client.id, 0, device_key,
            ))
        }
        UserStatus::Confirmed => {
            let device_key = string(responses, "DEVICE_KEY")
                .map(str::to_owned)
                .or(challenge_device_key);
            match device_key {
                Some(device_key) if shared.device_tracking => {
                    let mut response = open_challenge(
                        shared,
                        &mut state,
                        &user,
                        &client.id,
                        ScriptedChallenge::DeviceSrpAuth,
                        true,
                    );
                    if let Some(pending) = response["Session"]
                        .as_str()
                        .and_then(|s| state.sessions.get_mut(s))
                    {
                        pending.device_key = Some(device_key);
                    }
                    response["ChallengeParameters"]["USERNAME"] = json!(challenge_user_id);
                    Ok(response)
                }
                _ => Ok(after_verified(shared, &mut state, &user, &client.id, false)),
            }
        }
    }
}

/// `DEVICE_SRP_AUTH` answered (`DEVICE_KEY`, `SRP_A`): `DEVICE_PASSWORD_VERIFIER` for a
/// confirmed device of `user`, else "Device does not exist."
fn device_srp_auth(
    shared: &Shared,
    state: &mut State,
    client_id: &str,
    user: &str,
    responses: &Map<String, Value>,
) -> ApiResult {
    let device_key = string(responses, "DEVICE_KEY").ok_or_else(|| missing("DEVICE_KEY"))?;
    let srp_a = string(responses, "SRP_A").ok_or_else(|| missing("SRP_A"))?;
    let big_a =
        srp::from_hex(srp_a).ok_or_else(|| invalid_parameter("SRP_A is not hexadecimal"))?;
    let Some((verifier, salt)) = state
        .devices
        .get(device_key)
        .filter(|d| d.user == user)
        .and_then(|d| d.verifier.clone())
    else {
        return Err(err("ResourceNotFoundException", "Device does not exist."));
    };
    let (b, big_b) = srp::server_ephemeral(&verifier);
    let secret_block = STANDARD.encode(srp::random_bytes(128));
    let session = random_token(96);
    state.sessions_issued.push(session.clone());
    let user_id = state
        .user(user)
        .map(|u| u.srp_id.clone())
        .unwrap_or_default();
    state.device_challenges.insert(
        session.clone(),
        DeviceChallenge {
            client_id: client_id.to_owned(),
            user: user.to_owned(),
            device_key: device_key.to_owned(),
            secret_block: secret_block.clone(),
            big_a,
            b,
            big_b: big_b.clone(),
            expires: Instant::now() + shared.auth_session,
        },
    );
    Ok(json!({
        "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
        "Session": session,
        "ChallengeParameters": {
            "SRP_B": srp::to_hex(&big_b),
            "SALT": srp::to_hex(&salt),
            "SECRET_BLOCK": secret_block,
            "USERNAME": user_id,
            "DEVICE_KEY": device_key,
        },
    }))
}

/// `DEVICE_PASSWORD_VERIFIER` answered: the device proof against the verifier stored at
/// `ConfirmDevice`; the tokens, without the user's challenge.
fn device_password_verifier(
    shared: &Shared,
    client: &AppClient,
    request: &Map<String, Value>,
    responses: &Map<String, Value>,
) -> ApiResult {
    let session = string(request, "Session").ok_or_else(|| missing("Session"))?;
    for key in [
        "USERNAME",
        "DEVICE_KEY",
        "TIMESTAMP",
        "PASSWORD_CLAIM_SIGNATURE",
        "PASSWORD_CLAIM_SECRET_BLOCK",
    ] {
        if string(responses, key).is_none() {
            return Err(missing(key));
        }
    }
    let timestamp = srp::canonical_timestamp(string(responses, "TIMESTAMP").unwrap_or_default())
        .ok_or_else(|| {
            invalid_parameter("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")
        })?;
    let signature = STANDARD
        .decode(string(responses, "PASSWORD_CLAIM_SIGNATURE").unwrap_or_default())
        .map_err(|_| invalid_parameter("Invalid PASSWORD_CLAIM_SIGNATURE format."))?;
    let mut state = lock(&shared.state);
    prune(&mut state);
    let Some(challenge) = state.device_challenges.remove(session) else {
        return Err(not_authorized(INVALID_SESSION));
    };
    if challenge.client_id != client.id
        || string(responses, "DEVICE_KEY") != Some(challenge.device_key.as_str())
        || string(responses, "PASSWORD_CLAIM_SECRET_BLOCK") != Some(challenge.secret_block.as_str())
    {
        shared.failed_device_proofs.fetch_add(1, Ordering::SeqCst);
        return Err(not_authorized(INCORRECT));
    }
    let srp_id = state
        .user(&challenge.user)
        .map(|u| u.srp_id.clone())
        .unwrap_or_default();
    check_secret_hash(client, string(responses, "SECRET_HASH"), &srp_id, false)?;
    let Some(device) = state.devices.get(&challenge.device_key) else {
        return Err(err("ResourceNotFoundException", "Device does not exist."));
    };
    let (verifier, _) = device.verifier.clone().unwrap_or_default();
    let key = srp::session_key(&challenge.big_a, &challenge.big_b, &challenge.b, &verifier);
    let secret_block = STANDARD.decode(&challenge.secret_block).unwrap_or_default();
    let verified = key.is_some_and(|key| {
        let expected = srp::signature(
            &key,
            &device.group_key,
            &challenge.device_key,
            &secret_block,
            &timestamp,
        );
        srp::ct_eq(&expected, &signature)
    });
    if !verified {
        shared.failed_device_proofs.fetch_add(1, Ordering::SeqCst);
        return Err(not_authorized(INCORRECT));
    }
    shared.verified_device_proofs.fetch_add(1, Ordering::SeqCst);
    Ok(device_signed_in(
        shared,
        &mut state,
        &challenge.user,
        &client.id,
        &challenge.device_key,
    ))
}

/// The owner (configured user name) of a live access token.
fn access_owner(state: &State, request: &Map<String, Value>) -> Result<String, ApiError> {
    let token = string(request, "AccessToken").ok_or_else(|| missing("AccessToken"))?;
    let record = state
        .access_tokens
        .get(token)
        .ok_or_else(|| not_authorized("Invalid Access Token"))?;
    if record.revoked {
        return Err(not_authorized("Access Token has been revoked"));
    }
    if Instant::now() >= record.expires {
        return Err(not_authorized("Access Token has expired"));
    }
    Ok(record.user.clone())
}

/// `ConfirmDevice`: stores the device's verifier and salt (`DeviceSecretVerifierConfig`, base64
/// of their big-endian bytes).
fn confirm_device(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let mut state = lock(&shared.state);
    let user = access_owner(&state, request)?;
    let device_key = string(request, "DeviceKey").ok_or_else(|| missing("DeviceKey"))?;
    let config = object(request, "DeviceSecretVerifierConfig")
        .ok_or_else(|| missing("DeviceSecretVerifierConfig"))?;
    let decode = |name: &str| {
        string(config, name)
            .and_then(|v| STANDARD.decode(v).ok())
            .filter(|b| !b.is_empty())
            .map(|b| BigUint::from_bytes_be(&b))
            .ok_or_else(|| invalid_parameter(format!("Invalid DeviceSecretVerifierConfig.{name}")))
    };
    let verifier = decode("PasswordVerifier")?;
    let salt = decode("Salt")?;
    let device = state
        .devices
        .get_mut(device_key)
        .filter(|d| d.user == user)
        .ok_or_else(|| err("ResourceNotFoundException", "Device does not exist."))?;
    device.verifier = Some((verifier, salt));
    Ok(json!({"UserConfirmationNecessary": false}))
}

/// `UpdateDeviceStatus`: `DeviceRememberedStatus` `remembered` / `not_remembered`.
fn update_device_status(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let mut state = lock(&shared.state);
    let user = access_owner(&state, request)?;
    let device_key = string(request, "DeviceKey").ok_or_else(|| missing("DeviceKey"))?;
    let remembered = match string(request, "DeviceRememberedStatus") {
        Some("remembered") => true,
        Some("not_remembered") => false,
        _ => {
            return Err(invalid_parameter(
                "DeviceRememberedStatus must be remembered or not_remembered",
            ))
        }
    };
    let device = state
        .devices
        .get_mut(device_key)
        .filter(|d| d.user == user)
        .ok_or_else(|| err("ResourceNotFoundException", "Device does not exist."))?;
    device.remembered = Some(remembered);
    Ok(json!({}))
}

fn answer_challenge(
    shared: &Shared,
    client: &AppClient,
    name: &str,
    request: &Map<String, Value>,
    responses: &Map<String, Value>,
) -> ApiResult {
    let session_id = string(request, "Session").ok_or_else(|| missing("Session"))?;
    let mut state = lock(&shared.state);
    let Some(pending) = state.sessions.get(session_id) else {
        return Err(not_authorized(INVALID_SESSION));
    };
    if pending.expires <= Instant::now() {
        state.sessions.remove(session_id);
        return Err(not_authorized(
            "Invalid session for the user, session is expired.",
        ));
    }
    if pending.client_id != client.id {
        return Err(not_authorized(INVALID_SESSION));
    }
    if pending.challenge.name() != name {
        return Err(invalid_parameter(format!(
            "Invalid challenge name {name}: the session awaits {}",
            pending.challenge.name()
        )));
    }
    let username = string(responses, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
    let user = pending.user.clone();
    let challenge = pending.challenge.clone();
    let user_challenge_pending = pending.user_challenge_pending;
    let pending_device = pending.device_key.clone();
    let custom_round = pending.custom_round;
    let designated = find_user(shared, &state, username).map(|u| u.username.clone());
    if designated.as_deref() != Some(user.as_str()) {
        return Err(not_authorized(INCORRECT));
    }
    let srp_id = state
        .user(&user)
        .map(|u| u.srp_id.clone())
        .unwrap_or_default();
    check_secret_hash(client, string(responses, "SECRET_HASH"), &srp_id, false)?;
    let code_mismatch = || {
        err(
            "CodeMismatchException",
            "Invalid code or auth state for the user.",
        )
    };
    let code_matches = |key: &str, code: &str| {
        string(responses, key).is_some_and(|given| srp::ct_eq(given.as_bytes(), code.as_bytes()))
    };
    match &challenge {
        ScriptedChallenge::NewPasswordRequired => {
            let password =
                string(responses, "NEW_PASSWORD").ok_or_else(|| missing("NEW_PASSWORD"))?;
            let pool_name = shared.pool_name.clone();
            let record = state.user_mut(&user).expect("a challenged user exists");
            record.set_password(&pool_name, password);
            record.status = UserStatus::Confirmed;
        }
        ScriptedChallenge::SmsMfa { code } => {
            if !code_matches("SMS_MFA_CODE", code) {
                return Err(code_mismatch());
            }
        }
        ScriptedChallenge::SoftwareTokenMfa { code } => {
            let given = string(responses, "SOFTWARE_TOKEN_MFA_CODE");
            let matches = mfa::check_enrolled_code(&state, &user, given)
                .unwrap_or_else(|| code_matches("SOFTWARE_TOKEN_MFA_CODE", code));
            if !matches {
                return Err(code_mismatch());
            }
        }
        ScriptedChallenge::EmailOtp { code } => {
            if !code_matches("EMAIL_OTP_CODE", code) {
                return Err(code_mismatch());
            }
        }
        ScriptedChallenge::SelectMfaType {
            sms_code,
            totp_code,
        } => {
            let next = match string(responses, "ANSWER") {
                Some("SMS_MFA") => ScriptedChallenge::sms_mfa(sms_code.clone()),
                Some("SOFTWARE_TOKEN_MFA") => {
                    ScriptedChallenge::software_token_mfa(totp_code.clone())
                }
                _ => {
                    return Err(invalid_parameter(
                        "ANSWER must be SMS_MFA or SOFTWARE_TOKEN_MFA",
                    ))
                }
            };
            state.sessions.remove(session_id);
            return Ok(open_challenge(
                shared,
                &mut state,
                &user,
                &client.id,
                next,
                user_challenge_pending,
            ));
        }
        ScriptedChallenge::MfaSetup => {
            if !mfa::take_verified_setup(&mut state, session_id) {
                return Err(invalid_parameter(
                    "MFA_SETUP: no software token was verified with this Session (AssociateSoftwareToken, then VerifySoftwareToken)",
                ));
            }
            // Enrolled: the tokens follow, without the (now SOFTWARE_TOKEN_MFA) user challenge.
            state.sessions.remove(session_id);
            return Ok(after_verified(shared, &mut state, &user, &client.id, true));
        }
        ScriptedChallenge::CustomChallenge { answer, .. } => {
            if !code_matches("ANSWER", answer) {
                state.sessions.remove(session_id);
                if custom_round.is_some() {
                    shared.custom_answers_refused.fetch_add(1, Ordering::SeqCst);
                }
                return Err(not_authorized(INCORRECT));
            }
            if let Some(done) = custom_round {
                shared
                    .custom_answers_accepted
                    .fetch_add(1, Ordering::SeqCst);
                state.sessions.remove(session_id);
                // Only the key sent with this answer counts (amazon-cognito-identity-js
                // sends it with every CUSTOM_CHALLENGE answer): stricter than Cognito may be.
                let device_key = string(responses, "DEVICE_KEY").map(str::to_owned);
                return Ok(super::custom_auth::round(
                    shared,
                    &mut state,
                    &user,
                    &client.id,
                    done + 1,
                    device_key,
                ));
            }
        }
        ScriptedChallenge::DeviceSrpAuth => {
            state.sessions.remove(session_id);
            if pending_device.is_some()
                && string(responses, "DEVICE_KEY") != pending_device.as_deref()
            {
                return Err(err("ResourceNotFoundException", "Device does not exist."));
            }
            return device_srp_auth(shared, &mut state, &client.id, &user, responses);
        }
    }
    state.sessions.remove(session_id);
    Ok(after_verified(
        shared,
        &mut state,
        &user,
        &client.id,
        !user_challenge_pending,
    ))
}

/// The owner (configured user name) of a refresh token usable by `client`.
fn refresh_owner(state: &State, client: &AppClient, token: &str) -> Result<String, ApiError> {
    let record = state
        .refresh_tokens
        .get(token)
        .ok_or_else(|| not_authorized("Invalid Refresh Token"))?;
    if record.client_id != client.id {
        return Err(not_authorized("Invalid Refresh Token"));
    }
    let now = Instant::now();
    match record.state {
        RefreshState::Revoked => return Err(not_authorized("Refresh Token has been revoked")),
        RefreshState::RotatedOut(until) if now >= until => {
            return Err(err(
                "RefreshTokenReuseException",
                "Refresh Token has been invalidated by refresh token rotation",
            ))
        }
        _ => {}
    }
    if now >= record.expires {
        return Err(not_authorized("Refresh Token has expired"));
    }
    let user = state
        .user(&record.user)
        .ok_or_else(|| not_authorized("User does not exist."))?;
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    Ok(record.user.clone())
}

fn get_tokens_from_refresh_token(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let client = client(shared, request)?;
    let token = string(request, "RefreshToken").ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value null at 'refreshToken' failed to satisfy constraint: Member must not be null",
        )
    })?;
    check_client_secret(client, request)?;
    let mut state = lock(&shared.state);
    let username = refresh_owner(&state, client, token)?;
    check_refresh_device(&state, token, string(request, "DeviceKey"))?;
    let family = family_of(&state, token);
    let refresh = match client.rotation {
        None => NewRefresh::None(family),
        Some(grace) => {
            let record = state
                .refresh_tokens
                .get_mut(token)
                .expect("refresh_owner found it");
            if record.state == RefreshState::Active {
                record.state = RefreshState::RotatedOut(Instant::now() + grace);
            }
            NewRefresh::Rotated(record.expires, family)
        }
    };
    let bound = state
        .refresh_tokens
        .get(token)
        .and_then(|r| r.device_key.clone());
    let result = issue(shared, &mut state, &username, &client.id, refresh);
    if let Some(new) = result["RefreshToken"].as_str() {
        if let Some(record) = state.refresh_tokens.get_mut(new) {
            record.device_key = bound;
        }
    }
    Ok(json!({ "AuthenticationResult": result }))
}

/// The family of a refresh token known to be there.
fn family_of(state: &State, token: &str) -> String {
    state
        .refresh_tokens
        .get(token)
        .map(|r| r.family.clone())
        .unwrap_or_default()
}

/// Checks the `ClientSecret` member (`GetTokensFromRefreshToken`, `RevokeToken`): required
/// and equal to the secret for a client with one, ignored otherwise.
fn check_client_secret(client: &AppClient, request: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(secret) = &client.secret else {
        return Ok(());
    };
    match string(request, "ClientSecret") {
        None => Err(not_authorized(format!(
            "Client {} is configured with secret but ClientSecret was not received",
            client.id
        ))),
        Some(given) if !srp::ct_eq(given.as_bytes(), secret.as_bytes()) => Err(not_authorized(
            format!("Unable to verify secret for client {}", client.id),
        )),
        Some(_) => Ok(()),
    }
}

/// `RevokeToken`: revokes a refresh token, the refresh tokens rotated from the same login and
/// every access token issued with them. A confidential client must send its `ClientSecret`.
/// An access token gets `UnsupportedTokenTypeException`; a refresh token of another client
/// `UnauthorizedException`; a token the emulator never issued is accepted and changes nothing
/// (as RFC 7009 §2.2 has it); a client with revocation off gets
/// `UnsupportedOperationException`.
pub(crate) fn revoke_token(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let client = client(shared, request)?;
    let token = string(request, "Token").ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value null at 'token' failed to satisfy constraint: Member must not be null",
        )
    })?;
    check_client_secret(client, request)?;
    if !client.revocation {
        return Err(err(
            "UnsupportedOperationException",
            format!("Token revocation is not enabled for client {}", client.id),
        ));
    }
    let mut state = lock(&shared.state);
    if state.access_tokens.contains_key(token) {
        return Err(err(
            "UnsupportedTokenTypeException",
            "Only refresh tokens can be revoked",
        ));
    }
    let Some(record) = state.refresh_tokens.get(token) else {
        return Ok(json!({}));
    };
    if record.client_id != client.id {
        return Err(err(
            "UnauthorizedException",
            "The refresh token was not issued to this client",
        ));
    }
    let family = record.family.clone();
    for record in state.refresh_tokens.values_mut() {
        if record.family == family {
            record.state = RefreshState::Revoked;
        }
    }
    for record in state.access_tokens.values_mut() {
        if record.family == family {
            record.revoked = true;
        }
    }
    Ok(json!({}))
}

fn get_user(shared: &Shared, request: &Map<String, Value>) -> ApiResult {
    let token = string(request, "AccessToken").ok_or_else(|| {
        invalid_parameter(
            "1 validation error detected: Value null at 'accessToken' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let state = lock(&shared.state);
    let record = state
        .access_tokens
        .get(token)
        .ok_or_else(|| not_authorized("Invalid Access Token"))?;
    if record.revoked {
        return Err(not_authorized("Access Token has been revoked"));
    }
    if Instant::now() >= record.expires {
        return Err(not_authorized("Access Token has expired"));
    }
    let user = state
        .user(&record.user)
        .ok_or_else(|| err("UserNotFoundException", "User does not exist."))?;
    if !user.enabled {
        return Err(not_authorized("User is disabled."));
    }
    let mut attributes = vec![json!({"Name": "sub", "Value": user.sub})];
    if let Some(email) = &user.email {
        attributes.push(json!({"Name": "email", "Value": email}));
        attributes.push(json!({"Name": "email_verified", "Value": "true"}));
    }
    for (name, value) in &user.attributes {
        attributes.push(json!({"Name": name, "Value": value}));
    }
    Ok(json!({"Username": user.srp_id, "UserAttributes": attributes}))
}

/// `GET|POST /resource`: accepts live access tokens issued here.
pub(crate) async fn resource(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    shared.resource.answer(&headers, |token| {
        let state = lock(&shared.state);
        let record = state.access_tokens.get(token)?;
        if record.revoked || Instant::now() >= record.expires {
            return None;
        }
        state.user(&record.user).map(|u| u.srp_id.clone())
    })
}
