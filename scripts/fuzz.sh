#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each for a
# bounded time.
#
#   scripts/fuzz.sh [--merge] [SECONDS_PER_HARNESS] [HARNESS...]
#
# SECONDS defaults to 30; HARNESS names (config, patterns, decoder) default to
# every tests/fuzz/fuzz_*.c. Corpora live in tests/fuzz/corpus/<harness>/
# (seeds are committed and never written by a plain run); new inputs found in
# a run go to $FUZZ_OUT/corpus/<harness>/ (FUZZ_OUT defaults to build-fuzz).
# --merge then folds those new inputs into tests/fuzz/corpus/<harness>/ with
# libFuzzer's -merge=1 (only inputs adding coverage; review and commit them).
# Crashes are saved as $FUZZ_OUT/crash-<harness>-* and make the script fail.
#
# Output: one line per harness on stdout, for scripts to parse:
#   fuzz: <harness>: <N> executions in <S>s: ok
#   fuzz: <harness>: <N> executions in <S>s: FAILED (<reason>)
# and "fuzz: skipped (<reason>)" with exit 0 when clang or its fuzzer
# runtime is missing. Everything else goes to stderr.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
merge=0
if [ "${1:-}" = "--merge" ]; then
    merge=1
    shift
fi
secs=${1:-30}
[ $# -gt 0 ] && shift
out=${FUZZ_OUT:-build-fuzz}
CC=${CC_FUZZ:-clang}
if ! command -v "$CC" >/dev/null; then
    echo "fuzz: skipped (clang not installed)"
    exit 0
fi
# The fuzzer runtime comes with libclang-rt-*-dev: probe it.
mkdir -p "$out"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' > "$out/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" 2>"$out/probe.log"; then
    echo "fuzz: skipped (no libFuzzer runtime for $CC; install libclang-rt-14-dev)"
    exit 0
fi

if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for h in tests/fuzz/fuzz_*.c; do
        n=$(basename "$h" .c)
        harnesses+=("${n#fuzz_}")
    done
fi

gen="$out/include/hermes"
mkdir -p "$gen" "$out/obj"
ver=$(sed -n "s/^ *version *: *'\([0-9.]*\)'.*/\1/p" meson.build | head -1)
IFS=. read -r MA MI PA <<<"$ver"
sed "s/@MAJOR@/$MA/;s/@MINOR@/$MI/;s/@PATCH@/$PA/;s/@VERSION@/$ver/" include/hermes/version.h.in > "$gen/version.h.tmp"
cmp -s "$gen/version.h.tmp" "$gen/version.h" || mv "$gen/version.h.tmp" "$gen/version.h"
rm -f "$gen/version.h.tmp"
common=(-g -O1 -std=c11 -D_GNU_SOURCE -DHERMES_BUILDING -fno-sanitize-recover=undefined
        -Iinclude -I"$out/include" -Ilib)
read -r -a pcflags <<<"$(pkg-config --cflags libwebsockets jansson libcyaml yaml-0.1)"
read -r -a pclibs <<<"$(pkg-config --libs libwebsockets jansson libcyaml yaml-0.1)"

# The library once (instrumented for coverage, no fuzzer main), two at a time;
# a source is rebuilt when it or any header is newer than its object.
build_failed=0
newest_hdr=$(ls -t include/hermes/*.h $(find lib -name '*.h') "$gen/version.h" | head -1)
objs=()
pids=()
# The harnesses need neither HDF5, libzip/expat nor the viewer: build the
# library as meson does without them (the recording stubs, no FMU support, the
# fallback page), so the sources that need those libraries are left out.
for src in $(find lib -name '*.c' | sort); do
    case "$src" in
        lib/recording/recording_none.c) ;;
        lib/recording/*|lib/campaign/h5table.c|lib/fmu/*) continue ;;
    esac
    o="$out/obj/$(echo "${src#lib/}" | tr / _ | sed 's/\.c$//').o"
    objs+=("$o")
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$newest_hdr" -nt "$o" ]; then
        [ ${#pids[@]} -ge 2 ] && { wait "${pids[0]}" || build_failed=1; pids=("${pids[@]:1}"); }
        ( "$CC" "${common[@]}" -fsanitize=fuzzer-no-link,address,undefined "${pcflags[@]}" \
              -c "$src" -o "$o.tmp" && mv "$o.tmp" "$o" ) &
        pids+=($!)
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || build_failed=1
done
if [ "$build_failed" -ne 0 ]; then
    for name in "${harnesses[@]}"; do
        echo "fuzz: $name: 0 executions in 0s: FAILED (library did not build)"
    done
    exit 1
fi

status=0
for name in "${harnesses[@]}"; do
    h="tests/fuzz/fuzz_$name.c"
    bin="$out/fuzz_$name"
    if [ ! -f "$h" ]; then
        echo "fuzz: $name: 0 executions in 0s: FAILED (no $h)"; status=1; continue
    fi
    if ! "$CC" "${common[@]}" -fsanitize=fuzzer,address,undefined "${pcflags[@]}" "$h" "${objs[@]}" \
            "${pclibs[@]}" -lm -ldl -lpthread -o "$bin" 2>"$out/$name.build.log"; then
        cat "$out/$name.build.log" >&2
        echo "fuzz: $name: 0 executions in 0s: FAILED (build)"; status=1; continue
    fi
    mkdir -p "$out/corpus/$name" "tests/fuzz/corpus/$name"
    echo "fuzz: running $name for ${secs}s" >&2
    # Harnesses that need a shared-memory segment take its name from here;
    # it is removed below even if the harness crashed.
    run="hermes-fuzz-$$-$name"
    reason=""
    t0=$(date +%s)
    if ! HERMES_FUZZ_RUN=$run "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$out/crash-$name-" \
            "$out/corpus/$name" "tests/fuzz/corpus/$name" > "$out/$name.log" 2>&1; then
        reason="see $out/$name.log"
        tail -40 "$out/$name.log" >&2
        status=1
    fi
    t1=$(date +%s)
    rm -f "/dev/shm/$run"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log" | tail -1)
    if [ -z "$reason" ] && [ $merge -eq 1 ]; then
        before=$(find "tests/fuzz/corpus/$name" -type f | wc -l)
        if HERMES_FUZZ_RUN=$run "$bin" -merge=1 "tests/fuzz/corpus/$name" "$out/corpus/$name" \
                > "$out/$name.merge.log" 2>&1; then
            after=$(find "tests/fuzz/corpus/$name" -type f | wc -l)
            echo "fuzz: $name: merged $((after - before)) new inputs into tests/fuzz/corpus/$name" >&2
        else
            reason="merge failed, see $out/$name.merge.log"; status=1
        fi
        rm -f "/dev/shm/$run"
    fi
    if [ -z "$reason" ]; then
        echo "fuzz: $name: ${execs:-0} executions in $((t1 - t0))s: ok"
    else
        echo "fuzz: $name: ${execs:-0} executions in $((t1 - t0))s: FAILED ($reason)"
    fi
done
exit $status
