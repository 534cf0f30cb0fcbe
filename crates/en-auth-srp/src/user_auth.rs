//! How a login starts ([`SignInFlow`]): `USER_SRP_AUTH`, custom authentication (`CUSTOM_AUTH`,
//! with or without SRP), or choice-based sign-in (`USER_AUTH`): Cognito's first-factor choice
//! between `PASSWORD_SRP`, `PASSWORD`, `EMAIL_OTP`, `SMS_OTP` and `WEB_AUTHN`.
//!
//! With `USER_AUTH` the login either names a preferred first challenge (`PREFERRED_CHALLENGE`
//! in `InitiateAuth`) or Cognito asks which one with `SELECT_CHALLENGE`, listing the
//! `AvailableChallenges`; the [`ChallengeHandler`](crate::ChallengeHandler) answers it (the
//! list is [`Challenge::available_challenges`](crate::Challenge::available_challenges)) with
//! [`ChallengeResponses::answer`](crate::ChallengeResponses::answer). `PASSWORD_SRP` runs the
//! usual SRP rounds, `PASSWORD` sends the password (over TLS, to Cognito only), and the
//! one-time codes (`EMAIL_OTP`, `SMS_OTP`) are asked of the handler
//! ([`ChallengeResponses::email_otp`](crate::ChallengeResponses::email_otp),
//! [`ChallengeResponses::sms_otp`](crate::ChallengeResponses::sms_otp)). Passkeys
//! (`WEB_AUTHN`) are not supported: choosing one is an [`Error::Challenge`].
//!
//! Source: [InitiateAuth](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html),
//! [RespondToAuthChallenge](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html),
//! [choice-based sign-in](https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-selection-sdk.html).

use std::fmt;

use en_auth_core::{ChallengeError, Environment, Error};

use crate::EMAIL_OTP;

/// `SELECT_CHALLENGE`: choose the first factor of a `USER_AUTH` sign-in, answered with
/// `ANSWER` = one of the available challenges.
pub const SELECT_CHALLENGE: &str = "SELECT_CHALLENGE";
/// `PASSWORD_SRP`: the password proved with SRP (the password never leaves the process).
pub const PASSWORD_SRP: &str = "PASSWORD_SRP";
/// `PASSWORD`: the password itself, sent to Cognito.
pub const PASSWORD: &str = "PASSWORD";
/// `SMS_OTP`: a one-time code sent by SMS, answered with `SMS_OTP_CODE`.
pub const SMS_OTP: &str = "SMS_OTP";
/// `WEB_AUTHN`: a passkey. Not supported: choosing it ends the login with
/// [`Error::Challenge`].
pub const WEB_AUTHN: &str = "WEB_AUTHN";

/// `CUSTOM_AUTH`: Cognito's `AuthFlow` for custom authentication (Lambda triggers); as an
/// environment's `auth_flow`, the same as [`CUSTOM_WITHOUT_SRP`].
pub const CUSTOM_AUTH: &str = "CUSTOM_AUTH";
/// `CUSTOM_WITH_SRP` (Amplify's name): `CUSTOM_AUTH` that proves the password over SRP
/// before the custom challenges.
pub const CUSTOM_WITH_SRP: &str = "CUSTOM_WITH_SRP";
/// `CUSTOM_WITHOUT_SRP` (Amplify's name): `CUSTOM_AUTH` with custom challenges only, no
/// password.
pub const CUSTOM_WITHOUT_SRP: &str = "CUSTOM_WITHOUT_SRP";

/// The first factor of a `USER_AUTH` sign-in (Cognito's `PREFERRED_CHALLENGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FirstFactor {
    /// [`PASSWORD_SRP`].
    PasswordSrp,
    /// [`PASSWORD`].
    Password,
    /// [`EMAIL_OTP`].
    EmailOtp,
    /// [`SMS_OTP`].
    SmsOtp,
}

impl FirstFactor {
    /// The Cognito name, such as `EMAIL_OTP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordSrp => PASSWORD_SRP,
            Self::Password => PASSWORD,
            Self::EmailOtp => EMAIL_OTP,
            Self::SmsOtp => SMS_OTP,
        }
    }

    /// The factor named `name` (`PASSWORD_SRP`, `PASSWORD`, `EMAIL_OTP`, `SMS_OTP`).
    ///
    /// # Errors
    /// A reason for any other name; for `WEB_AUTHN`, that passkeys are not supported.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            PASSWORD_SRP => Ok(Self::PasswordSrp),
            PASSWORD => Ok(Self::Password),
            EMAIL_OTP => Ok(Self::EmailOtp),
            SMS_OTP => Ok(Self::SmsOtp),
            WEB_AUTHN => Err(not_supported().to_owned()),
            other => Err(format!(
                "unknown first factor {other:?}: use PASSWORD_SRP, PASSWORD, EMAIL_OTP or SMS_OTP"
            )),
        }
    }
}

impl fmt::Display for FirstFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a login starts (Cognito's `AuthFlow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignInFlow {
    /// `USER_SRP_AUTH`: the password proved with SRP (the default).
    #[default]
    UserSrpAuth,
    /// `USER_AUTH`: choice-based sign-in, with the preferred first factor if any (else Cognito
    /// asks with `SELECT_CHALLENGE`).
    UserAuth {
        /// Sent as `PREFERRED_CHALLENGE`.
        preferred_challenge: Option<FirstFactor>,
    },
    /// `CUSTOM_AUTH`: challenges defined by the pool's Lambda triggers (`CUSTOM_CHALLENGE`,
    /// answered by the challenge handler, as many rounds as the triggers ask). With
    /// `with_srp` (Amplify's `CUSTOM_WITH_SRP`) the login first proves the password over SRP
    /// (`CHALLENGE_NAME = SRP_A` and `SRP_A` in `InitiateAuth`, then `PASSWORD_VERIFIER`);
    /// without (`CUSTOM_WITHOUT_SRP`) Cognito asks the first `CUSTOM_CHALLENGE` straight away
    /// and no password is needed (the builder accepts an empty one). Each round's answer is
    /// [`ChallengeResponses::answer`](crate::ChallengeResponses::answer); a refused one is
    /// [`Error::InvalidCredentials`]. Source:
    /// [custom authentication challenge Lambda triggers](https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-challenge.html).
    CustomAuth {
        /// Whether the password is proved over SRP before the custom challenges.
        with_srp: bool,
    },
}

impl SignInFlow {
    /// The flow's label in en-auth's spans and metrics (`flow`): `cognito_user_srp_auth`,
    /// `cognito_user_auth` or `cognito_custom_auth` (with or without SRP).
    pub fn label(&self) -> &'static str {
        match self {
            Self::UserSrpAuth => "cognito_user_srp_auth",
            Self::UserAuth { .. } => "cognito_user_auth",
            Self::CustomAuth { .. } => "cognito_custom_auth",
        }
    }

    /// The flow an environment names (`auth_flow`, `preferred_challenge`): `USER_SRP_AUTH`
    /// (the default), `USER_AUTH`, or custom authentication: `CUSTOM_WITH_SRP` /
    /// `CUSTOM_WITHOUT_SRP` (Amplify's names for `CUSTOM_AUTH` with and without the SRP
    /// password proof), `CUSTOM_AUTH` alone being `CUSTOM_WITHOUT_SRP` (the AWS flow as
    /// `InitiateAuth` runs it when no `SRP_A` is sent).
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the field for an unknown flow, an unknown or
    /// unsupported (`WEB_AUTHN`) challenge, or a `preferred_challenge` without `USER_AUTH`.
    pub fn from_environment(environment: &Environment) -> Result<Self, Error> {
        let preferred = environment
            .preferred_challenge()
            .map(FirstFactor::parse)
            .transpose()
            .map_err(|reason| environment.error("preferred_challenge", reason))?;
        match environment.auth_flow() {
            None | Some("USER_SRP_AUTH") if preferred.is_some() => Err(environment.error(
                "preferred_challenge",
                "a preferred challenge needs auth_flow = \"USER_AUTH\"",
            )),
            None | Some("USER_SRP_AUTH") => Ok(Self::UserSrpAuth),
            Some("USER_AUTH") => Ok(Self::UserAuth {
                preferred_challenge: preferred,
            }),
            Some(CUSTOM_AUTH | CUSTOM_WITH_SRP | CUSTOM_WITHOUT_SRP) if preferred.is_some() => {
                Err(environment.error(
                    "preferred_challenge",
                    "a preferred challenge needs auth_flow = \"USER_AUTH\"",
                ))
            }
            Some(CUSTOM_AUTH | CUSTOM_WITHOUT_SRP) => Ok(Self::CustomAuth { with_srp: false }),
            Some(CUSTOM_WITH_SRP) => Ok(Self::CustomAuth { with_srp: true }),
            Some(other) => Err(environment.error(
                "auth_flow",
                format!(
                    "unknown or unsupported flow {other:?}: use USER_SRP_AUTH, USER_AUTH, \
                     CUSTOM_WITH_SRP or CUSTOM_WITHOUT_SRP (CUSTOM_AUTH)"
                ),
            )),
        }
    }
}

fn not_supported() -> &'static str {
    "not supported: en-auth does not sign in with passkeys (WebAuthn); choose PASSWORD_SRP, PASSWORD, EMAIL_OTP or SMS_OTP"
}

/// The typed error for a `WEB_AUTHN` challenge or choice.
pub(crate) fn web_authn_error(user: &str) -> Error {
    ChallengeError::new(WEB_AUTHN, user, not_supported()).into()
}

/// Completes the handler's answer to `SELECT_CHALLENGE` (`ANSWER`): `PASSWORD_SRP` gets
/// `SRP_A`, `PASSWORD` the password; `WEB_AUTHN` is refused.
///
/// # Errors
/// [`Error::Challenge`] for an answer without `ANSWER` or choosing `WEB_AUTHN`.
pub(crate) fn complete_selection(
    mut responses: Vec<(String, String)>,
    srp_a: impl FnOnce() -> String,
    password: impl FnOnce() -> String,
    user: &str,
) -> Result<Vec<(String, String)>, Error> {
    let Some(answer) = responses
        .iter()
        .find(|(name, _)| name == "ANSWER")
        .map(|(_, value)| value.clone())
    else {
        return Err(ChallengeError::new(
            SELECT_CHALLENGE,
            user,
            "the challenge handler's answer has no ANSWER (the chosen challenge)",
        )
        .into());
    };
    match answer.as_str() {
        PASSWORD_SRP => responses.push(("SRP_A".to_owned(), srp_a())),
        PASSWORD => responses.push(("PASSWORD".to_owned(), password())),
        WEB_AUTHN => return Err(web_authn_error(user)),
        _ => {}
    }
    Ok(responses)
}
