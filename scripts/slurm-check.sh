#!/bin/sh
# Single-node Slurm check of `hermes campaign`: brings up munged, slurmctld and
# slurmd (as root, process tracking by process group, no cgroups, everything in
# a temporary directory with private ports and a private munge socket), plans a
# 20-run campaign of the launch demo, submits DIR/campaign.sbatch, waits for the
# array (bounded), collects, and tears everything down.
#
#   scripts/slurm-check.sh [BUILD_DIR]        (default: build; needs root,
#                                             Debian slurm-wlm and munge)
# Exit status: 0 when all 20 runs finished and collect found no failure,
# 77 (meson's "skipped") when not root or Slurm/munge are not installed.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
HERMES=$BUILD/cli/hermes
RUNS=20
WAIT_S=${HERMES_SLURM_WAIT:-150}

say() { printf 'slurm-check: %s\n' "$*"; }
die() { say "FAILED: $*"; exit 1; }

skip() { say "SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (slurmd runs jobs as root here)"
for b in munged slurmctld slurmd sbatch squeue sinfo; do
    command -v "$b" >/dev/null || skip "$b not found: apt-get install slurm-wlm munge"
done
[ -x "$HERMES" ] || die "$HERMES not built"
KEY=/etc/munge/munge.key
[ -r "$KEY" ] || die "$KEY missing (installing the munge package creates it)"

T=$(mktemp -d /tmp/hermes-slurm.XXXXXX)
PIDS=""
cleanup() {
    rc=$?
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ $rc -ne 0 ]; then
        for f in "$T"/slurmctld.log "$T"/slurmd.log; do
            [ -f "$f" ] && { say "--- tail of $f"; tail -n 15 "$f"; }
        done
    fi
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free TCP ports (a fixed 6817/6818 could clash with a real cluster).
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
CTLD_PORT=${ports% *}
SLURMD_PORT=${ports#* }

mkdir -p "$T/state" "$T/spool"
chmod 700 "$T"
munged --force --socket="$T/munge.sock" --key-file="$KEY" --pid-file="$T/munged.pid" \
    --log-file="$T/munged.log" --seed-file="$T/munge.seed"
i=0
while [ ! -s "$T/munged.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/munged.pid" ] || die "munged did not start"
PIDS="$(cat "$T/munged.pid")"

cat >"$T/slurm.conf" <<EOF
ClusterName=hermescheck
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge.sock
CredType=cred/munge
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=check Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$T/slurm.conf"

slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS="$! $PIDS"
slurmd -D -N localhost -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
PIDS="$! $PIDS"

i=0
until [ "$(sinfo -h -N -o %T 2>/dev/null | head -n 1)" = idle ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || die "the node did not become idle within 30 s ($(sinfo -h -N -o %T 2>&1 | head -n 1))"
    sleep 0.1
done
say "slurmctld (port $CTLD_PORT) and slurmd (port $SLURMD_PORT) up, node idle"

cat >"$T/campaign.yaml" <<EOF
base: $BUILD/examples/launch/launch.yaml
runs: $RUNS
seed: 12
end_time: 10
dispersions:
  - signal: vehicle.mass
    normal: {mean: 30000, sigma: 500}
  - signal: commands.throttle
    uniform: {low: 0.9, high: 1.0}
outputs:
  final: [vehicle.position.altitude]
  max: [vehicle.dynamic_pressure]
slurm:
  limit: 4
  time: "00:05:00"
EOF
"$HERMES" campaign plan "$T/campaign.yaml" "$T/dir" >/dev/null
job=$(sbatch --parsable "$T/dir/campaign.sbatch") || die "sbatch refused the job"
job=${job%%;*}
say "submitted array job $job ($RUNS tasks, at most 4 at once)"

start=$(date +%s)
while squeue -h -j "$job" 2>/dev/null | grep -q .; do
    [ $(($(date +%s) - start)) -lt "$WAIT_S" ] || die "job $job still queued or running after $WAIT_S s"
    sleep 0.5
done
say "array finished in $(($(date +%s) - start)) s"

"$HERMES" campaign status "$T/dir"
if ! "$HERMES" campaign collect "$T/dir"; then
    for f in "$T"/dir/slurm/*.out; do [ -s "$f" ] && { say "--- $f"; cat "$f"; }; done
    die "collect reported failed or missing runs"
fi
rows=$(($(wc -l <"$T/dir/results.csv") - 1))
[ "$rows" -eq "$RUNS" ] || die "results.csv has $rows rows, expected $RUNS"
ok=$(grep -c ',ok,end_time,' "$T/dir/results.csv" || true)
[ "$ok" -eq "$RUNS" ] || die "$ok of $RUNS runs ok"
say "PASSED: $RUNS runs through Slurm, all ok"
