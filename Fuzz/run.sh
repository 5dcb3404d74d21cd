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
build=(swift build --package-path "$fuzz" --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)

started=$(date +%s)
echo "fuzz: building ${#targets[@]} targets"
"${build[@]}" 2>&1 | grep -v -e "Cannot export local symbol '__asan" -e "^\[[0-9]*/[0-9]*\]" || true
"${build[@]}" >/dev/null 2>&1 || { echo "fuzz: the build failed"; "${build[@]}" 2>&1 | tail -40; exit 1; }
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
        echo "fuzz: $target FAILED; the log's end:"
        grep -v "^#[0-9]" "$log" | tail -40
        for input in "$crashes"/*; do
            [ -f "$input" ] || continue
            echo "fuzz: kept $input ($(wc -c <"$input") bytes):"
            head -c 2048 "$input" | od -A d -t x1z | head -64
        done
    fi
done
echo "fuzz: $(($(date +%s) - started)) s in all"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
