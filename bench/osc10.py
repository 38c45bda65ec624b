"""Benchmark process module on the hermes package: the twin of bench/osc10.c."""
import hermes

with hermes.Module() as m:
    s = m.signals(*[f"s{i}" for i in range(10)])
    k = [(i + 1, x) for i, x in enumerate(s)]
    for step in m.steps():
        dt = step.dt
        for c, x in k:
            x.value += c * dt
