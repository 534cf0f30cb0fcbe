//! Fixed-size arithmetic modulo the RFC 5054 3072-bit prime `N`.
//!
//! Numbers are 48 little-endian `u64` limbs. Multiplication is Montgomery's (R = 2^3072), by
//! product scanning with the reduction interleaved; squarings compute each cross product once
//! and reduce afterwards.
//! Because the low limb of `N` is all ones, `-N^-1 mod 2^64` is 1 and the reduction factor of
//! each column is just its low word. Table look-ups scan the whole table with masks, so no
//! memory access depends on a secret exponent digit; the final subtraction is masked as well.

use std::sync::OnceLock;

use num_bigint::BigUint;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// Limbs in a 3072-bit number.
pub(crate) const LIMBS: usize = 48;

/// A number below 2^3072, little-endian 64-bit limbs.
pub(crate) type Limbs = [u64; LIMBS];

/// RFC 5054 Appendix A, 3072-bit group (also RFC 3526 group 15), as Cognito uses it.
pub(crate) const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D",
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D",
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9",
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64",
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B",
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31",
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

const fn hex_digit(c: u8) -> u64 {
    match c {
        b'0'..=b'9' => (c - b'0') as u64,
        b'a'..=b'f' => (c - b'a' + 10) as u64,
        b'A'..=b'F' => (c - b'A' + 10) as u64,
        _ => panic!("not a hex digit"),
    }
}

const fn limbs_from_hex(hex: &str) -> Limbs {
    let bytes = hex.as_bytes();
    assert!(bytes.len() == LIMBS * 16);
    let mut out = [0u64; LIMBS];
    let mut i = 0;
    while i < bytes.len() {
        // the i-th character from the right is nibble i
        let c = bytes[bytes.len() - 1 - i];
        out[i / 16] |= hex_digit(c) << (4 * (i % 16));
        i += 1;
    }
    out
}

/// The modulus.
pub(crate) const N: Limbs = limbs_from_hex(N_HEX);

// The reduction below relies on -N^-1 mod 2^64 == 1, i.e. N ≡ -1 (mod 2^64).
const _: () = assert!(N[0] == u64::MAX);
// ... and on 2^3071 < N < 2^3072 (so R mod N = R - N and all values fit 48 limbs).
const _: () = assert!(N[LIMBS - 1] >> 63 == 1);

/// Window width of the fixed-base table for g = 2.
const G_WINDOW: usize = 4;
/// Exponent bits the fixed-base table covers (x is a SHA-256 value; `SrpClient::new` draws a
/// 256-bit `a`). Longer exponents take the generic path.
const G_TABLE_BITS: usize = 256;
const G_ROWS: usize = G_TABLE_BITS / G_WINDOW;
/// Window width of the variable-base exponentiation.
const VAR_WINDOW: usize = 5;

#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let v = u128::from(a) + u128::from(b) + u128::from(carry);
    (v as u64, (v >> 64) as u64)
}

#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let v = u128::from(a)
        .wrapping_sub(u128::from(b))
        .wrapping_sub(u128::from(borrow));
    (v as u64, ((v >> 64) as u64) & 1)
}

/// `x - N` when `hi:x >= N` (given `hi:x < 2N`), else `x`; without a data-dependent branch.
#[inline(always)]
fn final_sub(x: &Limbs, hi: u64) -> Limbs {
    let mut d = [0u64; LIMBS];
    let mut borrow = 0;
    for i in 0..LIMBS {
        (d[i], borrow) = sbb(x[i], N[i], borrow);
    }
    // use d when the subtraction did not borrow, or when there was a 2^3072 bit above x
    let use_d = (hi | (borrow ^ 1)) & 1;
    let mask = 0u64.wrapping_sub(use_d);
    let mut out = [0u64; LIMBS];
    for i in 0..LIMBS {
        out[i] = (d[i] & mask) | (x[i] & !mask);
    }
    out
}

/// A three-word column accumulator for product scanning: `lo + hi * 2^128`.
#[derive(Clone, Copy, Default)]
struct Acc {
    lo: u128,
    hi: u64,
}

impl Acc {
    /// `self += a * b`.
    #[inline(always)]
    fn mac(&mut self, a: u64, b: u64) {
        // (plain casts and operators: these run unoptimized in debug builds too)
        let p = a as u128 * b as u128;
        self.lo = self.lo.wrapping_add(p);
        self.hi += (self.lo < p) as u64;
    }

    /// `self += other`.
    #[inline(always)]
    fn add(&mut self, other: Acc) {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        self.lo = lo;
        self.hi += other.hi + u64::from(carry);
    }

    /// The low word; the accumulator shifts down one word.
    #[inline(always)]
    fn shift(&mut self) -> u64 {
        let low = self.lo as u64;
        self.lo = (self.lo >> 64) | (u128::from(self.hi) << 64);
        self.hi = 0;
        low
    }
}

/// `acc0 + acc1 += sum_j x[j] * y[len - 1 - j]` (`x`, `y` of equal length), alternating between
/// two accumulators so that two carry chains run in parallel.
#[inline(always)]
fn dot_rev(acc0: &mut Acc, acc1: &mut Acc, x: &[u64], y: &[u64]) {
    let n = x.len();
    let half = n / 2;
    // the two halves of the sum in two chains
    dot_rev_pair(
        acc0,
        &x[..half],
        &y[n - half..n],
        acc1,
        &x[half..2 * half],
        &y[n - 2 * half..n - half],
    );
    if n % 2 == 1 {
        acc0.mac(x[n - 1], y[0]);
    }
}

/// Montgomery product `a * b / R mod N`; `a, b < N`.
///
/// Finely integrated product scanning (Koç, Acar, Kaliski 1996): column by column, the product
/// terms `a[j] * b[i - j]` and the reduction terms `m[j] * N[i - j]` go into register
/// accumulators, and `m[i]` is the low word of column `i` (since `-N^-1 mod 2^64 = 1`).
pub(crate) fn mul(a: &Limbs, b: &Limbs) -> Limbs {
    let mut m = [0u64; LIMBS];
    let mut out = [0u64; LIMBS];
    let mut acc = Acc::default();
    for i in 0..LIMBS {
        let mut acc1 = Acc::default();
        dot_rev(&mut acc, &mut acc1, &a[..=i], &b[..=i]);
        dot_rev(&mut acc, &mut acc1, &m[..i], &N[1..=i]);
        acc.add(acc1);
        let mi = acc.lo as u64;
        m[i] = mi;
        acc.mac(mi, N[0]);
        acc.shift();
    }
    for i in LIMBS..2 * LIMBS {
        let k = i + 1 - LIMBS;
        let mut acc1 = Acc::default();
        dot_rev(&mut acc, &mut acc1, &a[k..], &b[k..]);
        dot_rev(&mut acc, &mut acc1, &m[k..], &N[k..]);
        acc.add(acc1);
        out[i - LIMBS] = acc.shift();
    }
    final_sub(&out, acc.lo as u64)
}

/// `acc0 += sum_j x0[j] * y0[len - 1 - j]` and `acc1 += sum_j x1[j] * y1[len - 1 - j]` in one
/// loop (all four slices of equal length): two independent carry chains.
#[inline(always)]
fn dot_rev_pair(acc0: &mut Acc, x0: &[u64], y0: &[u64], acc1: &mut Acc, x1: &[u64], y1: &[u64]) {
    // Re-slicing to one length lets the optimizer drop the bounds checks in the loop; a plain
    // `while` keeps unoptimized (debug) builds tolerable.
    let n = x0.len();
    let (y0, x1, y1) = (&y0[..n], &x1[..n], &y1[..n]);
    let mut j = 0;
    while j < n {
        acc0.mac(x0[j], y0[n - 1 - j]);
        acc1.mac(x1[j], y1[n - 1 - j]);
        j += 1;
    }
}

/// `t + a * b + c` as (low, high) words; never overflows.
#[inline(always)]
fn mac64(t: u64, a: u64, b: u64, c: u64) -> (u64, u64) {
    let v = t as u128 + a as u128 * b as u128 + c as u128;
    (v as u64, (v >> 64) as u64)
}

/// Montgomery square `a^2 / R mod N`; `a < N`.
///
/// The full square first (operand scanning: each cross product `a[i] * a[j]`, `i < j`, once,
/// then doubled, plus the squares `a[i]^2`), then a product-scanning Montgomery reduction.
pub(crate) fn sqr(a: &Limbs) -> Limbs {
    let mut t = [0u64; 2 * LIMBS];
    for i in 0..LIMBS - 1 {
        let ai = a[i];
        let row = &mut t[2 * i + 1..i + LIMBS];
        let n = row.len();
        let src = &a[i + 1..i + 1 + n];
        let mut carry = 0;
        let mut j = 0;
        while j < n {
            (row[j], carry) = mac64(row[j], ai, src[j], carry);
            j += 1;
        }
        // rows before this one stop below t[i + LIMBS]: it is still 0 here
        t[i + LIMBS] = carry;
    }
    // double, and add the squares
    let mut top = 0;
    let mut carry = 0;
    for i in 0..LIMBS {
        let sq = a[i] as u128 * a[i] as u128;
        let (lo, hi) = (t[2 * i], t[2 * i + 1]);
        let v = (((lo << 1) | top) as u128) + (sq as u64) as u128 + carry as u128;
        t[2 * i] = v as u64;
        let v = (((hi << 1) | (lo >> 63)) as u128) + (sq >> 64) + (v >> 64);
        t[2 * i + 1] = v as u64;
        carry = (v >> 64) as u64;
        top = hi >> 63;
    }
    redc(&t)
}

/// Montgomery reduction `t / R mod N` of `t < N * R` (product scanning).
fn redc(t: &[u64; 2 * LIMBS]) -> Limbs {
    let mut m = [0u64; LIMBS];
    let mut out = [0u64; LIMBS];
    let mut acc = Acc::default();
    for i in 0..LIMBS {
        let mut acc1 = Acc {
            lo: t[i] as u128,
            hi: 0,
        };
        dot_rev(&mut acc, &mut acc1, &m[..i], &N[1..=i]);
        acc.add(acc1);
        let mi = acc.lo as u64;
        m[i] = mi;
        acc.mac(mi, N[0]);
        acc.shift();
    }
    for i in LIMBS..2 * LIMBS {
        let k = i + 1 - LIMBS;
        let mut acc1 = Acc {
            lo: t[i] as u128,
            hi: 0,
        };
        dot_rev(&mut acc, &mut acc1, &m[k..], &N[k..]);
        acc.add(acc1);
        out[i - LIMBS] = acc.shift();
    }
    final_sub(&out, acc.lo as u64)
}

/// `2x mod N`; `x < N`.
fn double(x: &Limbs) -> Limbs {
    let mut d = [0u64; LIMBS];
    let mut top = 0;
    for i in 0..LIMBS {
        d[i] = (x[i] << 1) | top;
        top = x[i] >> 63;
    }
    final_sub(&d, top)
}

/// `a - b mod N`; `a, b < N`.
pub(crate) fn sub_mod(a: &Limbs, b: &Limbs) -> Limbs {
    let mut d = [0u64; LIMBS];
    let mut borrow = 0;
    for i in 0..LIMBS {
        (d[i], borrow) = sbb(a[i], b[i], borrow);
    }
    let mask = 0u64.wrapping_sub(borrow);
    let mut carry = 0;
    for i in 0..LIMBS {
        (d[i], carry) = adc(d[i], N[i] & mask, carry);
    }
    d
}

/// The entry `idx` of `table`, reading every entry (no secret-dependent address).
fn select(table: &[Limbs], idx: usize) -> Limbs {
    let mut out = [0u64; LIMBS];
    for (i, entry) in table.iter().enumerate() {
        // all ones when i == idx (both are small)
        let eq = (((i ^ idx) as u64).wrapping_sub(1) >> 63) & 1;
        let mask = 0u64.wrapping_sub(eq);
        for k in 0..LIMBS {
            out[k] |= entry[k] & mask;
        }
    }
    out
}

/// `bits` bits of `exp` (little-endian limbs) starting at bit `start`; `bits <= 8`.
fn window(exp: &[u64], start: usize, bits: usize) -> usize {
    let limb = start / 64;
    let shift = start % 64;
    let mut w = exp.get(limb).copied().unwrap_or(0) >> shift;
    if shift + bits > 64 {
        w |= exp.get(limb + 1).copied().unwrap_or(0) << (64 - shift);
    }
    (w & ((1 << bits) - 1)) as usize
}

fn bit_len(exp: &[u64]) -> usize {
    match exp.iter().rposition(|&l| l != 0) {
        Some(i) => i * 64 + 64 - exp[i].leading_zeros() as usize,
        None => 0,
    }
}

/// Precomputed values, built once per process on first use.
pub(crate) struct Consts {
    /// R^2 mod N, to enter Montgomery form.
    r2: Limbs,
    /// R mod N: 1 in Montgomery form.
    one: Limbs,
    /// 2R mod N: g in Montgomery form.
    two: Limbs,
    /// k in Montgomery form.
    pub(crate) k_mont: Limbs,
    /// k = H(pad(N) || pad(g)), 32 bytes.
    pub(crate) k_digest: [u8; 32],
    /// N as a big integer (for reducing arbitrary-length server values).
    pub(crate) n_big: BigUint,
    /// g_table[i][j] = g^(j * 16^i) in Montgomery form.
    g_table: Vec<[Limbs; 1 << G_WINDOW]>,
}

static CONSTS: OnceLock<Consts> = OnceLock::new();

/// The lazily built constants (about a few milliseconds, once).
pub(crate) fn consts() -> &'static Consts {
    CONSTS.get_or_init(build_consts)
}

fn build_consts() -> Consts {
    // R mod N = 2^3072 - N: the two's complement of N in 48 limbs.
    let mut one = [0u64; LIMBS];
    let mut carry = 1;
    for i in 0..LIMBS {
        (one[i], carry) = adc(!N[i], 0, carry);
    }
    // R^2 mod N: double R mod N 3072 times.
    let mut r2 = one;
    for _ in 0..LIMBS * 64 {
        r2 = double(&r2);
    }
    let two = double(&one);

    let mut pad_n = Vec::with_capacity(LIMBS * 8 + 1);
    pad_n.push(0u8); // N's top bit is set: Java's toByteArray adds a 00 byte
    pad_n.extend_from_slice(&to_be_bytes(&N));
    let k_digest: [u8; 32] = Sha256::new()
        .chain_update(&pad_n)
        .chain_update([2u8]) // pad(g) = 02
        .finalize()
        .into();
    let k = from_be_bytes(&k_digest).unwrap_or([0; LIMBS]);
    let k_mont = mul(&k, &r2);

    let mut g_table = Vec::with_capacity(G_ROWS);
    let mut base = two; // g^(16^i), Montgomery form
    for _ in 0..G_ROWS {
        let mut row = [[0u64; LIMBS]; 1 << G_WINDOW];
        row[0] = one;
        row[1] = base;
        for j in 2..(1 << G_WINDOW) {
            row[j] = if j % 2 == 0 {
                sqr(&row[j / 2])
            } else {
                mul(&row[j - 1], &base)
            };
        }
        base = sqr(&row[1 << (G_WINDOW - 1)]);
        g_table.push(row);
    }

    Consts {
        r2,
        one,
        two,
        k_mont,
        k_digest,
        n_big: BigUint::from_bytes_be(&to_be_bytes(&N)),
        g_table,
    }
}

/// Into Montgomery form: `x R mod N`; `x < N`.
pub(crate) fn to_mont(x: &Limbs) -> Limbs {
    mul(x, &consts().r2)
}

/// Out of Montgomery form: `x / R mod N`.
pub(crate) fn from_mont(x: &Limbs) -> Limbs {
    let mut one = [0u64; LIMBS];
    one[0] = 1;
    mul(x, &one)
}

/// `base^exp` for `base` in Montgomery form (result in Montgomery form); fixed 5-bit windows.
pub(crate) fn pow(base: &Limbs, exp: &[u64]) -> Limbs {
    let c = consts();
    let bits = bit_len(exp);
    if bits == 0 {
        return c.one;
    }
    let mut table = [[0u64; LIMBS]; 1 << VAR_WINDOW];
    table[0] = c.one;
    table[1] = *base;
    for j in 2..(1 << VAR_WINDOW) {
        table[j] = if j % 2 == 0 {
            sqr(&table[j / 2])
        } else {
            mul(&table[j - 1], base)
        };
    }
    let windows = bits.div_ceil(VAR_WINDOW);
    let mut acc = select(&table, window(exp, (windows - 1) * VAR_WINDOW, VAR_WINDOW));
    for w in (0..windows - 1).rev() {
        for _ in 0..VAR_WINDOW {
            acc = sqr(&acc);
        }
        let mut entry = select(&table, window(exp, w * VAR_WINDOW, VAR_WINDOW));
        acc = mul(&acc, &entry);
        entry.zeroize();
    }
    table.zeroize();
    acc
}

/// `g^exp` with g = 2, in Montgomery form. Exponents of up to 256 bits use the fixed-base table
/// (64 multiplications); longer ones the generic windowed exponentiation.
pub(crate) fn pow_g(exp: &[u64]) -> Limbs {
    let c = consts();
    let used = exp.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
    if used * 64 > G_TABLE_BITS {
        return pow(&c.two, exp);
    }
    let mut acc = c.one;
    for (i, row) in c.g_table.iter().enumerate() {
        let mut entry = select(row, window(exp, i * G_WINDOW, G_WINDOW));
        acc = mul(&acc, &entry);
        entry.zeroize();
    }
    acc
}

/// Big-endian bytes (384, leading zeros kept).
pub(crate) fn to_be_bytes(x: &Limbs) -> [u8; LIMBS * 8] {
    let mut out = [0u8; LIMBS * 8];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(x.iter().rev()) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// From big-endian bytes of any length; `None` when the value needs more than 3072 bits.
pub(crate) fn from_be_bytes(bytes: &[u8]) -> Option<Limbs> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    if bytes.len() > LIMBS * 8 {
        return None;
    }
    let mut out = [0u64; LIMBS];
    for (i, chunk) in bytes.rchunks(8).enumerate() {
        let mut buf = [0u8; 8];
        buf[8 - chunk.len()..].copy_from_slice(chunk);
        out[i] = u64::from_be_bytes(buf);
    }
    Some(out)
}

/// `x < N`.
pub(crate) fn less_than_n(x: &Limbs) -> bool {
    let mut borrow = 0;
    for i in 0..LIMBS {
        (_, borrow) = sbb(x[i], N[i], borrow);
    }
    borrow == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    fn big(x: &Limbs) -> BigUint {
        BigUint::from_bytes_be(&to_be_bytes(x))
    }

    fn pseudo(seed: u64) -> Limbs {
        let mut s = seed;
        let mut out = [0u64; LIMBS];
        for l in out.iter_mut() {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *l = s ^ (s >> 29);
        }
        out[LIMBS - 1] >>= 1; // < N
        out
    }

    #[test]
    fn montgomery_matches_num_bigint() {
        let n = big(&N);
        let r: BigUint = BigUint::from(1u8) << 3072u32;
        let r_inv = r.modinv(&n).unwrap();
        for seed in 0..20 {
            let a = pseudo(seed);
            let b = pseudo(seed + 100);
            let expect = big(&a) * big(&b) * &r_inv % &n;
            assert_eq!(big(&mul(&a, &b)), expect);
            assert_eq!(big(&sqr(&a)), big(&a) * big(&a) * &r_inv % &n);
            assert_eq!(from_mont(&to_mont(&a)), a);
            let d = (big(&a) + &n - big(&b)) % &n;
            assert_eq!(big(&sub_mod(&a, &b)), d);
        }
        // extremes: N - 1
        let mut nm1 = N;
        nm1[0] -= 1;
        assert_eq!(big(&sqr(&nm1)), big(&nm1) * big(&nm1) * &r_inv % &n);
        assert_eq!(big(&mul(&nm1, &nm1)), big(&nm1) * big(&nm1) * &r_inv % &n);
        assert!(less_than_n(&nm1));
        assert!(!less_than_n(&N));
    }

    #[test]
    fn exponentiation_matches_num_bigint() {
        let n = big(&N);
        let two = BigUint::from(2u8);
        for seed in 0..3 {
            let e = pseudo(seed + 7);
            let lens: &[usize] = if seed == 0 {
                &[1, 3, 4, 5, 9, LIMBS]
            } else {
                &[2, 4, 8]
            };
            for &len in lens {
                let exp = &e[..len];
                let e_big = BigUint::from_slice(
                    &exp.iter()
                        .flat_map(|l| [*l as u32, (*l >> 32) as u32])
                        .collect::<Vec<_>>(),
                );
                assert_eq!(big(&from_mont(&pow_g(exp))), two.modpow(&e_big, &n));
                let base = pseudo(seed + 50);
                assert_eq!(
                    big(&from_mont(&pow(&to_mont(&base), exp))),
                    big(&base).modpow(&e_big, &n)
                );
            }
        }
        assert_eq!(from_mont(&pow_g(&[])), {
            let mut one = [0u64; LIMBS];
            one[0] = 1;
            one
        });
    }
}
