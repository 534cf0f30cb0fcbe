//! # en-auth-srp
//!
//! [`SrpAuthorizer`]: log a user in to an AWS Cognito user pool with the Secure Remote Password
//! protocol (`USER_SRP_AUTH`) and keep the session alive — tokens cached, renewed with the
//! refresh token before they expire (a full login again if the refresh token is refused), and
//! sent as `Authorization: Bearer <access token>` (plus `X-Api-Key` when the client has one).
//! The password never leaves the process: Cognito only sees the SRP proof.
//!
//! ```no_run
//! use en_auth_srp::{ClientInfo, Environment, SrpAuthorizer, UserCredentials};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client_info = ClientInfo::new("app-client-id", "app-client-secret");
//! let credentials = UserCredentials::new("alice@example.com", "correct horse battery staple");
//! let environment = Environment::new("dev").with_user_pool_id("us-east-1_Example");
//! let authorizer = SrpAuthorizer::new(client_info, credentials, environment)?;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(authorizer.clone())
//!     .build();
//! let body = client.get("https://api.example.com/me").send().await?.text().await?;
//! # Ok(()) }
//! ```
//!
//! **Remembered devices.** In a pool with device tracking, a login that Cognito answers with
//! `NewDeviceMetadata` confirms the device (`ConfirmDevice`, with a verifier over a random
//! device password, as the official JS client computes it); every refresh sends its
//! `DEVICE_KEY` (without it Cognito refuses the refresh token), and later logins prove the
//! device (`DEVICE_SRP_AUTH` → `DEVICE_PASSWORD_VERIFIER`), which spares them the MFA code. A
//! device Cognito has forgotten falls back to a full login, which confirms a new one.
//! [`SrpAuthorizerBuilder::remember_devices`] also marks devices remembered (pools set to
//! "User opt-in"). The device lives in the authorizer's memory for now.
//!
//! **Custom authentication.** [`SignInFlow::CustomAuth`] (environments file `auth_flow =
//! "CUSTOM_WITH_SRP"` or `"CUSTOM_WITHOUT_SRP"`) runs the pool's auth challenge Lambda triggers:
//! each `CUSTOM_CHALLENGE`'s public parameters go to the [`ChallengeHandler`], whose
//! [`ChallengeResponses::answer`] goes back, round after round, until the tokens; with SRP the
//! password is proved first.
//!
//! Cognito is called through the official `aws-sdk-cognitoidentityprovider`; the calls involved
//! need no AWS credentials. The region is the environment's `region` (or the prefix of the pool
//! id); `cognito_endpoint` points the SDK at an emulator.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod challenge;
mod errors;
mod provider;
mod session;
#[cfg(not(feature = "__internals"))]
mod srp;
/// The SRP arithmetic, step by step: not public API (no semver promise), for the crate's
/// known-answer tests and benches and the fuzz harness (the `__internals` feature).
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub mod srp;
mod user_auth;

use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Region};
pub use challenge::{
    Challenge, ChallengeHandler, ChallengeResponses, CUSTOM_CHALLENGE, DEVICE_SRP_AUTH, EMAIL_OTP,
    MFA_SETUP, NEW_PASSWORD_REQUIRED, SELECT_MFA_TYPE, SMS_MFA, SOFTWARE_TOKEN_MFA, UNANSWERABLE,
};
/// The core crate: the authorizer's machinery, for what the names below do not cover (a
/// [`TokenProvider`] of your own, the shared-store types).
pub use en_auth_core as core;
pub use en_auth_core::{
    auth_error, same_origin_redirects, AccountError, AuthorizationError, Authorizer,
    AuthorizerBuilder, CacheMiss, ChallengeError, ClientInfo, ConfigurationError, Cooldown,
    CurrentToken, Environment, Error, InternalError, IntoEnvironment, InvalidCredentialsError,
    InvalidResponseError, OutgoingRequest, RenewalPolicy, RenewalTrigger, RequestPolicy, Ticket,
    Token, TokenProvider, TokenUnavailable, TransportError, TransportErrorKind, UserCredentials,
    Verdict, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ENVIRONMENTS_VAR,
};
pub use en_auth_core::{reqwest_middleware, secrecy, telemetry};
#[cfg(feature = "blocking")]
pub use en_auth_core::{BlockingAuthorizer, BlockingError};
pub use provider::{CognitoSrp, RememberedDevice};
pub use reqwest;
use secrecy::ExposeSecret;
pub use session::{FileSessionStore, SessionKey, SessionStore, SessionStoreError, StoredSession};
pub use user_auth::{
    FirstFactor, SignInFlow, CUSTOM_AUTH, CUSTOM_WITHOUT_SRP, CUSTOM_WITH_SRP, PASSWORD,
    PASSWORD_SRP, SELECT_CHALLENGE, SMS_OTP, WEB_AUTHN,
};

/// Authorizes requests as a user logged in over Cognito SRP: as the Python `en_auth`
/// package's `SrpAuthorizer(client_info, credentials, environment)`.
///
/// An [`Authorizer`] over the [`CognitoSrp`] provider, with the constructors of this flow. It
/// dereferences to the [`Authorizer`] ([`Authorizer::access_token`] gives the access token;
/// the id and refresh tokens are on the [`Token`]), converts into one (`.into()`, for
/// `en-auth-tower`'s `AuthorizerLayer::new`), and is a [`reqwest_middleware::Middleware`].
/// Clones share one session.
///
/// (A type of its own rather than an alias of `Authorizer<CognitoSrp>`: Rust lets only the
/// crate that defines a type give it inherent constructors such as [`SrpAuthorizer::new`].)
#[derive(Clone)]
pub struct SrpAuthorizer(Authorizer<CognitoSrp>);

impl std::ops::Deref for SrpAuthorizer {
    type Target = Authorizer<CognitoSrp>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AsRef<Authorizer<CognitoSrp>> for SrpAuthorizer {
    fn as_ref(&self) -> &Authorizer<CognitoSrp> {
        &self.0
    }
}

impl From<SrpAuthorizer> for Authorizer<CognitoSrp> {
    fn from(authorizer: SrpAuthorizer) -> Self {
        authorizer.0
    }
}

impl std::fmt::Debug for SrpAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SrpAuthorizer")
            .field(self.0.provider())
            .finish()
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for SrpAuthorizer {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.0.handle(request, extensions, next).await
    }
}

impl SrpAuthorizer {
    /// An authorizer logging in `credentials` with the app client `client_info` (its secret,
    /// if any, is used for `SECRET_HASH`) in `environment` (an [`Environment`] or an id to load
    /// from the environments file). No call is made until the first token is needed.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded, or has no well-formed
    /// `user_pool_id` or region.
    pub fn new(
        client_info: ClientInfo,
        credentials: UserCredentials,
        environment: impl IntoEnvironment,
    ) -> Result<Self, Error> {
        Self::builder(client_info, credentials, environment).build()
    }

    /// A builder, to set a challenge handler, timeouts or policies.
    pub fn builder(
        client_info: ClientInfo,
        credentials: UserCredentials,
        environment: impl IntoEnvironment,
    ) -> SrpAuthorizerBuilder {
        SrpAuthorizerBuilder {
            client_info,
            credentials,
            handler: None,
            remember_devices: false,
            sessions: None,
            sign_in: None,
            settings: AuthorizerBuilder::new().with_environment(environment),
        }
    }

    /// The caching authorizer inside.
    pub fn authorizer(&self) -> &Authorizer<CognitoSrp> {
        &self.0
    }

    /// Signs the user out: revokes the session's refresh token with Cognito's
    /// [RevokeToken](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RevokeToken.html)
    /// (which also revokes the access and ID tokens issued with it; a confidential app client
    /// sends its client secret, as the API requires) and forgets the session in this process.
    ///
    /// The session is forgotten whatever Cognito answers: the cached token is dropped
    /// ([`Authorizer::forget`]) and its refresh token is never sent again, so the next request
    /// logs in anew. Clones share the session, so they are signed out too. With a
    /// [session store](SrpAuthorizerBuilder::session_store) the stored session is deleted,
    /// and its refresh token revoked too — in a new process, which has nothing in memory, it
    /// is the one revoked. A token request under way when this is called (a renewal waiting
    /// for Cognito) keeps nothing of its result: it is neither cached nor stored, and ends with
    /// [`Error::Internal`] saying the session was signed out (the requests waiting for it get
    /// that error, and so do those of the failure cooldown that follows:
    /// [`RenewalPolicy::with_failure_cooldown`], one second by default). `Ok(true)` when a refresh token
    /// was revoked, `Ok(false)` when there was none (no login yet, or signed out already).
    ///
    /// ```no_run
    /// # async fn run(authorizer: en_auth_srp::SrpAuthorizer) -> Result<(), en_auth_srp::Error> {
    /// if authorizer.revoke().await? {
    ///     println!("signed out: the refresh token is revoked");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`CognitoSrp::revoke_token`]'s: the revocation failed (the session is still forgotten
    /// here, but the refresh token stays valid at Cognito until it expires).
    pub async fn revoke(&self) -> Result<bool, Error> {
        let provider = self.0.provider();
        let in_memory = provider.end_session();
        self.0.forget();
        // A new process has nothing in memory: the stored session's refresh token is the
        // one to revoke (and usually the same as the one in memory otherwise).
        let stored = provider.take_stored_session().await;
        let mut tokens = Vec::new();
        for token in in_memory.into_iter().chain(stored) {
            if !tokens
                .iter()
                .any(|t: &secrecy::SecretString| t.expose_secret() == token.expose_secret())
            {
                tokens.push(token);
            }
        }
        let mut revoked = false;
        let mut failure = None;
        for token in &tokens {
            provider.mark_signed_out(token);
            match provider.revoke_token(token).await {
                Ok(()) => revoked = true,
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(revoked),
        }
    }
}

/// Builds an [`SrpAuthorizer`].
pub struct SrpAuthorizerBuilder {
    client_info: ClientInfo,
    credentials: UserCredentials,
    handler: Option<Box<dyn ChallengeHandler>>,
    remember_devices: bool,
    sessions: Option<std::sync::Arc<dyn SessionStore>>,
    sign_in: Option<SignInFlow>,
    settings: AuthorizerBuilder,
}

impl std::fmt::Debug for SrpAuthorizerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrpAuthorizerBuilder")
            .field("client_info", &self.client_info)
            .field("credentials", &self.credentials)
            .field("challenge_handler", &self.handler.is_some())
            .field("session_store", &self.sessions)
            .field("settings", &self.settings)
            .finish()
    }
}

impl SrpAuthorizerBuilder {
    /// How tokens are renewed and failed logins retried: [`AuthorizerBuilder::renewal_policy`].
    #[must_use]
    pub fn renewal_policy(mut self, policy: RenewalPolicy) -> Self {
        self.settings = self.settings.renewal_policy(policy);
        self
    }

    /// Which requests may carry the token and which answers reject it:
    /// [`AuthorizerBuilder::request_policy`].
    #[must_use]
    pub fn request_policy(mut self, requests: RequestPolicy) -> Self {
        self.settings = self.settings.request_policy(requests);
        self
    }

    /// The time allowed for one Cognito call (default [`DEFAULT_TIMEOUT`]):
    /// [`AuthorizerBuilder::timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.settings = self.settings.timeout(timeout);
        self
    }

    /// The time allowed to connect to Cognito (default [`DEFAULT_CONNECT_TIMEOUT`]):
    /// [`AuthorizerBuilder::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.settings = self.settings.connect_timeout(timeout);
        self
    }

    /// Marks each device the login confirms as remembered (`UpdateDeviceStatus`), for pools
    /// with device tracking "User opt-in": see [`CognitoSrp::with_remembered_devices`].
    /// Devices are confirmed whatever this says, whenever Cognito returns `NewDeviceMetadata`.
    #[must_use]
    pub fn remember_devices(mut self, remember: bool) -> Self {
        self.remember_devices = remember;
        self
    }

    /// Keeps the session in `store` so that it survives a restart (a new process, a new
    /// authorizer over the same store renews it: no password, no MFA code): see
    /// [`CognitoSrp::with_session_store`]. [`FileSessionStore`] seals it in a private
    /// directory; a service may plug its own ([`SessionStore`]).
    ///
    /// ```no_run
    /// # fn run(builder: en_auth_srp::SrpAuthorizerBuilder) -> Result<(), en_auth_srp::Error> {
    /// use en_auth_srp::FileSessionStore;
    /// let store = FileSessionStore::open_with_key_env("/var/lib/my-service/sessions", "MY_SESSION_KEY")?;
    /// let authorizer = builder.session_store(store).build()?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.sessions = Some(std::sync::Arc::new(store));
        self
    }

    /// How a login starts: [`SignInFlow::UserAuth`] for choice-based sign-in (`USER_AUTH`)
    /// with a preferred first factor or `SELECT_CHALLENGE` answered by the challenge handler.
    /// Default: the environment's `auth_flow` / `preferred_challenge`, else `USER_SRP_AUTH`.
    ///
    /// ```no_run
    /// # fn run(builder: en_auth_srp::SrpAuthorizerBuilder) -> Result<(), en_auth_srp::Error> {
    /// use en_auth_srp::{Challenge, ChallengeResponses, FirstFactor, SignInFlow, EMAIL_OTP};
    /// let authorizer = builder
    ///     .sign_in_flow(SignInFlow::UserAuth { preferred_challenge: Some(FirstFactor::EmailOtp) })
    ///     .challenge_handler(|challenge: &Challenge| match challenge.name() {
    ///         EMAIL_OTP => Some(ChallengeResponses::email_otp(read_the_code())),
    ///         _ => None,
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// # fn read_the_code() -> String { String::new() }
    /// ```
    #[must_use]
    pub fn sign_in_flow(mut self, flow: SignInFlow) -> Self {
        self.sign_in = Some(flow);
        self
    }

    /// Answers challenges after `PASSWORD_VERIFIER` (MFA codes, a new password, custom
    /// challenges) with `handler`. Without one, such a challenge ends the login with
    /// [`Error::Challenge`].
    #[must_use]
    pub fn challenge_handler(mut self, handler: impl ChallengeHandler) -> Self {
        self.handler = Some(Box::new(handler));
        self
    }

    /// Builds the authorizer.
    ///
    /// # Errors
    /// [`Error::Configuration`] if the environment cannot be loaded, has no well-formed
    /// `user_pool_id` or region, the client info is unusable ([`ClientInfo::validate`]), or the
    /// user name or password is empty.
    pub fn build(self) -> Result<SrpAuthorizer, Error> {
        let environment = self.settings.environment()?.clone();
        self.client_info.validate()?;
        let region = environment.require_region()?.to_owned();
        let pool_id = environment.require_user_pool_id()?;
        if let Err(e) = srp::pool_name(pool_id) {
            return Err(environment.error("user_pool_id", e.to_string()));
        }
        if self.credentials.user_name().is_empty() {
            return Err(environment.error("user_name", "the user name is empty"));
        }
        let sign_in = match self.sign_in {
            Some(flow) => flow,
            None => SignInFlow::from_environment(&environment)?,
        };
        // CUSTOM_WITHOUT_SRP asks no password: the custom challenges are the proof.
        let needs_password = sign_in != SignInFlow::CustomAuth { with_srp: false };
        if needs_password && self.credentials.password().expose_secret().is_empty() {
            return Err(environment.error("password", "the password is empty"));
        }
        let timeouts = aws_sdk_cognitoidentityprovider::config::timeout::TimeoutConfig::builder()
            .operation_timeout(self.settings.timeout_setting())
            .connect_timeout(self.settings.connect_timeout_setting())
            .build();
        let mut config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .timeout_config(timeouts)
            // One attempt per call: retrying is the authorizer's decision, so that a token
            // request is exactly one upstream request.
            .retry_config(aws_sdk_cognitoidentityprovider::config::retry::RetryConfig::disabled());
        let endpoint = match environment.cognito_endpoint() {
            Some(url) => {
                let url = url.as_str().trim_end_matches('/').to_owned();
                config = config.endpoint_url(&url);
                url
            }
            None => format!("https://cognito-idp.{region}.amazonaws.com"),
        };
        let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(config.build());
        let mut provider = CognitoSrp::new(
            self.client_info,
            self.credentials,
            environment,
            cognito,
            endpoint,
        )?
        .with_remembered_devices(self.remember_devices)
        .with_sign_in_flow(sign_in);
        if let Some(store) = self.sessions {
            provider = provider.with_session_store(store);
        }
        if let Some(handler) = self.handler {
            provider = provider.with_boxed_challenge_handler(handler);
        }
        Ok(SrpAuthorizer(self.settings.build(provider)))
    }
}
