#![no_main]
//! Fuzz target `token_response`: see `harness/token_response.rs` for the input format and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| en_auth_fuzz::token_response::check(data));
