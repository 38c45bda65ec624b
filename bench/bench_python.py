#!/usr/bin/python3
"""Benchmark (issue 22): AFAP frames/s of a Python process module with 10 signals
(bench/osc10.py on the hermes package) vs the same module in C (bench/osc10.c),
in one run, and client decode throughput of 1,000-signal HERT frames (reference:
numpy.frombuffer in the same run). Prints figures, asserts nothing.

Also the module loop's own per-frame cost without the process handshake: both
loops over bench/wait_stub.c (a hermes_module_wait() stand-in answering at once).

usage: bench_python.py SRC_ROOT HERMES_EXE LIBHERMES OSC10_C BUILD_TYPE WAIT_STUB [FRAMES]
"""
import os
import re
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
    """Wall time of the run itself (the CLI's summary line: start-up and exit
    excluded, so short C runs are not lost in process start-up noise)."""
    path = os.path.join(tmp, "b.yaml")
    with open(path, "w") as f:
        f.write(cfg_text)
    out = subprocess.run([hermes_exe, "run", path, "--no-server"], check=True, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"event=summary .*?wall_time=([0-9.]+)", out)
    if not m:
        raise SystemExit("bench_python: no summary line in the output of hermes run:\n" + out[-2000:])
    return float(m.group(1))


def loop_cost(src, stub, lib):
    """ns per frame of the Python side alone: the 0.1 loop and today's, same body."""
    import ctypes
    os.environ["HERMES_LIB"] = lib
    sys.path.insert(0, os.path.join(src, "bench"))
    import hermes
    import osc10_v01
    so = ctypes.CDLL(stub)
    so.stub_reset.argtypes = [ctypes.c_uint64]
    so.stub_reset.restype = None
    old_wait = so.stub_wait
    old_wait.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_double)]
    old_wait.restype = ctypes.c_int
    raw_wait = so._FuncPtr(("stub_wait", so))
    raw_wait.restype = ctypes.c_int

    def fake_module(wait):
        m = hermes.Module.__new__(hermes.Module)   # no orchestrator: only what the loops use
        m._lib = type("L", (), {"hermes_module_wait": wait})()
        m._wait_raw, m._h = wait, ctypes.c_void_p()
        m._frame, m._dt = ctypes.c_uint64(), ctypes.c_double()
        m.base_rate_hz, m.on_stage, m.on_reset, m.stages, m.resets = 1000.0, None, None, 0, 0
        return m
    slots = (ctypes.c_double * 10)()
    k = [(i + 1, hermes.Signal.from_address(ctypes.addressof(slots) + 8 * i)) for i in range(10)]
    n, res = 200000, {"old": [], "now": [], "body": []}
    for _ in range(5):
        for name in res:
            so.stub_reset(n)
            t0 = time.perf_counter()
            if name == "old":
                osc10_v01.body(osc10_v01.old_steps(fake_module(old_wait)), k)
            elif name == "now":
                osc10_v01.body(fake_module(raw_wait).steps(), k)
            else:  # the body alone over a prepared list of steps: the user's part
                osc10_v01.body([hermes.Step(0, 0.001)] * n, k)
            res[name].append((time.perf_counter() - t0) / n * 1e9)
    old, now, body = (statistics.median(res[x]) for x in ("old", "now", "body"))
    print(f"  module loop alone (wait stub, no handshake), same 10-signal body: hermes 0.1 loop "
          f"{old:.0f} ns/frame, now {now:.0f} ns/frame; the body alone {body:.0f} ns "
          f"(loop overhead {old - body:.0f} -> {now - body:.0f} ns/frame; medians of 5)")


def main():
    src, hermes_exe, lib, osc_c, build = sys.argv[1:6]
    stub = sys.argv[6]
    frames = int(sys.argv[7]) if len(sys.argv) > 7 else 300000
    pkg = os.path.join(src, "python")
    sys.path.insert(0, pkg)
    env = dict(os.environ, HERMES_LIB=os.path.abspath(lib), PYTHONPATH=pkg)
    print(f"bench_python: build type {build}, python {sys.version.split()[0]}, {frames} frames at 1 kHz afap")
    # frames/s from the run's own wall time (the CLI summary, start-up excluded).
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
                rates[i].append(frames / max(afap(hermes_exe, config(exe, args, frames), env, tmp), 1e-9))
    med = [statistics.median(r) for r in rates]
    for (label, _, _), m, r in zip(variants, med, rates):
        print(f"  {label + ', 10 signals:':52s} {m:10.0f} frames/s (median of {rounds}; "
              f"min {min(r):.0f}, max {max(r):.0f})")
    for (label, _, _), i in ((variants[1], 1), (variants[2], 2)):
        ratio = statistics.median(p / c for p, c in zip(rates[i], rates[0]))
        print(f"  {label}: Python / C = {ratio:.2f}x (median of per-round ratios; target >= 0.5x)")

    loop_cost(src, stub, os.path.abspath(lib))

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
