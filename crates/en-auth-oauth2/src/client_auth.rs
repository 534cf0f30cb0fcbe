//! How the client authenticates at the token endpoint (RFC 6749 §2.3; RFC 7591 §2 names the
//! methods), applied to a [`TokenRequest`].

use std::path::PathBuf;

use en_auth_core::{ClientInfo, Environment, Error, TokenEndpointAuthMethod};
use secrecy::{ExposeSecret, SecretString};

use crate::request::TokenRequest;

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub(crate) const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

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
    /// `tls_client_auth` or `self_signed_tls_client_auth` (RFC 8705 §2): the certificate in
    /// the TLS handshake (the token client's identity), the `client_id` in the body.
    MutualTls {
        client_id: String,
        method: TokenEndpointAuthMethod,
    },
    /// `private_key_jwt` with an assertion a platform writes to a file (workload identity),
    /// read again at every request.
    AssertionFile {
        /// For errors that name the environment and the field.
        environment: Box<Environment>,
        path: PathBuf,
    },
    /// `client_secret_jwt` or `private_key_jwt`: an assertion signed for every request.
    #[cfg(feature = "jwt")]
    Signed {
        method: TokenEndpointAuthMethod,
        signer: Box<crate::jwt::ClientAssertionSigner>,
    },
}

/// The `aud` of a client assertion when `client_assertion_audience` does not name one: the
/// token endpoint (OIDC Core §9) when the environment names it, else the issuer (RFC 7523 §3
/// accepts either; the endpoint of a discovered issuer is not known until the first request).
pub(crate) fn default_assertion_audience(environment: &Environment) -> String {
    match (environment.token_url(), environment.issuer()) {
        (Some(url), _) => url.as_str().to_owned(),
        (None, Some(issuer)) => issuer.as_str().to_owned(),
        (None, None) => String::new(),
    }
}

impl ClientAuthentication {
    /// The authentication `environment` configures for `client_info`.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the method needs something the configuration lacks.
    pub(crate) fn from_config(
        client_info: &ClientInfo,
        environment: &Environment,
        default_audience: &str,
        tls_identity: Option<&crate::TlsClientIdentity>,
    ) -> Result<Self, Error> {
        let client_id = client_info.client_id().to_owned();
        let secret = || client_info.client_secret().clone();
        let method = environment.token_endpoint_auth_method();
        if let Some(path) = &environment.client_assertion().client_assertion_file {
            return Ok(Self::AssertionFile {
                environment: Box::new(environment.clone()),
                path: path.clone(),
            });
        }
        Ok(match method {
            TokenEndpointAuthMethod::TlsClientAuth
            | TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
                if tls_identity.is_none() {
                    return Err(environment.error(
                        "tls_client_certificate_file",
                        format!(
                            "missing; {} needs the client certificate and key \
                             (tls_client_certificate_file and tls_client_key_file, or \
                             ServiceAccountAuthorizerBuilder::tls_client_identity)",
                            method.as_str()
                        ),
                    ));
                }
                Self::MutualTls { client_id, method }
            }
            TokenEndpointAuthMethod::ClientSecretJwt | TokenEndpointAuthMethod::PrivateKeyJwt => {
                Self::signed(client_info, environment, default_audience, method)?
            }
            TokenEndpointAuthMethod::None => Self::None { client_id },
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

    #[cfg(feature = "jwt")]
    fn signed(
        client_info: &ClientInfo,
        environment: &Environment,
        default_audience: &str,
        method: TokenEndpointAuthMethod,
    ) -> Result<Self, Error> {
        let signer = crate::jwt::ClientAssertionSigner::from_config(
            client_info,
            environment,
            default_audience,
        )?;
        Ok(Self::Signed {
            method,
            signer: Box::new(signer),
        })
    }

    #[cfg(not(feature = "jwt"))]
    fn signed(
        _: &ClientInfo,
        environment: &Environment,
        _: &str,
        method: TokenEndpointAuthMethod,
    ) -> Result<Self, Error> {
        Err(environment.error(
            "token_endpoint_auth_method",
            format!(
                "{} signs a JWT, and en-auth-oauth2 was built without its `jwt` feature: enable \
                 it (`features = [\"jwt\"]`), or use a client_assertion_file",
                method.as_str()
            ),
        ))
    }

    /// Authentication with `signer`'s assertions (`client_secret_jwt` for an HS256 signer,
    /// `private_key_jwt` otherwise).
    #[cfg(feature = "jwt")]
    pub(crate) fn with_signer(signer: crate::jwt::ClientAssertionSigner) -> Self {
        let method = if signer.algorithm() == en_auth_core::SigningAlgorithm::HS256 {
            TokenEndpointAuthMethod::ClientSecretJwt
        } else {
            TokenEndpointAuthMethod::PrivateKeyJwt
        };
        Self::Signed {
            method,
            signer: Box::new(signer),
        }
    }

    /// The method's RFC 7591 name.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::SecretPost { .. } => "client_secret_post",
            Self::None { .. } => "none",
            Self::MutualTls { method, .. } => method.as_str(),
            Self::AssertionFile { .. } => "private_key_jwt",
            #[cfg(feature = "jwt")]
            Self::Signed { method, .. } => method.as_str(),
        }
    }

    /// Adds what identifies the client's credential to a shared-store identity: a fingerprint
    /// of the secret or key, or the assertion file's path.
    pub(crate) fn identify(
        &self,
        identity: en_auth_core::SharedIdentity,
    ) -> en_auth_core::SharedIdentity {
        match self {
            Self::SecretBasic { secret, .. } | Self::SecretPost { secret, .. } => {
                identity.with_credential("client_secret", secret)
            }
            // The certificate's thumbprint is added by the provider (for any method).
            Self::None { .. } | Self::MutualTls { .. } => identity,
            Self::AssertionFile { path, .. } => {
                identity.with("client_assertion_file", path.display().to_string())
            }
            #[cfg(feature = "jwt")]
            Self::Signed { signer, .. } => {
                identity.with_credential("signing_key", &signer.credential())
            }
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
            Self::None { client_id } | Self::MutualTls { client_id, .. } => {
                request.param("client_id", client_id.clone());
            }
            Self::AssertionFile { environment, path } => {
                let assertion =
                    crate::assertion_file::read(environment, "client_assertion_file", path)?;
                request.param("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
                request.param("client_assertion", assertion.as_str());
            }
            #[cfg(feature = "jwt")]
            Self::Signed { signer, .. } => {
                let assertion = signer.sign()?;
                request.param("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
                request.param("client_assertion", assertion.expose_secret());
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(method: TokenEndpointAuthMethod) -> Environment {
        Environment::new("t")
            .with_token_url("https://auth.example.com/token")
            .unwrap()
            .with_token_endpoint_auth_method(method)
    }

    /// Without the `jwt` feature a JWT method is a configuration error that names the feature;
    /// an assertion file needs no JOSE code and works.
    #[cfg(not(feature = "jwt"))]
    #[test]
    fn without_the_jwt_feature_a_jwt_method_names_the_feature() {
        let url = url::Url::parse("https://auth.example.com/token").unwrap();
        for method in [
            TokenEndpointAuthMethod::PrivateKeyJwt,
            TokenEndpointAuthMethod::ClientSecretJwt,
        ] {
            let err = ClientAuthentication::from_config(
                &ClientInfo::new("svc", "s3cret"),
                &environment(method),
                url.as_str(),
                None,
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Configuration(_)), "{err:?}");
            assert!(
                text.contains("`jwt` feature") && text.contains(method.as_str()),
                "{text}"
            );
        }
        let mut config = en_auth_core::ClientAssertionConfig::default();
        config.client_assertion_file = Some("/var/run/token".into());
        let env = environment(TokenEndpointAuthMethod::PrivateKeyJwt)
            .with_client_assertion(config)
            .unwrap();
        let auth =
            ClientAuthentication::from_config(&ClientInfo::public("svc"), &env, url.as_str(), None)
                .unwrap();
        assert_eq!(auth.method(), "private_key_jwt");
    }

    #[test]
    fn none_sends_the_client_id_and_nothing_else() {
        let url = url::Url::parse("https://auth.example.com/token").unwrap();
        let auth = ClientAuthentication::from_config(
            &ClientInfo::new("svc", "s3cret"),
            &environment(TokenEndpointAuthMethod::None),
            url.as_str(),
            None,
        )
        .unwrap();
        assert_eq!(auth.method(), "none");
        let endpoint = crate::request::TokenEndpoint::new(
            url,
            reqwest::Client::new(),
            std::time::Duration::from_secs(1),
            1024,
        );
        let mut request = endpoint.request("client_credentials");
        auth.apply(&mut request).unwrap();
        assert_eq!(request.param_names(), ["grant_type", "client_id"]);
    }
}
