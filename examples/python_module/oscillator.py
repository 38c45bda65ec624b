#!/usr/bin/env python3
"""A model written in Python as a Hermes process module: a damped spring-mass
oscillator, x'' = -k/m x - c/m v + f/m, semi-implicit Euler. Its parameters come
from the module's config file (python_module/oscillator.conf, `key = value`
lines); its force input is wired from an injection module a client can set.
"""
import os
import sys

try:
    import hermes
except ImportError:  # from the source tree, without `pip install ./python`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import hermes


def read_params(path):
    p = {"k": 4.0, "c": 0.2, "mass": 1.0}
    if path:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition("=")
                if value.strip():
                    p[key.strip()] = float(value)
    return p


with hermes.Module() as m:
    p = read_params(m.config_path)
    x, v, force, energy = m.signals("x", "v", "force", "energy")
    # checkpointable (docs/checkpoints.md): the whole state is in the signals,
    # which Hermes saves itself, so there is nothing more to save or load
    m.state(save=lambda: b"", load=lambda data: None)
    for step in m.steps():
        a = (-p["k"] * x.value - p["c"] * v.value + force.value) / p["mass"]
        v.value += a * step.dt
        x.value += v.value * step.dt
        energy.value = 0.5 * p["mass"] * v.value ** 2 + 0.5 * p["k"] * x.value ** 2
