//! A remembered device's secret, as Cognito's `ConfirmDevice` takes it: a random device
//! password, a random salt, and the SRP verifier v = g^x mod N with
//! x = H(pad(salt) ‖ H(DeviceGroupKey ‖ DeviceKey ‖ ":" ‖ device password)) — the user SRP's x
//! with the device group key in place of the pool name and the device key in place of the user
//! (amazon-cognito-identity-js `AuthenticationHelper.generateHashDevice`, pycognito
//! `aws_srp.generate_hash_device`). `DeviceSecretVerifierConfig` carries `Salt` and
//! `PasswordVerifier` as base64 of pad(salt) and pad(v).
//!
//! Source: the AWS Cognito API reference for `ConfirmDevice` (`DeviceSecretVerifierConfig`) and
//! the official client amazon-cognito-identity-js; checked by known-answer vectors of both
//! reference clients (`tests/device_vectors.rs`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use num_bigint::{BigInt, Sign};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{
    exponent_x, non_empty, pad_secret, verifier, PasswordClaim, Proof, SrpClient, SrpError,
};

/// The `DEVICE_PASSWORD_VERIFIER` challenge as the client needs it: the remembered device's
/// keys and password, the challenge's parameters as received, and the timestamp it will send.
/// `Debug` redacts the password.
#[derive(Clone, Copy)]
pub struct DeviceVerifierInput<'a> {
    /// `NewDeviceMetadata.DeviceGroupKey`: in place of the pool name in x and the signature.
    pub device_group_key: &'a str,
    /// `NewDeviceMetadata.DeviceKey`: in place of `USER_ID_FOR_SRP`.
    pub device_key: &'a str,
    /// The device password generated at `ConfirmDevice` ([`DeviceSecret::password`]).
    pub password: &'a str,
    /// The challenge's `SRP_B`.
    pub srp_b: &'a str,
    /// The challenge's `SALT` (hex: the device's salt).
    pub salt: &'a str,
    /// The challenge's `SECRET_BLOCK`.
    pub secret_block: &'a str,
    /// The `TIMESTAMP` that will be sent.
    pub timestamp: &'a str,
}

impl fmt::Debug for DeviceVerifierInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceVerifierInput")
            .field("device_group_key", &self.device_group_key)
            .field("device_key", &self.device_key)
            .field("password", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl SrpClient {
    /// Answers a `DEVICE_PASSWORD_VERIFIER` challenge (after `DEVICE_SRP_AUTH` sent this
    /// client's `SRP_A` with the `DEVICE_KEY`): the user SRP's proof with the device group key
    /// in place of the pool name and the device key in place of the user, over the device
    /// password (amazon-cognito-identity-js `CognitoUser.getDeviceResponse`).
    ///
    /// # Errors
    /// As [`SrpClient::password_verifier`], with [`SrpError::Empty`] naming `DeviceGroupKey`,
    /// `DeviceKey` or `device password`.
    pub fn device_password_verifier(
        &self,
        input: &DeviceVerifierInput<'_>,
    ) -> Result<PasswordClaim, SrpError> {
        non_empty("DeviceGroupKey", input.device_group_key)?;
        non_empty("DeviceKey", input.device_key)?;
        non_empty("device password", input.password)?;
        self.claim(&Proof {
            name: input.device_group_key,
            user: input.device_key,
            password: input.password,
            srp_b: input.srp_b,
            salt: input.salt,
            secret_block: input.secret_block,
            timestamp: input.timestamp,
        })
    }
}

/// Random bytes of a device password (the reference clients' 40, sent as base64).
const DEVICE_PASSWORD_BYTES: usize = 40;

/// Random bytes of a device salt (the reference clients' 16).
const DEVICE_SALT_BYTES: usize = 16;

/// A new device's secret: the password the client keeps, and the verifier configuration
/// `ConfirmDevice` sends. `Debug` redacts the password.
pub struct DeviceSecret {
    password: SecretString,
    /// `DeviceSecretVerifierConfig.Salt`: base64 of pad(salt).
    pub salt: String,
    /// `DeviceSecretVerifierConfig.PasswordVerifier`: base64 of pad(v).
    pub password_verifier: String,
}

impl DeviceSecret {
    /// A new random device password and salt for the device `device_key` of the group
    /// `device_group_key` (`NewDeviceMetadata`), with their verifier.
    ///
    /// # Errors
    /// [`SrpError::Empty`] for an empty key; [`SrpError::Random`] if the OS generator fails.
    pub fn generate(device_group_key: &str, device_key: &str) -> Result<Self, SrpError> {
        let mut password = Zeroizing::new([0u8; DEVICE_PASSWORD_BYTES]);
        getrandom::fill(password.as_mut()).map_err(SrpError::Random)?;
        let mut salt = [0u8; DEVICE_SALT_BYTES];
        getrandom::fill(&mut salt).map_err(SrpError::Random)?;
        let password = SecretString::from(STANDARD.encode(password.as_ref()));
        let salt = BigInt::from_bytes_be(Sign::Plus, &salt);
        Self::with(device_group_key, device_key, password, &salt)
    }

    /// The verifier of a given device password and salt (base64 of pad(salt), as
    /// `DeviceSecretVerifierConfig.Salt` carries it): for known-answer tests, and for a server
    /// that checks a verifier.
    ///
    /// # Errors
    /// [`SrpError::Empty`] for an empty key or password; [`SrpError::InvalidHex`] (field
    /// `SALT`) if the salt is not base64.
    #[cfg(any(test, feature = "__internals"))]
    pub fn from_password(
        device_group_key: &str,
        device_key: &str,
        password: &str,
        salt_base64: &str,
    ) -> Result<Self, SrpError> {
        let salt = STANDARD
            .decode(salt_base64)
            .map_err(|_| SrpError::InvalidHex { field: "SALT" })?;
        let salt = BigInt::from_signed_bytes_be(&salt);
        Self::with(
            device_group_key,
            device_key,
            SecretString::from(password.to_owned()),
            &salt,
        )
    }

    fn with(
        device_group_key: &str,
        device_key: &str,
        password: SecretString,
        salt: &BigInt,
    ) -> Result<Self, SrpError> {
        non_empty("DeviceGroupKey", device_group_key)?;
        non_empty("DeviceKey", device_key)?;
        non_empty("device password", password.expose_secret())?;
        let x = exponent_x(device_group_key, device_key, password.expose_secret(), salt);
        let v = verifier(&x).retrieve();
        Ok(Self {
            password,
            salt: STANDARD.encode(salt.to_signed_bytes_be()),
            password_verifier: STANDARD.encode(&*pad_secret(&v)),
        })
    }

    /// The device password: kept by the client (with the device key and group key) for the
    /// `DEVICE_PASSWORD_VERIFIER` proofs of later logins; never sent.
    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSecret")
            .field("password", &"[REDACTED]")
            .field("salt", &self.salt)
            .field("password_verifier", &self.password_verifier)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_its_own_verifier_and_random() {
        let a = DeviceSecret::generate("-group", "us-east-1_device").unwrap();
        let again = DeviceSecret::from_password(
            "-group",
            "us-east-1_device",
            a.password().expose_secret(),
            &a.salt,
        )
        .unwrap();
        assert_eq!(a.password_verifier, again.password_verifier);
        let b = DeviceSecret::generate("-group", "us-east-1_device").unwrap();
        assert_ne!(a.password().expose_secret(), b.password().expose_secret());
        assert_ne!(a.salt, b.salt);
        assert_eq!(
            STANDARD.decode(a.password().expose_secret()).unwrap().len(),
            40
        );
        assert!(!format!("{a:?}").contains(a.password().expose_secret()));
    }

    #[test]
    fn empty_keys_and_bad_salts_are_refused() {
        assert!(matches!(
            DeviceSecret::generate("", "k"),
            Err(SrpError::Empty {
                field: "DeviceGroupKey"
            })
        ));
        assert!(matches!(
            DeviceSecret::from_password("g", "", "p", "AA=="),
            Err(SrpError::Empty { field: "DeviceKey" })
        ));
        assert!(matches!(
            DeviceSecret::from_password("g", "k", "p", "not base64!"),
            Err(SrpError::InvalidHex { field: "SALT" })
        ));
    }
}
