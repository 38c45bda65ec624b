#!/usr/bin/python3
"""Benchmark (issue 22): AFAP frames/s of a Python process module with 10 signals
(bench/osc10.py on the hermes package) vs the same module in C (bench/osc10.c),
in one run, and client decode throughput of 1,000-signal HERT frames (reference:
numpy.frombuffer in the same run). Prints figures, asserts nothing.

usage: bench_python.py SRC_ROOT HERMES_EXE LIBHERMES OSC10_C BUILD_TYPE [FRAMES]
"""
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time


def config(exe, args, frames):
    sigs = "\n".join(f"      - {{name: s{i}, type: f64}}" for i in range(10))
    argl = ", ".join(f'"{a}"' for a in args)
    return f"""version: "0.2"
modules:
  osc:
    type: process
    executable: {exe}
    args: [{argl}]
    signals:
{sigs}
execution:
  mode: afap
  rate_hz: 1000.0
  end_time: {frames / 1000.0}
  schedule: [osc]
"""


def afap(hermes_exe, cfg_text, env, tmp):
    path = os.path.join(tmp, "b.yaml")
    with open(path, "w") as f:
        f.write(cfg_text)
    t0 = time.perf_counter()
    subprocess.run([hermes_exe, "run", path, "--no-server", "--quiet"], check=True, env=env)
    return time.perf_counter() - t0


def main():
    src, hermes_exe, lib, osc_c, build = sys.argv[1:6]
    frames = int(sys.argv[6]) if len(sys.argv) > 6 else 100000
    pkg = os.path.join(src, "python")
    sys.path.insert(0, pkg)
    env = dict(os.environ, HERMES_LIB=os.path.abspath(lib), PYTHONPATH=pkg)
    print(f"bench_python: build type {build}, python {sys.version.split()[0]}, {frames} frames at 1 kHz afap")
    # start-up cancels out: frames/s from a short and a long run of the same module.
    # The machine may be shared: the variants run interleaved, ROUNDS times, and
    # the medians are printed.
    rounds = 5
    variants = [("C process module (reference)", os.path.abspath(osc_c), []),
                ("Python module, hermes 0.1 loop (before)", sys.executable,
                 [os.path.join(src, "bench", "osc10_v01.py")]),
                ("Python module, hermes package (now)", sys.executable,
                 [os.path.join(src, "bench", "osc10.py")])]
    rates = [[] for _ in variants]
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for i, (_, exe, args) in enumerate(variants):
                short = afap(hermes_exe, config(exe, args, frames // 10), env, tmp)
                long = afap(hermes_exe, config(exe, args, frames), env, tmp)
                rates[i].append((frames - frames // 10) / max(long - short, 1e-9))
    med = [statistics.median(r) for r in rates]
    for (label, _, _), m, r in zip(variants, med, rates):
        print(f"  {label + ', 10 signals:':52s} {m:10.0f} frames/s (median of {rounds}; "
              f"min {min(r):.0f}, max {max(r):.0f})")
    for (label, _, _), i in ((variants[1], 1), (variants[2], 2)):
        ratio = statistics.median(p / c for p, c in zip(rates[i], rates[0]))
        print(f"  {label}: Python / C = {ratio:.2f}x (median of per-round ratios; target >= 0.5x)")

    import hermes
    import numpy as np
    n, count = 1000, 5000
    buf = struct.pack(f"<IQdI{n}d", 0x48455254, 42, 0.42, n, *[float(i) for i in range(n)])
    names = [f"m.s{i}" for i in range(n)]
    index = {k: i for i, k in enumerate(names)}
    t0 = time.perf_counter()
    for _ in range(count):
        fr, t, vals = hermes.decode_frame(buf)
        f = hermes.Frame(fr, t, vals, names, index)
    t_dec = time.perf_counter() - t0
    assert f["m.s999"] == 999.0
    t0 = time.perf_counter()
    for _ in range(count):
        a = np.frombuffer(buf, dtype="<f8", offset=24)
    t_np = time.perf_counter() - t0
    assert a[999] == 999.0
    print(f"  client decode, 1,000-signal frames: {count / t_dec:10.0f} frames/s "
          f"({count * n / t_dec / 1e6:.1f} M values/s); numpy.frombuffer reference {count / t_np:10.0f} frames/s")


if __name__ == "__main__":
    main()
