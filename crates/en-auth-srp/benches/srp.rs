//! Criterion benchmarks of the Cognito SRP client computation (`cargo bench -p en-auth-srp
//! --bench srp`; `cargo test --benches` runs each once).
//!
//! - `srp/login`: one login's client work, `SrpClient::new()` (random a, A = g^a) plus
//!   `password_verifier` (u, x, S, HKDF key, signature);
//! - `srp/srp_a`: `SrpClient::new()` alone;
//! - `srp/password_verifier`: the verifier alone, for a fixed client;
//! - `srp/timestamp`, `srp/secret_hash`: the small helpers.
//!
//! The process-wide table of powers of g is built before measuring (it is built once, on the
//! first login of a process).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use en_auth_srp::srp::{secret_hash, timestamp, SrpClient, VerifierInput};

// A challenge as Cognito sends it: a 3072-bit SRP_B, a 128-bit salt, an opaque secret block.
const SRP_B: &str = concat!(
    "2839c59dd0036ca63876ff51e29081c619f0058c4b43fdd0da46a0a3c8aa14e8f6f1f6cde0b0f19bd2a3b1ab52f1f0a5",
    "9c4cd6c5ef7c8b3bd41ae92af39c5a12ab0d51fd2a4b4af7f98c7f2a9e2a8e1db6bca4e64b8b60c9ac2c3d8e3c6b2a1f",
    "0e5d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f1e2d3c4b5a69788796a5b4c3d2e1f0a1b",
    "2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b",
    "7d2c1e9b8a5f4d3c2b1a0f9e8d7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a4",
    "11223344556677889900aabbccddeeff00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef",
    "fedcba9876543210fedcba9876543210a5a5a5a55a5a5a5a3c3c3c3cc3c3c3c30f0f0f0ff0f0f0f012345678deadbeef",
    "0badc0de1badb0021337c0de4242424299999999888888887777777766666666555555554444444433333333222222",
);
const SALT: &str = "87e5a51ee584f6c8b12a3453f80a143e";
const SECRET_BLOCK: &str = "OsfvIRz3VrocaDKVx1BsCH8x6gJuERDQGBo3EFUlc2VjcmV0IGJsb2NrIGJ5dGVzIGFzIENvZ25pdG8gc2VuZHMgdGhlbQ==";

fn input(ts: &str) -> VerifierInput<'_> {
    VerifierInput {
        pool_id: "us-east-1_AbCdEf123",
        user_id_for_srp: "1b7d4c2e-9f0a-4e3b-8c6d-5a2f1e0d9c8b",
        password: "Corr3ct-Horse!Battery-0",
        srp_b: SRP_B,
        salt: SALT,
        secret_block: SECRET_BLOCK,
        timestamp: ts,
    }
}

fn bench(c: &mut Criterion) {
    let ts = timestamp(SystemTime::now());
    // build the process-wide g table outside the measurements
    let warm = SrpClient::new().expect("OS RNG");
    warm.password_verifier(&input(&ts))
        .expect("valid challenge");

    let mut group = c.benchmark_group("srp");
    group.bench_function("login", |b| {
        b.iter(|| {
            let client = SrpClient::new().expect("OS RNG");
            let srp_a = client.srp_a();
            let claim = client
                .password_verifier(black_box(&input(&ts)))
                .expect("valid");
            black_box((srp_a, claim))
        })
    });
    group.bench_function("srp_a", |b| {
        b.iter(|| {
            let client = SrpClient::new().expect("OS RNG");
            black_box(client.srp_a())
        })
    });
    group.bench_function("password_verifier", |b| {
        b.iter(|| {
            black_box(
                warm.password_verifier(black_box(&input(&ts)))
                    .expect("valid"),
            )
        })
    });
    group.bench_function("timestamp", |b| {
        b.iter(|| black_box(timestamp(black_box(SystemTime::now()))))
    });
    group.bench_function("secret_hash", |b| {
        b.iter(|| {
            black_box(secret_hash(
                black_box("7lyxexampleclientid0123456"),
                black_box("exampleSecret+/=0123456789"),
                black_box("alice@example.com"),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
