#!/usr/bin/env bash
# Load, soak and connection churn against the real `hermes run` (bench/load/).
#   scripts/load.sh [seconds] [clients] [churn_cycles]     defaults: 60 200 10000
# Builds nothing: expects a configured and built build directory, build/ unless
# HERMES_BUILD_DIR says otherwise (meson setup build && ninja -C build). Loopback
# only; bounded in time (about seconds + 30 s); stops and reaps hermes itself.
# Prints a results table and PASS/FAIL per criterion; exits non-zero on a FAIL.
# Extra hermes_load options go in HERMES_LOAD_ARGS, e.g. "--min-hz 55 --keep".
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
clients=${2:-200}
churn=${3:-10000}
build=${HERMES_BUILD_DIR:-build}
load="$build/bench/load/hermes_load"
for f in "$load" "$build/cli/hermes" "$build/bench/load/libloadgen.so"; do
    if [ ! -e "$f" ]; then
        echo "load.sh: $f not found; build first: meson setup $build && ninja -C $build" >&2
        exit 2
    fi
done
# shellcheck disable=SC2086  # HERMES_LOAD_ARGS is a list of options
exec timeout --signal=TERM --kill-after=10 "$((seconds + 120))" \
    "$load" --hermes "$build/cli/hermes" --module "$build/bench/load/libloadgen.so" \
    --seconds "$seconds" --clients "$clients" --churn "$churn" ${HERMES_LOAD_ARGS:-}
