//! The SRP group: the RFC 5054 Appendix A 3072-bit prime N (also RFC 3526 group 15), g = 2 and
//! Cognito's multiplier k, as `crypto-bigint` constants, with a fixed-base table for powers of g.
//!
//! Arithmetic mod N is `crypto-bigint`'s Montgomery form ([`Residue`]), whose multiplication,
//! `pow` and `pow_bounded_exp` are constant-time (the latter in the value of the exponent, not in
//! its bound). [`pow_g`] is a thin layer over its multiplication for the two exponents that are
//! SHA-256 values or 256-bit draws (`a`, `x`): 4-bit fixed windows, one multiplication per
//! window, and each table row read whole with `ConditionallySelectable`, so no branch and no
//! memory address depends on the exponent.
//!
//! The values this crate holds are zeroized; `crypto-bigint`'s own temporaries inside `pow` (its
//! table of powers of the base, on the stack) are not.

use std::sync::OnceLock;

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams};
use crypto_bigint::subtle::{ConditionallySelectable, ConstantTimeEq};
use crypto_bigint::{impl_modulus, Word, U256, U3072};
use zeroize::Zeroizing;

impl_modulus!(
    Modulus,
    U3072,
    concat!(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
        "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
        "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    ),
    "The RFC 5054 3072-bit prime N as `crypto-bigint` Montgomery parameters."
);

/// A residue mod N, in Montgomery form.
pub(crate) type Residue = ConstMontyForm<Modulus, { U3072::LIMBS }>;

/// The modulus N.
pub(crate) const N: U3072 = *Modulus::MODULUS.as_ref();

/// The generator g = 2.
pub(crate) const G: Residue = Residue::new(&U3072::from_u8(2));

/// Cognito's multiplier k = H(pad(N) ‖ pad(g)) (checked against the hash in the tests below).
pub(crate) const K: U256 =
    U256::from_be_hex("538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6");

/// k mod N, in Montgomery form.
pub(crate) const K_RESIDUE: Residue = Residue::new(&K.resize());

/// Window width of the fixed-base table.
const WINDOW: u32 = 4;
/// Exponent bits the fixed-base table covers.
const TABLE_BITS: u32 = 256;

/// `table()[i][j]` = g^(j · 16^i): 64 rows of 16 residues (384 KiB).
fn table() -> &'static [[Residue; 1 << WINDOW]] {
    static TABLE: OnceLock<Vec<[Residue; 1 << WINDOW]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows = Vec::with_capacity((TABLE_BITS / WINDOW) as usize);
        let mut base = G; // g^(16^i)
        for _ in 0..TABLE_BITS / WINDOW {
            let mut row = [Residue::ONE; 1 << WINDOW];
            for j in 1..row.len() {
                row[j] = row[j - 1].mul(&base);
            }
            base = row[row.len() - 1].mul(&base);
            rows.push(row);
        }
        rows
    })
}

/// g^exp for a secret `exp` known to be below 2^`bits` (`bits` comes from the size of the
/// exponent's encoding, never from its value). Up to 256 bits: the fixed-base table, 64
/// multiplications; longer: `crypto-bigint`'s windowed `pow_bounded_exp`.
pub(crate) fn pow_g(exp: &U3072, bits: u32) -> Zeroizing<Residue> {
    if bits > TABLE_BITS {
        return Zeroizing::new(G.pow_bounded_exp(exp, bits));
    }
    let words = exp.as_words();
    // The running product reveals the exponent (g^x is password-equivalent): wiped on drop.
    let mut acc = Zeroizing::new(Residue::ONE);
    for (i, row) in (0..).zip(table()) {
        let bit = i * WINDOW;
        let digit =
            (words[(bit / Word::BITS) as usize] >> (bit % Word::BITS)) & ((1 << WINDOW) - 1);
        let mut entry = Zeroizing::new(row[0]);
        for (j, candidate) in (1..).zip(&row[1..]) {
            entry.conditional_assign(candidate, digit.ct_eq(&j));
        }
        *acc = acc.mul(&entry);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use sha2::{Digest, Sha256};

    fn big(v: &U3072) -> BigUint {
        BigUint::from_bytes_be(&v.to_be_bytes())
    }

    #[test]
    fn k_is_the_hash_of_the_padded_group() {
        let mut pad_n = vec![0u8]; // N's top bit is set: Java's toByteArray adds a 00 byte
        pad_n.extend_from_slice(&N.to_be_bytes());
        let k: [u8; 32] = Sha256::new()
            .chain_update(&pad_n)
            .chain_update([2u8])
            .finalize()
            .into();
        assert_eq!(K.to_be_bytes(), k);
        assert_eq!(K_RESIDUE.retrieve(), K.resize());
        assert_eq!(G.retrieve(), U3072::from_u8(2));
    }

    #[test]
    fn powers_of_g_match_num_bigint() {
        let n = big(&N);
        let two = BigUint::from(2u8);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed ^ (seed >> 29)
        };
        for bits in [0u32, 1, 5, 64, 200, 255, 256, 257, 700, 3072] {
            let mut words = [0 as Word; U3072::LIMBS];
            for w in &mut words {
                *w = next() as Word;
            }
            let exp = U3072::from_words(words);
            let exp = if bits == 0 {
                U3072::ZERO
            } else {
                exp.shr_vartime(3072 - bits)
            };
            let expect = two.modpow(&big(&exp), &n);
            assert_eq!(big(&pow_g(&exp, bits).retrieve()), expect, "{bits} bits");
        }
        // the largest 256-bit exponent selects the last entry of every row
        let all_ones = U256::MAX.resize();
        assert_eq!(
            big(&pow_g(&all_ones, 256).retrieve()),
            two.modpow(&big(&all_ones), &n)
        );
    }
}
