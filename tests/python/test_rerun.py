#!/usr/bin/python3
"""Exact rerun, end to end: a realtime `hermes run` of the launch demo is
driven by a scripted WebSocket client (sets, pauses, steps, a reset, at
irregular times) and recorded; `hermes run --rerun` replays its journal as
fast as possible into a second recording; the two files' data must be
bit-identical (the hermes.* timing signals excepted: they measure wall time).
A config that differs from the recorded one is refused with exit status 3.

With NODE CHECK_MCAP_JS H5_DUMP_PY (issue 23) the driven run also records an
MCAP file, which the reference reader (tests/mcap/check_mcap.js) compares with
its HDF5 recording: the 14 journal entries, the events (pauses, steps, a reset)
and every value, bit for bit.

usage: test_rerun.py HERMES LAUNCH_YAML [NODE CHECK_MCAP_JS H5_DUMP_PY]
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import websockets

from rig import cmd, fail, wait_port


async def drive(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/", subprotocols=["hermes"], max_size=2**24) as ws:
        schema = json.loads(await ws.recv())
        assert schema["type"] == "schema"
        await asyncio.sleep(0.37)
        await cmd(ws, "set", signal="commands.throttle", value=0.8)
        await asyncio.sleep(0.21)
        await cmd(ws, "pause")
        await asyncio.sleep(0.13)
        await cmd(ws, "set", signal="commands.pitch_final", value=31.5)
        await cmd(ws, "step", count=7)
        await asyncio.sleep(0.11)
        await cmd(ws, "step", count=3)
        await asyncio.sleep(0.05)
        await cmd(ws, "set", signal="commands.throttle", value=0.63)
        await cmd(ws, "resume")
        await asyncio.sleep(0.43)
        await cmd(ws, "set", signal="commands.kick_altitude", value=1500.0)
        await asyncio.sleep(0.29)
        await cmd(ws, "reset")
        await cmd(ws, "set", signal="commands.throttle", value=0.9)
        await cmd(ws, "step", count=11)
        await asyncio.sleep(0.17)
        await cmd(ws, "resume")
        await asyncio.sleep(0.31)
        await cmd(ws, "pause")
        await asyncio.sleep(0.07)
        await cmd(ws, "resume")
        # then the run reaches its end_time by itself


def load(path):
    f = h5py.File(path, "r")
    names = [n.decode() for n in f["signals"]["name"]]
    keep = [k for k, n in enumerate(names) if not n.startswith("hermes.")]
    data = f["data"][:][:, keep]
    journal = f["journal"][:]
    return f, [names[k] for k in keep], data, f["frame"][:], f["tick"][:], journal


def main():
    hermes, launch = sys.argv[1], os.path.abspath(sys.argv[2])
    mcap = sys.argv[3:6] if len(sys.argv) >= 6 else None
    tmp = tempfile.mkdtemp(prefix="hermes-test-rerun-")
    try:
        a, b = os.path.join(tmp, "a.h5"), os.path.join(tmp, "b.h5")
        log = os.path.join(tmp, "a.log")
        with open(log, "w") as lf:
            extra = ["--record", os.path.join(tmp, "a.mcap")] if mcap else []
            proc = subprocess.Popen([hermes, "run", launch, "--mode", "realtime", "--end-time", "4",
                                     "--port", "0", "--record", a] + extra, stdout=lf, stderr=lf)
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

        blog = os.path.join(tmp, "b.log")
        t0 = time.monotonic()
        with open(blog, "w") as lf:
            rc = subprocess.run([hermes, "run", launch, "--rerun", a, "--record", b, "--no-server"],
                                stdout=lf, stderr=lf, timeout=60).returncode
        took = time.monotonic() - t0
        if rc != 0:
            fail(f"rerun exited {rc}: {open(blog).read()[-2000:]}")
        fa, na, da, fra, ta, ja = load(a)
        fb, nb, db, frb, tb, jb = load(b)
        if na != nb:
            fail("signal lists differ")
        if len(ja) != 14:
            fail(f"journal of the recorded run has {len(ja)} entries, expected 14: {ja}")
        if not np.array_equal(ja, jb):
            fail(f"journals differ:\n{ja}\n{jb}")
        if not np.array_equal(fra, frb) or not np.array_equal(ta, tb):
            fail(f"frame/tick series differ ({len(fra)} vs {len(frb)} rows)")
        if da.shape != db.shape or da.tobytes() != db.tobytes():
            diff = np.nonzero(da.view(np.uint64) != db.view(np.uint64))
            fail(f"data differ: {da.shape} vs {db.shape}; first difference at row {diff[0][:1]}, "
                 f"signal {[na[k] for k in diff[1][:1]]}")
        resets = int(np.count_nonzero(fra == 0))
        if resets != 2:
            fail(f"expected frame 0 twice (stage and reset), got {resets}")
        print(f"ok: {len(fra)} frames, {len(na)} signals, {len(ja)} journal entries bit-identical; "
              f"rerun took {took:.2f} s (recorded run {fa.attrs['mode']}, rerun of it afap)")

        if mcap:
            node, check_js, dump_py = mcap
            dump = os.path.join(tmp, "a.json")
            r = subprocess.run([sys.executable, dump_py, a, dump], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                fail(f"h5_dump: {r.stderr[-1500:]}")
            r = subprocess.run([node, check_js, os.path.join(tmp, "a.mcap"), dump, '{"compression":"zstd"}'],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                fail(f"the MCAP file of the driven run: {r.stderr[-2000:]}")
            print("ok: MCAP file of the driven run equal to its HDF5 recording:", r.stdout.strip())

        # A config that differs from the recorded run's is refused, saying what differs.
        text = open(launch).read()
        d = os.path.dirname(launch)
        for rel in ("./libguidance.so", "./vehicle_proc", "./vehicle.conf"):
            text = text.replace(rel, os.path.join(d, rel[2:]))
        text = text.replace("{name: throttle, type: f64, writable: true, initial: 1.0}",
                            "{name: throttle, type: f64, writable: true, initial: 0.5}")
        other = os.path.join(tmp, "other.yaml")
        open(other, "w").write(text)
        r = subprocess.run([hermes, "run", other, "--rerun", a, "--no-server"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 3 or "commands.throttle" not in r.stderr or "starts at 1 in the recording" not in r.stderr:
            fail(f"mismatching config: exit {r.returncode}, stderr {r.stderr[-1500:]}")
        print("ok: a differing config is refused:", r.stderr.strip().splitlines()[-1][-160:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
