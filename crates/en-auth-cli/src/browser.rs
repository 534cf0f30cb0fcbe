//! `en-auth login --browser`: the authorization code grant with PKCE in the person's browser.

use en_auth_oauth2::{SignInError, Token, UserSignIn};

/// Signs a person in in a browser.
pub async fn sign_in(_sign_in: &UserSignIn) -> Result<Token, SignInError> {
    Err(SignInError::Request(
        en_auth_oauth2::ConfigurationError::new("--browser is not available yet: use --device")
            .into(),
    ))
}
