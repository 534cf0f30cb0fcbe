//! Cognito values computed as AWS documents them, independently of the crates under test: for
//! tests that search for them (a secrecy scan) or expect them.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

/// The `SECRET_HASH` of `user_name` for a confidential app client:
/// base64(HMAC-SHA256(client secret, user name ‖ client id)), as the Cognito API reference
/// defines it ("Computing secret hash values").
///
/// ```
/// // A known answer of pycognito 2024.5.1 (en-auth-srp's tests/vectors/srp_vectors.json).
/// let hash = en_auth_peers::cognito::secret_hash(
///     "pykatclient0123456789abcd",
///     "1example23456789abcdefghijklmnopqrstuvwxyz01234567",
///     "erin",
/// );
/// assert_eq!(hash, "l4v9oCdKIvejDSAPwO/VjKIfyFqNdS7pSuE7MbA6H8g=");
/// ```
pub fn secret_hash(client_id: &str, client_secret: &str, user_name: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(client_secret.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(user_name.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
