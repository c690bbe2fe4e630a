#!/usr/bin/env bash
# Runs every fuzz target in turn for N seconds each (default 600), one at a time, at low priority.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and nightly flags (RUSTC_BOOTSTRAP=1 on stable).
# Set SANITIZER=address for ASan builds (default: none; the fuzzed code has no unsafe).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(reader segment attribute)
sanitizer="${SANITIZER:-none}"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
nice -n 15 cargo fuzz build --sanitizer "$sanitizer" --codegen-units 16
for t in "${targets[@]}"; do
    case "$t" in
        reader) seeds=reader extra=(-max_len=65536) ;;
        *) seeds=text extra=(-max_len=4096 "-dict=$PWD/fuzz/text.dict") ;;
    esac
    mkdir -p "$PWD/fuzz/corpus/$t"
    echo "== $t: ${secs}s ${extra[*]}" >&2
    nice -n 15 cargo fuzz run --sanitizer "$sanitizer" --codegen-units 16 "$t" \
        "$PWD/fuzz/corpus/$t" "$PWD/fuzz/seeds/$seeds" -- \
        -max_total_time="$secs" "${extra[@]}" -timeout=10 -print_final_stats=1
done
