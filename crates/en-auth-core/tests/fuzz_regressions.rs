//! Replays the committed `environment` fuzz corpus and regression inputs
//! (`fuzz/corpus/environment/`, `fuzz/regressions/environment/`) through the fuzz target's own
//! check (`fuzz/harness/environment.rs`), so `cargo test` keeps them passing.

#[path = "../../../fuzz/harness/environment.rs"]
mod environment;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn environment_corpus_and_regressions() {
    let dir = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    let n = replay::replay(&dir, "environment", environment::check);
    eprintln!("replayed {n} environment inputs");
}
