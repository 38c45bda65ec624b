#!/usr/bin/python3
"""check_campaign_h5.py RESULTS.h5 RESULTS.csv: the HDF5 table written by
`hermes campaign collect` equals the CSV row for row, bit for bit (the CSV
prints doubles with %.17g, which parses back exactly). Exit 0 or 1."""
import csv, math, struct, sys

import h5py
import numpy as np

TEXT = ("status", "end_reason", "error")
UINT = ("index", "seed")

h5path, csvpath = sys.argv[1], sys.argv[2]
with open(csvpath, newline="") as fh:
    rows = list(csv.reader(fh))
header, rows = rows[0], rows[1:]
bad = []
with h5py.File(h5path, "r") as f:
    names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["columns"]]
    want = [h.replace(":", "/", 1) for h in header]
    if names != want:
        bad.append(f"columns attribute {names} != CSV header {want}")
    if int(f.attrs["runs"]) != len(rows):
        bad.append(f"runs attribute {f.attrs['runs']} != {len(rows)} rows")
    for a in ("campaign_seed", "runs", "format_version"):
        if f.attrs[a].dtype != np.uint64:
            bad.append(f"attribute {a} is {f.attrs[a].dtype}, not uint64")
    for a in ("base", "hermes_version", "format"):
        if not isinstance(f.attrs[a], str) or not f.attrs[a]:
            bad.append(f"attribute {a} is {f.attrs[a]!r}, not a non-empty string")
    if f.attrs["format"] != "hermes-campaign-results":
        bad.append(f"format {f.attrs['format']!r}")
    for k, (h, name) in enumerate(zip(header, want)):
        ds = f[name]
        if ds.shape != (len(rows),):
            bad.append(f"{name}: shape {ds.shape}")
            continue
        if h in TEXT:
            info = h5py.check_string_dtype(ds.dtype)
            if info is None or info.encoding != "utf-8" or info.length is not None:
                bad.append(f"{name}: {ds.dtype} is not a variable-length UTF-8 string")
                continue
            got = list(ds.asstr()[:])
            for i, r in enumerate(rows):
                if got[i] != r[k]:
                    bad.append(f"{name}[{i}]: {got[i]!r} != {r[k]!r}")
        elif h in UINT:
            if ds.dtype != np.uint64:
                bad.append(f"{name}: {ds.dtype}, not uint64")
            got = ds[:]
            for i, r in enumerate(rows):
                if int(got[i]) != int(r[k]):
                    bad.append(f"{name}[{i}]: {got[i]} != {r[k]}")
        else:
            if ds.dtype != np.float64:
                bad.append(f"{name}: {ds.dtype}, not float64")
            got = ds[:]
            for i, r in enumerate(rows):
                g = float(got[i])
                if r[k] == "":
                    ok = math.isnan(g)
                else:
                    ok = struct.pack("<d", g) == struct.pack("<d", float(r[k]))
                if not ok:
                    bad.append(f"{name}[{i}]: {g!r} != {r[k]!r}")
for b in bad[:20]:
    print(b)
print(f"{len(rows)} rows, {len(header)} columns: {'ok' if not bad else f'{len(bad)} mismatches'}")
sys.exit(1 if bad else 0)
