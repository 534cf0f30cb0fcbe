//! Client assertions signed here (RFC 7523 §2.2, OpenID Connect Core §9): `client_secret_jwt`
//! (HS256 over the client secret) and `private_key_jwt` (RS256, PS256, ES256 or EdDSA over a
//! private key), through `jsonwebtoken` on aws-lc-rs. The `jwt` feature.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use en_auth_core::{ClientInfo, Environment, Error, SigningAlgorithm, TokenEndpointAuthMethod};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// How long an assertion is valid: 60 seconds (RFC 7523 §3 wants a short `exp`; it is used at
/// once).
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 60;

/// Signs client assertions (RFC 7523 §2.2, OpenID Connect Core §9) for `private_key_jwt` (RS256,
/// PS256, ES256, EdDSA over a private key) or `client_secret_jwt` (HS256 over the client secret):
/// `iss` = `sub` = the client id, `aud` the token endpoint (or the audience given), `iat` now,
/// `exp` 60 seconds later, a random 128-bit `jti`; header `alg`, and `kid` and `x5t#S256` when
/// given. A new assertion for every token request. The `jwt` feature.
///
/// An authorizer configured by its environment (`private_key_file`, …) makes its own; make one
/// to sign with a key held elsewhere than in a file, and give it to
/// [`ServiceAccountAuthorizerBuilder::client_assertion_signer`](crate::ServiceAccountAuthorizerBuilder::client_assertion_signer).
/// Its `Debug` shows the client id, audience, algorithm and key id, never the key.
///
/// ```
/// use en_auth_oauth2::{ClientAssertionSigner, SigningAlgorithm};
///
/// # fn run(pem: &[u8]) -> Result<(), en_auth_oauth2::Error> {
/// let signer = ClientAssertionSigner::from_private_key(
///     "my-client",
///     "https://auth.example.com/oauth2/token",
///     SigningAlgorithm::ES256,
///     pem, // a PEM (PKCS#8 or SEC1) or a private JWK
/// )?
/// .with_key_id("key-1");
/// # Ok(()) }
/// ```
pub struct ClientAssertionSigner {
    algorithm: SigningAlgorithm,
    client_id: String,
    audience: String,
    header: Header,
    /// `jsonwebtoken` keeps the key material in a `Vec` of its own (its `Debug` redacts it).
    key: EncodingKey,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

impl ClientAssertionSigner {
    /// The signer `environment` configures for `client_info` (`client_secret_jwt` or
    /// `private_key_jwt`), its key loaded now and a first assertion signed to prove it usable.
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the field: no client secret (`client_secret_jwt`), no or
    /// an unreadable key file, a key that is not of the algorithm's kind, an unreadable
    /// certificate.
    pub(crate) fn from_config(
        client_info: &ClientInfo,
        environment: &Environment,
        default_audience: &str,
    ) -> Result<Self, Error> {
        let config = environment.client_assertion();
        let method = environment.token_endpoint_auth_method();
        let (signing, algorithm, key, jwk_kid) = if method
            == TokenEndpointAuthMethod::ClientSecretJwt
        {
            if !client_info.has_secret() {
                return Err(environment.error(
                    "client_secret",
                    format!(
                        "client_secret_jwt signs with the client secret, and `{}` has none (is \
                         CLIENT_SECRET set?)",
                        client_info.client_id()
                    ),
                ));
            }
            let key =
                EncodingKey::from_secret(client_info.client_secret().expose_secret().as_bytes())
                    .map_err(|_| environment.error("client_secret", "unusable as an HS256 key"))?;
            (SigningAlgorithm::HS256, Algorithm::HS256, key, None)
        } else {
            let algorithm = config.signing_algorithm.unwrap_or(SigningAlgorithm::RS256);
            let path = config.private_key_file.as_deref().ok_or_else(|| {
                environment.error(
                    "private_key_file",
                    "missing; private_key_jwt needs the client's private key (a PEM or JWK file)",
                )
            })?;
            let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
                environment.error(
                    "private_key_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?);
            let (key, kid) = private_key(algorithm, &bytes).map_err(|why| {
                environment.error("private_key_file", format!("{}: {why}", path.display()))
            })?;
            (algorithm, jwt_algorithm(algorithm), key, kid)
        };
        let mut header = Header::new(algorithm);
        header.kid = config.key_id.clone().or(jwk_kid);
        if let Some(path) = &config.certificate_file {
            header.x5t_s256 = Some(
                certificate_thumbprint(path)
                    .map_err(|why| environment.error("certificate_file", why))?,
            );
        }
        let signer = Self {
            algorithm: signing,
            client_id: client_info.client_id().to_owned(),
            audience: config
                .audience
                .clone()
                .unwrap_or_else(|| default_audience.to_owned()),
            header,
            key,
        };
        let field = if method == TokenEndpointAuthMethod::ClientSecretJwt {
            "client_secret"
        } else {
            "private_key_file"
        };
        signer.sign_assertion().map_err(|e| match e {
            SignError::Random => e.into_error(signer.algorithm),
            SignError::Jwt(_) => environment.error(
                field,
                format!(
                    "the key cannot sign {:?} assertions (a key of another kind?)",
                    signer.header.alg
                ),
            ),
        })?;
        Ok(signer)
    }

    /// A `private_key_jwt` signer for `client_id`, its assertions for `audience` (the token
    /// endpoint URL, or the issuer for servers that want that), with the private key in `key`: a
    /// PEM private key (PKCS#8; PKCS#1 for RSA; SEC1 for EC) or a private JWK (RFC 7517: `RSA`,
    /// `EC` on P-256, `OKP` Ed25519; its `kid` becomes the assertion's). `algorithm` is RS256,
    /// PS256 (RSA keys), ES256 (P-256) or EdDSA (Ed25519).
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `private_key`) when the bytes are no private key, a key of
    /// another kind than `algorithm` needs, or `algorithm` is HS256 (use
    /// [`ClientAssertionSigner::from_secret`]). The message never quotes the key.
    pub fn from_private_key(
        client_id: impl Into<String>,
        audience: impl Into<String>,
        algorithm: SigningAlgorithm,
        key: &[u8],
    ) -> Result<Self, Error> {
        let refuse = |why: String| -> Error {
            en_auth_core::ConfigurationError::new(format!("unusable private key: {why}"))
                .with_field("private_key")
                .into()
        };
        if algorithm == SigningAlgorithm::HS256 {
            return Err(refuse(
                "HS256 signs with a client secret (from_secret)".into(),
            ));
        }
        let (key, kid) = private_key(algorithm, key).map_err(refuse)?;
        let mut header = Header::new(jwt_algorithm(algorithm));
        header.kid = kid;
        let signer = Self {
            algorithm,
            client_id: client_id.into(),
            audience: audience.into(),
            header,
            key,
        };
        signer.sign_assertion().map_err(|e| match e {
            SignError::Random => e.into_error(algorithm),
            SignError::Jwt(_) => {
                refuse(format!("it cannot sign {} assertions", algorithm.as_str()))
            }
        })?;
        Ok(signer)
    }

    /// A `client_secret_jwt` signer (HS256 over `secret`) for `client_id` and `audience`.
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `client_secret`) when the secret is empty.
    pub fn from_secret(
        client_id: impl Into<String>,
        audience: impl Into<String>,
        secret: &secrecy::SecretString,
    ) -> Result<Self, Error> {
        let refuse = || -> Error {
            en_auth_core::ConfigurationError::new(
                "client_secret_jwt needs a non-empty client secret",
            )
            .with_field("client_secret")
            .into()
        };
        if secret.expose_secret().is_empty() {
            return Err(refuse());
        }
        let key =
            EncodingKey::from_secret(secret.expose_secret().as_bytes()).map_err(|_| refuse())?;
        Ok(Self {
            algorithm: SigningAlgorithm::HS256,
            client_id: client_id.into(),
            audience: audience.into(),
            header: Header::new(Algorithm::HS256),
            key,
        })
    }

    /// Sets the `kid` header (the key's id at the server).
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.header.kid = Some(key_id.into());
        self
    }

    /// Sets the `x5t#S256` header (RFC 7515 §4.1.8) to the thumbprint of the first certificate
    /// in `pem` (the key's certificate).
    ///
    /// # Errors
    /// [`Error::Configuration`] (field `certificate`) when `pem` holds no certificate.
    pub fn with_certificate_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let der = CertificateDer::from_pem_slice(pem).map_err(|e| {
            Error::from(
                en_auth_core::ConfigurationError::new(format!("no PEM certificate: {e}"))
                    .with_field("certificate"),
            )
        })?;
        self.header.x5t_s256 = Some(thumbprint(&der));
        Ok(self)
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// A new assertion, valid for 60 seconds.
    ///
    /// # Errors
    /// [`Error::Internal`] when the key cannot sign (it could when it was made), or the
    /// system's random source fails (no unique `jti`: an assertion is never sent with a
    /// constant one, which a server that remembers `jti`s would refuse as a replay).
    pub fn sign(&self) -> Result<secrecy::SecretString, Error> {
        self.sign_assertion()
            .map(|jwt| secrecy::SecretString::from(jwt.as_str()))
            .map_err(|e| e.into_error(self.algorithm))
    }

    /// The key as a credential for [`en_auth_core::SharedIdentity::with_credential`] (which
    /// keeps only an HMAC fingerprint of it).
    pub(crate) fn credential(&self) -> secrecy::SecretString {
        secrecy::SecretString::from(
            base64::engine::general_purpose::STANDARD.encode(self.key.as_bytes()),
        )
    }

    /// A new assertion, valid for [`ASSERTION_LIFETIME_SECS`].
    ///
    /// # Errors
    /// `jsonwebtoken`'s, when the key cannot sign (never quoting the key).
    pub(crate) fn sign_assertion(&self) -> Result<Zeroizing<String>, SignError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: &self.audience,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
            jti: jti()?,
        };
        Ok(jsonwebtoken::encode(&self.header, &claims, &self.key).map(Zeroizing::new)?)
    }
}

/// 128 random bits, base64url: a `jti` no other assertion shares.
pub(crate) fn jti() -> Result<String, SignError> {
    jti_from(aws_lc_rs::rand::fill)
}

/// A `jti` from the random source `fill`.
fn jti_from(
    fill: impl FnOnce(&mut [u8]) -> Result<(), aws_lc_rs::error::Unspecified>,
) -> Result<String, SignError> {
    let mut bytes = [0u8; 16];
    fill(&mut bytes).map_err(|_| SignError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Why an assertion could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    /// The system's random source failed: no unique `jti`.
    #[error("the system's random source failed, so the assertion would have no unique `jti`")]
    Random,
    /// `jsonwebtoken` could not sign (never quoting the key).
    #[error(transparent)]
    Jwt(#[from] jsonwebtoken::errors::Error),
}

impl SignError {
    /// The [`Error::Internal`] of an `algorithm` assertion that could not be made.
    fn into_error(self, algorithm: SigningAlgorithm) -> Error {
        en_auth_core::InternalError::new(format!(
            "cannot sign the {} client assertion: {self}",
            algorithm.as_str()
        ))
        .into()
    }
}

fn jwt_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::PS256 => Algorithm::PS256,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        // HS256 and any later one: the method check refuses HS256 with a private key first.
        _ => Algorithm::HS256,
    }
}

/// The signing key in `bytes` (a PEM private key, or a private JWK) for `algorithm`, and the
/// JWK's `kid` if it has one. The reason for a refusal never quotes the key.
pub(crate) fn private_key(
    algorithm: SigningAlgorithm,
    bytes: &[u8],
) -> Result<(EncodingKey, Option<String>), String> {
    let text = bytes.trim_ascii_start();
    if text.starts_with(b"{") {
        return jwk_private_key(algorithm, text);
    }
    let wrong = |kind: &str| {
        format!(
            "a {kind} private key, but signing_algorithm {} needs {}",
            algorithm.as_str(),
            key_kind(algorithm)
        )
    };
    let der = PrivateKeyDer::from_pem_slice(bytes)
        .map_err(|_| "neither a PEM private key nor a JWK".to_owned())?;
    let key = match (algorithm, der) {
        (SigningAlgorithm::RS256 | SigningAlgorithm::PS256, PrivateKeyDer::Pkcs1(der)) => {
            EncodingKey::from_rsa_der(der.secret_pkcs1_der())
        }
        (SigningAlgorithm::RS256 | SigningAlgorithm::PS256, PrivateKeyDer::Pkcs8(_)) => {
            EncodingKey::from_rsa_pem(bytes).map_err(|_| wrong("non-RSA"))?
        }
        (SigningAlgorithm::ES256, PrivateKeyDer::Pkcs8(der)) => {
            let der = der.secret_pkcs8_der();
            aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
            )
            .map_err(|_| wrong("non-P-256"))?;
            EncodingKey::from_ec_der(der)
        }
        (SigningAlgorithm::ES256, PrivateKeyDer::Sec1(der)) => {
            let pair = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_der(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.secret_sec1_der(),
            )
            .map_err(|_| wrong("non-P-256 EC"))?;
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| wrong("unusable EC"))?;
            EncodingKey::from_ec_der(pkcs8.as_ref())
        }
        (SigningAlgorithm::EdDSA, PrivateKeyDer::Pkcs8(der)) => {
            aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(der.secret_pkcs8_der())
                .map_err(|_| wrong("non-Ed25519"))?;
            EncodingKey::from_ed_der(der.secret_pkcs8_der())
        }
        (_, PrivateKeyDer::Pkcs1(_)) => return Err(wrong("PKCS#1 (RSA)")),
        (_, PrivateKeyDer::Sec1(_)) => return Err(wrong("SEC1 (EC)")),
        (_, _) => {
            return Err(wrong(
                "PKCS#8 private key of another kind, or an unsupported",
            ))
        }
    };
    Ok((key, None))
}

fn key_kind(algorithm: SigningAlgorithm) -> &'static str {
    match algorithm {
        SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => "an RSA key",
        SigningAlgorithm::ES256 => "a P-256 EC key",
        SigningAlgorithm::EdDSA => "an Ed25519 key",
        _ => "a shared secret",
    }
}

/// A private JWK (RFC 7517/7518 §6: `RSA` with `n e d p q dp dq qi`, `EC` P-256 with `d x y`,
/// `OKP` Ed25519 with `d x`) as a signing key, through aws-lc-rs's PKCS#8 encoding.
fn jwk_private_key(
    algorithm: SigningAlgorithm,
    text: &[u8],
) -> Result<(EncodingKey, Option<String>), String> {
    let jwk: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(text).map_err(|_| "not a JSON object (a JWK)".to_owned())?;
    let member = |name: &str| -> Result<Zeroizing<Vec<u8>>, String> {
        let value = jwk
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("the JWK has no `{name}` member (a private key needs it)"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value.trim_end_matches('='))
            .map(Zeroizing::new)
            .map_err(|_| format!("the JWK's `{name}` is not base64url"))
    };
    let text_member = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
    let kty = text_member("kty").unwrap_or("");
    let mismatch = || {
        format!(
            "a JWK of kty `{kty}`, but signing_algorithm {} needs {}",
            algorithm.as_str(),
            key_kind(algorithm)
        )
    };
    let key = match (algorithm, kty) {
        (SigningAlgorithm::ES256, "EC") => {
            if text_member("crv") != Some("P-256") {
                return Err(mismatch());
            }
            let (d, x, y) = (member("d")?, member("x")?, member("y")?);
            let mut public = vec![4u8];
            public.extend_from_slice(&x);
            public.extend_from_slice(&y);
            let pair = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &d,
                &public,
            )
            .map_err(|_| "the JWK is not a consistent P-256 key".to_owned())?;
            let pkcs8 = pair
                .to_pkcs8v1()
                .map_err(|_| "unusable EC key".to_owned())?;
            EncodingKey::from_ec_der(pkcs8.as_ref())
        }
        (SigningAlgorithm::EdDSA, "OKP") => {
            if text_member("crv") != Some("Ed25519") {
                return Err(mismatch());
            }
            let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(
                &member("d")?,
                &member("x")?,
            )
            .map_err(|_| "the JWK is not a consistent Ed25519 key".to_owned())?;
            let pkcs8 = pair
                .to_pkcs8v1()
                .map_err(|_| "unusable Ed25519 key".to_owned())?;
            EncodingKey::from_ed_der(pkcs8.as_ref())
        }
        (SigningAlgorithm::RS256 | SigningAlgorithm::PS256, "RSA") => {
            use aws_lc_rs::encoding::AsDer as _;
            let (n, e, d) = (member("n")?, member("e")?, member("d")?);
            let (p, q) = (member("p")?, member("q")?);
            let (dp, dq, qi) = (member("dp")?, member("dq")?, member("qi")?);
            let components = aws_lc_rs::rsa::KeyPairComponents {
                public_key: aws_lc_rs::rsa::PublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                },
                d: &d[..],
                p: &p[..],
                q: &q[..],
                dP: &dp[..],
                dQ: &dq[..],
                qInv: &qi[..],
            };
            let pair = aws_lc_rs::rsa::KeyPair::from_components(&components)
                .map_err(|_| "the JWK is not a consistent RSA key".to_owned())?;
            let pkcs8 = pair.as_der().map_err(|_| "unusable RSA key".to_owned())?;
            // jsonwebtoken reads an RSA PKCS#8 key from PEM only.
            let pem = Zeroizing::new(format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
            ));
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| "unusable RSA key".to_owned())?
        }
        _ => return Err(mismatch()),
    };
    Ok((key, text_member("kid").map(str::to_owned)))
}

/// `x5t#S256` (RFC 7515 §4.1.8): the base64url SHA-256 of the first certificate in the PEM file
/// at `path`.
fn certificate_thumbprint(path: &Path) -> Result<String, String> {
    let der = CertificateDer::from_pem_file(path)
        .map_err(|e| format!("no PEM certificate in {}: {e}", path.display()))?;
    Ok(thumbprint(&der))
}

fn thumbprint(der: &CertificateDer<'_>) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

impl std::fmt::Debug for ClientAssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertionSigner")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("alg", &self.algorithm)
            .field("kid", &self.header.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = include_bytes!("../tests/data/test-only-ec-key.pem");
    const PUBLIC: &[u8] = include_bytes!("../tests/data/test-only-ec-public.pem");
    const CERT: &[u8] = include_bytes!("../tests/data/test-only-ec-cert.pem");
    /// `openssl x509 -outform der | openssl dgst -sha256 -binary | base64url`.
    const CERT_X5T_S256: &str = "PM-bMwRAF4xeqHgrj-GvPwnnCN2onZXT47RFraieUQk";

    /// A random source that fails is an error, never an all-zero `jti` (which a server
    /// that remembers `jti`s refuses as a replay from the second assertion on).
    #[test]
    fn a_failed_random_source_is_an_error_not_a_constant_jti() {
        let failed = jti_from(|_| Err(aws_lc_rs::error::Unspecified));
        assert!(matches!(failed, Err(SignError::Random)), "{failed:?}");
        let filled = jti_from(|bytes| {
            bytes.fill(0xff);
            Ok(())
        })
        .unwrap();
        assert_eq!(filled, "_____________________w");
    }

    #[test]
    fn claims_header_and_a_fresh_jti_per_assertion() {
        let signer = ClientAssertionSigner::from_private_key(
            "svc",
            "https://auth.example.com/token",
            SigningAlgorithm::ES256,
            KEY,
        )
        .unwrap()
        .with_key_id("k1")
        .with_certificate_pem(CERT)
        .unwrap();
        let key = jsonwebtoken::DecodingKey::from_ec_pem(PUBLIC).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://auth.example.com/token"]);
        validation.set_issuer(&["svc"]);
        let decode = |jwt: &str| {
            let header = jsonwebtoken::decode_header(jwt).unwrap();
            let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation).unwrap();
            (header, data.claims)
        };
        let first = signer.sign().unwrap();
        let second = signer.sign().unwrap();
        let (header, claims) = decode(first.expose_secret());
        let (_, again) = decode(second.expose_secret());
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(header.x5t_s256.as_deref(), Some(CERT_X5T_S256));
        assert_eq!(claims["sub"], "svc");
        let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert_eq!(lifetime, ASSERTION_LIFETIME_SECS);
        assert!(lifetime <= 60);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        assert_ne!(claims["jti"], again["jti"]);
        // Debug shows what identifies the signer, never the key.
        let debug = format!("{signer:?}");
        assert!(debug.contains("svc") && debug.contains("ES256"), "{debug}");
        let body = std::str::from_utf8(KEY).unwrap().lines().nth(1).unwrap();
        assert!(!debug.contains(body));
    }

    #[test]
    fn keys_of_the_wrong_kind_or_no_key_are_refused_without_quoting_them() {
        for (algorithm, key) in [
            (SigningAlgorithm::RS256, KEY),
            (SigningAlgorithm::EdDSA, KEY),
            (SigningAlgorithm::ES256, b"not a key".as_slice()),
            (
                SigningAlgorithm::ES256,
                br#"{"kty":"EC","crv":"P-384"}"#.as_slice(),
            ),
            (SigningAlgorithm::HS256, KEY),
        ] {
            let err = ClientAssertionSigner::from_private_key("svc", "aud", algorithm, key)
                .unwrap_err()
                .to_string();
            assert!(err.contains("private_key"), "{err}");
            let body = std::str::from_utf8(KEY).unwrap().lines().nth(1).unwrap();
            assert!(!err.contains(body), "{err}");
        }
        let empty = secrecy::SecretString::from(String::new());
        assert!(ClientAssertionSigner::from_secret("svc", "aud", &empty).is_err());
    }
}
