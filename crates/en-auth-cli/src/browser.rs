//! `en-auth login --browser`: the authorization code grant with PKCE in the person's browser,
//! redirected to a listener on 127.0.0.1. The browser is opened when the person is at a
//! terminal (and kubectl, as an exec plugin, allows interaction); the URL is always printed,
//! for a machine without a browser or one that cannot be opened.

use en_auth_oauth2::{BrowserSignIn, SignInError, Token, UserSignIn};

use crate::failure::terminal;
use crate::input;

/// Signs a person in in a browser; `identity_provider` goes to Cognito's managed login.
pub async fn sign_in(
    sign_in: &UserSignIn,
    identity_provider: Option<&str>,
) -> Result<Token, SignInError> {
    let mut options = BrowserSignIn::new();
    if let Some(idp) = identity_provider {
        options = options.identity_provider(idp);
    }
    let pending = sign_in.start_browser(options).await?;
    let url = pending.authorization_url().as_str().to_owned();
    let opened = input::interactive() && webbrowser::open(&url).is_ok();
    if opened {
        eprintln!(
            "A browser was opened to sign in; if it shows nothing, open:\n{}",
            terminal(&url)
        );
    } else {
        eprintln!(
            "To sign in, open this URL in a browser on this machine:\n{}",
            terminal(&url)
        );
    }
    eprintln!("Waiting for the sign-in …");
    pending.finish().await
}
