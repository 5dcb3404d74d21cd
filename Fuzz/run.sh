#!/usr/bin/env bash
# Builds every fuzz target (libFuzzer, with AddressSanitizer) and runs each for a bounded time.
# Fails on any crash, trap, sanitizer report, leak or slow input; the input that caused it is
# kept in Fuzz/crashes/<target>/ and printed as hex.
#
#   Fuzz/run.sh [seconds-per-target] [target ...]
#
# Defaults: 15 s for each of the targets under Fuzz/Targets/. See Fuzz/README.md.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
seconds=${1:-15}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for directory in "$fuzz"/Targets/*/; do targets+=("$(basename "$directory")"); done
fi
scratch="$root/.build-fuzz"
# A trap is libFuzzer's to report: Swift's own backtracer would read the stack under ASan.
export SWIFT_BACKTRACE=enable=no
build=(swift build --package-path "$fuzz" --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)

started=$(date +%s)
echo "fuzz: building ${#targets[@]} targets"
mkdir -p "$scratch"
if ! "${build[@]}" >"$scratch/build.log" 2>&1; then
    echo "fuzz: the build failed; its log's end:"
    tail -40 "$scratch/build.log"
    echo "fuzz: 0 passed, ${#targets[@]} failed"
    exit 1
fi
bin=$("${build[@]}" --show-bin-path)
echo "fuzz: built in $(($(date +%s) - started)) s"

passed=0
failed=0
for target in "${targets[@]}"; do
    work="$scratch/corpus/$target"
    crashes="$fuzz/crashes/$target"
    log="$scratch/logs/$target.log"
    mkdir -p "$work" "$crashes" "$(dirname "$log")"
    # New inputs go to the first folder (scratch); the committed seeds are only read.
    if "$bin/$target" "$work" "$fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
        echo "fuzz: $target passed: $runs inputs in ${seconds} s, $coverage"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz: $target FAILED:"
        grep -E -m5 "Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY:" "$log" || true
        echo "fuzz: the log's end ($log):"
        grep -v "^#[0-9]" "$log" | tail -30
        for input in "$crashes"/*; do
            [ -f "$input" ] || continue
            echo "fuzz: kept $input ($(wc -c <"$input") bytes):"
            head -c 2048 "$input" | od -A d -t x1z | head -64
        done
    fi
done
echo "fuzz: $(($(date +%s) - started)) s in all"
echo "fuzz: $passed targets clean, $failed crashed"
[ "$failed" -eq 0 ]
