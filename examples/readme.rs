//! The runnable examples of en-auth are this package's `[[example]]`s (`cargo run --example
//! service_account`, `blocking`, `srp_login`, `observability`, `hyper_client`, `demo`). This
//! library has no API of its own: it carries the workspace README and the guides in `docs/`,
//! whose Rust code blocks run as its doc tests (`cargo test -p en-auth-examples --doc`), so
//! that every program they show compiles, and those not marked `no_run` (the testkit examples)
//! run. `tests/docs.rs` checks that every guide is listed here.

/// `README.md`: the two commands, the quick starts, the crates.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// `docs/blocking.md`: synchronous programs.
#[cfg(doctest)]
#[doc = include_str!("../docs/blocking.md")]
pub struct BlockingDoctests;

/// `docs/cache.md`: how the cache behaves.
#[cfg(doctest)]
#[doc = include_str!("../docs/cache.md")]
pub struct CacheDoctests;

/// `docs/cli.md`: the command line.
#[cfg(doctest)]
#[doc = include_str!("../docs/cli.md")]
pub struct CliDoctests;

/// `docs/custom.md`: a token provider of your own, the request contract.
#[cfg(doctest)]
#[doc = include_str!("../docs/custom.md")]
pub struct CustomDoctests;

/// `docs/dpop.md`: DPoP, sender-constrained tokens.
#[cfg(doctest)]
#[doc = include_str!("../docs/dpop.md")]
pub struct DpopDoctests;

/// `docs/environments.md`: environments and token responses.
#[cfg(doctest)]
#[doc = include_str!("../docs/environments.md")]
pub struct EnvironmentsDoctests;

/// `docs/errors.md`: errors.
#[cfg(doctest)]
#[doc = include_str!("../docs/errors.md")]
pub struct ErrorsDoctests;

/// `docs/fleet.md`: running a fleet.
#[cfg(doctest)]
#[doc = include_str!("../docs/fleet.md")]
pub struct FleetDoctests;

/// `docs/observability.md`: spans and metrics.
#[cfg(doctest)]
#[doc = include_str!("../docs/observability.md")]
pub struct ObservabilityDoctests;

/// `docs/testing.md`: how the workspace is tested.
#[cfg(doctest)]
#[doc = include_str!("../docs/testing.md")]
pub struct TestingDoctests;

/// `docs/testkit.md`: testing your code with the testkit.
#[cfg(doctest)]
#[doc = include_str!("../docs/testkit.md")]
pub struct TestkitDoctests;

/// `docs/tower.md`: tower, hyper and tonic.
#[cfg(doctest)]
#[doc = include_str!("../docs/tower.md")]
pub struct TowerDoctests;
