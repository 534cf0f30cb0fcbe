//! Replays the committed `challenge_parameters` and `srp_math` fuzz corpora and regression
//! inputs (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the fuzz targets' own
//! checks (`fuzz/harness/*.rs`, with their independent `num-bigint` reference), so `cargo test`
//! keeps them passing.

#[path = "../../../fuzz/harness/challenge_parameters.rs"]
mod challenge_parameters;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/srp_math.rs"]
mod srp_math;
#[path = "../../../fuzz/harness/srp_reference.rs"]
mod srp_reference;

#[test]
fn challenge_parameters_corpus_and_regressions() {
    let dir = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    let n = replay::replay(&dir, "challenge_parameters", challenge_parameters::check);
    eprintln!("replayed {n} challenge_parameters inputs");
}

#[test]
fn srp_math_corpus_and_regressions() {
    let dir = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    let n = replay::replay(&dir, "srp_math", srp_math::check);
    eprintln!("replayed {n} srp_math inputs");
}
