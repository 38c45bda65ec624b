"""Benchmark baseline: bench/osc10.py with the per-frame path of hermes 0.1's
Module.steps() (the wait through argtypes conversion, a new Step each frame),
so bench_python.py prints the before and after figures in one run."""
import ctypes

import hermes


class OldStep:
    __slots__ = ("frame", "dt", "time")

    def __init__(self, frame, dt, base_rate_hz):
        self.frame = frame
        self.dt = dt
        self.time = frame / base_rate_hz if base_rate_hz > 0 else frame * dt


def old_steps(m):
    wait, h, fr, dt = m._lib.hermes_module_wait, m._h, m._frame, m._dt
    rf, rd = ctypes.byref(fr), ctypes.byref(dt)
    while True:
        cmd = wait(h, rf, rd)
        if cmd == hermes.module.STEP:
            m._answered = False
            yield OldStep(fr.value, dt.value, m.base_rate_hz)
            continue
        if cmd <= 0 or cmd == hermes.module.TERMINATE:
            m._answered = True
            return
        m._answered = False


def body(steps, k):
    for step in steps:
        dt = step.dt
        for c, x in k:
            x.value += c * dt


if __name__ == "__main__":
    with hermes.Module() as m:
        s = m.signals(*[f"s{i}" for i in range(10)])
        body(old_steps(m), [(i + 1, x) for i, x in enumerate(s)])
