#!/usr/bin/env bash
# Install what is needed, build, and run every test twice: a normal build and
# an AddressSanitizer + UndefinedBehaviorSanitizer build (UBSan halts on the
# first error). Ends with the line "N passed, M failed"; exits non-zero if
# anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hermes_install_deps || exit 1

status=0
builds=(build build-asan)
hermes_setup build || exit 1
hermes_setup build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
for b in "${builds[@]}"; do
    rm -f "$b/meson-logs/testlog.json"
    echo "=== $b: build" >&2
    ninja -C "$b" || { status=1; continue; }
    echo "=== $b: test" >&2
    meson test -C "$b" --print-errorlogs --num-processes 2 || status=1
done

# meson's own summary is not what CI reads: count results from the logs.
python3 - "${builds[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for b in sys.argv[1:]:
    try:
        lines = open(f"{b}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
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
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
py=$?
[ $status -eq 0 ] && [ $py -eq 0 ]
