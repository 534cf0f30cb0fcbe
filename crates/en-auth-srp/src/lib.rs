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
//! Cognito is called through the official `aws-sdk-cognitoidentityprovider`; the calls involved
//! need no AWS credentials. The region is the environment's `region` (or the prefix of the pool
//! id); `cognito_endpoint` points the SDK at an emulator.

mod challenge;
mod errors;
mod provider;
#[cfg(not(feature = "__internals"))]
mod srp;
/// The SRP arithmetic, step by step: not public API (no semver promise), for the crate's
/// known-answer tests and benches and the fuzz harness (the `__internals` feature).
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub mod srp;

use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Region};
pub use challenge::{
    Challenge, ChallengeHandler, ChallengeResponses, CUSTOM_CHALLENGE, DEVICE_SRP_AUTH, MFA_SETUP,
    NEW_PASSWORD_REQUIRED, SELECT_MFA_TYPE, SMS_MFA, SOFTWARE_TOKEN_MFA, UNANSWERABLE,
};
/// The core crate, for what its glob re-export above does not name (its modules' docs).
pub use en_auth_core as core;
pub use en_auth_core::*;
pub use provider::CognitoSrp;
pub use reqwest;
use secrecy::ExposeSecret;

en_auth_core::flow_authorizer! {
    /// Authorizes requests as a user logged in over Cognito SRP: as the Python `en_auth`
    /// package's `SrpAuthorizer(client_info, credentials, environment)`.
    ///
    /// An [`Authorizer`] over the [`CognitoSrp`] provider; it dereferences to it, so
    /// [`Authorizer::access_token`] (the access token), [`Authorizer::client_id`] and
    /// [`Authorizer::authorize_request`] are available, and the id and refresh tokens are on the
    /// [`Token`]. It is a [`reqwest_middleware::Middleware`]. Clones share one session.
    pub struct SrpAuthorizer(CognitoSrp);
    builder: SrpAuthorizerBuilder;
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
            settings: BuilderSettings::new(environment),
        }
    }
}

/// Builds an [`SrpAuthorizer`].
pub struct SrpAuthorizerBuilder {
    client_info: ClientInfo,
    credentials: UserCredentials,
    handler: Option<Box<dyn ChallengeHandler>>,
    settings: BuilderSettings,
}

impl std::fmt::Debug for SrpAuthorizerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrpAuthorizerBuilder")
            .field("client_info", &self.client_info)
            .field("credentials", &self.credentials)
            .field("challenge_handler", &self.handler.is_some())
            .field("settings", &self.settings)
            .finish()
    }
}

impl SrpAuthorizerBuilder {
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
        if self.credentials.password().expose_secret().is_empty() {
            return Err(environment.error("password", "the password is empty"));
        }
        let timeouts = aws_sdk_cognitoidentityprovider::config::timeout::TimeoutConfig::builder()
            .operation_timeout(self.settings.timeout)
            .connect_timeout(self.settings.connect_timeout)
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
        )?;
        if let Some(handler) = self.handler {
            provider = provider.with_boxed_challenge_handler(handler);
        }
        Ok(self.settings.authorizer(provider).into())
    }
}
