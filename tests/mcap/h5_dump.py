#!/usr/bin/python3
"""Dump a Hermes HDF5 recording as JSON with exact numbers, for the MCAP
checker (check_mcap.js): every f64 as the hex of its 8 little-endian bytes,
so the comparison with the MCAP messages is bit for bit.

usage: h5_dump.py FILE.h5 OUT.json [--swmr]
Output keys: signals [{name, type, unit}], rows, frame, tick, time (hex),
data (one list of hex per column), events, journal, attrs (strings).
"""
import json
import struct
import sys

import h5py


def hexd(v):
    return struct.pack("<d", float(v)).hex()


def text(v):
    return v.decode("utf-8", "replace").rstrip("\0") if isinstance(v, bytes) else str(v)


def main():
    path, out = sys.argv[1], sys.argv[2]
    swmr = "--swmr" in sys.argv[3:]
    f = h5py.File(path, "r", libver="latest", swmr=True) if swmr else h5py.File(path, "r")
    n = min(len(f["frame"]), len(f["time"]), len(f["tick"]), f["data"].shape[0])
    sigs = f["signals"][:]
    data = f["data"][:n, :]
    doc = {
        "signals": [{"name": text(s["name"]), "type": text(s["type"]), "unit": text(s["unit"])} for s in sigs],
        "rows": int(n),
        "frame": [int(x) for x in f["frame"][:n]],
        "tick": [int(x) for x in f["tick"][:n]],
        "time": [hexd(x) for x in f["time"][:n]],
        "data": [[hexd(x) for x in data[:, k]] for k in range(data.shape[1])],
        "events": [{"tick": int(e["tick"]), "frame": int(e["frame"]), "event": text(e["event"]),
                    "detail": text(e["detail"])} for e in f["events"][:]],
        "journal": [{"tick": int(j["tick"]), "frame": int(j["frame"]), "action": text(j["action"]),
                     "signal": text(j["signal"]), "value": hexd(j["value"]), "count": int(j["count"])}
                    for j in f["journal"][:]],
        "attrs": {k: text(v) for k, v in f.attrs.items() if isinstance(v, (bytes, str))},
    }
    doc["attrs"]["rate_hz"] = float(f.attrs["rate_hz"])
    with open(out, "w") as o:
        json.dump(doc, o)


if __name__ == "__main__":
    main()
