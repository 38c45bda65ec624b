#!/usr/bin/python3
"""Read a Hermes recording back with h5py and check it against what the test
module of tests/test_record.c wrote: the value of each signal at published
frame P is a formula of P (see gen_step there).

usage: check_recording.py FILE.h5 SPEC_JSON
SPEC keys: rows (expected row count), every (decimation), frames (optional
explicit frame list), present (signals "module/name" that must be recorded:
rows of /signals, values in the /data column), absent (signals or modules
that must not be), swmr (open with swmr=True, for files of killed runs),
min_last_frame (the last frame must be at least this).
Exit status 0 when everything matches; the first mismatch is printed.
"""
import json
import sys

import h5py
import numpy as np

FORMULAS = {
    "gen/x.f64": lambda p: p * 0.5 + 0.25,
    "gen/v_f32": lambda p: np.float64(np.float32(p * 0.125)),
    "gen/v_i64": lambda p: float(p * 1000003 - 7),
    "gen/v_i32": lambda p: float(-(p * 3)),
    "gen/v_bool": lambda p: float(p % 2),
}
TYPES = {"gen/x.f64": "f64", "gen/v_f32": "f32", "gen/v_i64": "i64", "gen/v_i32": "i32", "gen/v_bool": "bool"}


def fail(msg):
    print("check_recording: " + msg)
    sys.exit(1)


def main():
    path, spec = sys.argv[1], json.loads(sys.argv[2])
    if spec.get("swmr"):
        f = h5py.File(path, "r", libver="latest", swmr=True)
    else:
        f = h5py.File(path, "r")
    frames = f["frame"][:]
    n = min(len(frames), len(f["time"]), f["data"].shape[0])
    frames = frames[:n]
    if "rows" in spec and n != spec["rows"]:
        fail(f"{n} rows, expected {spec['rows']}")
    if "frames" in spec and list(frames) != spec["frames"]:
        fail(f"frames {list(frames)[:20]} ..., expected {spec['frames'][:20]} ...")
    every = spec.get("every", 1)
    if "frames" not in spec:
        want = np.arange(0, n * every, every, dtype=np.uint64)
        if not np.array_equal(frames, want):
            fail(f"frame series {frames[:10]} ..., expected multiples of {every}")
    if "min_last_frame" in spec and (n == 0 or int(frames[-1]) < spec["min_last_frame"]):
        fail(f"last frame {int(frames[-1]) if n else None} < {spec['min_last_frame']}")
    rate = float(f.attrs["rate_hz"])
    times = f["time"][:n]
    if not np.array_equal(times, frames.astype(np.float64) / rate):
        fail("time series is not frame / rate_hz")
    if int(f.attrs["format_version"]) >= 2:
        for k in f:
            if isinstance(f[k], h5py.Group):
                fail(f"layout 2 has no per-signal groups, found /{k}")
    sig = f["signals"][:]
    cols = {row["name"].decode(): k for k, row in enumerate(sig)}
    qual = lambda name: name.replace("/", ".", 1)
    for name in spec.get("present", []):
        if qual(name) not in cols:
            fail(f"signal {name} missing (have {sorted(cols)[:20]})")
        k = cols[qual(name)]
        typ = sig[k]["type"].decode()
        if name in TYPES and typ != TYPES[name]:
            fail(f"{name}: type {typ!r}, expected {TYPES[name]!r}")
        if name in FORMULAS:
            got = f["data"][:n, k]
            want = np.array([FORMULAS[name](int(p)) for p in frames], dtype=np.float64)
            if not np.array_equal(got, want):
                bad = int(np.nonzero(got != want)[0][0])
                fail(f"{name} row {bad} (frame {frames[bad]}): {got[bad]!r}, expected {want[bad]!r}")
    for name in spec.get("absent", []):
        q = qual(name)
        if q in cols or any(c.startswith(q + ".") for c in cols):
            fail(f"{name} should not be recorded")
    unit = spec.get("unit")
    if unit and sig[cols[qual(unit[0])]]["unit"].decode() != unit[1]:
        fail(f"{unit[0]} unit {sig[cols[qual(unit[0])]]['unit']!r}, expected {unit[1]!r}")
    for key in spec.get("attrs", []):
        if key not in f.attrs:
            fail(f"root attribute {key} missing (have {sorted(f.attrs)})")
    print(f"ok: {path}: {n} rows, last frame {int(frames[-1]) if n else None}")


main()
