#![no_main]
//! Fuzz target `srp_math`: see `harness/srp_math.rs` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| en_auth_fuzz::srp_math::check(data));
