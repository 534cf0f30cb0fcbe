//! `MFA_SETUP`: enrolling an authenticator app within a login.
//!
//! When a pool requires MFA and the user has no factor, Cognito answers the password proof with
//! `MFA_SETUP`. The login then
//! [associates](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AssociateSoftwareToken.html)
//! a software token with the challenge's `Session` (Cognito returns the TOTP secret and a new
//! session), hands the secret to the [`ChallengeHandler`](crate::ChallengeHandler) as an
//! `otpauth://` URI, [verifies](https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_VerifySoftwareToken.html)
//! the first code it answers with, and answers `MFA_SETUP` with the session that verification
//! returned. Later logins ask `SOFTWARE_TOKEN_MFA`.

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::types::VerifySoftwareTokenResponseType;
use en_auth_core::{ChallengeError, Error};
use secrecy::{ExposeSecret, SecretString};

use super::{CognitoSrp, OnIoRuntime};
use crate::challenge::{Challenge, MFA_SETUP, SOFTWARE_TOKEN_MFA};
use crate::errors::{map_sdk_error, Call};

/// The issuer (and label prefix) of the `otpauth://` URI, as Amplify names it.
const ISSUER: &str = "AWSCognito";
/// The `FriendlyDeviceName` the enrolled token gets.
const FRIENDLY_DEVICE_NAME: &str = "en-auth";

/// The Key URI of a TOTP secret: `otpauth://totp/AWSCognito:<user>?secret=..&issuer=AWSCognito`.
fn otpauth_uri(user: &str, secret: &str) -> SecretString {
    let mut uri = url::Url::parse("otpauth://totp/").expect("a constant URL parses");
    uri.set_path(&format!("/{ISSUER}:{user}"));
    uri.query_pairs_mut()
        .append_pair("secret", secret)
        .append_pair("issuer", ISSUER);
    SecretString::from(String::from(uri))
}

impl CognitoSrp {
    /// Enrols a software token for the `MFA_SETUP` challenge with `session`: returns the
    /// session to answer `MFA_SETUP` with (its responses are only `USERNAME` and the
    /// `SECRET_HASH`, which the caller adds).
    ///
    /// # Errors
    /// [`Error::Challenge`] if the pool offers no software token, no handler is configured or
    /// it gives no code; [`Error::InvalidCredentials`] if Cognito refuses the code; the mapped
    /// Cognito error of either call otherwise.
    pub(super) async fn mfa_setup(
        &self,
        parameters: &HashMap<String, String>,
        session: Option<String>,
    ) -> Result<Option<String>, Error> {
        let user = self.credentials.user_name();
        let refuse =
            |message: &str| -> Error { ChallengeError::new(MFA_SETUP, user, message).into() };
        if let Some(offered) = parameters.get("MFAS_CAN_SETUP") {
            if !offered.contains(SOFTWARE_TOKEN_MFA) {
                return Err(refuse(&format!(
                    "the pool offers {offered} to set up; en-auth enrols only SOFTWARE_TOKEN_MFA"
                )));
            }
        }
        let Some(handler) = &self.handler else {
            return Err(refuse("no challenge handler is configured"));
        };
        let associated = self
            .cognito
            .associate_software_token()
            .set_session(session)
            .send()
            .on_io_runtime()
            .await?
            .map_err(|e| map_sdk_error(&self.context(Call::Login), e))?;
        let secret = associated
            .secret_code()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid("AssociateSoftwareToken without a SecretCode"))?;
        let challenge = Challenge {
            name: MFA_SETUP.to_owned(),
            parameters: parameters.clone(),
            user_name: user.to_owned(),
            available: Vec::new(),
            otpauth_uri: Some(otpauth_uri(user, secret)),
        };
        let responses = handler
            .respond(&challenge)
            .await?
            .ok_or_else(|| refuse("the challenge handler does not answer it"))?;
        let code = responses
            .get("SOFTWARE_TOKEN_MFA_CODE")
            .ok_or_else(|| refuse("the handler's answer has no SOFTWARE_TOKEN_MFA_CODE"))?;
        let verified = self
            .cognito
            .verify_software_token()
            .set_session(associated.session().map(str::to_owned))
            .user_code(code.expose_secret())
            .friendly_device_name(FRIENDLY_DEVICE_NAME)
            .send()
            .on_io_runtime()
            .await?
            .map_err(|e| map_sdk_error(&self.context(Call::Login), e))?;
        if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
            return Err(refuse("Cognito did not accept the first code"));
        }
        tracing::info!(user, "enrolled an authenticator app (MFA_SETUP)");
        Ok(verified.session().map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_uri_encodes_the_user() {
        let uri = otpauth_uri("a b@example.com", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/AWSCognito:a%20b@example.com?secret=JBSWY3DPEHPK3PXP&issuer=AWSCognito"
        );
    }
}
