#!/usr/bin/env bash
# A short fuzzing run of every target, starting from the committed seeds.
#
# Each target runs for SECONDS_PER_TARGET seconds (default 20). cargo-fuzz builds with
# debug assertions and overflow checks on, so an arithmetic overflow is a crash too. New corpus entries go to a scratch copy
# under fuzz/corpus/ (ignored by git), never into fuzz/seeds/. Exits non-zero as soon as a
# target finds a crash; the reproducer is left in fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${SECONDS_PER_TARGET:-20}"
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

# cargo-fuzz needs nightly-only flags (sanitizers); this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=(decode decode_split roundtrip dir_decode dir_decode_split dir_roundtrip
         sparse_decode sparse_decode_split sparse_roundtrip update_decode update_decode_split)
cargo fuzz build --debug-assertions

for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp fuzz/seeds/"$target"/* "$corpus"/
    echo "fuzz smoke: $target for ${seconds}s"
    cargo fuzz run --debug-assertions "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1
done
echo "fuzz smoke: no crash in ${#targets[@]} targets"
