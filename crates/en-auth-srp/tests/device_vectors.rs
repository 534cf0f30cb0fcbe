//! Known-answer tests of the remembered-device verifier (`en_auth_srp::srp::DeviceSecret`, what
//! `ConfirmDevice` sends as `DeviceSecretVerifierConfig`) against vectors produced by the
//! reference Cognito clients — amazon-cognito-identity-js's `generateHashDevice` and pycognito's
//! `generate_hash_device`, each with its own random device password and salt — never by this
//! crate. Regenerate `tests/vectors/device_vectors.json` with `sh peers/kat/generate.sh`.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use en_auth_srp::srp::{DeviceSecret, SrpError};
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    reference: String,
    device_group_key: String,
    device_key: String,
    device_password: String,
    salt: String,
    password_verifier: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str(include_str!("vectors/device_vectors.json")).unwrap()
}

#[test]
fn the_verifier_is_the_reference_clients() {
    let vectors = vectors();
    let references: BTreeSet<&str> = vectors
        .iter()
        .map(|v| v.reference.split('@').next().unwrap())
        .collect();
    assert_eq!(
        references,
        BTreeSet::from(["amazon-cognito-identity-js", "pycognito"]),
        "both references"
    );
    // Salts with the high bit set (a `00` byte first) and without, from both.
    let padded = vectors
        .iter()
        .filter(|v| STANDARD.decode(&v.salt).unwrap()[0] == 0)
        .count();
    assert!(
        padded > 0 && padded < vectors.len(),
        "{padded} padded salts"
    );
    for v in &vectors {
        let ours = DeviceSecret::from_password(
            &v.device_group_key,
            &v.device_key,
            &v.device_password,
            &v.salt,
        )
        .unwrap();
        assert_eq!(ours.salt, v.salt, "{}: salt re-encoded", v.reference);
        assert_eq!(
            ours.password_verifier, v.password_verifier,
            "{} {} {}",
            v.reference, v.device_group_key, v.device_key
        );
    }
}

#[test]
fn a_wrong_password_key_or_group_gives_another_verifier() {
    let v = &vectors()[0];
    let wrong = [
        (&*v.device_group_key, &*v.device_key, "not-the-password"),
        (&*v.device_group_key, "us-east-1_other", &*v.device_password),
        ("-other", &*v.device_key, &*v.device_password),
    ];
    for (group, key, password) in wrong {
        let ours = DeviceSecret::from_password(group, key, password, &v.salt).unwrap();
        assert_ne!(ours.password_verifier, v.password_verifier, "{group} {key}");
    }
    assert!(matches!(
        DeviceSecret::from_password(&v.device_group_key, &v.device_key, "", &v.salt),
        Err(SrpError::Empty { .. })
    ));
}

#[test]
fn a_generated_secret_is_shaped_like_the_references() {
    let v = &vectors()[0];
    let secret = DeviceSecret::generate(&v.device_group_key, &v.device_key).unwrap();
    // 40 random bytes in base64 (56 characters), as both references make it.
    assert_eq!(
        secret.password().expose_secret().len(),
        v.device_password.len()
    );
    let again = DeviceSecret::from_password(
        &v.device_group_key,
        &v.device_key,
        secret.password().expose_secret(),
        &secret.salt,
    )
    .unwrap();
    assert_eq!(again.password_verifier, secret.password_verifier);
}
