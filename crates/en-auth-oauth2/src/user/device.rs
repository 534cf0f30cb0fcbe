//! The device authorization grant (RFC 8628): for SSH sessions and machines without a browser.

use std::time::Duration;

use en_auth_core::{InvalidResponseError, Token};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{error_answer, error_code, SignInError, UserSignIn};
use crate::request::shown_url;
use crate::wire::printable;

/// `grant_type` of the device access token request (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 §3.2): 5 seconds.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How much longer to wait after `slow_down` (RFC 8628 §3.5): 5 seconds.
const SLOW_DOWN: Duration = Duration::from_secs(5);

/// The shortest polling interval taken from a server: 1 second (an `interval` of 0 is read as
/// this).
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest polling interval: 5 minutes (a larger `interval` is read as this).
const MAX_INTERVAL: Duration = Duration::from_secs(300);

/// The longest a device code is waited for: 1 hour, whatever `expires_in` says (RFC 8628's
/// example is 30 minutes).
const MAX_EXPIRES_IN: Duration = Duration::from_secs(3600);

/// What the person is shown to approve the sign-in on another device (RFC 8628 §3.2, §3.3):
/// the URL to open and the code to enter there. The device code itself stays inside.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The code the person enters (`user_code`).
    pub user_code: String,
    /// Where to enter it (`verification_uri`).
    pub verification_uri: String,
    /// The same page with the code filled in (`verification_uri_complete`), for a link or a QR
    /// code, when the server sends it.
    pub verification_uri_complete: Option<String>,
    /// How long the codes live (`expires_in`, at most 1 hour).
    pub expires_in: Duration,
    /// How long to wait between token requests (`interval`; 5 s when absent; between 1 s and
    /// 5 minutes whatever the server says).
    pub interval: Duration,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Deserialize)]
struct Response {
    device_code: String,
    user_code: String,
    verification_uri: Option<String>,
    /// Google's name for `verification_uri`.
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

impl Drop for Response {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.device_code.zeroize();
    }
}

impl UserSignIn {
    /// Signs a person in with the device authorization grant (RFC 8628): requests a device and
    /// a user code at the issuer's `device_authorization_endpoint` (with the environment's
    /// scopes), hands them to `show` (print them, draw a QR code of
    /// [`verification_uri_complete`](DeviceAuthorization::verification_uri_complete)), then
    /// asks the token endpoint every `interval` until the person has approved on another
    /// device: `authorization_pending` waits on, `slow_down` waits 5 s longer from then on.
    /// The waits are Tokio timers.
    ///
    /// The token returned carries the session's refresh token:
    /// [`UserSignIn::session_from`].
    ///
    /// # Errors
    /// - [`SignInError::AccessDenied`] when the person cancels or refuses;
    /// - [`SignInError::Expired`] when the codes expire first (`expired_token`, or their
    ///   `expires_in` passes);
    /// - [`SignInError::Refused`] for another OAuth2 error of the device endpoint;
    /// - [`SignInError::Request`] when the environment names no issuer, the metadata no
    ///   `device_authorization_endpoint`, a server cannot be reached or answers nonsense.
    pub async fn device(
        &self,
        show: impl FnOnce(&DeviceAuthorization) + Send,
    ) -> Result<Token, SignInError> {
        let client = &self.client;
        let endpoints = client.sign_in_endpoints().await?;
        let url = client.required(
            &endpoints,
            endpoints.device_authorization.as_ref(),
            "device_authorization_endpoint",
            "device_authorization_url",
        )?;
        let shown = shown_url(&url);
        let (endpoint, _) = client.token_endpoint().await?;
        let mut form = endpoint.form();
        form.scopes(client.environment.scopes());
        client.authentication.apply(&mut form)?;
        let (status, body) = endpoint.post_form(&url, form).await?;
        if !(200..300).contains(&status) {
            let error = error_answer(&shown, client.client_info.client_id(), status, &body);
            return Err(match error_code(&error) {
                Some(code) => SignInError::from_code(
                    code,
                    match &error {
                        en_auth_core::Error::Authorization(a) => Some(a.message.as_str()),
                        _ => None,
                    },
                ),
                None => error.into(),
            });
        }
        let response: Response = serde_json::from_slice(&body).map_err(|_| {
            en_auth_core::Error::from(InvalidResponseError::new(
                shown.as_str(),
                Some(status),
                "not a device authorization response (device_code, user_code, verification_uri, expires_in)",
            ))
        })?;
        let device_code = SecretString::from(response.device_code.clone());
        let verification_uri = response
            .verification_uri
            .clone()
            .or_else(|| response.verification_url.clone())
            .ok_or_else(|| {
                en_auth_core::Error::from(InvalidResponseError::new(
                    shown.as_str(),
                    Some(status),
                    "the device authorization response has no `verification_uri`",
                ))
            })?;
        // The server's numbers bounded: an `interval` of 0 would poll without pause, a huge
        // `expires_in` or `interval` overflow the deadline's arithmetic.
        let mut interval = response
            .interval
            .map_or(DEFAULT_INTERVAL, Duration::from_secs)
            .clamp(MIN_INTERVAL, MAX_INTERVAL);
        let expires_in = Duration::from_secs(response.expires_in).min(MAX_EXPIRES_IN);
        let shown_to_user = DeviceAuthorization {
            user_code: printable(&response.user_code, 64),
            verification_uri: printable(&verification_uri, 2048),
            verification_uri_complete: response
                .verification_uri_complete
                .as_deref()
                .map(|u| printable(u, 2048)),
            expires_in,
            interval,
        };
        let deadline = tokio::time::Instant::now() + expires_in;
        show(&shown_to_user);
        loop {
            if tokio::time::Instant::now() + interval > deadline {
                return Err(SignInError::Expired);
            }
            tokio::time::sleep(interval).await;
            let result = client
                .token_request(
                    DEVICE_CODE_GRANT_TYPE,
                    &[("device_code", device_code.expose_secret())],
                )
                .await;
            let error = match result {
                Ok(token) => {
                    tracing::debug!(endpoint = %shown, "device sign-in approved");
                    return Ok(token);
                }
                Err(error) => error,
            };
            match error_code(&error) {
                Some("authorization_pending") => {}
                Some("slow_down") => {
                    interval = (interval + SLOW_DOWN).min(MAX_INTERVAL);
                    tracing::debug!(
                        interval_s = interval.as_secs(),
                        "slow_down: polling less often"
                    );
                }
                Some(code @ ("access_denied" | "expired_token")) => {
                    return Err(SignInError::from_code(code, None));
                }
                _ => return Err(error.into()),
            }
        }
    }
}
