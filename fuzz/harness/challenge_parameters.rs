//! `challenge_parameters`: [`SrpClient::password_verifier`] on arbitrary `PASSWORD_VERIFIER`
//! challenge parameters, with a fixed private value `a`.
//!
//! Input: newline-separated fields (UTF-8, lossily), the last taking the rest of the input:
//! `SRP_B`, `SALT`, pool id, `USER_ID_FOR_SRP`, password, `TIMESTAMP`, `SECRET_BLOCK`.
//!
//! Properties: never panics; `Ok` exactly when every input is valid (pool id `<region>_<name>`,
//! non-empty user id, password, timestamp and secret block, `SRP_B` and `SALT` hexadecimal
//! integers, secret block base64 of either alphabet, B mod N ≠ 0), and then the signature
//! equals one computed independently with `num-bigint` (see `srp_reference`); an error names a
//! rule the input does break.

use std::borrow::Cow;
use std::sync::OnceLock;

use en_auth_srp::secrecy::ExposeSecret;
use en_auth_srp::srp::{SrpClient, VerifierInput};
use num_bigint::{BigInt, BigUint, Sign};

use super::srp_reference as reference;

/// The fixed private value (32 bytes, as `SrpClient::new` draws).
pub const PRIVATE_KEY: [u8; 32] = [
    0x5a, 0x11, 0x6e, 0x0c, 0x93, 0x27, 0xd4, 0x81, 0x3b, 0xe2, 0x70, 0x19, 0xc5, 0x4f, 0x08, 0xa6,
    0x2d, 0x97, 0x61, 0xfe, 0x34, 0x8b, 0x0a, 0xd3, 0x72, 0x1c, 0xe9, 0x45, 0xb0, 0x66, 0x0f, 0x28,
];

fn is_zero(v: &BigUint) -> bool {
    v.bits() == 0
}

fn client() -> &'static SrpClient {
    static CLIENT: OnceLock<SrpClient> = OnceLock::new();
    CLIENT.get_or_init(|| SrpClient::with_private_key(&PRIVATE_KEY).expect("a valid private key"))
}

/// A = g^a mod N, from the reference.
fn reference_a() -> &'static BigInt {
    static A: OnceLock<BigInt> = OnceLock::new();
    A.get_or_init(|| {
        let a = BigUint::from_bytes_be(&PRIVATE_KEY);
        BigInt::from_biguint(Sign::Plus, BigUint::from(2u8).modpow(&a, reference::n()))
    })
}

/// Splits `data` at newlines into `n` fields; missing fields are empty; the last takes the rest.
pub fn fields(data: &[u8], n: usize) -> Vec<Cow<'_, str>> {
    let mut out: Vec<_> = data
        .splitn(n, |&b| b == b'\n')
        .map(String::from_utf8_lossy)
        .collect();
    out.resize(n, Cow::Borrowed(""));
    out
}

/// Runs the target on one input; panics on a violated property.
pub fn check(data: &[u8]) {
    let f = fields(data, 7);
    let input = VerifierInput {
        srp_b: &f[0],
        salt: &f[1],
        pool_id: &f[2],
        user_id_for_srp: &f[3],
        password: &f[4],
        timestamp: &f[5],
        secret_block: &f[6],
    };
    let client = client();
    assert_eq!(
        client.srp_a(),
        reference::unpadded(reference_a().magnitude()),
        "SRP_A"
    );
    let result = client.password_verifier(&input);

    // What the documentation says about this input, rule by rule.
    let pool = reference::pool_name(input.pool_id);
    let b = reference::parse_hex(input.srp_b);
    let salt = reference::parse_hex(input.salt);
    let b_reduced = b.as_ref().map(reference::reduce);
    let mut violations = Vec::new();
    let mut breaks = |broken: bool, rule: &str| {
        if broken {
            violations.push(rule.to_owned());
        }
    };
    breaks(pool.is_none(), "pool");
    breaks(input.user_id_for_srp.is_empty(), "empty:USER_ID_FOR_SRP");
    breaks(input.password.is_empty(), "empty:password");
    breaks(input.timestamp.is_empty(), "empty:TIMESTAMP");
    breaks(b.is_none(), "hex:SRP_B");
    breaks(salt.is_none(), "hex:SALT");
    breaks(b_reduced.as_ref().is_some_and(is_zero), "server_b");
    let u = b.as_ref().map(|b| reference::u(reference_a(), b));
    breaks(u.as_ref().is_some_and(is_zero), "scrambler");
    violations.extend(reference::secret_block_violations(input.secret_block));

    let Some(claim) = reference::outcome(&input, result, &violations) else {
        return;
    };
    let _ = format!("{claim:?}");
    let (pool, salt, b_reduced, u) = (
        pool.expect("valid"),
        salt.expect("valid"),
        b_reduced.expect("valid"),
        u.expect("valid"),
    );
    let block = reference::decode_secret_block(input.secret_block).expect("valid");
    let a = BigUint::from_bytes_be(&PRIVATE_KEY);
    let x = reference::x(pool, input.user_id_for_srp, input.password, &salt);
    let s = reference::s(&a, &b_reduced, &u, &x);
    let key = reference::key(&s, &u);
    let expect = reference::signature(&key, pool, input.user_id_for_srp, &block, input.timestamp);
    assert_eq!(
        claim.signature().expose_secret(),
        expect,
        "PASSWORD_CLAIM_SIGNATURE for {input:?}"
    );
}
