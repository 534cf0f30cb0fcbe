//! The cost of a `private_key_jwt` client assertion (RFC 7523 §2.2), signed afresh for every
//! token request: claims serialised, signed (aws-lc-rs through jsonwebtoken), base64url. The
//! keys are test-only (`tests/data/`).
//!
//! ```text
//! cargo bench -p en-auth-oauth2 --features jwt --bench assertion
//! ```

#![allow(missing_docs)] // criterion_group! makes an undocumented function.

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_oauth2::secrecy::ExposeSecret;
use en_auth_oauth2::{ClientAssertionSigner, SigningAlgorithm};

const EC_KEY: &[u8] = include_bytes!("../tests/data/test-only-ec-key.pem");
const RSA_KEY: &[u8] = include_bytes!("../tests/data/test-only-rsa-key.pem");
const ED_KEY: &[u8] = include_bytes!("../tests/data/test-only-ed25519-key.pem");

fn assertion(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_assertion");
    for (name, algorithm, key) in [
        ("ES256", SigningAlgorithm::ES256, EC_KEY),
        ("RS256", SigningAlgorithm::RS256, RSA_KEY),
        ("PS256", SigningAlgorithm::PS256, RSA_KEY),
        ("EdDSA", SigningAlgorithm::EdDSA, ED_KEY),
    ] {
        let signer = ClientAssertionSigner::from_private_key(
            "svc",
            "https://auth.example.com/oauth2/token",
            algorithm,
            key,
        )
        .unwrap()
        .with_key_id("key-1");
        group.bench_function(name, |b| {
            b.iter(|| signer.sign().unwrap().expose_secret().len());
        });
    }
    let secret = en_auth_oauth2::secrecy::SecretString::from("a-client-secret-of-32-bytes-or-more");
    let hs =
        ClientAssertionSigner::from_secret("svc", "https://auth.example.com/oauth2/token", &secret)
            .unwrap();
    group.bench_function("HS256", |b| {
        b.iter(|| hs.sign().unwrap().expose_secret().len());
    });
    group.finish();
}

criterion_group!(benches, assertion);
criterion_main!(benches);
