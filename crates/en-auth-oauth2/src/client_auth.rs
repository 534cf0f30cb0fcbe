//! How the client authenticates at the token endpoint (RFC 6749 §2.3; RFC 7591 §2 names the
//! methods), applied to a [`TokenRequest`].

use en_auth_core::{ClientInfo, Environment, Error, TokenEndpointAuthMethod};
use secrecy::{ExposeSecret, SecretString};

use crate::request::TokenRequest;

/// A client's authentication at the token endpoint, made once from the client info and the
/// environment, then applied to every token request.
pub(crate) enum ClientAuthentication {
    /// `client_secret_basic`: HTTP Basic over the form-encoded id and secret (RFC 6749 §2.3.1).
    SecretBasic {
        client_id: String,
        secret: SecretString,
    },
    /// `client_secret_post`: `client_id` and `client_secret` in the body (RFC 6749 §2.3.1).
    SecretPost {
        client_id: String,
        secret: SecretString,
    },
    /// `none`: a public client, its `client_id` in the body (RFC 6749 §2.1, §3.2.1).
    None { client_id: String },
}

impl ClientAuthentication {
    /// The authentication `environment` configures for `client_info`.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the method needs something the configuration lacks.
    pub(crate) fn from_config(
        client_info: &ClientInfo,
        environment: &Environment,
    ) -> Result<Self, Error> {
        let client_id = client_info.client_id().to_owned();
        let secret = || client_info.client_secret().clone();
        Ok(match environment.token_endpoint_auth_method() {
            TokenEndpointAuthMethod::ClientSecretPost => Self::SecretPost {
                client_id,
                secret: secret(),
            },
            // As the `oauth2` crate did: Basic needs a secret, and without one the id goes in
            // the body.
            _ if !client_info.has_secret() => Self::None { client_id },
            _ => Self::SecretBasic {
                client_id,
                secret: secret(),
            },
        })
    }

    /// The method's RFC 7591 name.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::SecretPost { .. } => "client_secret_post",
            Self::None { .. } => "none",
        }
    }

    /// Adds the client's credentials to `request`.
    ///
    /// # Errors
    /// [`Error::Configuration`] when a credential cannot be produced.
    pub(crate) fn apply(&self, request: &mut TokenRequest) -> Result<(), Error> {
        match self {
            Self::SecretBasic { client_id, secret } => {
                request.basic_credentials(client_id, secret.expose_secret());
            }
            Self::SecretPost { client_id, secret } => {
                request.param("client_id", client_id.clone());
                if !secret.expose_secret().is_empty() {
                    request.param("client_secret", secret.expose_secret());
                }
            }
            Self::None { client_id } => request.param("client_id", client_id.clone()),
        }
        Ok(())
    }
}

impl std::fmt::Debug for ClientAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuthentication")
            .field("method", &self.method())
            .finish_non_exhaustive()
    }
}
