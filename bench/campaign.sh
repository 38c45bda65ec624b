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

# GNU time: wall, user and system seconds of the command and its children.
timed() {  # OUTFILE COMMAND...
    out=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$out" "$@"
}
add() { echo "$1 + $2" | bc -l; }
xw=0 xc=0 cw=0 cc=0
r=1
while [ $r -le "$ROUNDS" ]; do
    timed "$T/tx" sh -c "tr '\n' '\0' <'$T/plain.cmds' | xargs -0 -P 2 -I{} sh -c '{}'" ||
        { echo "plain runs failed"; exit 1; }
    "$HERMES" campaign plan "$T/campaign.yaml" "$T/dir$r" >/dev/null
    timed "$T/tc" sh -c "'$T/dir$r/run-local.sh' -j 2 >/dev/null" || { echo "campaign runs failed"; exit 1; }
    "$HERMES" campaign collect "$T/dir$r" >/dev/null || { echo "campaign collect failed"; exit 1; }
    read -r x xu xs <"$T/tx"
    read -r c cu cs <"$T/tc"
    printf 'round %2d: xargs -P 2 %6.2f s wall %6.2f s cpu   campaign -j 2 %6.2f s wall %6.2f s cpu\n' \
        "$r" "$x" "$(add "$xu" "$xs")" "$c" "$(add "$cu" "$cs")"
    xw=$(add "$xw" "$x")
    xc=$(add "$xc" "$(add "$xu" "$xs")")
    cw=$(add "$cw" "$c")
    cc=$(add "$cc" "$(add "$cu" "$cs")")
    rm -rf "$T/dir$r"
    r=$((r + 1))
done
n=$((CHUNK * ROUNDS))
printf 'campaign bench (%s build, %d runs in %d alternating rounds, demo end_time %s s, 2 jobs, %s cores, load %s):\n' \
    "$BUILD_TYPE" "$n" "$ROUNDS" "$END" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  plain hermes run via xargs -P 2:  %7.2f s wall, %.2f runs/s; %7.2f s cpu\n' "$xw" \
    "$(echo "$n / $xw" | bc -l)" "$xc"
printf '  hermes campaign via GNU parallel: %7.2f s wall, %.2f runs/s; %7.2f s cpu\n' "$cw" \
    "$(echo "$n / $cw" | bc -l)" "$cc"
printf '  campaign overhead: wall %+.1f %%, cpu %+.1f %% (target: wall <= 5 %%)\n' \
    "$(echo "($cw / $xw - 1) * 100" | bc -l)" "$(echo "($cc / $xc - 1) * 100" | bc -l)"
