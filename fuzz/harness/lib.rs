//! The checks behind the fuzz targets, one module per target.
//!
//! Each module is a plain Rust file with a `pub fn check(data: &[u8])` that calls the library
//! entry point on `data` and panics on any property violation. The fuzz targets call it; the
//! crates' `tests/fuzz_regressions.rs` include the same file (`#[path = ...]`) and replay the
//! committed corpus and regression inputs through it under plain `cargo test`.

pub mod challenge_parameters;
pub mod environment;
pub mod srp_math;
pub mod srp_reference;
pub mod token_response;
