//! Who is asking: the client's identity ([`ClientInfo`]) and, for user logins, the user's
//! credentials ([`UserCredentials`]).
//!
//! Both hold their secrets in [`secrecy::SecretString`]: redacted in `Debug`, zeroized on drop,
//! and only readable through [`secrecy::ExposeSecret`].

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// The authentication parameters of a client application: its id, its secret and an optional
/// API key.
///
/// Mirrors the Python `en_auth` package's `en_auth.data.ClientInfo(client_id, client_secret, api_key='')`.
/// The client id is public and appears in errors and logs; the secret and the API key never do.
/// A public client (one without a secret, such as a Cognito app client with no secret) is made
/// with an empty secret or [`ClientInfo::public`].
///
/// ```
/// use en_auth_core::ClientInfo;
/// use secrecy::ExposeSecret;
///
/// let info = ClientInfo::new("my-client", "s3cret").with_api_key("key-123");
/// assert_eq!(info.client_id(), "my-client");
/// assert_eq!(info.client_secret().expose_secret(), "s3cret");
/// assert!(!format!("{info:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct ClientInfo {
    client_id: String,
    client_secret: SecretString,
    api_key: Option<SecretString>,
}

impl ClientInfo {
    /// A client with an id and a secret (RFC 6749 §2.3.1 credentials) and no API key.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            api_key: None,
        }
    }

    /// A public client: an id and no secret.
    pub fn public(client_id: impl Into<String>) -> Self {
        Self::new(client_id, String::new())
    }

    /// Adds the API key sent in the [`API_KEY_HEADER`](crate::API_KEY_HEADER) of every
    /// authorized request. An empty key means "no API key", as in the Python `en_auth` package.
    #[must_use]
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        let key = api_key.into();
        self.api_key = (!key.is_empty()).then(|| SecretString::from(key));
        self
    }

    /// The client id (public).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret; empty for a public client.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// Whether the client has a (non-empty) secret.
    pub fn has_secret(&self) -> bool {
        !self.client_secret.expose_secret().is_empty()
    }

    /// The API key, if the client has one.
    pub fn api_key(&self) -> Option<&SecretString> {
        self.api_key.as_ref()
    }

    /// Checks that the client can be used: a non-empty id, a secret without leading or trailing
    /// white space or control characters (the newline of a secret read from a file), and an API
    /// key that can be sent as an HTTP header value. The authorizers call it when they are
    /// built, so these mistakes surface there rather than as `invalid_client` at the first
    /// request.
    ///
    /// # Errors
    /// [`Error::Configuration`](crate::Error::Configuration) naming the field and the client
    /// (never the secret).
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.client_id.trim().is_empty() {
            return Err(crate::ConfigurationError::new("the client id is empty")
                .with_field("client_id")
                .into());
        }
        let secret = self.client_secret.expose_secret();
        if secret.trim() != secret || secret.chars().any(char::is_control) {
            return Err(crate::ConfigurationError::new(format!(
                "the client secret of `{}` has leading or trailing white space or a control \
                 character (a newline left over from reading it from a file?)",
                self.client_id
            ))
            .with_field("client_secret")
            .into());
        }
        if let Some(key) = &self.api_key {
            if http::HeaderValue::from_str(key.expose_secret()).is_err() {
                return Err(crate::ConfigurationError::new(
                    "the API key cannot be sent as an HTTP header value (control characters?)",
                )
                .with_field("api_key")
                .into());
            }
        }
        Ok(())
    }

    /// The `(client_id, client_secret)` pair for HTTP Basic authentication, as in the Python `en_auth` package
    /// (`to_basic_auth()`). The caller encodes it; for an OAuth2 token endpoint both parts are
    /// form-urlencoded before base64 (RFC 6749 §2.3.1), which `en-auth-oauth2` does for you.
    pub fn to_basic_auth(&self) -> (&str, &SecretString) {
        (&self.client_id, &self.client_secret)
    }
}

impl fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInfo")
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(self.has_secret()))
            .field("api_key", &redacted(self.api_key.is_some()))
            .finish()
    }
}

/// The credentials of a user who logs in (for example over Cognito SRP).
///
/// Mirrors the Python `en_auth` package's `UserCredentials(user_name, password)`. The user name appears in errors and
/// logs; the password never does.
///
/// ```
/// use en_auth_core::UserCredentials;
///
/// let creds = UserCredentials::new("alice", "correct horse");
/// assert_eq!(creds.user_name(), "alice");
/// assert!(!format!("{creds:?}").contains("horse"));
/// ```
#[derive(Clone)]
pub struct UserCredentials {
    user_name: String,
    password: SecretString,
}

impl UserCredentials {
    /// Credentials for `user_name` (the name, or an alias such as an e-mail address, that the
    /// user types) with `password`.
    pub fn new(user_name: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user_name: user_name.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The user name as typed.
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The password.
    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user_name", &self.user_name)
            .field("password", &redacted(true))
            .finish()
    }
}

/// What `Debug` shows in place of a secret: whether there is one, never its value.
pub(crate) fn redacted(present: bool) -> Redacted {
    Redacted(present)
}

/// A placeholder that prints `[REDACTED]` (or `None` when there is no secret).
pub(crate) struct Redacted(bool);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "[REDACTED]" } else { "None" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_with_a_trailing_newline_or_padding_is_refused_without_printing_it() {
        for secret in ["s3cret\n", " s3cret", "s3cret\r\n", "s3c\tret"] {
            let err = ClientInfo::new("svc", secret).validate().unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("`svc`") && text.contains("client_secret") && !text.contains("s3c"),
                "{text}"
            );
        }
        // A space inside a secret is legitimate, and so is an empty one (a public client).
        ClientInfo::new("svc", "s3cr+t/with=odd:chars%21! and space")
            .validate()
            .unwrap();
        ClientInfo::public("app").validate().unwrap();
    }
}
