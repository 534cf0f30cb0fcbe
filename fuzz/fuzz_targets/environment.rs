#![no_main]
//! Fuzz target `environment`: see `harness/environment.rs` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| en_auth_fuzz::environment::check(data));
