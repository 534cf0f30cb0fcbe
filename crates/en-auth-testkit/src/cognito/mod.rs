//! An in-process emulator of the Amazon Cognito user-pool API (`cognito-idp`) that really
//! verifies SRP proofs, and a protected resource that accepts the access tokens it issues.
//!
//! The wire protocol is AWS JSON 1.1 (`POST /`, `Content-Type: application/x-amz-json-1.1`,
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`), as the AWS SDKs and
//! amazon-cognito-identity-js speak it. See the Amazon Cognito user pools API reference
//! (`InitiateAuth`, `RespondToAuthChallenge`, `GetTokensFromRefreshToken`, `GetUser`).

mod api;
mod custom_auth;
mod managed_login;
mod srp;
mod user_auth;

pub use user_auth::OneTimeCode;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use num_bigint::BigUint;

use crate::resource::ProtectedResource;
use crate::serving::{on_own_thread, Serving};

/// The status of a user in the pool (Cognito `UserStatusType`), which decides how sign-in ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserStatus {
    /// `CONFIRMED`: signs in normally.
    #[default]
    Confirmed,
    /// `UNCONFIRMED`: `InitiateAuth` answers `UserNotConfirmedException` "User is not confirmed."
    Unconfirmed,
    /// `RESET_REQUIRED`: a *correct* password proof answers `PasswordResetRequiredException`
    /// "Password reset required for the user" (a wrong one still gets `NotAuthorizedException`).
    ResetRequired,
    /// `FORCE_CHANGE_PASSWORD`: a correct password proof answers the `NEW_PASSWORD_REQUIRED`
    /// challenge; answering it with `NEW_PASSWORD` sets the password and confirms the user.
    ForceChangePassword,
}

impl UserStatus {
    /// The Cognito name, e.g. `FORCE_CHANGE_PASSWORD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Unconfirmed => "UNCONFIRMED",
            Self::ResetRequired => "RESET_REQUIRED",
            Self::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
        }
    }
}

/// A challenge the emulator can put between a verified password and the tokens (or, scripted,
/// answer `InitiateAuth` with instead of `PASSWORD_VERIFIER`). Each is answered with
/// `RespondToAuthChallenge` carrying the `Session` it came with and `ChallengeResponses.USERNAME`
/// (plus `SECRET_HASH` for clients with a secret), as in the Cognito API reference.
///
/// Codes and answers are redacted in `Debug`.
///
/// This is the emulator's side: what the pool asks and which answer it accepts, set up with
/// [`PoolUser::challenge_after_password`] or [`Script::challenge`]. The client's side — the
/// challenge a login receives and a challenge handler answers — is `en_auth_srp::Challenge`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptedChallenge {
    /// `NEW_PASSWORD_REQUIRED` (parameters `USER_ID_FOR_SRP`, `requiredAttributes` = `"[]"`,
    /// `userAttributes` = a JSON object string); answered with `NEW_PASSWORD`, which becomes the
    /// user's password (the user is then `CONFIRMED`).
    NewPasswordRequired,
    /// `SMS_MFA` (parameters `CODE_DELIVERY_DELIVERY_MEDIUM` = `SMS`,
    /// `CODE_DELIVERY_DESTINATION`, `USER_ID_FOR_SRP`); answered with `SMS_MFA_CODE`.
    SmsMfa {
        /// The code the user "received"; a different one gets `CodeMismatchException`.
        code: String,
    },
    /// `SOFTWARE_TOKEN_MFA` (parameters `USER_ID_FOR_SRP`, `FRIENDLY_DEVICE_NAME`); answered
    /// with `SOFTWARE_TOKEN_MFA_CODE`.
    SoftwareTokenMfa {
        /// The expected TOTP code; a different one gets `CodeMismatchException`.
        code: String,
    },
    /// `SELECT_MFA_TYPE` (parameters `MFAS_CAN_CHOOSE` = `["SMS_MFA","SOFTWARE_TOKEN_MFA"]`,
    /// `USER_ID_FOR_SRP`); answered with `ANSWER` = `SMS_MFA` or `SOFTWARE_TOKEN_MFA`, which
    /// leads to that challenge (with a new `Session`).
    SelectMfaType {
        /// The code expected if `SMS_MFA` is chosen.
        sms_code: String,
        /// The code expected if `SOFTWARE_TOKEN_MFA` is chosen.
        totp_code: String,
    },
    /// `EMAIL_OTP` as an MFA factor (parameters `CODE_DELIVERY_DELIVERY_MEDIUM` = `EMAIL`,
    /// `CODE_DELIVERY_DESTINATION`, `USER_ID_FOR_SRP`); answered with `EMAIL_OTP_CODE`.
    EmailOtp {
        /// The code the user "received" by email; a different one gets `CodeMismatchException`.
        code: String,
    },
    /// `MFA_SETUP` (parameters `MFAS_CAN_SETUP` = `["SOFTWARE_TOKEN_MFA"]`, `USER_ID_FOR_SRP`):
    /// the user enrols an authenticator app with `AssociateSoftwareToken` on the challenge's
    /// `Session` (a random secret, `SecretCode` in base32, and a new `Session`), then
    /// `VerifySoftwareToken` with that `Session` and a current RFC 6238 code of the secret
    /// (SHA-1, 6 digits, 30 s; a wrong code gets `EnableSoftwareTokenMFAException`), then
    /// answers `MFA_SETUP` with the `Session` the verification returned and gets the tokens.
    /// The user's later logins are asked `SOFTWARE_TOKEN_MFA`, checked against the enrolled
    /// secret. Answering `MFA_SETUP` before a verification gets `InvalidParameterException`.
    MfaSetup,
    /// `CUSTOM_CHALLENGE` (parameters `USERNAME`, `USER_ID_FOR_SRP` and the configured ones);
    /// answered with `ANSWER`; a wrong answer gets `NotAuthorizedException`
    /// "Incorrect username or password." and ends the session.
    CustomChallenge {
        /// The expected `ANSWER`.
        answer: String,
        /// Extra public challenge parameters (e.g. a question to show).
        parameters: Vec<(String, String)>,
    },
    /// `DEVICE_SRP_AUTH` (parameters `USERNAME`, `USER_ID_FOR_SRP`); answered with
    /// `DEVICE_KEY` and `SRP_A`: a confirmed device of the user gets `DEVICE_PASSWORD_VERIFIER`
    /// (see [`CognitoServerBuilder::device_tracking_always`]), any other key
    /// `ResourceNotFoundException` "Device does not exist."
    DeviceSrpAuth,
}

impl ScriptedChallenge {
    /// A `SOFTWARE_TOKEN_MFA` challenge expecting this TOTP code.
    pub fn software_token_mfa(code: impl Into<String>) -> Self {
        Self::SoftwareTokenMfa { code: code.into() }
    }

    /// An `EMAIL_OTP` challenge (MFA by email) expecting this code.
    pub fn email_otp(code: impl Into<String>) -> Self {
        Self::EmailOtp { code: code.into() }
    }

    /// An `SMS_MFA` challenge expecting this code.
    pub fn sms_mfa(code: impl Into<String>) -> Self {
        Self::SmsMfa { code: code.into() }
    }

    /// A `CUSTOM_CHALLENGE` expecting this answer, with no extra parameters.
    pub fn custom(answer: impl Into<String>) -> Self {
        Self::CustomChallenge {
            answer: answer.into(),
            parameters: Vec::new(),
        }
    }

    /// The Cognito `ChallengeName`, e.g. `SOFTWARE_TOKEN_MFA`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NewPasswordRequired => "NEW_PASSWORD_REQUIRED",
            Self::SmsMfa { .. } => "SMS_MFA",
            Self::SoftwareTokenMfa { .. } => "SOFTWARE_TOKEN_MFA",
            Self::SelectMfaType { .. } => "SELECT_MFA_TYPE",
            Self::EmailOtp { .. } => "EMAIL_OTP",
            Self::MfaSetup => "MFA_SETUP",
            Self::CustomChallenge { .. } => "CUSTOM_CHALLENGE",
            Self::DeviceSrpAuth => "DEVICE_SRP_AUTH",
        }
    }
}

impl fmt::Debug for ScriptedChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CustomChallenge { parameters, .. } => f
                .debug_struct("CustomChallenge")
                .field("answer", &"<redacted>")
                .field("parameters", parameters)
                .finish(),
            other => write!(f, "{}", other.name()),
        }
    }
}

/// What the next call of an operation does instead of (or before) its normal processing; queued
/// with [`CognitoServer::script`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Script {
    /// Fail with this Cognito error: HTTP `status`, body `{"__type": error_type, "message":
    /// message}`, header `x-amzn-errortype: error_type`. Consumed when the call arrives.
    Error {
        /// The error name, e.g. `TooManyRequestsException`.
        error_type: String,
        /// The error message.
        message: String,
        /// The HTTP status (Cognito uses 400 for every error but `InternalErrorException`, 500).
        status: u16,
    },
    /// Answer with this raw HTTP status and body (content type `application/x-amz-json-1.1`), to
    /// test a client's parsing of malformed or unexpected responses. Consumed on arrival.
    Raw {
        /// The HTTP status.
        status: u16,
        /// The body, sent verbatim.
        body: String,
    },
    /// Wait this long, then process the call normally. Consumed on arrival.
    Delay(Duration),
    /// Answer with this challenge where the call would otherwise *succeed*: `InitiateAuth`
    /// (`USER_SRP_AUTH`) returns it instead of `PASSWORD_VERIFIER`; `RespondToAuthChallenge`
    /// returns it instead of the tokens once the answer (e.g. the password proof) is verified.
    /// Consumed only by such a success, so a failing call leaves it queued.
    Challenge(ScriptedChallenge),
}

impl Script {
    /// A Cognito error with the status Cognito uses for it (500 for `InternalErrorException`,
    /// 400 otherwise).
    pub fn error(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        let error_type = error_type.into();
        let status = if error_type == "InternalErrorException" {
            500
        } else {
            400
        };
        Self::Error {
            error_type,
            message: message.into(),
            status,
        }
    }

    /// A Cognito error with an explicit HTTP status.
    pub fn error_with_status(
        error_type: impl Into<String>,
        message: impl Into<String>,
        status: u16,
    ) -> Self {
        Self::Error {
            error_type: error_type.into(),
            message: message.into(),
            status,
        }
    }

    /// A raw response.
    pub fn raw(status: u16, body: impl Into<String>) -> Self {
        Self::Raw {
            status,
            body: body.into(),
        }
    }

    /// A challenge (see [`Script::Challenge`]).
    pub fn challenge(challenge: ScriptedChallenge) -> Self {
        Self::Challenge(challenge)
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error {
                error_type,
                message,
                status,
            } => f
                .debug_struct("Error")
                .field("error_type", error_type)
                .field("message", message)
                .field("status", status)
                .finish(),
            Self::Raw { status, body } => f
                .debug_struct("Raw")
                .field("status", status)
                .field("body_len", &body.len())
                .finish(),
            Self::Delay(d) => f.debug_tuple("Delay").field(d).finish(),
            Self::Challenge(c) => f.debug_tuple("Challenge").field(c).finish(),
        }
    }
}

/// An app client of the pool (Cognito `UserPoolClientType`). Its secret is redacted in `Debug`.
#[derive(Clone)]
pub struct AppClient {
    id: String,
    secret: Option<String>,
    srp: bool,
    rotation: Option<Duration>,
    revocation: bool,
    custom_auth: bool,
    callback_urls: Vec<String>,
}

impl AppClient {
    /// A public client (no secret) with `ALLOW_USER_SRP_AUTH` and `ALLOW_REFRESH_TOKEN_AUTH`.
    pub fn public(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: None,
            srp: true,
            rotation: None,
            revocation: true,
            custom_auth: true,
            callback_urls: Vec::new(),
        }
    }

    /// A confidential client: every authentication call must carry
    /// `SECRET_HASH = base64(HMAC-SHA256(secret, username + client_id))`.
    pub fn confidential(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            secret: Some(secret.into()),
            ..Self::public(id)
        }
    }

    /// Removes `ALLOW_USER_SRP_AUTH`: `InitiateAuth` with `USER_SRP_AUTH` then answers
    /// `InvalidParameterException` "USER_SRP_AUTH is not enabled for the client."
    #[must_use]
    pub fn without_srp(mut self) -> Self {
        self.srp = false;
        self
    }

    /// Enables refresh-token rotation (`RefreshTokenRotation.Feature = ENABLED`) with this retry
    /// grace period in seconds (0–60): `GetTokensFromRefreshToken` then returns a new refresh
    /// token, the submitted one stays usable for the grace period and is refused afterwards
    /// (`RefreshTokenReuseException`), and `REFRESH_TOKEN_AUTH` is refused.
    #[must_use]
    pub fn refresh_token_rotation(mut self, retry_grace_period_secs: u64) -> Self {
        self.rotation = Some(Duration::from_secs(retry_grace_period_secs));
        self
    }

    /// Turns token revocation off (`EnableTokenRevocation = false`, possible only for clients
    /// created before Cognito had it): `RevokeToken` then answers
    /// `UnsupportedOperationException`.
    #[must_use]
    pub fn without_token_revocation(mut self) -> Self {
        self.revocation = false;
        self
    }

    /// Removes `ALLOW_CUSTOM_AUTH` (which a client has by default, as Cognito gives it to
    /// clients created without `ExplicitAuthFlows`): `InitiateAuth` with `CUSTOM_AUTH` then
    /// answers `InvalidParameterException` "CUSTOM_AUTH is not enabled for the client."
    #[must_use]
    pub fn without_custom_auth(mut self) -> Self {
        self.custom_auth = false;
        self
    }

    /// The client's `CallbackURLs`: managed login's `/oauth2/authorize` then accepts only a
    /// `redirect_uri` equal to one of them, string for string, as Cognito compares them
    /// (answering `redirect_mismatch` otherwise; the emulator does not check the URLs themselves,
    /// which Cognito does when the client is created: `https`, or `http` to `localhost`). Without any, the emulator accepts any loopback
    /// `http://127.0.0.1:<port>/…` or `http://localhost:<port>/…` (a shortcut of the
    /// emulator's: Cognito has no such default).
    #[must_use]
    pub fn callback_urls<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.callback_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for AppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("srp", &self.srp)
            .field("rotation", &self.rotation)
            .field("revocation", &self.revocation)
            .field("custom_auth", &self.custom_auth)
            .field("callback_urls", &self.callback_urls)
            .finish()
    }
}

/// A user of the pool. Its password is redacted in `Debug`.
#[derive(Clone)]
pub struct PoolUser {
    username: String,
    password: String,
    email: Option<String>,
    sub: Option<String>,
    status: UserStatus,
    enabled: bool,
    attributes: Vec<(String, String)>,
    challenge: Option<ScriptedChallenge>,
    custom_challenges: Vec<CustomRound>,
}

/// One round of a user's custom authentication: the answer the auth challenge triggers expect
/// and the public challenge parameters they send. The answer is redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CustomRound {
    pub(crate) answer: String,
    pub(crate) parameters: Vec<(String, String)>,
}

impl PoolUser {
    /// A `CONFIRMED`, enabled user with this user name and password, no e-mail, and a random
    /// `sub`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            email: None,
            sub: None,
            status: UserStatus::Confirmed,
            enabled: true,
            attributes: Vec::new(),
            challenge: None,
            custom_challenges: Vec::new(),
        }
    }

    /// A verified `email` attribute, which is also a sign-in alias (`AliasAttributes=[email]`;
    /// matched case-insensitively).
    #[must_use]
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The `sub` attribute (the user's immutable UUID); default: a random UUID.
    #[must_use]
    #[allow(clippy::should_implement_trait)] // named after the Cognito attribute, not `ops::Sub`
    pub fn sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// The user's status; default [`UserStatus::Confirmed`].
    #[must_use]
    pub fn status(mut self, status: UserStatus) -> Self {
        self.status = status;
        self
    }

    /// Disables the user: sign-in and refresh answer `NotAuthorizedException` "User is disabled."
    #[must_use]
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// Another attribute returned by `GetUser` (e.g. `custom:tenant`).
    #[must_use]
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Adds a round to this user's custom authentication (`CUSTOM_AUTH`), as the pool's
    /// auth challenge Lambda triggers (DefineAuthChallenge, CreateAuthChallenge,
    /// VerifyAuthChallengeResponse) would run it: each round is a `CUSTOM_CHALLENGE` whose
    /// `ChallengeParameters` are `USERNAME` plus `parameters` (the public ones, such as a
    /// question to show), answered with `ChallengeResponses.ANSWER` = `answer`; the rounds are
    /// asked in the order added, and the tokens follow the last. `CUSTOM_AUTH` without SRP asks
    /// the first round straight away; with SRP (`AuthParameters.CHALLENGE_NAME = SRP_A` and
    /// `SRP_A`) it asks `PASSWORD_VERIFIER` first and verifies the password proof as
    /// `USER_SRP_AUTH` does. A wrong answer fails the sign-in: `NotAuthorizedException`
    /// "Incorrect username or password." (the session ends). A user with no round gets
    /// `InvalidParameterException` "Custom auth lambda trigger is not configured for the user
    /// pool." A `DEVICE_KEY` sent with the last round's answer, naming a device of the user
    /// confirmed with device tracking, makes the login a remembered device's (no new
    /// `NewDeviceMetadata`, its refresh token bound to that device); one sent only in
    /// `InitiateAuth` does not (stricter than Cognito may be: the official JS client sends it
    /// with every answer).
    #[must_use]
    pub fn custom_challenge<K, V>(
        mut self,
        answer: impl Into<String>,
        parameters: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.custom_challenges.push(CustomRound {
            answer: answer.into(),
            parameters: parameters
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        });
        self
    }

    /// A challenge this user must always answer after a verified password (e.g. MFA).
    #[must_use]
    pub fn challenge_after_password(mut self, challenge: ScriptedChallenge) -> Self {
        self.challenge = Some(challenge);
        self
    }
}

impl fmt::Debug for PoolUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolUser")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("email", &self.email)
            .field("sub", &self.sub)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("challenge", &self.challenge)
            .field("custom_challenges", &self.custom_challenges.len())
            .finish_non_exhaustive()
    }
}

/// Configures a [`CognitoServer`].
#[derive(Debug)]
pub struct CognitoServerBuilder {
    pool_id: String,
    clients: Vec<AppClient>,
    users: Vec<PoolUser>,
    access_lifetime_secs: u64,
    id_lifetime_secs: u64,
    refresh_lifetime_secs: u64,
    auth_session_secs: u64,
    require_session: bool,
    prevent_user_existence_errors: bool,
    email_as_username: bool,
    device_tracking: bool,
    mfa_required: bool,
    resource_body: Option<String>,
    identity_providers: HashMap<String, String>,
}

impl Default for CognitoServerBuilder {
    fn default() -> Self {
        Self {
            pool_id: "us-east-1_TestPool".into(),
            clients: Vec::new(),
            users: Vec::new(),
            access_lifetime_secs: 3600,
            id_lifetime_secs: 3600,
            refresh_lifetime_secs: 30 * 24 * 3600,
            auth_session_secs: 180,
            require_session: false,
            prevent_user_existence_errors: false,
            email_as_username: false,
            device_tracking: false,
            mfa_required: false,
            resource_body: None,
            identity_providers: HashMap::new(),
        }
    }
}

impl CognitoServerBuilder {
    /// The user-pool id, `<region>_<name>`; default `us-east-1_TestPool`. The part after `_` is
    /// the pool name that enters the SRP verifier and signature.
    #[must_use]
    pub fn pool_id(mut self, pool_id: impl Into<String>) -> Self {
        self.pool_id = pool_id.into();
        self
    }

    /// Adds an app client.
    #[must_use]
    pub fn client(mut self, client: AppClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds a public app client (see [`AppClient::public`]).
    #[must_use]
    pub fn public_client(self, id: impl Into<String>) -> Self {
        self.client(AppClient::public(id))
    }

    /// Adds a confidential app client (see [`AppClient::confidential`]).
    #[must_use]
    pub fn confidential_client(self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client(AppClient::confidential(id, secret))
    }

    /// Adds a user.
    #[must_use]
    pub fn user(mut self, user: PoolUser) -> Self {
        self.users.push(user);
        self
    }

    /// The access-token lifetime in seconds (`ExpiresIn`, and the token's `exp - iat`);
    /// default 3600. Real Cognito's minimum is 300; any value is accepted here.
    #[must_use]
    pub fn access_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.access_lifetime_secs = secs;
        self
    }

    /// The ID-token lifetime in seconds; default 3600.
    #[must_use]
    pub fn id_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.id_lifetime_secs = secs;
        self
    }

    /// The refresh-token lifetime in seconds; default 30 days.
    #[must_use]
    pub fn refresh_token_lifetime_secs(mut self, secs: u64) -> Self {
        self.refresh_lifetime_secs = secs;
        self
    }

    /// How long a challenge (`PASSWORD_VERIFIER`'s `SECRET_BLOCK`, or a `Session`) stays
    /// answerable, in seconds (Cognito `AuthSessionValidity`); default 180.
    #[must_use]
    pub fn auth_session_validity_secs(mut self, secs: u64) -> Self {
        self.auth_session_secs = secs;
        self
    }

    /// Returns a `Session` with `PASSWORD_VERIFIER` and requires it back in
    /// `RespondToAuthChallenge` (real Cognito sends none; some compatible servers do).
    /// Default `false`.
    #[must_use]
    pub fn require_session(mut self, on: bool) -> Self {
        self.require_session = on;
        self
    }

    /// `PreventUserExistenceErrors = ENABLED`: an unknown user gets a `PASSWORD_VERIFIER`
    /// challenge nobody can answer and then `NotAuthorizedException` "Incorrect username or
    /// password.", instead of `UserNotFoundException` "User does not exist." Default `false`.
    #[must_use]
    pub fn prevent_user_existence_errors(mut self, on: bool) -> Self {
        self.prevent_user_existence_errors = on;
        self
    }

    /// `UsernameAttributes = [email]`: Cognito's user name of each user is then its `sub` (a
    /// UUID), so `USERNAME` and `USER_ID_FOR_SRP` in challenges, the SRP verifier, the secret
    /// hashes after `InitiateAuth`, the tokens' `username` and `GetUser`'s `Username` all use the
    /// sub. Users sign in with their e-mail (or the configured user name, or the sub). Default
    /// `false`: the configured user name is Cognito's user name and the e-mail is an alias.
    #[must_use]
    pub fn email_as_username(mut self, on: bool) -> Self {
        self.email_as_username = on;
        self
    }

    /// Device tracking "Always" (`DeviceConfiguration.ChallengeRequiredOnNewDevice = true`,
    /// `DeviceOnlyRememberedOnUserPrompt = false`): every login that is not a remembered
    /// device's returns `NewDeviceMetadata` (`DeviceKey` `<region>_<uuid>`, the user's
    /// `DeviceGroupKey`), its refresh token bound to that device; `ConfirmDevice` stores the
    /// device's verifier and salt (`DeviceSecretVerifierConfig`), `UpdateDeviceStatus` its
    /// remembered status. A login that sends a `DEVICE_KEY` (`InitiateAuth` or the
    /// `PASSWORD_VERIFIER` answer) is asked `DEVICE_SRP_AUTH` once its password is verified;
    /// answered with that `DEVICE_KEY` and an `SRP_A`, it gets `DEVICE_PASSWORD_VERIFIER`
    /// (`SRP_B`, `SALT`, `SECRET_BLOCK`), whose proof is verified against the stored verifier
    /// (device group key in place of the pool name, device key in place of the user) and ends
    /// the login *without the user's own challenge* (the remembered device skips MFA). A device
    /// that is unknown, unconfirmed or forgotten ([`CognitoServer::forget_devices`]) gets
    /// `ResourceNotFoundException` "Device does not exist."; a wrong proof
    /// `NotAuthorizedException`. A refresh of a device's refresh token needs its `DEVICE_KEY`
    /// and the device confirmed, else `NotAuthorizedException` "Invalid Refresh Token" (as
    /// Cognito answers a client that never confirmed its device). Default `false`.
    #[must_use]
    pub fn device_tracking_always(mut self, on: bool) -> Self {
        self.device_tracking = on;
        self
    }

    /// Managed login (the user pool's `/oauth2/authorize`, `/oauth2/token`, `/oauth2/revoke` and
    /// its OpenID Connect discovery document at `<url>/<pool id>/.well-known/openid-configuration`,
    /// issuer `<url>/<pool id>`): the federated identity provider `name`, passed as
    /// `identity_provider`, signs in the pool user `username` at once (no page to fill in) and
    /// the browser is sent back with a code. The codes need PKCE S256; the tokens are the API's.
    #[must_use]
    pub fn federated_identity_provider(
        mut self,
        name: impl Into<String>,
        username: impl Into<String>,
    ) -> Self {
        self.identity_providers.insert(name.into(), username.into());
        self
    }

    /// MFA required (`MfaConfiguration` `ON`): a user with no challenge of its own
    /// ([`PoolUser::challenge_after_password`]) has no MFA factor yet, so its login is asked
    /// [`ScriptedChallenge::MfaSetup`] after the password; once enrolled, `SOFTWARE_TOKEN_MFA`.
    /// Default `false`.
    #[must_use]
    pub fn mfa_required(mut self, on: bool) -> Self {
        self.mfa_required = on;
        self
    }

    /// The body the protected resource returns to authorized requests; default
    /// `hello, <user name>`.
    #[must_use]
    pub fn resource_body(mut self, body: impl Into<String>) -> Self {
        self.resource_body = Some(body.into());
        self
    }

    /// Starts the server on `127.0.0.1` on a free port, as a task of the current Tokio runtime.
    ///
    /// The server stops when the returned value is dropped *or when this runtime shuts down*,
    /// whichever comes first: a server started in one `#[tokio::test]` (each has a runtime of
    /// its own) refuses connections once that test ends. For a server shared by several tests,
    /// use [`start_on_own_thread`](Self::start_on_own_thread).
    ///
    /// # Panics
    /// If no loopback port can be bound, the pool id has no `_`, or if called outside a Tokio
    /// runtime.
    pub async fn start(self) -> CognitoServer {
        let (region, pool_name) = self
            .pool_id
            .split_once('_')
            .map(|(r, n)| (r.to_owned(), n.to_owned()))
            .expect("a Cognito pool id is <region>_<name>");
        let users = self
            .users
            .into_iter()
            .map(|mut u| {
                if self.mfa_required && u.challenge.is_none() {
                    u.challenge = Some(ScriptedChallenge::MfaSetup);
                }
                UserRecord::new(u, &pool_name, self.email_as_username)
            })
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the Cognito emulator");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            identity_providers: self.identity_providers,
            pool_id: self.pool_id,
            pool_name,
            region,
            clients: self
                .clients
                .into_iter()
                .map(|c| (c.id.clone(), c))
                .collect(),
            access_lifetime: Duration::from_secs(self.access_lifetime_secs),
            id_lifetime: Duration::from_secs(self.id_lifetime_secs),
            refresh_lifetime: Duration::from_secs(self.refresh_lifetime_secs),
            auth_session: Duration::from_secs(self.auth_session_secs),
            require_session: self.require_session,
            prevent_user_existence_errors: self.prevent_user_existence_errors,
            email_as_username: self.email_as_username,
            device_tracking: self.device_tracking,
            verified_device_proofs: AtomicU64::new(0),
            failed_device_proofs: AtomicU64::new(0),
            custom_answers_accepted: AtomicU64::new(0),
            custom_answers_refused: AtomicU64::new(0),
            state: Mutex::new(State {
                users,
                ..State::default()
            }),
            scripts: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            verified_logins: AtomicU64::new(0),
            failed_proofs: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            resource: ProtectedResource::new(self.resource_body),
            hold: tokio::sync::watch::channel(false).0,
        });
        let app = Router::new()
            .route("/", post(api::handle))
            .route("/resource", get(api::resource).post(api::resource))
            .route(
                "/{pool_id}/.well-known/openid-configuration",
                get(managed_login::openid_configuration),
            )
            .route("/oauth2/authorize", get(managed_login::authorize))
            .route("/oauth2/token", post(managed_login::token))
            .route("/oauth2/revoke", post(managed_login::revoke))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CognitoServer {
            addr,
            shared,
            _serving: Serving::Task(server),
        }
    }

    /// Starts the server on `127.0.0.1` on a free port, on a thread of its own with a
    /// single-threaded Tokio runtime of its own, and returns once it listens.
    ///
    /// The server serves until the returned value is dropped, whatever happens to the caller's
    /// runtime: put it in a `static` (`LazyLock`, `OnceLock`) to share it between tests, each
    /// of which runs its own runtime. Its methods work from any runtime and from synchronous
    /// code. A `static` is never dropped, so such a server serves until the process exits.
    /// Its one thread verifies password proofs one at a time.
    ///
    /// ```
    /// use std::sync::LazyLock;
    /// use en_auth_testkit::{AppClient, CognitoServer, PoolUser};
    ///
    /// static POOL: LazyLock<CognitoServer> = LazyLock::new(|| {
    ///     CognitoServer::builder()
    ///         .client(AppClient::public("app"))
    ///         .user(PoolUser::new("alice", "Corr3ct-Horse!"))
    ///         .start_on_own_thread()
    /// });
    ///
    /// // Two runtimes one after the other, as two `#[tokio::test]`s would have: the server
    /// // outlives the first.
    /// for _ in 0..2 {
    ///     let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    ///     let status = runtime.block_on(async {
    ///         reqwest::Client::new().get(POOL.resource_url()).send().await.unwrap().status()
    ///     });
    ///     assert_eq!(status, 401); // no token: but the server answered
    /// }
    /// assert_eq!(POOL.resource_requests(), 2);
    /// ```
    ///
    /// # Panics
    /// If no loopback port can be bound, the pool id has no `_`, or the thread or its runtime
    /// cannot be created.
    pub fn start_on_own_thread(self) -> CognitoServer {
        let ((addr, shared), serving) = on_own_thread(
            "cognito-emulator",
            move || self.start(),
            |server: &CognitoServer| (server.addr, Arc::clone(&server.shared)),
        );
        CognitoServer {
            addr,
            shared,
            _serving: serving,
        }
    }
}

pub(crate) struct UserRecord {
    username: String,
    sub: String,
    email: Option<String>,
    status: UserStatus,
    enabled: bool,
    attributes: Vec<(String, String)>,
    challenge: Option<ScriptedChallenge>,
    /// Cognito's user name: the configured one, or the sub when the pool uses e-mail as user name.
    srp_id: String,
    salt: BigUint,
    verifier: BigUint,
    /// The user's `DeviceGroupKey` (device tracking).
    device_group_key: String,
    /// The rounds of the user's custom authentication.
    custom_challenges: Vec<CustomRound>,
}

impl UserRecord {
    fn new(user: PoolUser, pool_name: &str, email_as_username: bool) -> Self {
        let sub = user.sub.unwrap_or_else(random_uuid);
        let srp_id = if email_as_username {
            sub.clone()
        } else {
            user.username.clone()
        };
        let salt = srp::new_salt();
        let verifier = srp::verifier(pool_name, &srp_id, &user.password, &salt);
        Self {
            username: user.username,
            sub,
            email: user.email,
            status: user.status,
            enabled: user.enabled,
            attributes: user.attributes,
            challenge: user.challenge,
            srp_id,
            salt,
            verifier,
            device_group_key: format!("-{}", &random_uuid()[..9]),
            custom_challenges: user.custom_challenges,
        }
    }

    fn set_password(&mut self, pool_name: &str, password: &str) {
        self.salt = srp::new_salt();
        self.verifier = srp::verifier(pool_name, &self.srp_id, password, &self.salt);
    }
}

/// A pending `PASSWORD_VERIFIER`, keyed by its `SECRET_BLOCK`.
pub(crate) struct SrpChallenge {
    client_id: String,
    /// `None` for the unanswerable challenge of an unknown user.
    user: Option<String>,
    /// The name the challenge carries as `USER_ID_FOR_SRP`.
    user_id: String,
    big_a: BigUint,
    b: BigUint,
    big_b: BigUint,
    verifier: BigUint,
    session: Option<String>,
    /// The `DEVICE_KEY` of `InitiateAuth`, if any.
    device_key: Option<String>,
    /// A `CUSTOM_AUTH` sign-in with SRP: the custom rounds follow the password.
    custom: bool,
    expires: Instant,
}

/// A device of a user (device tracking).
pub(crate) struct DeviceRecord {
    user: String,
    group_key: String,
    /// The verifier and salt of `ConfirmDevice`; `None` until confirmed.
    verifier: Option<(BigUint, BigUint)>,
    remembered: Option<bool>,
}

/// A pending `DEVICE_PASSWORD_VERIFIER`, keyed by its `Session`.
pub(crate) struct DeviceChallenge {
    client_id: String,
    user: String,
    device_key: String,
    secret_block: String,
    big_a: BigUint,
    b: BigUint,
    big_b: BigUint,
    expires: Instant,
}

/// A pending challenge other than `PASSWORD_VERIFIER`, keyed by its `Session`.
pub(crate) struct PendingChallenge {
    client_id: String,
    user: String,
    challenge: ScriptedChallenge,
    user_challenge_pending: bool,
    /// For `DEVICE_SRP_AUTH`: the `DEVICE_KEY` the login sent; for a custom round, the one
    /// `InitiateAuth` or an earlier answer sent.
    device_key: Option<String>,
    /// For a `CUSTOM_AUTH` round: its index in the user's rounds.
    custom_round: Option<usize>,
    expires: Instant,
}

pub(crate) struct AccessRecord {
    user: String,
    /// The login the token descends from (its refresh tokens share it): what `RevokeToken`
    /// revokes together.
    family: String,
    expires: Instant,
    revoked: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshState {
    Active,
    Revoked,
    /// Replaced by rotation; usable until the instant (the retry grace period).
    RotatedOut(Instant),
}

pub(crate) struct RefreshRecord {
    user: String,
    /// The device it was issued to (device tracking): refreshes must name it.
    device_key: Option<String>,
    /// See [`AccessRecord::family`].
    family: String,
    client_id: String,
    expires: Instant,
    state: RefreshState,
}

#[derive(Default)]
pub(crate) struct State {
    users: Vec<UserRecord>,
    srp_challenges: HashMap<String, SrpChallenge>,
    sessions: HashMap<String, PendingChallenge>,
    /// Every `Session` value handed out, in order.
    sessions_issued: Vec<String>,
    access_tokens: HashMap<String, AccessRecord>,
    refresh_tokens: HashMap<String, RefreshRecord>,
    devices: HashMap<String, DeviceRecord>,
    device_challenges: HashMap<String, DeviceChallenge>,
    /// Open `USER_AUTH` steps (`SELECT_CHALLENGE`, one-time codes), by `Session`.
    user_auth: HashMap<String, user_auth::UserAuthPending>,
    /// Every one-time code sent, in order.
    one_time_codes: Vec<OneTimeCode>,
    /// Managed login's codes, until their one exchange.
    authorization_codes: HashMap<String, managed_login::AuthorizationCode>,
    /// Authenticator-app enrolment (`MFA_SETUP`).
    mfa: api::MfaState,
}

impl State {
    fn user(&self, username: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.username == username)
    }

    fn user_mut(&mut self, username: &str) -> Option<&mut UserRecord> {
        self.users.iter_mut().find(|u| u.username == username)
    }
}

pub(crate) struct Shared {
    pool_id: String,
    /// Managed login's federated identity providers: the user each signs in.
    identity_providers: HashMap<String, String>,
    pool_name: String,
    region: String,
    clients: HashMap<String, AppClient>,
    access_lifetime: Duration,
    id_lifetime: Duration,
    refresh_lifetime: Duration,
    auth_session: Duration,
    require_session: bool,
    prevent_user_existence_errors: bool,
    email_as_username: bool,
    device_tracking: bool,
    verified_device_proofs: AtomicU64,
    failed_device_proofs: AtomicU64,
    custom_answers_accepted: AtomicU64,
    custom_answers_refused: AtomicU64,
    state: Mutex<State>,
    scripts: Mutex<HashMap<String, VecDeque<Script>>>,
    calls: Mutex<HashMap<String, u64>>,
    verified_logins: AtomicU64,
    failed_proofs: AtomicU64,
    tokens_issued: AtomicU64,
    resource: ProtectedResource,
    hold: tokio::sync::watch::Sender<bool>,
}

/// A running Cognito user-pool emulator and protected resource on loopback.
///
/// It stops when dropped. One started with [`CognitoServerBuilder::start`] also stops when the
/// Tokio runtime that started it shuts down — so a `static` server started that way in one
/// `#[tokio::test]` is dead for the next; start a shared one with
/// [`CognitoServerBuilder::start_on_own_thread`] instead. Its methods are synchronous and work
/// from any thread.
///
/// Operations (AWS JSON 1.1 on `POST /`): `InitiateAuth` (`USER_SRP_AUTH`, `USER_AUTH` with
/// `PASSWORD_SRP`, `PASSWORD`, `EMAIL_OTP`, `SMS_OTP` — see [`CognitoServer::one_time_codes`] —,
/// `CUSTOM_AUTH` with and without SRP — see [`PoolUser::custom_challenge`] —,
/// `REFRESH_TOKEN_AUTH` / `REFRESH_TOKEN`), `RespondToAuthChallenge` (`PASSWORD_VERIFIER` and the [`ScriptedChallenge`]s),
/// `GetTokensFromRefreshToken`, `RevokeToken`, `GetUser`, and with device tracking
/// ([`CognitoServerBuilder::device_tracking_always`]) `DEVICE_SRP_AUTH` /
/// `DEVICE_PASSWORD_VERIFIER`, `ConfirmDevice` and `UpdateDeviceStatus`, and for `MFA_SETUP`
/// `AssociateSoftwareToken` and `VerifySoftwareToken` (with a `Session`). Errors are HTTP 400 (500 for
/// `InternalErrorException`) with `{"__type": ..., "message": ...}` and `x-amzn-errortype`.
/// Tokens are unsigned JWT-shaped strings (`alg: none`) tracked server-side with their expiry.
pub struct CognitoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _serving: Serving,
}

impl fmt::Debug for CognitoServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CognitoServer")
            .field("endpoint", &self.endpoint())
            .field("pool_id", &self.shared.pool_id)
            .finish_non_exhaustive()
    }
}

impl CognitoServer {
    /// A builder for pool `us-east-1_TestPool` with no clients and no users, access and ID
    /// tokens of 3600 s, refresh tokens of 30 days.
    pub fn builder() -> CognitoServerBuilder {
        CognitoServerBuilder::default()
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give an AWS SDK client or
    /// amazon-cognito-identity-js (`endpoint` option of `CognitoUserPool`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The protected resource, `<endpoint>/resource` (GET or POST): `200` with the configured body
    /// for `Authorization: Bearer <live access token>`, else `401` with
    /// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1), or plain `Bearer` when
    /// no credentials were sent.
    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.endpoint())
    }

    /// The pool id, e.g. `us-east-1_TestPool`.
    pub fn pool_id(&self) -> &str {
        &self.shared.pool_id
    }

    /// The region: the pool id's prefix before `_`.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// The issuer the tokens name: `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub fn issuer(&self) -> String {
        self.shared.issuer()
    }

    /// Makes the next `count` calls of `operation` (e.g. `"InitiateAuth"`) fail with this
    /// Cognito error (see [`Script::error`]).
    pub fn fail_next(&self, operation: &str, error_type: &str, message: &str, count: usize) {
        self.script(operation, Script::error(error_type, message), count);
    }

    /// Queues `script` for the next `count` calls of `operation` (after anything queued before).
    pub fn script(&self, operation: &str, script: Script, count: usize) {
        let mut scripts = lock(&self.shared.scripts);
        let queue = scripts.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(script, count));
    }

    /// Drops every queued script.
    pub fn clear_scripts(&self) {
        lock(&self.shared.scripts).clear();
    }

    /// Calls of `operation` received (counted on arrival, whatever their outcome).
    pub fn calls(&self, operation: &str) -> u64 {
        lock(&self.shared.calls)
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Password proofs (`PASSWORD_VERIFIER` answers) that verified.
    pub fn verified_logins(&self) -> u64 {
        self.shared.verified_logins.load(Ordering::SeqCst)
    }

    /// Password proofs that did not verify (wrong password, wrong user, bad timestamp, …).
    pub fn failed_proofs(&self) -> u64 {
        self.shared.failed_proofs.load(Ordering::SeqCst)
    }

    /// `AuthenticationResult`s issued (logins and refreshes).
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// Requests the protected resource received.
    pub fn resource_requests(&self) -> u64 {
        self.shared.resource.requests()
    }

    /// Requests the protected resource accepted.
    pub fn resource_authorized(&self) -> u64 {
        self.shared.resource.authorized()
    }

    /// Requests that reached the protected resource with no `Authorization` header.
    pub fn missing_authorization(&self) -> u64 {
        self.shared.resource.missing_authorization()
    }

    /// The `X-Api-Key` of the last request to the resource, if it had one.
    pub fn last_api_key(&self) -> Option<String> {
        self.shared.resource.last_api_key()
    }

    /// Holds every API call from now on: each is counted on arrival, then waits, unanswered,
    /// until [`CognitoServer::release_requests`].
    pub fn hold_requests(&self) {
        self.shared.hold.send_replace(true);
    }

    /// Lets held API calls (and later ones) proceed.
    pub fn release_requests(&self) {
        self.shared.hold.send_replace(false);
    }

    /// The devices of a user (configured user name) confirmed with `ConfirmDevice` (device
    /// tracking), by `DeviceKey`, sorted.
    pub fn confirmed_devices(&self, username: &str) -> Vec<String> {
        let state = lock(&self.shared.state);
        let mut keys: Vec<String> = state
            .devices
            .iter()
            .filter(|(_, d)| d.user == username && d.verifier.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// The remembered status `UpdateDeviceStatus` set for a device (`None`: never set, or no
    /// such device).
    pub fn device_remembered(&self, device_key: &str) -> Option<bool> {
        lock(&self.shared.state)
            .devices
            .get(device_key)
            .and_then(|d| d.remembered)
    }

    /// Forgets every device of a user (as `AdminForgetDevice` would): a login with one of
    /// their keys gets `ResourceNotFoundException` at `DEVICE_SRP_AUTH`, and its refresh
    /// tokens are refused.
    pub fn forget_devices(&self, username: &str) {
        lock(&self.shared.state)
            .devices
            .retain(|_, d| d.user != username);
    }

    /// Replaces the verifier of a confirmed device by one of a password nobody knows (as if
    /// it had been confirmed by another client): its next proof fails. `false` if there is no
    /// such confirmed device.
    pub fn scramble_device_verifier(&self, device_key: &str) -> bool {
        let mut state = lock(&self.shared.state);
        match state
            .devices
            .get_mut(device_key)
            .and_then(|d| d.verifier.as_mut())
        {
            Some((verifier, _)) => {
                *verifier = srp::unanswerable_verifier();
                true
            }
            None => false,
        }
    }

    /// Device proofs (`DEVICE_PASSWORD_VERIFIER` answers) that verified.
    pub fn verified_device_proofs(&self) -> u64 {
        self.shared.verified_device_proofs.load(Ordering::SeqCst)
    }

    /// Device proofs that did not verify.
    pub fn failed_device_proofs(&self) -> u64 {
        self.shared.failed_device_proofs.load(Ordering::SeqCst)
    }

    /// `CUSTOM_CHALLENGE` answers of a `CUSTOM_AUTH` sign-in that matched their round
    /// ([`PoolUser::custom_challenge`]).
    pub fn custom_answers_accepted(&self) -> u64 {
        self.shared.custom_answers_accepted.load(Ordering::SeqCst)
    }

    /// `CUSTOM_CHALLENGE` answers that did not match (each ended its sign-in).
    pub fn custom_answers_refused(&self) -> u64 {
        self.shared.custom_answers_refused.load(Ordering::SeqCst)
    }

    /// Whether `refresh_token` was issued here and has been revoked (by `RevokeToken` or
    /// [`CognitoServer::revoke_refresh_tokens`]).
    pub fn refresh_token_revoked(&self, refresh_token: &str) -> bool {
        lock(&self.shared.state)
            .refresh_tokens
            .get(refresh_token)
            .is_some_and(|r| r.state == RefreshState::Revoked)
    }

    /// Revokes every refresh token issued so far: refreshing with one answers
    /// `NotAuthorizedException` "Refresh Token has been revoked".
    pub fn revoke_refresh_tokens(&self) {
        for record in lock(&self.shared.state).refresh_tokens.values_mut() {
            record.state = RefreshState::Revoked;
        }
    }

    /// Revokes every access token issued so far: `GetUser` answers `NotAuthorizedException`
    /// "Access Token has been revoked" and the resource answers `401`.
    pub fn revoke_access_tokens(&self) {
        for record in lock(&self.shared.state).access_tokens.values_mut() {
            record.revoked = true;
        }
    }

    /// Makes every access token issued so far expire now (server-side; their `exp` claim is not
    /// rewritten): `GetUser` answers "Access Token has expired" and the resource `401`.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for record in lock(&self.shared.state).access_tokens.values_mut() {
            record.expires = record.expires.min(now);
        }
    }

    /// Makes every refresh token issued so far expire now: refreshing answers
    /// `NotAuthorizedException` "Refresh Token has expired".
    pub fn expire_refresh_tokens(&self) {
        let now = Instant::now();
        for record in lock(&self.shared.state).refresh_tokens.values_mut() {
            record.expires = record.expires.min(now);
        }
    }

    /// Changes a user's password (as an administrator would); `false` if there is no user with
    /// this (configured) user name.
    pub fn set_password(&self, username: &str, password: &str) -> bool {
        let mut state = lock(&self.shared.state);
        match state.user_mut(username) {
            Some(user) => {
                user.set_password(&self.shared.pool_name, password);
                true
            }
            None => false,
        }
    }

    /// Changes a user's status; `false` if there is no such user.
    pub fn set_user_status(&self, username: &str, status: UserStatus) -> bool {
        let mut state = lock(&self.shared.state);
        match state.user_mut(username) {
            Some(user) => {
                user.status = status;
                true
            }
            None => false,
        }
    }

    /// The current status of a user (configured user name), if it exists.
    pub fn user_status(&self, username: &str) -> Option<UserStatus> {
        lock(&self.shared.state).user(username).map(|u| u.status)
    }

    /// Cognito's user name for a configured user: the configured name, or its `sub` with
    /// [`CognitoServerBuilder::email_as_username`]. This is what challenges carry as `USERNAME`
    /// and `USER_ID_FOR_SRP`.
    pub fn cognito_username(&self, username: &str) -> Option<String> {
        lock(&self.shared.state)
            .user(username)
            .map(|u| u.srp_id.clone())
    }

    /// The `sub` of a configured user.
    pub fn user_sub(&self, username: &str) -> Option<String> {
        lock(&self.shared.state)
            .user(username)
            .map(|u| u.sub.clone())
    }

    /// Cognito's user name of the owner of `access_token` if it is live (issued here, not
    /// expired, not revoked), as the protected resource judges it.
    pub fn access_token_owner(&self, access_token: &str) -> Option<String> {
        let state = lock(&self.shared.state);
        let record = state.access_tokens.get(access_token)?;
        if record.revoked || Instant::now() >= record.expires {
            return None;
        }
        state.user(&record.user).map(|u| u.srp_id.clone())
    }

    /// Every `Session` value the emulator has handed out so far (with a challenge, or with
    /// `PASSWORD_VERIFIER` under [`CognitoServerBuilder::require_session`]), in order: for tests
    /// that check a client never shows them.
    pub fn sessions_issued(&self) -> Vec<String> {
        lock(&self.shared.state).sessions_issued.clone()
    }

    /// Every one-time code (`EMAIL_OTP`, `SMS_OTP` of a `USER_AUTH` sign-in) the emulator has
    /// "sent", in order: the test reads the code a user would receive here. A user can choose
    /// `EMAIL_OTP` if it has an email ([`PoolUser::email`]) and `SMS_OTP` if it has a
    /// `phone_number` attribute ([`PoolUser::attribute`]).
    pub fn one_time_codes(&self) -> Vec<OneTimeCode> {
        lock(&self.shared.state).one_time_codes.clone()
    }

    /// The last one-time code sent, if any: [`one_time_codes`](Self::one_time_codes).
    pub fn last_one_time_code(&self) -> Option<String> {
        lock(&self.shared.state)
            .one_time_codes
            .last()
            .map(|c| c.code.clone())
    }
}

impl Shared {
    fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region, self.pool_id
        )
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A random version-4 UUID in its usual text form.
pub(crate) fn random_uuid() -> String {
    let mut b = srp::random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
