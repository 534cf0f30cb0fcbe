//! `srp_math`: the lower-level entry points of `en_auth_srp::srp` on arbitrary inputs.
//!
//! Input: the first byte picks the function (`byte % 8`; the ASCII digits `0`–`7` map to 0–7),
//! the rest is split at newlines into its arguments (the last argument takes the rest):
//!
//! | op | function | arguments |
//! |---|---|---|
//! | 0 | `pad_hex` | value |
//! | 1 | `compute_u` | SRP_A, SRP_B |
//! | 2 | `compute_x` | pool id, user id, password, SALT |
//! | 3 | `compute_s` | a (raw big-endian bytes), SRP_B, u, x |
//! | 4 | `derive_key` | S, u |
//! | 5 | `timestamp` | 8 bytes seconds (i64 LE) + 4 bytes nanoseconds, then a mode byte |
//! | 6 | `secret_hash`, `pool_name` | client id (also the pool id), client secret, user name |
//! | 7 | `sign`, `multiplier_k` | key (first 16 bytes, zero-filled), pool id, user id, secret block, timestamp |
//!
//! Properties: never panics; `Ok` exactly when the input breaks no documented rule, an error
//! only for a rule it does break; results equal the independent `num-bigint` reference
//! (`srp_reference`); `pad_hex` output is even-length lowercase hex, the shortest two's
//! complement of the same value (sign in the top bit), and a fixed point for non-negative values.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use en_auth_srp::secrecy::ExposeSecret;
use en_auth_srp::srp;
use num_bigint::{BigInt, BigUint, Sign};

use super::challenge_parameters::fields;
use super::srp_reference as reference;

/// Exponents (a + u·x) longer than this many bits are not recomputed with `num-bigint`
/// (too slow per execution); the result is then only checked to be below N.
const REFERENCE_EXPONENT_BITS: u64 = 1100;

/// Runs the target on one input; panics on a violated property.
pub fn check(data: &[u8]) {
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    match op % 8 {
        0 => check_pad_hex(&fields(rest, 1)[0]),
        1 => {
            let f = fields(rest, 2);
            check_u(&f[0], &f[1]);
        }
        2 => {
            let f = fields(rest, 4);
            check_x(&f[0], &f[1], &f[2], &f[3]);
        }
        3 => {
            let mut parts = rest.splitn(2, |&b| b == b'\n');
            let a = parts.next().unwrap_or_default();
            let f = fields(parts.next().unwrap_or_default(), 3);
            check_s(a, &f[0], &f[1], &f[2]);
        }
        4 => {
            let f = fields(rest, 2);
            check_key(&f[0], &f[1]);
        }
        5 => check_timestamp(rest),
        6 => {
            let f = fields(rest, 3);
            check_secret_hash(&f[0], &f[1], &f[2]);
        }
        _ => {
            let mut parts = rest.splitn(2, |&b| b == b'\n');
            let key = parts.next().unwrap_or_default();
            let f = fields(parts.next().unwrap_or_default(), 4);
            check_sign(key, &f[0], &f[1], &f[2], &f[3]);
        }
    }
}

fn hex_violation(field: &str, ok: bool) -> Vec<String> {
    if ok {
        Vec::new()
    } else {
        vec![format!("hex:{field}")]
    }
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn check_pad_hex(value: &str) {
    let parsed = reference::parse_hex(value);
    let got = srp::pad_hex(value);
    let Some(out) = reference::outcome(&value, got, &hex_violation("value", parsed.is_some()))
    else {
        return;
    };
    let v = parsed.expect("valid");
    // even-length lowercase hex, at least one byte
    assert!(
        !out.is_empty() && out.len() % 2 == 0,
        "pad_hex({value:?}) = {out:?}"
    );
    assert!(
        out.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        "pad_hex({value:?}) = {out:?}"
    );
    let bytes = unhex(&out);
    // the same value, in two's complement; the sign is the top bit
    assert_eq!(
        BigInt::from_signed_bytes_be(&bytes),
        v,
        "pad_hex({value:?}) = {out:?}"
    );
    assert_eq!(
        bytes[0] >= 0x80,
        v.sign() == Sign::Minus,
        "sign of pad_hex({value:?})"
    );
    // the shortest such encoding: no redundant sign-extension byte
    if bytes.len() >= 2 {
        let redundant =
            (bytes[0] == 0x00 && bytes[1] < 0x80) || (bytes[0] == 0xff && bytes[1] >= 0x80);
        assert!(!redundant, "pad_hex({value:?}) = {out:?} is not minimal");
    }
    assert_eq!(out, reference::hex(&reference::pad(&v)));
    // case and leading zeros are insignificant; a non-negative result is a fixed point
    let upper = format!(
        "{}00{}",
        if v.sign() == Sign::Minus { "-" } else { "" },
        v.magnitude().to_str_radix(16).to_uppercase()
    );
    assert_eq!(
        srp::pad_hex(&upper).expect("valid"),
        out,
        "pad_hex({upper:?})"
    );
    if v.sign() != Sign::Minus {
        assert_eq!(
            srp::pad_hex(&out).expect("valid"),
            out,
            "pad_hex(pad_hex({value:?}))"
        );
    }
}

fn check_u(srp_a: &str, srp_b: &str) {
    let (a, b) = (reference::parse_hex(srp_a), reference::parse_hex(srp_b));
    let mut violations = hex_violation("SRP_A", a.is_some());
    violations.extend(hex_violation("SRP_B", b.is_some()));
    let expect = a.zip(b).map(|(a, b)| reference::u(&a, &b));
    if expect.as_ref().is_some_and(|u| u.bits() == 0) {
        violations.push("scrambler".to_owned());
    }
    let got = srp::compute_u(srp_a, srp_b);
    if let Some(u) = reference::outcome(&(srp_a, srp_b), got, &violations) {
        assert_eq!(
            u,
            reference::unpadded(&expect.expect("valid")),
            "u({srp_a:?}, {srp_b:?})"
        );
    }
}

fn check_x(pool_id: &str, user: &str, password: &str, salt: &str) {
    let pool = reference::pool_name(pool_id);
    let parsed = reference::parse_hex(salt);
    let mut violations = hex_violation("SALT", parsed.is_some());
    if pool.is_none() {
        violations.push("pool".to_owned());
    }
    let got = srp::compute_x(pool_id, user, password, salt);
    let what = (pool_id, user, salt);
    if let Some(x) = reference::outcome(&what, got, &violations) {
        let expect = reference::x(
            pool.expect("valid"),
            user,
            password,
            &parsed.expect("valid"),
        );
        assert_eq!(*x, reference::unpadded(&expect), "x for {what:?}");
    }
}

fn check_s(a: &[u8], srp_b: &str, u: &str, x: &str) {
    let a_value = BigUint::from_bytes_be(a);
    let b = reference::parse_hex(srp_b);
    let b_reduced = b.as_ref().map(reference::reduce);
    let u_value = reference::parse_unsigned_hex(u);
    let x_value = reference::parse_unsigned_hex(x);
    let mut violations = Vec::new();
    if a_value.bits() == 0 || &a_value >= reference::n() {
        violations.push("private_key".to_owned());
    }
    violations.extend(hex_violation("SRP_B", b.is_some()));
    if b_reduced.as_ref().is_some_and(|r| r.bits() == 0) {
        violations.push("server_b".to_owned());
    }
    violations.extend(hex_violation("u", u_value.is_some()));
    if u_value.as_ref().is_some_and(|u| u.bits() == 0) {
        violations.push("scrambler".to_owned());
    }
    violations.extend(hex_violation("x", x_value.is_some()));
    let got = srp::compute_s(a, srp_b, u, x);
    let what = (a, srp_b, u, x);
    let Some(s) = reference::outcome(&what, got, &violations) else {
        return;
    };
    let s_value = reference::parse_unsigned_hex(&s).expect("S is unsigned hex");
    assert!(&s_value < reference::n(), "S >= N for {what:?}");
    assert_eq!(
        *s,
        reference::unpadded(&s_value),
        "S has leading zeros: {what:?}"
    );
    let (u_value, x_value) = (u_value.expect("valid"), x_value.expect("valid"));
    if a_value.bits().max(u_value.bits() + x_value.bits()) <= REFERENCE_EXPONENT_BITS {
        let expect = reference::s(&a_value, &b_reduced.expect("valid"), &u_value, &x_value);
        assert_eq!(s_value, expect, "S for {what:?}");
    }
}

fn check_key(s: &str, u: &str) {
    let (s_value, u_value) = (
        reference::parse_unsigned_hex(s),
        reference::parse_unsigned_hex(u),
    );
    let mut violations = hex_violation("S", s_value.is_some());
    violations.extend(hex_violation("u", u_value.is_some()));
    if u_value.as_ref().is_some_and(|u| u.bits() == 0) {
        violations.push("scrambler".to_owned());
    }
    let got = srp::derive_key(s, u);
    if let Some(key) = reference::outcome(&(s, u), got, &violations) {
        let expect = reference::key(&s_value.expect("valid"), &u_value.expect("valid"));
        assert_eq!(*key, expect, "key for S = {s:?}, u = {u:?}");
    }
}

fn check_timestamp(rest: &[u8]) {
    let mut buf = [0u8; 13];
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    let raw = i64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let nanos = u32::from_le_bytes(buf[8..12].try_into().expect("4 bytes")) % 1_000_000_000;
    // mode byte even: seconds folded into ±4e11 (beyond the clamping bounds, mostly inside);
    // odd: any i64
    let secs = if buf[12] % 2 == 0 {
        raw.rem_euclid(800_000_000_000) - 400_000_000_000
    } else {
        raw
    };
    let at = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
    };
    let Some(at) = at else { return };
    let _: SystemTime = at;
    assert_eq!(
        srp::timestamp(at),
        reference::timestamp(secs),
        "timestamp({secs} s + {nanos} ns)"
    );
}

fn check_secret_hash(client_id: &str, secret: &str, user: &str) {
    let got = srp::secret_hash(client_id, secret, user);
    assert_eq!(got, reference::secret_hash(client_id, secret, user));
    let pool = reference::pool_name(client_id);
    let violations = if pool.is_none() {
        vec!["pool".to_owned()]
    } else {
        Vec::new()
    };
    if let Some(name) = reference::outcome(&client_id, srp::pool_name(client_id), &violations) {
        assert_eq!(Some(name), pool);
    }
}

fn check_sign(key: &[u8], pool_id: &str, user: &str, block: &str, timestamp: &str) {
    assert_eq!(
        srp::multiplier_k(),
        reference::unpadded(reference::k()),
        "k"
    );
    let mut k = [0u8; 16];
    let n = key.len().min(16);
    k[..n].copy_from_slice(&key[..n]);
    let pool = reference::pool_name(pool_id);
    let mut violations = reference::secret_block_violations(block);
    if pool.is_none() {
        violations.push("pool".to_owned());
    }
    let got = srp::sign(&k, pool_id, user, block, timestamp);
    let what = (pool_id, user, block, timestamp);
    if let Some(signature) = reference::outcome(&what, got, &violations) {
        let bytes = reference::decode_secret_block(block).expect("valid");
        let expect = reference::signature(&k, pool.expect("valid"), user, &bytes, timestamp);
        assert_eq!(signature.expose_secret(), expect, "signature for {what:?}");
    }
}
