#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each for a
# bounded time. Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] (default 30).
# Corpora live in tests/fuzz/corpus/<harness>/ (seeds are committed; new
# inputs found in a run go to build-fuzz/corpus/<harness>/). Crashes are saved as
# build-fuzz/crash-* and make the script fail.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
out=build-fuzz
mkdir -p "$out"
CC=${CC_FUZZ:-clang}
if ! command -v "$CC" >/dev/null; then
    echo "fuzz: clang not installed; skipping" >&2
    exit 0
fi
gen="$out/include/hermes"
mkdir -p "$gen"
ver=$(sed -n "s/^ *version *: *'\([0-9.]*\)'.*/\1/p" meson.build | head -1)
IFS=. read -r MA MI PA <<<"$ver"
sed "s/@MAJOR@/$MA/;s/@MINOR@/$MI/;s/@PATCH@/$PA/;s/@VERSION@/$ver/" include/hermes/version.h.in > "$gen/version.h"
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -DHERMES_BUILDING -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Iinclude -I"$out/include" -Ilib)
libs=$(pkg-config --cflags --libs libwebsockets jansson libcyaml yaml-0.1)
lib_srcs=$(ls lib/*.c)
status=0
for h in tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c); name=${name#fuzz_}
    bin="$out/fuzz_$name"
    # shellcheck disable=SC2086
    if ! $CC "${flags[@]}" "$h" $lib_srcs $libs -lm -ldl -lpthread -o "$bin"; then
        echo "fuzz: building $name failed" >&2; status=1; continue
    fi
    mkdir -p "$out/corpus/$name"
    echo "fuzz: $name for ${secs}s" >&2
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/crash-$name-" "$out/corpus/$name" "tests/fuzz/corpus/$name" \
            > "$out/$name.log" 2>&1; then
        echo "fuzz: $name FAILED, see $out/$name.log" >&2; tail -40 "$out/$name.log" >&2; status=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
    echo "fuzz: $name: ${execs:-0} executions in ${secs}s" >&2
done
exit $status
