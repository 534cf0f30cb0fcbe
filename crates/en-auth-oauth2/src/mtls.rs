//! Mutual TLS (RFC 8705): the client certificate and key a client presents in the TLS handshake
//! of its token requests (`tls_client_auth`, `self_signed_tls_client_auth`, §2) and of the
//! requests that carry its certificate-bound tokens (§3).

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use en_auth_core::{ConfigurationError, Environment, Error};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest as _;
use zeroize::Zeroizing;

/// A client certificate (with its chain) and its private key, for mutual TLS (RFC 8705).
///
/// Made from PEM files ([`TlsClientIdentity::from_pem_files`], or the environment's
/// `tls_client_certificate_file` and `tls_client_key_file`) or PEM bytes
/// ([`TlsClientIdentity::from_pem`]); the key is checked against the certificate when it is
/// made. A `ServiceAccountAuthorizer` with one presents it in every token request's TLS
/// handshake, and hands it to the clients that send its certificate-bound tokens
/// (`ServiceAccountAuthorizer::resource_client_builder`).
///
/// Clones share the key. Its `Debug` shows the certificate's thumbprint only; the key is
/// never shown and is wiped from memory when the last clone is dropped (the copy inside the
/// [`reqwest::Identity`] is reqwest's).
#[derive(Clone)]
pub struct TlsClientIdentity(Arc<Inner>);

struct Inner {
    certificates: Vec<CertificateDer<'static>>,
    /// The key's DER and its PEM kind, for [`TlsClientIdentity::private_key`].
    key_der: Zeroizing<Vec<u8>>,
    key_kind: KeyKind,
    thumbprint: String,
    identity: reqwest::Identity,
}

#[derive(Clone, Copy)]
enum KeyKind {
    Pkcs8,
    Pkcs1,
    Sec1,
}

impl KeyKind {
    fn pem_label(self) -> &'static str {
        match self {
            Self::Pkcs8 => "PRIVATE KEY",
            Self::Pkcs1 => "RSA PRIVATE KEY",
            Self::Sec1 => "EC PRIVATE KEY",
        }
    }
}

/// Where a certificate or key came from, for errors: a file, or bytes given in code.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Files {
        environment: Option<&'a Environment>,
        certificate: &'a Path,
        key: &'a Path,
    },
    Bytes,
}

impl Origin<'_> {
    /// A configuration error about the certificate (`key` false) or the key (`key` true),
    /// naming the field and the file — never their content.
    fn error(self, key: bool, message: &str) -> Error {
        let field = if key {
            "tls_client_key_file"
        } else {
            "tls_client_certificate_file"
        };
        match self {
            Origin::Files {
                environment,
                certificate,
                key: key_path,
            } => {
                let path = if key { key_path } else { certificate };
                let message = format!("{}: {message}", path.display());
                match environment {
                    Some(env) => env.error(field, message),
                    None => ConfigurationError::new(message).with_field(field).into(),
                }
            }
            Origin::Bytes => ConfigurationError::new(format!(
                "the TLS client {}: {message}",
                if key { "key" } else { "certificate" }
            ))
            .with_field(field)
            .into(),
        }
    }
}

impl TlsClientIdentity {
    /// The identity in the PEM files `certificate_file` (the client certificate first, then
    /// any intermediate certificates) and `key_file` (its private key: PKCS #8 `PRIVATE KEY`,
    /// PKCS #1 `RSA PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`; RSA, ECDSA P-256/P-384 or Ed25519).
    ///
    /// # Errors
    /// [`Error::Configuration`] naming the file (never its content) when a file cannot be read,
    /// holds no certificate or no private key, or the key is not the certificate's.
    pub fn from_pem_files(
        certificate_file: impl AsRef<Path>,
        key_file: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        Self::read(None, certificate_file.as_ref(), key_file.as_ref())
    }

    /// The identity of `environment`'s `tls_client_certificate_file` and
    /// `tls_client_key_file`, if it has them.
    ///
    /// # Errors
    /// As [`TlsClientIdentity::from_pem_files`], the error naming the environment too.
    pub fn from_environment(environment: &Environment) -> Result<Option<Self>, Error> {
        match environment.tls_client() {
            Some(config) => Self::read(
                Some(environment),
                &config.certificate_file,
                &config.key_file,
            )
            .map(Some),
            None => Ok(None),
        }
    }

    fn read(
        environment: Option<&Environment>,
        certificate: &Path,
        key: &Path,
    ) -> Result<Self, Error> {
        let origin = Origin::Files {
            environment,
            certificate,
            key,
        };
        let certificate_pem = std::fs::read(certificate)
            .map_err(|e| origin.error(false, &format!("cannot read the certificate: {e}")))?;
        let key_pem = Zeroizing::new(
            std::fs::read(key)
                .map_err(|e| origin.error(true, &format!("cannot read the private key: {e}")))?,
        );
        Self::parse(&certificate_pem, &key_pem, origin)
    }

    /// The identity of a PEM certificate (chain) and a PEM private key held in memory (see
    /// [`TlsClientIdentity::from_pem_files`] for the formats). The key bytes are not kept:
    /// the caller may wipe them.
    ///
    /// # Errors
    /// [`Error::Configuration`] when there is no certificate or no private key, or the key is
    /// not the certificate's.
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, Error> {
        Self::parse(certificate_pem, key_pem, Origin::Bytes)
    }

    fn parse(certificate_pem: &[u8], key_pem: &[u8], origin: Origin<'_>) -> Result<Self, Error> {
        let certificates = CertificateDer::pem_slice_iter(certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| origin.error(false, "not a PEM file of certificates"))?;
        if certificates.is_empty() {
            return Err(origin.error(false, "no PEM `CERTIFICATE` in it"));
        }
        if contains(key_pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(origin.error(
                true,
                "an encrypted private key, which is not supported: give the key unencrypted, in \
                 a file only the service can read (`openssl pkey -in <file> -out <new file>`)",
            ));
        }
        // pki-types' errors may quote a line of the file: never shown.
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
            origin.error(
                true,
                "no PEM private key in it (PKCS #8 `PRIVATE KEY`, PKCS #1 `RSA PRIVATE KEY` or \
                 SEC 1 `EC PRIVATE KEY`)",
            )
        })?;
        let key_kind = match &key {
            PrivateKeyDer::Pkcs8(_) => KeyKind::Pkcs8,
            PrivateKeyDer::Pkcs1(_) => KeyKind::Pkcs1,
            PrivateKeyDer::Sec1(_) => KeyKind::Sec1,
            _ => return Err(origin.error(true, "an unsupported kind of private key")),
        };
        let key_der = Zeroizing::new(key.secret_der().to_vec());
        // rustls loads the key and compares its public half with the certificate's.
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        rustls::sign::CertifiedKey::from_der(certificates.clone(), key, &provider).map_err(
            |e| match e {
                rustls::Error::InconsistentKeys(_) => origin.error(
                    true,
                    "the private key is not the certificate's (tls_client_certificate_file)",
                ),
                _ => origin.error(
                    true,
                    "the private key cannot be used (an unsupported algorithm or a malformed key)",
                ),
            },
        )?;
        let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(certificates[0].as_ref()));
        // Sized up front: no reallocation leaves a copy of the key behind.
        let capacity = certificates
            .iter()
            .map(|c| c.as_ref().len())
            .chain([key_der.len()])
            .map(|len| len / 48 * 66 + 200)
            .sum();
        let mut identity_pem = Zeroizing::new(String::with_capacity(capacity));
        for certificate in &certificates {
            pem_section(&mut identity_pem, "CERTIFICATE", certificate.as_ref());
        }
        pem_section(&mut identity_pem, key_kind.pem_label(), &key_der);
        let identity = reqwest::Identity::from_pem(identity_pem.as_bytes())
            .map_err(|_| origin.error(true, "reqwest refused the certificate and key"))?;
        Ok(Self(Arc::new(Inner {
            certificates,
            key_der,
            key_kind,
            thumbprint,
            identity,
        })))
    }

    /// The certificate's SHA-256 thumbprint, base64url without padding: the `x5t#S256`
    /// confirmation a certificate-bound token carries (RFC 8705 §3.1). Public, like the
    /// certificate.
    pub fn thumbprint(&self) -> &str {
        &self.0.thumbprint
    }

    /// The identity for a `reqwest::ClientBuilder` (`.identity(…)`; rustls).
    pub fn reqwest_identity(&self) -> reqwest::Identity {
        self.0.identity.clone()
    }

    /// The certificate chain, the client's certificate first: with
    /// [`private_key`](Self::private_key), what a `rustls::ClientConfig` needs
    /// (`with_client_auth_cert(chain, key)`) — for hyper (hyper-rustls) and tonic clients.
    pub fn certificate_chain(&self) -> Vec<CertificateDer<'static>> {
        self.0.certificates.clone()
    }

    /// A copy of the private key, for a `rustls::ClientConfig` (see
    /// [`certificate_chain`](Self::certificate_chain)). Never log it.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        let der = self.0.key_der.to_vec();
        match self.0.key_kind {
            KeyKind::Pkcs8 => PrivateKeyDer::Pkcs8(der.into()),
            KeyKind::Pkcs1 => PrivateKeyDer::Pkcs1(der.into()),
            KeyKind::Sec1 => PrivateKeyDer::Sec1(der.into()),
        }
    }
}

impl std::fmt::Debug for TlsClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClientIdentity")
            .field("x5t#S256", &self.0.thumbprint)
            .field("certificates", &self.0.certificates.len())
            .finish_non_exhaustive()
    }
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Appends a PEM section (RFC 7468) of `der` to `out`.
fn pem_section(out: &mut String, label: &str, der: &[u8]) {
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 is ASCII: every chunk is UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An encrypted key is named as such (not "no private key"), and the error shows nothing
    /// of the file.
    #[test]
    fn an_encrypted_key_is_refused_as_such() {
        let key = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = TlsClientIdentity::from_pem(b"", key).unwrap_err();
        let text = err.to_string();
        // The certificate is checked first: no certificate here.
        assert!(text.contains("certificate: no PEM"), "{text}");
        let certificate = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let err = TlsClientIdentity::from_pem(certificate, key).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("an encrypted private key"), "{text}");
        assert!(!text.contains("MIIF"), "{text}");
    }

    #[test]
    fn pem_sections_are_wrapped_at_64_columns() {
        let mut out = String::new();
        pem_section(&mut out, "CERTIFICATE", &[0xAB; 100]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        let body: String = lines[1..lines.len() - 1].concat();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(decoded, [0xAB; 100]);
    }
}
