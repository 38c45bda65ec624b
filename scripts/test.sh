#!/usr/bin/env bash
# Install what is needed, build, and run the tests in seven stages:
#   build       normal build, every meson test
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer build (UBSan halts
#               on the first error), every meson test
#   release     gcc -Dbuildtype=release (what packagers build; -Werror), unit tests
#   clang       clang debugoptimized build (-Werror), unit tests
#   fuzz        the libFuzzer harnesses of tests/fuzz/ (clang, ASan + UBSan),
#               $HERMES_FUZZ_SECONDS each (default 30); skipped when clang's
#               fuzzer runtime is missing. One test per harness.
#   tsan        ThreadSanitizer build (gcc): the scheduler, groups, server, seams,
#               ws_cli, process, recording (record, replay, rerun), Foxglove and
#               campaign tests, halting on the first report
#   valgrind    memcheck of the WebSocket integration test (ws_cli: the real
#               `hermes run` server process and the test's lws clients, both
#               under memcheck), definite leaks count as errors
# Prints the time of every stage, then ends with the line "N passed, M failed"
# (meson results from each stage's testlog, plus one per fuzz harness); exits
# non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/deps.sh
t0=$SECONDS
if ! hermes_install_deps "${HERMES_TEST_DEPS[@]}"; then
    echo "warning: could not install ${HERMES_TEST_DEPS[*]}; fuzz and valgrind stages may be skipped" >&2
    hermes_install_deps || exit 1
fi
fuzz_secs=${HERMES_FUZZ_SECONDS:-30}

stage_names=()
stage_secs=()
stage_note=()
stage_done() {  # NAME START [NOTE]
    stage_names+=("$1")
    stage_secs+=($((SECONDS - $2)))
    stage_note+=("${3:-}")
}
stage_names+=("deps")
stage_secs+=($((SECONDS - t0)))
stage_note+=("")

status=0
# Result files read by the counter below: "meson:<testlog.json>" or
# "fuzz:<results file>". A file that is missing counts as one failure.
results=()

# ---- normal and ASan + UBSan builds: every test --------------------------------
# The viewer's npm packages (uPlot, playwright-core) before configuring, so the
# page is compiled in and its browser test (viewer_browser) runs.
if ! hermes_viewer_setup build build-asan; then
    echo "error: npm ci --prefix viewer failed: the viewer and its browser test are missing" >&2
    status=1
fi
npm ci --prefix tests/foxglove --no-audit --no-fund --loglevel=error >&2 || status=1  # pinned client of the foxglove-node test
npm ci --prefix tests/mcap --no-audit --no-fund --loglevel=error >&2 || status=1  # pinned reader of the mcap-* tests
hermes_setup build || exit 1
hermes_setup build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
for b in build build-asan; do
    t=$SECONDS
    rm -f "$b/meson-logs/testlog.json"
    results+=("meson:$b/meson-logs/testlog.json")
    echo "=== $b: build" >&2
    if ninja -C "$b"; then
        echo "=== $b: test" >&2
        meson test -C "$b" --print-errorlogs --num-processes 2 || status=1
    else
        status=1
    fi
    stage_done "$b" "$t"
done

# ---- release (gcc) and clang builds: build with no warning, run the unit tests ---
# Packagers build release: gcc's -O3 flow analysis (maybe-uninitialized) sees
# more than the debugoptimized build does, and clang warns differently again.
for spec in release:build-rel:gcc:release clang:build-clang:clang:debugoptimized; do
    IFS=: read -r name b cc bt <<<"$spec"
    t=$SECONDS
    rm -f "$b/meson-logs/testlog.json"
    results+=("meson:$b/meson-logs/testlog.json")
    echo "=== $b: build ($cc, $bt)" >&2
    if { [ -f "$b/build.ninja" ] || CC=$cc meson setup "$b" -Dbuildtype="$bt"; } && ninja -C "$b"; then
        echo "=== $b: test" >&2
        meson test -C "$b" --print-errorlogs --num-processes 2 --suite unit || status=1
    else
        status=1
    fi
    stage_done "$name" "$t"
done

# ---- fuzzers -------------------------------------------------------------------
t=$SECONDS
echo "=== fuzz: ${fuzz_secs}s per harness" >&2
mkdir -p build-fuzz
rm -f build-fuzz/results.txt
FUZZ_OUT=build-fuzz scripts/fuzz.sh "$fuzz_secs" | tee build-fuzz/results.txt || status=1
if grep -q '^fuzz: skipped' build-fuzz/results.txt; then
    stage_done fuzz "$t" "$(sed -n 's/^fuzz: //p' build-fuzz/results.txt | head -1)"
else
    results+=("fuzz:build-fuzz/results.txt")
    stage_done fuzz "$t"
fi

# ---- ThreadSanitizer (gcc) -------------------------------------------------------
t=$SECONDS
echo "=== build-tsan: build" >&2
rm -f build-tsan/meson-logs/testlog.json
results+=("meson:build-tsan/meson-logs/testlog.json")
if [ ! -f build-tsan/build.ninja ]; then
    CC=gcc meson setup build-tsan -Db_sanitize=thread -Db_lundef=false || status=1
fi
if [ -f build-tsan/build.ninja ] && ninja -C build-tsan; then
    echo "=== build-tsan: test" >&2
    # Add suppressions=tests/tsan.supp here if libwebsockets (not built with
    # TSan) ever produces reports from inside itself; none so far.
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
        meson test -C build-tsan --print-errorlogs --num-processes 2 scheduler server server_seams ws_cli process groups \
            record replay rerun foxglove-node mcap-export mcap-record mcap-journal mcap-live replay-mcap campaign_cli || status=1
else
    status=1
fi
stage_done tsan "$t"

# ---- valgrind memcheck of the WebSocket integration test ------------------------------
t=$SECONDS
if command -v valgrind >/dev/null; then
    echo "=== valgrind: ws_cli" >&2
    # meson names the log after the wrapper: testlog-valgrind.json.
    rm -f build/meson-logs/testlog-valgrind.json
    results+=("meson:build/meson-logs/testlog-valgrind.json")
    # --trace-children: the `hermes run` the test starts runs under memcheck
    # too; its errors turn into exit status 1, which the test asserts against.
    meson test -C build --print-errorlogs --timeout-multiplier 5 \
        --wrapper "valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
                   --trace-children=yes --child-silent-after-fork=yes --num-callers=30" \
        ws_cli || status=1
    stage_done valgrind "$t"
else
    stage_done valgrind "$t" "skipped (valgrind not installed)"
fi

echo "=== stage times" >&2
for i in "${!stage_names[@]}"; do
    printf 'time: %-11s %4ds%s\n' "${stage_names[$i]}" "${stage_secs[$i]}" \
        "${stage_note[$i]:+  (${stage_note[$i]})}"
done
printf 'time: %-11s %4ds\n' total $((SECONDS - t0))

# meson's own summary is not what CI reads: count results from the logs.
python3 - "${results[@]}" <<'PY'
import json, re, sys, glob
passed = failed = skipped = 0
nharness = len(glob.glob("tests/fuzz/fuzz_*.c"))
for spec in sys.argv[1:]:
    kind, path = spec.split(":", 1)
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print(f"no results: {path}")
        failed += 1
        continue
    if kind == "fuzz":
        seen = 0
        for line in lines:
            m = re.match(r"^fuzz: (\S+): (\d+) executions in (\d+)s: (.*)$", line)
            if not m:
                continue
            seen += 1
            if m.group(4) == "ok":
                passed += 1
            else:
                failed += 1
        if seen < nharness:  # a harness that reported nothing failed
            failed += nharness - seen
        continue
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line).get("result")
        if r == "OK" or r == "EXPECTEDFAIL":
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
if skipped:
    print(f"({skipped} skipped)")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
py=$?
[ $status -eq 0 ] && [ $py -eq 0 ]
