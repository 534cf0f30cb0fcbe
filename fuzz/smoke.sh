#!/usr/bin/env bash
# CI smoke of the fuzz targets: builds them (cargo-fuzz, libFuzzer + AddressSanitizer) and runs
# each for FUZZ_SECONDS (default 20) seconds starting from its committed corpus. Prints one line
# per target; exits non-zero if a build fails or any target finds a crash (the input is then in
# fuzz/artifacts/<target>/: move it to fuzz/regressions/<target>/, see fuzz/README.md).
#
# Needs cargo-fuzz 0.13 (`cargo install cargo-fuzz --version 0.13.2 --locked`). The stable
# toolchain is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags
# (-Zsanitizer=address; the stable toolchain ships librustc-stable_rt.asan.a).
#
# The committed corpus is only read: new inputs go to a scratch directory, so a local run leaves
# fuzz/corpus/ as committed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RUSTC_BOOTSTRAP=1

SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
TARGETS=(token_response environment challenge_parameters srp_math)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: cargo-fuzz is not installed (cargo install cargo-fuzz --version 0.13.2 --locked)" >&2
    exit 1
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

start=$(date +%s)
if ! cargo fuzz build >"$scratch/build.log" 2>&1; then
    tail -n 40 "$scratch/build.log" >&2
    echo "fuzz smoke: build FAILED" >&2
    exit 1
fi
echo "fuzz smoke: built ${#TARGETS[@]} targets in $(($(date +%s) - start)) s"

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$scratch/corpus/$t"
    log="$scratch/$t.log"
    t0=$(date +%s)
    # First corpus directory: where new inputs go (scratch); the committed one is read only.
    if cargo fuzz run "$t" "$scratch/corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=60 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
        echo "fuzz smoke: $t ok: ${runs:-?} runs (${rate:-?}/s), ${cov:-no coverage line}, $(($(date +%s) - t0)) s"
    else
        status=$?
        tail -n 60 "$log" >&2
        echo "fuzz smoke: $t FAILED (exit $status): crash input under fuzz/artifacts/$t/"
        failed+=("$t")
    fi
done

echo "fuzz smoke: total $(($(date +%s) - start)) s"
if ((${#failed[@]})); then
    echo "fuzz smoke: FAILED: ${failed[*]}" >&2
    exit 1
fi
