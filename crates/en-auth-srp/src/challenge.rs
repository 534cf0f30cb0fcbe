//! Login challenges beyond `PASSWORD_VERIFIER` — MFA codes, a new password, custom challenges
//! — answered by a caller-supplied [`ChallengeHandler`].
//!
//! Cognito names the challenge in `ChallengeName` and expects `ChallengeResponses`
//! ([RespondToAuthChallenge](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html)).
//! The flow adds `USERNAME` and `SECRET_HASH` itself; a handler supplies only the answer.

use std::collections::HashMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use en_auth_core::Error;

/// `NEW_PASSWORD_REQUIRED`: the user must choose a new password.
pub const NEW_PASSWORD_REQUIRED: &str = "NEW_PASSWORD_REQUIRED";
/// `SMS_MFA`: a code sent by SMS.
pub const SMS_MFA: &str = "SMS_MFA";
/// `SOFTWARE_TOKEN_MFA`: a TOTP code from an authenticator app.
pub const SOFTWARE_TOKEN_MFA: &str = "SOFTWARE_TOKEN_MFA";
/// `EMAIL_OTP`: a code sent by email, as an MFA factor (pools with email MFA) or a
/// passwordless first factor. Answered with [`ChallengeResponses::email_otp`].
pub const EMAIL_OTP: &str = "EMAIL_OTP";
/// `SELECT_MFA_TYPE`: choose between the factors in `MFAS_CAN_CHOOSE` (`SMS_MFA`,
/// `SOFTWARE_TOKEN_MFA`, `EMAIL_OTP`).
pub const SELECT_MFA_TYPE: &str = "SELECT_MFA_TYPE";
/// `MFA_SETUP`: the pool requires MFA and the user has no factor yet. The provider enrols an
/// authenticator app itself (`AssociateSoftwareToken`, then `VerifySoftwareToken` with the
/// first code): the [`ChallengeHandler`] receives this challenge with the secret as an
/// `otpauth://` URI ([`Challenge::otpauth_uri`]) and answers with the first code
/// ([`ChallengeResponses::totp`]).
pub const MFA_SETUP: &str = "MFA_SETUP";
/// `CUSTOM_CHALLENGE`: a challenge defined by the pool's Lambda triggers.
pub const CUSTOM_CHALLENGE: &str = "CUSTOM_CHALLENGE";
/// `DEVICE_SRP_AUTH`: a remembered-device SRP round. Answered by the provider itself when it
/// has a confirmed device (see the crate's "remembered devices"); without one it ends the
/// login with [`Error::Challenge`].
pub const DEVICE_SRP_AUTH: &str = "DEVICE_SRP_AUTH";

/// Challenges that cannot be answered by a [`ChallengeHandler`]'s responses: they need other
/// device keys: they end a login with [`Error::Challenge`] when the provider has no confirmed
/// device. (`MFA_SETUP` is answered: see [`MFA_SETUP`].)
pub const UNANSWERABLE: &[&str] = &[DEVICE_SRP_AUTH, "DEVICE_PASSWORD_VERIFIER"];

/// A challenge the server asked for during a login. `Debug` shows no secret: the
/// [`otpauth_uri`](Self::otpauth_uri) of an `MFA_SETUP` is redacted.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub(crate) name: String,
    pub(crate) parameters: HashMap<String, String>,
    pub(crate) user_name: String,
    pub(crate) available: Vec<String>,
    pub(crate) otpauth_uri: Option<SecretString>,
}

impl Challenge {
    /// The challenge name, such as [`SOFTWARE_TOKEN_MFA`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The challenge parameters (`ChallengeParameters`), such as `CODE_DELIVERY_DESTINATION`
    /// for `SMS_MFA` or `MFAS_CAN_CHOOSE` for `SELECT_MFA_TYPE`.
    pub fn parameters(&self) -> &HashMap<String, String> {
        &self.parameters
    }

    /// The user name being logged in, as given.
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// For [`SELECT_CHALLENGE`](crate::SELECT_CHALLENGE): the first factors the user may
    /// choose (Cognito's `AvailableChallenges`, such as `PASSWORD_SRP`, `EMAIL_OTP`); empty for
    /// other challenges.
    pub fn available_challenges(&self) -> &[String] {
        &self.available
    }

    /// For [`MFA_SETUP`]: the new authenticator-app secret as a
    /// [Key URI](https://github.com/google/google-authenticator/wiki/Key-Uri-Format)
    /// (`otpauth://totp/AWSCognito:<user>?secret=<base32>&issuer=AWSCognito`, the label and
    /// issuer Amplify uses), to show as a QR code or enter into an authenticator app. The
    /// handler answers with its first code ([`ChallengeResponses::totp`]). `None` for other
    /// challenges. The secret is the user's second factor: never log it.
    pub fn otpauth_uri(&self) -> Option<&SecretString> {
        self.otpauth_uri.as_ref()
    }
}

/// The answer to a challenge: `ChallengeResponses` entries, values kept secret.
#[derive(Clone, Default)]
pub struct ChallengeResponses {
    entries: Vec<(String, SecretString)>,
}

impl ChallengeResponses {
    /// An empty answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name = value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.entries
            .push((name.into(), SecretString::from(value.into())));
        self
    }

    /// `SOFTWARE_TOKEN_MFA_CODE`: the answer to [`SOFTWARE_TOKEN_MFA`], and the first code of
    /// an [`MFA_SETUP`] enrolment.
    pub fn totp(code: impl Into<String>) -> Self {
        Self::new().with("SOFTWARE_TOKEN_MFA_CODE", code)
    }

    /// `SMS_MFA_CODE`: the answer to [`SMS_MFA`].
    pub fn sms(code: impl Into<String>) -> Self {
        Self::new().with("SMS_MFA_CODE", code)
    }

    /// `NEW_PASSWORD`: the answer to [`NEW_PASSWORD_REQUIRED`].
    pub fn new_password(password: impl Into<String>) -> Self {
        Self::new().with("NEW_PASSWORD", password)
    }

    /// `EMAIL_OTP_CODE`: the answer to [`EMAIL_OTP`](crate::EMAIL_OTP) — as an MFA factor or
    /// a passwordless first factor — the code the user received by email.
    pub fn email_otp(code: impl Into<String>) -> Self {
        Self::new().with("EMAIL_OTP_CODE", code)
    }

    /// `SMS_OTP_CODE`: the answer to [`SMS_OTP`](crate::SMS_OTP), the code the user received
    /// by SMS.
    pub fn sms_otp(code: impl Into<String>) -> Self {
        Self::new().with("SMS_OTP_CODE", code)
    }

    /// `ANSWER`: the answer to [`SELECT_MFA_TYPE`] (`SMS_MFA` or `SOFTWARE_TOKEN_MFA`), to
    /// [`SELECT_CHALLENGE`](crate::SELECT_CHALLENGE) (the chosen first factor, such as
    /// `EMAIL_OTP`; the login adds `SRP_A` or the password itself) and to
    /// [`CUSTOM_CHALLENGE`].
    pub fn answer(answer: impl Into<String>) -> Self {
        Self::new().with("ANSWER", answer)
    }

    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&SecretString> {
        self.entries.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub(crate) fn into_entries(self) -> impl Iterator<Item = (String, String)> {
        self.entries
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
    }
}

impl fmt::Debug for ChallengeResponses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, _)| (k, "[REDACTED]")))
            .finish()
    }
}

/// Answers login challenges.
///
/// A handler is either a closure (or function) or an implementation of this trait:
///
/// - Any `Fn(&Challenge) -> Option<ChallengeResponses>` is a handler: it returns
///   `Some(responses)` to answer a challenge and `None` for one it does not handle.
/// - An implementation of [`ChallengeHandler::respond`] is async and fallible (for a code that
///   must be fetched or asked for): it returns `Ok(Some(responses))` to answer, `Ok(None)` for
///   a challenge it does not handle, and `Err(error)` to end the login with `error`.
///
/// A challenge left unanswered (`None`, `Ok(None)`) ends the login with [`Error::Challenge`]
/// naming it.
///
/// A login that fails transiently after a challenge was answered (throttling, a timeout) is
/// retried from the start, so the handler may be asked again — a new SMS code may be sent.
/// After a `NEW_PASSWORD_REQUIRED` answer is accepted, the authorizer logs in with the new
/// password from then on.
///
/// A closure:
///
/// ```
/// use en_auth_srp::{Challenge, ChallengeResponses, SOFTWARE_TOKEN_MFA};
///
/// let handler = |challenge: &Challenge| match challenge.name() {
///     SOFTWARE_TOKEN_MFA => Some(ChallengeResponses::totp("123456")),
///     _ => None,
/// };
/// # fn takes(_: impl en_auth_srp::ChallengeHandler) {}
/// takes(handler);
/// ```
///
/// An implementation (with the `async-trait` crate), which asks for the code and may fail:
///
/// ```
/// use en_auth_srp::{
///     Challenge, ChallengeError, ChallengeHandler, ChallengeResponses, Error, SMS_MFA,
/// };
///
/// struct AskForSmsCodes;
///
/// #[async_trait::async_trait]
/// impl ChallengeHandler for AskForSmsCodes {
///     async fn respond(&self, challenge: &Challenge) -> Result<Option<ChallengeResponses>, Error> {
///         if challenge.name() != SMS_MFA {
///             return Ok(None); // not ours: the login fails with Error::Challenge
///         }
///         match ask_the_user_for_the_code().await {
///             Some(code) => Ok(Some(ChallengeResponses::sms(code))),
///             None => Err(ChallengeError::new(SMS_MFA, challenge.user_name(), "no code given").into()),
///         }
///     }
/// }
/// # async fn ask_the_user_for_the_code() -> Option<String> { Some("123456".into()) }
/// # fn takes(_: impl en_auth_srp::ChallengeHandler) {}
/// takes(AskForSmsCodes);
/// ```
#[async_trait::async_trait]
pub trait ChallengeHandler: Send + Sync + 'static {
    /// `Ok(Some(responses))` to answer `challenge`, `Ok(None)` if this handler does not answer
    /// it (the login then fails with [`Error::Challenge`] naming it).
    ///
    /// # Errors
    /// Any error ends this login attempt with it; the login is tried again only if the error
    /// [`is_retryable`](Error::is_retryable) (a [`ChallengeError`](en_auth_core::ChallengeError)
    /// is not).
    async fn respond(&self, challenge: &Challenge) -> Result<Option<ChallengeResponses>, Error>;
}

#[async_trait::async_trait]
impl<F> ChallengeHandler for F
where
    F: Fn(&Challenge) -> Option<ChallengeResponses> + Send + Sync + 'static,
{
    async fn respond(&self, challenge: &Challenge) -> Result<Option<ChallengeResponses>, Error> {
        Ok(self(challenge))
    }
}
