#!/usr/bin/python3
"""FMU modules with the rest of Hermes, end to end (issue 20): an FMI 3.0
FMU in-process at its own rate and an FMI 2.0 FMU with isolate: true at
another rate and offset, both in one concurrent schedule group, with an
input wired from an injection module.

1. An unattended AFAP run is recorded; every row's x equals the analytic
   solution at the FMU's own step count (module rates), and the step counts
   at the end are those of the rates.
2. A realtime run driven over WebSocket (sets of inputs and of a tunable FMU
   parameter, pause, steps, reset) is recorded; `hermes run --rerun` replays
   it into a second recording, bit-identical (hermes.* timing excepted).
3. A campaign disperses a tunable and a fixed FMU parameter (`--set` in each
   run); each run's final x is the analytic solution with its values.
4. An FMU that asks to terminate (FMI 3 in-process, FMI 2 isolated) ends a
   recorded run normally: exit 0, the summary's reason names the module, the
   recording ends with the row of the terminating step and has its stopped
   event with the reason.

usage: test_fmu_runs.py HERMES DECAY3_FMU DECAY2_FMU
"""
import asyncio
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import websockets

from rig import cmd, fail, wait_port

RATE = 100.0


def analytic(x0, k, u, t):
    return u / k + (x0 - u / k) * math.exp(-k * t)


def config(path, fmu3, fmu2):
    open(path, "w").write(f"""execution:
  mode: afap
  rate_hz: {RATE:g}
  end_time: 2
  schedule: [src, [d3, d2]]
server: {{enabled: true}}
modules:
  src:
    type: injection
    signals:
      - {{name: uu, type: f64, writable: true, initial: 0.5}}
  d3:
    type: fmu
    fmu: {fmu3}
    rate_hz: 50
  d2:
    type: fmu
    fmu: {fmu2}
    isolate: true
    rate_hz: 20
    offset: 1
wiring:
  - {{src: src.uu, dst: d3.u}}
  - {{src: src.uu, dst: d2.u}}
""")


def load(path):
    f = h5py.File(path, "r")
    names = [n.decode() for n in f["signals"]["name"]]
    keep = [k for k, n in enumerate(names) if not n.startswith("hermes.")]
    return f, [names[k] for k in keep], f["data"][:][:, keep], f["frame"][:], f["journal"][:]


def check_unattended(hermes, cfg, tmp):
    rec = os.path.join(tmp, "plain.h5")
    r = subprocess.run([hermes, "run", cfg, "--no-server", "--record", rec], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        fail(f"unattended run exited {r.returncode}: {r.stderr[-2000:]}")
    f, names, data, frames, _ = load(rec)
    col = {n: k for k, n in enumerate(names)}
    rows = 0
    for row, fr in zip(data, frames):
        for mod, h in (("d3", 1 / 50), ("d2", 1 / 20)):
            n = row[col[mod + ".n"]]
            want = analytic(2.0, 1.0, 0.5, n * h)
            if abs(row[col[mod + ".x"]] - want) > 1e-12:
                fail(f"frame {fr}: {mod}.x = {row[col[mod + '.x']]!r} after {n} steps, expected {want!r}")
        rows += 1
    last = data[-1]
    n3, n2 = int(last[col["d3.n"]]), int(last[col["d2.n"]])
    nframes = int(frames[-1])  # row F holds the values after frames 0 .. F-1
    want3 = len([k for k in range(nframes) if k % 2 == 0])
    want2 = len([k for k in range(nframes) if k >= 1 and (k - 1) % 5 == 0])
    if (n3, n2) != (want3, want2):
        fail(f"after frame {frames[-1]}: d3 stepped {n3} times (rate 50 Hz: {want3}), d2 {n2} (20 Hz, offset 1: "
             f"{want2})")
    if f["signals"]["unit"][col["d3.x"]].decode() != "m":
        fail("d3.x has no unit m in the recording")
    print(f"ok: unattended run, {rows} rows: x matches the analytic solution; d3 stepped {n3} times, d2 {n2}")


def check_terminate(hermes, cfg, tmp):
    # d3 steps on even frames (50 Hz of 100): its step n=5 is frame 10. d2
    # steps on frames 1, 6, 11, ... (20 Hz, offset 1): its step n=2 is frame 11.
    for mod, at, frame, h in (("d3", 5, 10, 1 / 50), ("d2", 2, 11, 1 / 20)):
        rec = os.path.join(tmp, f"term-{mod}.h5")
        r = subprocess.run([hermes, "run", cfg, "--no-server", "--record", rec, "--set", f"{mod}.terminate_at={at}"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            fail(f"{mod} asking to terminate: exit {r.returncode}, expected 0: {r.stderr[-2000:]}")
        summary = [ln for ln in r.stderr.splitlines() if "event=summary" in ln]
        if not summary or "status=finished" not in summary[0] or \
                f"reason=\"module '{mod}': the FMU asked to terminate the simulation" not in summary[0]:
            fail(f"{mod}: summary line {summary!r}")
        f, names, data, frames, _ = load(rec)
        col = {n: k for k, n in enumerate(names)}
        if int(frames[-1]) != frame + 1 or int(data[-1][col[mod + ".n"]]) != at + 1:
            fail(f"{mod}: last row is frame {frames[-1]} with n={data[-1][col[mod + '.n']]}, expected frame "
                 f"{frame + 1} with n={at + 1} (the terminating step's outputs)")
        want = analytic(2.0, 1.0, 0.5, (at + 1) * h)
        if abs(data[-1][col[mod + ".x"]] - want) > 1e-12:
            fail(f"{mod}: last x {data[-1][col[mod + '.x']]!r}, expected {want!r}")
        ev = [(e["event"].decode(), e["detail"].decode()) for e in f["events"][:]]
        if not any(e == "stopped" and "asked to terminate" in d for e, d in ev):
            fail(f"{mod}: no stopped event with the reason in the recording: {ev!r}")
        f.close()
        print(f"ok: {mod} asked to terminate at step {at}: exit 0, the run ended after frame {frame} with that "
              f"step's outputs recorded")


async def drive(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/", subprotocols=["hermes"], max_size=2**24) as ws:
        schema = json.loads(await ws.recv())
        if schema["type"] != "schema" or "d3" not in schema["modules"]:
            fail(f"schema: {schema}")
        await asyncio.sleep(0.23)
        await cmd(ws, "set", signal="src.uu", value=0.8)
        await asyncio.sleep(0.17)
        await cmd(ws, "pause")
        await cmd(ws, "set", signal="d3.k", value=2.5)
        await cmd(ws, "step", count=7)
        await cmd(ws, "set", signal="d2.k", value=0.25)
        await cmd(ws, "step", count=3)
        await cmd(ws, "resume")
        await asyncio.sleep(0.31)
        await cmd(ws, "reset")
        await cmd(ws, "set", signal="d3.sel", value=3)
        await cmd(ws, "step", count=4)
        await cmd(ws, "resume")
        # then the run reaches its end_time by itself


def check_rerun(hermes, cfg, tmp):
    a, b = os.path.join(tmp, "a.h5"), os.path.join(tmp, "b.h5")
    log = os.path.join(tmp, "a.log")
    with open(log, "w") as lf:
        proc = subprocess.Popen([hermes, "run", cfg, "--mode", "realtime", "--port", "0", "--record", a],
                                stdout=lf, stderr=lf)
    try:
        port = wait_port(log, proc)
        asyncio.run(asyncio.wait_for(drive(port), 60))
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if rc != 0:
        fail(f"recorded run exited {rc}: {open(log).read()[-2000:]}")
    r = subprocess.run([hermes, "run", cfg, "--rerun", a, "--record", b, "--no-server"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        fail(f"rerun exited {r.returncode}: {r.stderr[-2000:]}")
    fa, na, da, fra, ja = load(a)
    fb, nb, db, frb, jb = load(b)
    if na != nb or len(ja) != 11 or not np.array_equal(ja, jb) or not np.array_equal(fra, frb):
        fail(f"rerun differs: {len(ja)} vs {len(jb)} journal entries, {len(fra)} vs {len(frb)} rows")
    if da.shape != db.shape or da.tobytes() != db.tobytes():
        diff = np.nonzero(da.view(np.uint64) != db.view(np.uint64))
        fail(f"data differ: first difference at row {diff[0][:1]}, signal {[na[k] for k in diff[1][:1]]}")
    col = {n: k for k, n in enumerate(na)}
    if not (da[:, col["d3.k"]] == 2.5).any() or not (da[:, col["d3.y"]] != da[:, col["d3.x"]]).any():
        fail("the sets of d3.k and d3.sel did not reach the FMU")
    print(f"ok: realtime run driven over WebSocket and its --rerun: {len(fra)} rows, {len(ja)} journal entries, "
          "bit-identical")


def check_campaign(hermes, cfg, tmp):
    camp = os.path.join(tmp, "campaign.yaml")
    d = os.path.join(tmp, "camp")
    open(camp, "w").write(f"""base: {cfg}
runs: 4
seed: 11
end_time: 1
dispersions:
  - signal: d3.k
    uniform: {{low: 0.5, high: 2}}
  - signal: d3.x0
    uniform: {{low: 1, high: 3}}
outputs:
  final: [d3.x, d3.n]
""")
    for args in (["plan", camp, d], ["run", d, "0"], ["run", d, "1"], ["run", d, "2"], ["run", d, "3"],
                 ["collect", d]):
        r = subprocess.run([hermes, "campaign"] + args, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"campaign {args[0]} exited {r.returncode}: {r.stdout[-1500:]} {r.stderr[-1500:]}")
    rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
    if len(rows) != 4:
        fail(f"results.csv has {len(rows)} rows")
    ks = set()
    for row in rows:
        k, x0, n = float(row["d3.k"]), float(row["d3.x0"]), float(row["final:d3.n"])
        want = analytic(x0, k, 0.5, n / 50)
        if row["status"] != "ok" or abs(float(row["final:d3.x"]) - want) > 1e-12:
            fail(f"run {row['index']}: status {row['status']}, final x {row['final:d3.x']}, expected {want!r} "
                 f"(k {k}, x0 {x0}, {n} steps)")
        ks.add(k)
    if len(ks) != 4:
        fail("the runs did not get different k")
    print(f"ok: campaign of 4 runs dispersing d3.k (tunable) and d3.x0 (fixed): final x analytic in each")
    # An FMU output takes no initial value: the plan refuses to disperse it,
    # naming the line (it would run the same case every time), and so does --set.
    bad = os.path.join(tmp, "bad_campaign.yaml")
    open(bad, "w").write(f"base: {cfg}\nruns: 2\nseed: 1\nend_time: 1\ndispersions:\n"
                         f"  - signal: d3.x\n    uniform: {{low: 1, high: 2}}\n")
    r = subprocess.run([hermes, "campaign", "plan", bad, os.path.join(tmp, "bad")], capture_output=True, text=True,
                       timeout=60)
    if r.returncode == 0 or f"{bad}:6:13: dispersions[0]: signal 'd3.x' is an FMU output" not in r.stderr:
        fail(f"dispersing an FMU output: exit {r.returncode}, {r.stderr[-1000:]}")
    r = subprocess.run([hermes, "run", cfg, "--no-server", "--set", "d2.x=5"], capture_output=True, text=True,
                       timeout=60)
    if r.returncode == 0 or "d2.x is an FMU output" not in r.stderr:
        fail(f"--set of an FMU output: exit {r.returncode}, {r.stderr[-1000:]}")
    print("ok: an FMU output is refused as a dispersion (FILE:LINE:COL) and by --set")


def main():
    hermes, fmu3, fmu2 = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    tmp = tempfile.mkdtemp(prefix="hermes-test-fmu-runs-")
    try:
        cfg = os.path.join(tmp, "fmu.yaml")
        config(cfg, fmu3, fmu2)
        check_unattended(hermes, cfg, tmp)
        check_rerun(hermes, cfg, tmp)
        check_campaign(hermes, cfg, tmp)
        check_terminate(hermes, cfg, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
