//! The runnable examples of en-auth are this package's `[[example]]`s (`cargo run --example
//! service_account`, `blocking`, `srp_login`, `demo`). This library has no API of its own: it carries the
//! workspace README, whose Rust code blocks run as its doc tests (`cargo test -p
//! en-auth-examples --doc`), so that every program the README shows compiles, and those not
//! marked `no_run` (the testkit examples) run.

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
