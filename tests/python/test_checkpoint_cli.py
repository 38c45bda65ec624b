"""`hermes run --checkpoint/--checkpoint-at/--restore` as a user runs them
(issue 21): the launch demo run straight with --record, run again taking a
checkpoint at t = 7 s, then restored with --record: its recording starts at
the checkpoint's frame and every model signal equals the straight run's bit
for bit from there on (the hermes.* timing signals excepted). A restore with
--set applies the value over the restored state. Several --checkpoint-at
times write one file each into a folder. A checkpoint taken by a client's
checkpoint command while a realtime run goes on restores bit for bit too.
Usage: test_checkpoint_cli.py HERMES_EXE LAUNCH_YAML"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERMES, CFG = sys.argv[1], sys.argv[2]
BASE = [HERMES, "run", CFG, "--no-server", "--mode", "afap", "--end-time", "15", "--quiet"]


def run(*args, ok=True):
    r = subprocess.run(BASE + list(args), capture_output=True, text=True, timeout=120)
    if ok and r.returncode != 0:
        sys.exit(f"FAIL: hermes {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def columns(path):
    with h5py.File(path) as f:
        names = [n[0].decode() for n in f["signals"][:]]
        return f["frame"][:], f["data"][:].view(np.uint64), names


with tempfile.TemporaryDirectory() as d:
    a, b, ck = os.path.join(d, "a.h5"), os.path.join(d, "b.h5"), os.path.join(d, "t7.hckpt")
    run("--record", a)
    run("--checkpoint", ck, "--checkpoint-at", "7")
    run("--restore", ck, "--record", b)
    fa, da, names = columns(a)
    fb, db, names_b = columns(b)
    assert names == names_b
    assert fb[0] == 700 and fb[-1] == 1500 and len(fb) == 801, (fb[0], fb[-1], len(fb))
    model = [i for i, n in enumerate(names) if not n.startswith("hermes.")]
    i0 = int(np.nonzero(fa == 700)[0][0])
    diff = np.nonzero((da[i0:, model] != db[:, model]).any(axis=1))[0]
    assert diff.size == 0, f"restored run differs from frame {fb[diff[0]]}"
    print(f"ok - restored recording: frames 700..1500, {len(model)} model signals bit-identical")

    # --set after the restore: the value holds from the checkpoint's frame.
    c = os.path.join(d, "c.h5")
    run("--restore", ck, "--record", c, "--set", "commands.pitch_final=40")
    fc, dc, _ = columns(c)
    k = names.index("commands.pitch_final")
    assert dc[0, k] == np.float64(40).view(np.uint64), "the --set value was not applied after the restore"
    print("ok - --set applies over the restored state")

    # Several times: one file per time in a folder; a folder is required.
    folder = os.path.join(d, "many")
    os.mkdir(folder)
    run("--checkpoint", folder, "--checkpoint-at", "2,5.5")
    assert sorted(os.listdir(folder)) == ["checkpoint-200.hckpt", "checkpoint-550.hckpt"], os.listdir(folder)
    r = run("--checkpoint", os.path.join(d, "nofolder"), "--checkpoint-at", "1,2", ok=False)
    assert r.returncode == 2 and "must be an existing folder" in r.stderr, r.stderr
    r = run("--restore", os.path.join(d, "missing.hckpt"), ok=False)
    assert r.returncode == 4 and "cannot open checkpoint" in r.stderr, r.stderr
    print("ok - several times, bad command lines")

# A checkpoint taken by a client command while the run goes on in realtime:
# restored and recorded, every model signal equals the straight run's from the
# checkpoint's frame (its name says which: checkpoint-FRAME-N.hckpt).
import asyncio  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

import websockets  # noqa: E402

from rig import wait_port  # noqa: E402


async def take_checkpoint(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}", subprotocols=["hermes"]) as ws:
        await ws.send(json.dumps({"action": "checkpoint"}))
        end = time.monotonic() + 20
        while time.monotonic() < end:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, bytes):
                continue
            reply = json.loads(msg)
            if reply.get("type") == "error":
                sys.exit(f"FAIL: checkpoint: {reply['message']}")
            if reply.get("type") == "ack" and reply.get("action") == "checkpoint":
                return reply["file"]
        sys.exit("FAIL: no checkpoint ack")


with tempfile.TemporaryDirectory() as d:
    a, c = os.path.join(d, "a.h5"), os.path.join(d, "c.h5")
    run("--record", a)
    log = os.path.join(d, "rt.log")
    with open(log, "w") as lf:
        p = subprocess.Popen([HERMES, "run", CFG, "--port", "0", "--mode", "realtime", "--end-time", "15",
                              "--checkpoint-dir", d], stderr=lf, stdout=lf)
    try:
        port = wait_port(log, p, what="hermes run")
        time.sleep(1.0)  # running, in realtime
        name = asyncio.run(take_checkpoint(port))
    finally:
        p.terminate()
        p.wait(timeout=30)
    frame = int(re.match(r"checkpoint-(\d+)-1\.hckpt$", name).group(1))
    assert 0 < frame < 1500, name
    run("--restore", os.path.join(d, name), "--record", c)
    fa, da, names = columns(a)
    fc, dc, _ = columns(c)
    assert fc[0] == frame and fc[-1] == 1500, (fc[0], fc[-1])
    model = [i for i, n in enumerate(names) if not n.startswith("hermes.")]
    i0 = int(np.nonzero(fa == frame)[0][0])
    assert (da[i0:, model] == dc[:, model]).all(), "the restored run differs from the straight one"
    print(f"ok - a client's checkpoint of a realtime run at frame {frame} restores bit for bit")
