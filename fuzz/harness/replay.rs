//! Replays a fuzz target's committed inputs through its check, for the crates'
//! `tests/fuzz_regressions.rs` (not part of the fuzz crate itself).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The repository's `fuzz/` folder, from a crate under `crates/`.
pub fn fuzz_dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs `check` on every file of `fuzz/corpus/<target>/` (which must exist and not be empty)
/// and of `fuzz/regressions/<target>/` (if it exists); fails naming every input that panicked.
/// Returns how many inputs ran.
pub fn replay(fuzz_dir: &Path, target: &str, check: fn(&[u8])) -> usize {
    let corpus = fuzz_dir.join("corpus").join(target);
    assert!(
        corpus.is_dir(),
        "the committed corpus {} is missing",
        corpus.display()
    );
    let mut inputs = files(&corpus);
    assert!(
        !inputs.is_empty(),
        "the committed corpus {} is empty",
        corpus.display()
    );
    let regressions = fuzz_dir.join("regressions").join(target);
    if regressions.is_dir() {
        inputs.extend(files(&regressions));
    }
    let mut failures = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {target} inputs failed:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    inputs.len()
}
