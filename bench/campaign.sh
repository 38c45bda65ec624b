#!/bin/sh
# Campaign overhead: RUNS short AFAP runs of the launch demo on 2 jobs, as a
# campaign (DIR/run-local.sh -j 2: GNU parallel running `hermes campaign run
# DIR i`, each writing its summary and log) against the same simulations as
# plain `hermes run --set ... --seed ...` launched by `xargs -P 2`, in the
# same sitting. The runs go in ROUNDS chunks that alternate (xargs, campaign,
# xargs, campaign, ...) so drift on a shared machine hits both alike. Prints
# wall times, runs per second and the campaign's overhead; asserts nothing.
#
#   bench/campaign.sh HERMES LAUNCH_YAML [BUILD_TYPE] [RUNS] [ROUNDS] [END_TIME]
# (defaults: 200 runs in 10 rounds of 20, the demo's own end_time of 300 s)
set -eu
HERMES=$1
BASE=$2
BUILD_TYPE=${3:-unknown}
RUNS=${4:-200}
ROUNDS=${5:-10}
END=${6:-300}
command -v parallel >/dev/null || { echo "campaign bench: GNU parallel not installed"; exit 1; }

T=$(mktemp -d /tmp/hermes-bench-campaign.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM

CHUNK=$((RUNS / ROUNDS))
cat >"$T/campaign.yaml" <<EOF
base: $BASE
runs: $CHUNK
seed: 7
end_time: $END
dispersions:
  - signal: vehicle.mass
    normal: {mean: 30000, sigma: 500}
  - signal: commands.throttle
    uniform: {low: 0.9, high: 1.0}
outputs:
  final: [vehicle.position.altitude]
  max: [vehicle.dynamic_pressure]
EOF
"$HERMES" campaign plan "$T/campaign.yaml" "$T/plan0" >/dev/null
# The same simulations as plain runs: one command line per row of runs.csv.
tail -n +2 "$T/plan0/runs.csv" | while IFS=, read -r idx seed mass thr; do
    printf '%s run %s --mode afap --no-server --quiet --end-time %s --seed %s --set vehicle.mass=%s --set commands.throttle=%s\n' \
        "$HERMES" "$BASE" "$END" "$seed" "$mass" "$thr"
done >"$T/plain.cmds"

now() { date +%s.%N; }
xargs_total=0
camp_total=0
r=1
while [ $r -le "$ROUNDS" ]; do
    t0=$(now)
    tr '\n' '\0' <"$T/plain.cmds" | xargs -0 -P 2 -I{} sh -c '{}' || { echo "plain runs failed"; exit 1; }
    t1=$(now)
    "$HERMES" campaign plan "$T/campaign.yaml" "$T/dir$r" >/dev/null
    t2=$(now)
    "$T/dir$r/run-local.sh" -j 2 >/dev/null || { echo "campaign runs failed"; exit 1; }
    t3=$(now)
    "$HERMES" campaign collect "$T/dir$r" >/dev/null
    t4=$(now)
    x=$(echo "$t1 - $t0" | bc -l)
    c=$(echo "$t3 - $t2" | bc -l)
    printf 'round %d: xargs -P 2 %.2f s (%.1f runs/s)   campaign -j 2 %.2f s (%.1f runs/s)   plan %.3f s  collect %.3f s\n' \
        "$r" "$x" "$(echo "$CHUNK / $x" | bc -l)" "$c" "$(echo "$CHUNK / $c" | bc -l)" \
        "$(echo "$t2 - $t1" | bc -l)" "$(echo "$t4 - $t3" | bc -l)"
    xargs_total=$(echo "$xargs_total + $x" | bc -l)
    camp_total=$(echo "$camp_total + $c" | bc -l)
    rm -rf "$T/dir$r"
    r=$((r + 1))
done
printf 'campaign bench (%s build, %d runs in %d alternating rounds, demo end_time %s s, 2 jobs, %s cores, load %s):\n' \
    "$BUILD_TYPE" "$((CHUNK * ROUNDS))" "$ROUNDS" "$END" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  plain hermes run via xargs -P 2: %.2f s total, %.2f runs/s\n' "$xargs_total" \
    "$(echo "$CHUNK * $ROUNDS / $xargs_total" | bc -l)"
printf '  hermes campaign via GNU parallel: %.2f s total, %.2f runs/s\n' "$camp_total" \
    "$(echo "$CHUNK * $ROUNDS / $camp_total" | bc -l)"
printf '  campaign overhead: %+.1f %% (target <= 5 %%)\n' "$(echo "($camp_total / $xargs_total - 1) * 100" | bc -l)"
