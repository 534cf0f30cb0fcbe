//! Replays the committed `token_response` fuzz corpus and regression inputs
//! (`fuzz/corpus/token_response/`, `fuzz/regressions/token_response/`) through the fuzz
//! target's own check (`fuzz/harness/token_response.rs`), so `cargo test` keeps them passing.

#[path = "../../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/token_response.rs"]
mod token_response;

#[test]
fn token_response_corpus_and_regressions() {
    let dir = replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"));
    let n = replay::replay(&dir, "token_response", token_response::check);
    eprintln!("replayed {n} token_response inputs");
}
