//! [`CognitoSrp`]: Cognito's `USER_SRP_AUTH` login and its token refresh as a
//! [`TokenProvider`].
//!
//! Login ([InitiateAuth](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html)
//! `USER_SRP_AUTH` → challenge `PASSWORD_VERIFIER` →
//! [RespondToAuthChallenge](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html),
//! then any further challenge through the [`ChallengeHandler`]); renewal with
//! `REFRESH_TOKEN_AUTH`, or
//! [GetTokensFromRefreshToken](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetTokensFromRefreshToken.html)
//! when the app client rotates refresh tokens.
//!
//! Remembered devices (device tracking): a login answered with `NewDeviceMetadata` confirms
//! the device
//! ([ConfirmDevice](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ConfirmDevice.html),
//! with a verifier over a random device password: [`crate::srp::DeviceSecret`]) and, if asked,
//! marks it remembered (`UpdateDeviceStatus`); later logins and every refresh send its
//! `DEVICE_KEY`, and answer `DEVICE_SRP_AUTH` → `DEVICE_PASSWORD_VERIFIER` with the device's
//! proof, which spares the user's MFA code. A device Cognito no longer knows (or whose proof
//! it refuses) is dropped and the login starts again without it, then confirms the new one.
//!
//! Sign-out:
//! [RevokeToken](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RevokeToken.html)
//! revokes the session's refresh token and the access tokens issued with it
//! ([`CognitoSrp::revoke_token`]).
//!
//! Which user name goes where: `SECRET_HASH` of InitiateAuth is computed over the name the user
//! typed; after the challenge, over the challenge's `USERNAME` (the canonical user name, not an
//! alias), which is also what refreshes use. The SRP math uses the challenge's
//! `USER_ID_FOR_SRP`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ChallengeNameType, DeviceRememberedStatusType,
    DeviceSecretVerifierConfigType, NewDeviceMetadataType,
};
use aws_sdk_cognitoidentityprovider::Client;
use en_auth_core::{
    ChallengeError, ClientInfo, Environment, Error, InvalidCredentialsError, InvalidResponseError,
    Token, TokenProvider, UserCredentials,
};
use secrecy::{ExposeSecret, SecretString};

use crate::challenge::{Challenge, ChallengeHandler, CUSTOM_CHALLENGE, UNANSWERABLE};

mod mfa_setup;
use crate::errors::{map_sdk_error, Call, Context};
use crate::session::{SessionKey, SessionStore, StoredSession};
use crate::srp::{
    secret_hash, timestamp, DeviceSecret, DeviceVerifierInput, SrpClient, VerifierInput,
};
use crate::user_auth::{self, FirstFactor, SignInFlow, SELECT_CHALLENGE};

/// The name a confirmed device is given (`ConfirmDevice`'s `DeviceName`).
const DEVICE_NAME: &str = "en-auth";

/// A remembered device: what `NewDeviceMetadata` named, and the password whose verifier
/// `ConfirmDevice` registered (the device secret: whoever has it, the refresh token and the
/// user's password logs in without MFA). `Debug` redacts the password.
#[derive(Clone)]
pub struct RememberedDevice {
    key: String,
    group_key: String,
    password: SecretString,
}

impl RememberedDevice {
    /// A device as a [`SessionStore`](crate::SessionStore) gives it back: its
    /// `DeviceKey`, its `DeviceGroupKey` and the password whose verifier `ConfirmDevice`
    /// registered.
    pub fn new(
        device_key: impl Into<String>,
        device_group_key: impl Into<String>,
        device_password: SecretString,
    ) -> Self {
        Self {
            key: device_key.into(),
            group_key: device_group_key.into(),
            password: device_password,
        }
    }

    /// `NewDeviceMetadata.DeviceKey`.
    pub fn device_key(&self) -> &str {
        &self.key
    }

    /// `NewDeviceMetadata.DeviceGroupKey`.
    pub fn device_group_key(&self) -> &str {
        &self.group_key
    }

    /// The device password (secret).
    pub fn device_password(&self) -> &SecretString {
        &self.password
    }
}

type Device = RememberedDevice;

impl std::fmt::Debug for RememberedDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("key", &self.key)
            .field("group_key", &self.group_key)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// How a login attempt ended.
enum Attempt {
    Done(Token),
    /// Cognito refused the remembered device: start again without it.
    DeviceRefused,
}

/// Sends an AWS SDK call from en-auth's I/O runtime ([`en_auth_core::run_on_io_runtime`]), so
/// that the SDK's pooled connections are driven whichever runtime asks for a token.
pub(crate) trait OnIoRuntime: std::future::Future + Send + Sized + 'static
where
    Self::Output: Send + 'static,
{
    fn on_io_runtime(self) -> impl std::future::Future<Output = Result<Self::Output, Error>> {
        en_auth_core::run_on_io_runtime(self)
    }
}

impl<F> OnIoRuntime for F
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
}

/// How many challenges one login may go through before it is abandoned.
const MAX_CHALLENGES: usize = 8;

/// Logs a user in to a Cognito user pool over SRP and renews the session.
pub struct CognitoSrp {
    client_info: ClientInfo,
    credentials: UserCredentials,
    environment: Environment,
    pool_id: String,
    endpoint: String,
    cognito: Client,
    handler: Option<Box<dyn ChallengeHandler>>,
    /// The canonical user name learnt from the last login's challenge (for refresh SECRET_HASH).
    canonical_user: Mutex<Option<String>>,
    /// The password chosen in answer to `NEW_PASSWORD_REQUIRED`, which replaces the original.
    new_password: Mutex<Option<SecretString>>,
    /// The session's refresh token: the one of the last token obtained, until a sign-out.
    refresh_token: Mutex<Option<SecretString>>,
    /// The refresh token of the last sign-out: a renewal of a token that carries it logs in
    /// again instead of sending it.
    signed_out: Mutex<Option<SecretString>>,
    /// Sign-outs so far, bumped (under the `refresh_token` lock) by each: a token request that
    /// started before one keeps nothing of its result (see [`CognitoSrp::epoch`]).
    sign_outs: AtomicU64,
    /// Orders the stored session's saves and a sign-out's load-and-delete: a save that
    /// started before a sign-out never lands after its delete.
    session_io: tokio::sync::Mutex<()>,
    /// The remembered device, once confirmed.
    device: Mutex<Option<Device>>,
    /// Whether a confirmed device is also marked remembered (`UpdateDeviceStatus`).
    remember_device: bool,
    /// Where the session survives a restart, and under which key.
    sessions: Option<Arc<dyn SessionStore>>,
    session_key: SessionKey,
    /// `USER_SRP_AUTH` or `USER_AUTH`.
    sign_in: SignInFlow,
}

/// The names of `AvailableChallenges`.
fn available(challenges: &[ChallengeNameType]) -> Vec<String> {
    challenges.iter().map(|c| c.as_str().to_owned()).collect()
}

/// One step of a login: what the last call returned.
struct Step {
    challenge: Option<ChallengeNameType>,
    parameters: HashMap<String, String>,
    session: Option<String>,
    result: Option<AuthenticationResultType>,
    /// `AvailableChallenges` (with `SELECT_CHALLENGE`).
    available: Vec<String>,
}

impl CognitoSrp {
    /// A provider for `credentials` of `client_info` in `environment`, calling Cognito with
    /// `cognito`.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment has no well-formed `user_pool_id`.
    pub fn new(
        client_info: ClientInfo,
        credentials: UserCredentials,
        environment: Environment,
        cognito: Client,
        endpoint: String,
    ) -> Result<Self, Error> {
        let pool_id = environment.require_user_pool_id()?.to_owned();
        let session_key = SessionKey::new(
            endpoint.as_str(),
            pool_id.as_str(),
            client_info.client_id(),
            credentials.user_name(),
        );
        Ok(Self {
            client_info,
            credentials,
            environment,
            pool_id,
            endpoint,
            cognito,
            handler: None,
            canonical_user: Mutex::new(None),
            new_password: Mutex::new(None),
            refresh_token: Mutex::new(None),
            signed_out: Mutex::new(None),
            sign_outs: AtomicU64::new(0),
            session_io: tokio::sync::Mutex::new(()),
            device: Mutex::new(None),
            remember_device: false,
            sessions: None,
            session_key,
            sign_in: SignInFlow::default(),
        })
    }

    /// Keeps the session in `store` so that it survives a restart: before a login, a stored
    /// session is renewed with its refresh token (and its device's `DEVICE_KEY`; a login that
    /// follows proves the stored device), so no password and no MFA code is asked; every new
    /// refresh token (a rotated one included) and every newly confirmed device is saved
    /// before the token is handed out; a sign-out ([`SrpAuthorizer::revoke`]) deletes it.
    /// A store that fails is logged and the session goes on in memory.
    ///
    /// [`SrpAuthorizer::revoke`]: crate::SrpAuthorizer::revoke
    #[must_use]
    pub fn with_session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Starts each login with `flow`: `USER_SRP_AUTH` (the default) or choice-based
    /// `USER_AUTH` (see [`SignInFlow`]).
    #[must_use]
    pub fn with_sign_in_flow(mut self, flow: SignInFlow) -> Self {
        self.sign_in = flow;
        self
    }

    /// The key the session is stored under.
    pub fn session_key(&self) -> &SessionKey {
        &self.session_key
    }

    /// Loads the stored session, if any and not signed out, and adopts its user name and
    /// device; returns its refresh token.
    async fn load_session(&self) -> Option<SecretString> {
        let store = self.sessions.as_ref()?;
        let session = match store.load(&self.session_key).await {
            Ok(session) => session?,
            Err(error) => {
                tracing::warn!(%error, "cannot load the stored session: logging in");
                return None;
            }
        };
        if self.is_signed_out(session.refresh_token()) {
            return None;
        }
        *self
            .canonical_user
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(session.user_name().to_owned());
        if let Some(device) = session.device() {
            self.set_device(Some(device.clone()));
        }
        tracing::debug!(
            user = self.credentials.user_name(),
            device = session.device().is_some(),
            "stored session loaded"
        );
        Some(session.refresh_token().clone())
    }

    /// Saves the session of `token` (its refresh token, the canonical user, the device),
    /// unless a sign-out came since `epoch`.
    ///
    /// # Errors
    /// [`signed_out`] when a sign-out came since `epoch`: nothing is saved. (A store that
    /// fails is logged, not returned.)
    async fn save_session(&self, token: &Token, epoch: u64) -> Result<(), Error> {
        let (Some(store), Some(refresh_token)) = (&self.sessions, token.refresh_token()) else {
            return self.check_epoch(epoch);
        };
        let _io = self.session_io.lock().await;
        self.check_epoch(epoch)?;
        let user = self
            .canonical_user
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.credentials.user_name().to_owned());
        let session = StoredSession::new(user, refresh_token.clone(), self.current_device());
        if let Err(error) = store.save(&self.session_key, &session).await {
            tracing::warn!(%error, "cannot save the session: it will not survive a restart");
        }
        Ok(())
    }

    /// Deletes the stored session (a sign-out) and returns its refresh token, if there was a
    /// readable one: a process that signs out with nothing in memory (a new one) still has
    /// the stored session's refresh token to revoke.
    pub(crate) async fn take_stored_session(&self) -> Option<SecretString> {
        let store = self.sessions.as_ref()?;
        let _io = self.session_io.lock().await;
        let stored = match store.load(&self.session_key).await {
            Ok(session) => session.map(|s| s.refresh_token().clone()),
            Err(error) => {
                tracing::warn!(%error, "cannot load the stored session to revoke it");
                None
            }
        };
        if let Err(error) = store.delete(&self.session_key).await {
            tracing::warn!(%error, "cannot delete the stored session");
        }
        stored
    }

    /// The sign-outs so far: taken when a token request starts, and checked before its
    /// result is kept ([`check_epoch`](Self::check_epoch)).
    fn epoch(&self) -> u64 {
        self.sign_outs.load(Ordering::SeqCst)
    }

    /// `Ok` unless a sign-out came since `epoch`.
    ///
    /// # Errors
    /// [`signed_out`] if one did.
    fn check_epoch(&self, epoch: u64) -> Result<(), Error> {
        if self.epoch() == epoch {
            Ok(())
        } else {
            Err(signed_out())
        }
    }

    /// Answers challenges other than `PASSWORD_VERIFIER` with `handler`.
    #[must_use]
    pub fn with_challenge_handler(mut self, handler: impl ChallengeHandler) -> Self {
        self.handler = Some(Box::new(handler));
        self
    }

    /// Marks each device it confirms as remembered (`UpdateDeviceStatus`
    /// `DeviceRememberedStatus = remembered`): what a pool with device tracking "User opt-in"
    /// needs for the device to spare later logins their MFA code ("Always" remembers every
    /// confirmed device). Default: not asked.
    #[must_use]
    pub fn with_remembered_devices(mut self, remember: bool) -> Self {
        self.remember_device = remember;
        self
    }

    /// The remembered device's key (`NewDeviceMetadata.DeviceKey`), once one is confirmed.
    pub fn device_key(&self) -> Option<String> {
        self.current_device().map(|d| d.key)
    }

    /// The remembered device (keys and secret), once one is confirmed.
    pub fn remembered_device(&self) -> Option<RememberedDevice> {
        self.current_device()
    }

    fn current_device(&self) -> Option<Device> {
        self.device
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_device(&self, device: Option<Device>) {
        *self.device.lock().unwrap_or_else(PoisonError::into_inner) = device;
    }

    pub(crate) fn with_boxed_challenge_handler(
        mut self,
        handler: Box<dyn ChallengeHandler>,
    ) -> Self {
        self.handler = Some(handler);
        self
    }

    /// The environment.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The Cognito endpoint, as it appears in errors and logs.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The user's credentials (the password stays secret).
    pub fn credentials(&self) -> &UserCredentials {
        &self.credentials
    }

    fn context(&self, call: Call) -> Context<'_> {
        Context {
            endpoint: &self.endpoint,
            client_id: self.client_info.client_id(),
            user_name: self.credentials.user_name(),
            call,
        }
    }

    fn secret_hash(&self, user_name: &str) -> Option<String> {
        self.client_info.has_secret().then(|| {
            secret_hash(
                self.client_info.client_id(),
                self.client_info.client_secret().expose_secret(),
                user_name,
            )
        })
    }

    fn invalid(&self, reason: impl Into<String>) -> Error {
        InvalidResponseError::new(&self.endpoint, Some(200), reason).into()
    }

    /// A full login: SRP, then whatever challenges follow; with the remembered device if
    /// there is one, and again without it if Cognito refuses it.
    async fn login(&self, epoch: u64) -> Result<Token, Error> {
        if let Some(device) = self.current_device() {
            match self.login_attempt(Some(&device), epoch).await? {
                Attempt::Done(token) => return Ok(token),
                Attempt::DeviceRefused => {
                    tracing::info!(
                        user = self.credentials.user_name(),
                        "Cognito no longer knows the remembered device: logging in without it"
                    );
                    self.set_device(None);
                }
            }
        }
        match self.login_attempt(None, epoch).await? {
            Attempt::Done(token) => Ok(token),
            Attempt::DeviceRefused => Err(self.invalid("a device step in a login without device")),
        }
    }

    /// One login attempt.
    async fn login_attempt(&self, device: Option<&Device>, epoch: u64) -> Result<Attempt, Error> {
        let typed = self.credentials.user_name();
        let srp = SrpClient::new().map_err(|e| self.invalid(format!("SRP: {e}")))?;
        let mut device_srp: Option<SrpClient> = None;
        let mut request = self
            .cognito
            .initiate_auth()
            .client_id(self.client_info.client_id())
            .auth_parameters("USERNAME", typed);
        request = match self.sign_in {
            SignInFlow::UserAuth {
                preferred_challenge,
            } => {
                request = request.auth_flow(AuthFlowType::UserAuth);
                match preferred_challenge {
                    Some(first) => {
                        request = request.auth_parameters("PREFERRED_CHALLENGE", first.as_str());
                        match first {
                            FirstFactor::PasswordSrp => {
                                request.auth_parameters("SRP_A", srp.srp_a())
                            }
                            FirstFactor::Password => request.auth_parameters(
                                "PASSWORD",
                                self.current_password().expose_secret(),
                            ),
                            _ => request,
                        }
                    }
                    None => request,
                }
            }
            SignInFlow::CustomAuth { with_srp } => {
                request = request.auth_flow(AuthFlowType::CustomAuth);
                if with_srp {
                    // The DefineAuthChallenge trigger sees an `SRP_A` step first and asks
                    // `PASSWORD_VERIFIER` (amazon-cognito-identity-js, Amplify's
                    // CUSTOM_WITH_SRP).
                    request
                        .auth_parameters("CHALLENGE_NAME", "SRP_A")
                        .auth_parameters("SRP_A", srp.srp_a())
                } else {
                    request
                }
            }
            _ => request
                .auth_flow(AuthFlowType::UserSrpAuth)
                .auth_parameters("SRP_A", srp.srp_a()),
        };
        if let Some(device) = device {
            request = request.auth_parameters("DEVICE_KEY", &device.key);
        }
        if let Some(hash) = self.secret_hash(typed) {
            request = request.auth_parameters("SECRET_HASH", hash);
        }
        let mut requested_at = Instant::now();
        let out = request
            .send()
            .on_io_runtime()
            .await?
            .map_err(|e| map_sdk_error(&self.context(Call::Login), e))?;
        let mut step = Step {
            challenge: out.challenge_name().cloned(),
            parameters: out.challenge_parameters().cloned().unwrap_or_default(),
            session: out.session().map(str::to_owned),
            result: out.authentication_result().cloned(),
            available: available(out.available_challenges()),
        };
        let mut canonical = typed.to_owned();
        for _ in 0..MAX_CHALLENGES {
            let Some(challenge) = step.challenge.take() else {
                let result = step.result.take().ok_or_else(|| {
                    self.invalid("neither a challenge nor an AuthenticationResult")
                })?;
                *self
                    .canonical_user
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(canonical);
                let token = self.token(&result, None, requested_at, epoch)?;
                if let Some(metadata) = result.new_device_metadata() {
                    self.confirm_device(&token, metadata).await;
                }
                self.save_session(&token, epoch).await?;
                return Ok(Attempt::Done(token));
            };
            if let Some(user) = step.parameters.get("USERNAME") {
                canonical.clone_from(user);
            }
            let device_step = matches!(
                challenge,
                ChallengeNameType::DeviceSrpAuth | ChallengeNameType::DevicePasswordVerifier
            );
            let responses = match (&challenge, device) {
                (ChallengeNameType::PasswordVerifier, _) => {
                    let mut responses =
                        self.password_verifier(&srp, &step.parameters, &canonical)?;
                    if let Some(device) = device {
                        responses.push(("DEVICE_KEY".to_owned(), device.key.clone()));
                    }
                    responses
                }
                (ChallengeNameType::DeviceSrpAuth, Some(device)) => {
                    let client = SrpClient::new().map_err(|e| self.invalid(format!("SRP: {e}")))?;
                    let responses = vec![
                        ("DEVICE_KEY".to_owned(), device.key.clone()),
                        ("SRP_A".to_owned(), client.srp_a()),
                    ];
                    device_srp = Some(client);
                    responses
                }
                (ChallengeNameType::DevicePasswordVerifier, Some(device)) => {
                    let client = device_srp.as_ref().ok_or_else(|| {
                        self.invalid("DEVICE_PASSWORD_VERIFIER before DEVICE_SRP_AUTH")
                    })?;
                    self.device_verifier(client, device, &step.parameters)?
                }
                (ChallengeNameType::SelectChallenge, _) => {
                    let responses = self
                        .other_challenge(SELECT_CHALLENGE, &step.parameters, &step.available)
                        .await?;
                    user_auth::complete_selection(
                        responses,
                        || srp.srp_a(),
                        || self.current_password().expose_secret().to_owned(),
                        typed,
                    )?
                }
                (ChallengeNameType::WebAuthn, _) => return Err(user_auth::web_authn_error(typed)),
                (ChallengeNameType::MfaSetup, _) => {
                    step.session = self
                        .mfa_setup(&step.parameters, step.session.take())
                        .await?;
                    Vec::new()
                }
                (ChallengeNameType::CustomChallenge, _) => {
                    let mut responses = self
                        .other_challenge(CUSTOM_CHALLENGE, &step.parameters, &[])
                        .await?;
                    if let Some(device) = device {
                        // As amazon-cognito-identity-js sends it: the triggers (and device
                        // tracking) see which device answers.
                        responses.retain(|(name, _)| name != "DEVICE_KEY");
                        responses.push(("DEVICE_KEY".to_owned(), device.key.clone()));
                    }
                    responses
                }
                (other, _) => {
                    self.other_challenge(other.as_str(), &step.parameters, &[])
                        .await?
                }
            };
            let custom_step = challenge == ChallengeNameType::CustomChallenge;
            let new_password = (challenge == ChallengeNameType::NewPasswordRequired)
                .then(|| responses.iter().find(|(name, _)| name == "NEW_PASSWORD"))
                .flatten()
                .map(|(_, value)| SecretString::from(value.clone()));
            let mut request = self
                .cognito
                .respond_to_auth_challenge()
                .client_id(self.client_info.client_id())
                .challenge_name(challenge)
                .challenge_responses("USERNAME", &canonical)
                .set_session(step.session.take());
            for (name, value) in responses {
                request = request.challenge_responses(name, value);
            }
            if let Some(hash) = self.secret_hash(&canonical) {
                request = request.challenge_responses("SECRET_HASH", hash);
            }
            requested_at = Instant::now();
            let out = match request.send().on_io_runtime().await? {
                Ok(out) => out,
                Err(e)
                    if device_step
                        && matches!(
                            e.code(),
                            Some("ResourceNotFoundException" | "NotAuthorizedException")
                        ) =>
                {
                    return Ok(Attempt::DeviceRefused);
                }
                Err(e) if custom_step => {
                    return Err(custom_answer_error(
                        map_sdk_error(&self.context(Call::Login), e),
                        typed,
                    ))
                }
                Err(e) => return Err(map_sdk_error(&self.context(Call::Login), e)),
            };
            if let Some(password) = new_password {
                // The server took the new password: later logins must use it.
                *self
                    .new_password
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(password);
            }
            step = Step {
                challenge: out.challenge_name().cloned(),
                parameters: out.challenge_parameters().cloned().unwrap_or_default(),
                session: out.session().map(str::to_owned),
                result: out.authentication_result().cloned(),
                available: available(out.available_challenges()),
            };
        }
        Err(self.invalid(format!(
            "more than {MAX_CHALLENGES} challenges in one login"
        )))
    }

    /// The `DEVICE_PASSWORD_VERIFIER` responses: the device's proof.
    fn device_verifier(
        &self,
        srp: &SrpClient,
        device: &Device,
        parameters: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, Error> {
        let param = |name: &str| {
            parameters
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| self.invalid(format!("DEVICE_PASSWORD_VERIFIER without {name}")))
        };
        let secret_block = param("SECRET_BLOCK")?;
        let timestamp = timestamp(SystemTime::now());
        let claim = srp
            .device_password_verifier(&DeviceVerifierInput {
                device_group_key: &device.group_key,
                device_key: &device.key,
                password: device.password.expose_secret(),
                srp_b: param("SRP_B")?,
                salt: param("SALT")?,
                secret_block,
                timestamp: &timestamp,
            })
            .map_err(|e| self.invalid(format!("DEVICE_PASSWORD_VERIFIER: {e}")))?;
        Ok(vec![
            ("DEVICE_KEY".to_owned(), device.key.clone()),
            (
                "PASSWORD_CLAIM_SECRET_BLOCK".to_owned(),
                secret_block.to_owned(),
            ),
            (
                "PASSWORD_CLAIM_SIGNATURE".to_owned(),
                claim.signature().expose_secret().to_owned(),
            ),
            ("TIMESTAMP".to_owned(), timestamp),
        ])
    }

    /// Confirms the device a login's `NewDeviceMetadata` names (and marks it remembered if
    /// configured), then keeps it. A failure is logged, not returned: the login stands, and
    /// the next one is asked for whatever a device-less login is.
    async fn confirm_device(&self, token: &Token, metadata: &NewDeviceMetadataType) {
        let (Some(key), Some(group_key)) = (metadata.device_key(), metadata.device_group_key())
        else {
            tracing::warn!("NewDeviceMetadata without DeviceKey or DeviceGroupKey: ignored");
            return;
        };
        let secret = match DeviceSecret::generate(group_key, key) {
            Ok(secret) => secret,
            Err(error) => {
                tracing::warn!(%error, "cannot make a device secret");
                return;
            }
        };
        let config = DeviceSecretVerifierConfigType::builder()
            .password_verifier(secret.password_verifier.clone())
            .salt(secret.salt.clone())
            .build();
        let confirmed = self
            .cognito
            .confirm_device()
            .access_token(token.access_token().expose_secret())
            .device_key(key)
            .device_secret_verifier_config(config)
            .device_name(DEVICE_NAME)
            .send()
            .on_io_runtime()
            .await;
        match confirmed {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let error = map_sdk_error(&self.context(Call::Login), e);
                tracing::warn!(%error, "ConfirmDevice failed: the device is not remembered");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "ConfirmDevice failed: the device is not remembered");
                return;
            }
        }
        if self.remember_device {
            let updated = self
                .cognito
                .update_device_status()
                .access_token(token.access_token().expose_secret())
                .device_key(key)
                .device_remembered_status(DeviceRememberedStatusType::Remembered)
                .send()
                .on_io_runtime()
                .await;
            if !matches!(updated, Ok(Ok(_))) {
                tracing::warn!(device_key = key, "UpdateDeviceStatus failed");
            }
        }
        tracing::debug!(device_key = key, "device confirmed");
        self.set_device(Some(Device {
            key: key.to_owned(),
            group_key: group_key.to_owned(),
            password: secret.password().clone(),
        }));
    }

    /// The `PASSWORD_VERIFIER` responses: the password claim for the server's SRP_B and salt.
    fn password_verifier(
        &self,
        srp: &SrpClient,
        parameters: &HashMap<String, String>,
        canonical: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let param = |name: &str| {
            parameters
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| self.invalid(format!("PASSWORD_VERIFIER without {name}")))
        };
        let secret_block = param("SECRET_BLOCK")?;
        let password = self.current_password();
        let timestamp = timestamp(SystemTime::now());
        let claim = srp
            .password_verifier(&VerifierInput {
                pool_id: &self.pool_id,
                user_id_for_srp: parameters
                    .get("USER_ID_FOR_SRP")
                    .map_or(canonical, String::as_str),
                password: password.expose_secret(),
                srp_b: param("SRP_B")?,
                salt: param("SALT")?,
                secret_block,
                timestamp: &timestamp,
            })
            .map_err(|e| self.invalid(format!("PASSWORD_VERIFIER: {e}")))?;
        Ok(vec![
            (
                "PASSWORD_CLAIM_SECRET_BLOCK".to_owned(),
                secret_block.to_owned(),
            ),
            (
                "PASSWORD_CLAIM_SIGNATURE".to_owned(),
                claim.signature().expose_secret().to_owned(),
            ),
            ("TIMESTAMP".to_owned(), timestamp),
        ])
    }

    /// The password: the new one once a `NEW_PASSWORD_REQUIRED` answer was accepted.
    fn current_password(&self) -> SecretString {
        self.new_password
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.credentials.password().clone())
    }

    /// Any other challenge: through the handler, or a typed error naming it.
    async fn other_challenge(
        &self,
        name: &str,
        parameters: &HashMap<String, String>,
        available: &[String],
    ) -> Result<Vec<(String, String)>, Error> {
        let user = self.credentials.user_name();
        if UNANSWERABLE.contains(&name) {
            return Err(ChallengeError::new(
                name,
                user,
                "cannot be answered within a login without a confirmed device",
            )
            .into());
        }
        let Some(handler) = &self.handler else {
            return Err(
                ChallengeError::new(name, user, "no challenge handler is configured").into(),
            );
        };
        let challenge = Challenge {
            name: name.to_owned(),
            parameters: parameters.clone(),
            user_name: user.to_owned(),
            available: available.to_vec(),
            otpauth_uri: None,
        };
        match handler.respond(&challenge).await? {
            Some(responses) => Ok(responses.into_entries().collect()),
            None => {
                Err(
                    ChallengeError::new(name, user, "the challenge handler does not answer it")
                        .into(),
                )
            }
        }
    }

    /// Revokes `refresh_token` with
    /// [RevokeToken](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RevokeToken.html):
    /// Cognito then refuses it, and the access and ID tokens issued with it. A confidential app
    /// client sends its client secret itself (`ClientSecret`, not a `SECRET_HASH`), as the API
    /// requires. The token is sent to Cognito only; it appears in no error or log line.
    ///
    /// This call does not touch the provider's own session: [`SrpAuthorizer::revoke`] signs
    /// the authorizer's session out. For a refresh token kept elsewhere (the `en-auth` CLI's
    /// session files).
    ///
    /// [`SrpAuthorizer::revoke`]: crate::SrpAuthorizer::revoke
    ///
    /// # Errors
    /// [`Error::InvalidClient`] if Cognito refuses the client (a wrong or missing secret, an
    /// unknown client); [`Error::Authorization`] for its other refusals (for example
    /// `UnsupportedOperationException` when the app client has token revocation off, which
    /// Cognito only allows for clients created before it existed); [`Error::Transport`] if
    /// Cognito cannot be reached.
    pub async fn revoke_token(&self, refresh_token: &SecretString) -> Result<(), Error> {
        let mut request = self
            .cognito
            .revoke_token()
            .client_id(self.client_info.client_id())
            .token(refresh_token.expose_secret());
        if self.client_info.has_secret() {
            request = request.client_secret(self.client_info.client_secret().expose_secret());
        }
        request
            .send()
            .on_io_runtime()
            .await?
            .map_err(|e| map_sdk_error(&self.context(Call::Revoke), e))?;
        tracing::debug!(
            client_id = self.client_info.client_id(),
            "refresh token revoked"
        );
        Ok(())
    }

    /// Ends the session in this provider: its refresh token, which it returns (if it had one),
    /// is never sent again — a renewal of a token carrying it is a new login.
    pub(crate) fn end_session(&self) -> Option<SecretString> {
        let token = {
            let mut current = self
                .refresh_token
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Under the lock `token` keeps a result under: a token request under way keeps
            // nothing from now on.
            self.sign_outs.fetch_add(1, Ordering::SeqCst);
            current.take()
        };
        if let Some(token) = &token {
            *self
                .signed_out
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        }
        token
    }

    /// Records `refresh_token` (a stored session's, revoked by a sign-out) as ended: never
    /// sent again, never loaded again.
    pub(crate) fn mark_signed_out(&self, refresh_token: &SecretString) {
        *self
            .signed_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(refresh_token.clone());
    }

    /// Whether `refresh_token` is the one a sign-out ended.
    fn is_signed_out(&self, refresh_token: &SecretString) -> bool {
        self.signed_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|ended| ended.expose_secret() == refresh_token.expose_secret())
    }

    /// Renews with the refresh token of `previous`.
    async fn renew(&self, previous: &Token, epoch: u64) -> Result<Token, Error> {
        let Some(refresh_token) = previous.refresh_token() else {
            return self.login(epoch).await;
        };
        if self.is_signed_out(refresh_token) {
            return self.login(epoch).await;
        }
        self.renew_with(refresh_token, epoch).await
    }

    /// A login, first trying the stored session's refresh token if there is one: a refused
    /// one (expired, revoked) is a login.
    async fn resume_or_login(&self, epoch: u64) -> Result<Token, Error> {
        match self.resume_since(epoch).await? {
            Some(token) => Ok(token),
            None => {
                self.check_epoch(epoch)?;
                self.login(epoch).await
            }
        }
    }

    /// Resumes the stored session ([`with_session_store`](Self::with_session_store)): adopts
    /// its user name and remembered device, and renews with its refresh token (sending the
    /// device's `DEVICE_KEY`). `Ok(None)` when there is no store, no stored session, or
    /// Cognito refuses its refresh token (expired, revoked): then a login is needed (and
    /// proves the adopted device). What a program that asks for the password only when it
    /// must (the `en-auth` CLI) calls before it asks.
    ///
    /// # Errors
    /// [`Error::Transport`] if Cognito cannot be reached.
    pub async fn resume(&self) -> Result<Option<Token>, Error> {
        self.resume_since(self.epoch()).await
    }

    /// [`resume`](Self::resume) for a token request that started at `epoch`: `Ok(None)` too
    /// when a sign-out came since.
    async fn resume_since(&self, epoch: u64) -> Result<Option<Token>, Error> {
        let Some(refresh_token) = self.load_session().await else {
            return Ok(None);
        };
        match self.renew_with(&refresh_token, epoch).await {
            Ok(token) => {
                tracing::debug!(
                    user = self.credentials.user_name(),
                    "stored session renewed"
                );
                Ok(Some(token))
            }
            Err(error @ Error::Transport(_)) => Err(error),
            Err(error) => {
                tracing::info!(%error, "the stored session's refresh token is refused: a login is needed");
                Ok(None)
            }
        }
    }

    /// A full login with the password (and the challenges that follow, through the
    /// handler), proving the stored session's remembered device if there is one — so a pool
    /// that requires MFA asks no code — without trying its refresh token; the new session is
    /// stored. What `en-auth login` does.
    ///
    /// # Errors
    /// Those of a login: [`Error::Authorization`] for a wrong password, [`Error::Challenge`]
    /// for a challenge that is not answered, [`Error::Transport`], …
    pub async fn log_in(&self) -> Result<Token, Error> {
        let epoch = self.epoch();
        self.load_session().await;
        en_auth_core::telemetry::record_server(&self.endpoint);
        self.login(epoch).await
    }

    /// Renews with `refresh_token`, then saves the session (before the token is handed out,
    /// so before a rotated refresh token can be used again) — unless a sign-out came since
    /// `epoch`, when the renewal's tokens are dropped.
    async fn renew_with(&self, refresh_token: &SecretString, epoch: u64) -> Result<Token, Error> {
        let canonical = self
            .canonical_user
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.credentials.user_name().to_owned());
        let requested_at = Instant::now();
        let result = if self.environment.refresh_token_rotation() {
            let mut request = self
                .cognito
                .get_tokens_from_refresh_token()
                .client_id(self.client_info.client_id())
                .refresh_token(refresh_token.expose_secret());
            if self.client_info.has_secret() {
                request = request.client_secret(self.client_info.client_secret().expose_secret());
            }
            if let Some(device) = self.current_device() {
                request = request.device_key(device.key);
            }
            let out = request
                .send()
                .on_io_runtime()
                .await?
                .map_err(|e| map_sdk_error(&self.context(Call::Refresh), e))?;
            out.authentication_result().cloned()
        } else {
            let mut request = self
                .cognito
                .initiate_auth()
                .auth_flow(AuthFlowType::RefreshTokenAuth)
                .client_id(self.client_info.client_id())
                .auth_parameters("REFRESH_TOKEN", refresh_token.expose_secret());
            if let Some(hash) = self.secret_hash(&canonical) {
                request = request.auth_parameters("SECRET_HASH", hash);
            }
            if let Some(device) = self.current_device() {
                request = request.auth_parameters("DEVICE_KEY", device.key);
            }
            let out = request
                .send()
                .on_io_runtime()
                .await?
                .map_err(|e| map_sdk_error(&self.context(Call::Refresh), e))?;
            out.authentication_result().cloned()
        };
        let result = result
            .ok_or_else(|| self.invalid("a refresh answered without an AuthenticationResult"))?;
        let token = self.token(&result, Some(refresh_token), requested_at, epoch)?;
        self.save_session(&token, epoch).await?;
        Ok(token)
    }

    /// The token of an `AuthenticationResult`, which becomes the session's (unless a sign-out
    /// came since `epoch`); a refresh keeps the previous refresh token when the response
    /// carries none.
    ///
    /// # Errors
    /// [`signed_out`] when a sign-out came since `epoch`; an invalid response without an
    /// access token.
    fn token(
        &self,
        result: &AuthenticationResultType,
        previous: Option<&SecretString>,
        requested_at: Instant,
        epoch: u64,
    ) -> Result<Token, Error> {
        let access = result
            .access_token()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.invalid("AuthenticationResult without an AccessToken"))?;
        let expires_in =
            std::time::Duration::from_secs(u64::try_from(result.expires_in()).unwrap_or(0));
        let mut token = Token::from_expires_in(access, expires_in, requested_at)
            .with_token_type(result.token_type().unwrap_or("Bearer"));
        if let Some(id) = result.id_token() {
            token = token.with_id_token(id);
        }
        match (result.refresh_token(), previous) {
            (Some(new), _) => token = token.with_refresh_token(new),
            (None, Some(old)) => token = token.with_refresh_token(old.expose_secret()),
            (None, None) => {}
        }
        let mut session = self
            .refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock `end_session` bumps the count under: either the sign-out
        // takes this refresh token (and revokes it) or this request keeps nothing.
        self.check_epoch(epoch)?;
        *session = token.refresh_token().cloned();
        Ok(token)
    }
}

/// The error of a token request that a sign-out ([`SrpAuthorizer::revoke`]) overtook: its
/// tokens are dropped — not cached, not stored — so that they cannot bring the session back.
///
/// [`SrpAuthorizer::revoke`]: crate::SrpAuthorizer::revoke
fn signed_out() -> Error {
    en_auth_core::InternalError::new(
        "the session was signed out while this token request was under way: its tokens are \
         discarded (the next request logs in anew)",
    )
    .into()
}

/// A refused `CUSTOM_CHALLENGE` answer (the triggers failed the authentication: Cognito's
/// `NotAuthorizedException` "Incorrect username or password.") as an
/// [`Error::InvalidCredentials`] that says so; other errors unchanged.
fn custom_answer_error(error: Error, user: &str) -> Error {
    match error {
        Error::InvalidCredentials(e) => InvalidCredentialsError::new(
            user,
            e.endpoint,
            format!(
                "the answer to {CUSTOM_CHALLENGE} was refused (the pool's auth challenge triggers failed the sign-in): {}",
                e.message
            ),
        )
        .into(),
        other => other,
    }
}

impl std::fmt::Debug for CognitoSrp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoSrp")
            .field("client_info", &self.client_info)
            .field("credentials", &self.credentials)
            .field("environment", &self.environment.id())
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl TokenProvider for CognitoSrp {
    async fn authorize(&self) -> Result<Token, Error> {
        let epoch = self.epoch();
        en_auth_core::telemetry::record_server(&self.endpoint);
        let token = self.resume_or_login(epoch).await?;
        // Cognito answers every successful call with 200; errors record their status as they
        // are mapped (errors.rs).
        en_auth_core::telemetry::record_http_status(200);
        Ok(token)
    }

    async fn refresh(&self, token: &Token) -> Result<Token, Error> {
        let epoch = self.epoch();
        en_auth_core::telemetry::record_server(&self.endpoint);
        let token = self.renew(token, epoch).await?;
        en_auth_core::telemetry::record_http_status(200);
        Ok(token)
    }

    fn client_info(&self) -> &ClientInfo {
        &self.client_info
    }

    /// `cognito_user_srp_auth`, `cognito_user_auth` or `cognito_custom_auth`: the sign-in's
    /// `AuthFlow` ([`SignInFlow`]), the label of its spans and metrics.
    fn flow(&self) -> &'static str {
        self.sign_in.label()
    }

    fn environment_id(&self) -> Option<&str> {
        Some(self.environment.id())
    }
}
