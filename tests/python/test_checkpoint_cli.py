"""`hermes run --checkpoint/--checkpoint-at/--restore` as a user runs them
(issue 21): the launch demo run straight with --record, run again taking a
checkpoint at t = 7 s, then restored with --record: its recording starts at
the checkpoint's frame and every model signal equals the straight run's bit
for bit from there on (the hermes.* timing signals excepted). A restore with
--set applies the value over the restored state. Several --checkpoint-at
times write one file each into a folder.
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
