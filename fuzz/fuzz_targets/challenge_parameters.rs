#![no_main]
//! Fuzz target `challenge_parameters`: see `harness/challenge_parameters.rs` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| en_auth_fuzz::challenge_parameters::check(data));
