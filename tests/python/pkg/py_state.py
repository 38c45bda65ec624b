"""Test module with state kept outside its signals (an integrator and a random
generator), declared with m.state() for checkpoints. At terminate it writes its
final values (float.hex, bit for bit) to argv[1].
  argv[2]: "ok", "save_raises" (save() raises), "load_raises" (load() raises)
"""
import pickle
import random
import sys

import hermes

out_path, mode = sys.argv[1], sys.argv[2]
with hermes.Module() as m:
    u, x, y = m.signals("u", "x", "y")
    rng = random.Random(12345)
    acc = [0.0, 0]

    def save():
        if mode == "save_raises":
            raise RuntimeError("cannot save the integrator now")
        return pickle.dumps((acc, rng.getstate()))

    def load(data):
        if mode == "load_raises":
            raise RuntimeError("refusing this state")
        a, st = pickle.loads(data)
        acc[:] = a
        rng.setstate(st)

    m.state(save=save, load=load)
    last = -1
    for step in m.steps():
        acc[0] += (u.value + rng.gauss(0.0, 1.0)) * step.dt
        acc[1] += 1
        x.value = acc[0]
        y.value = y.value * 0.99 + acc[0] * step.dt
        last = step.frame
    with open(out_path, "w") as f:
        f.write(" ".join([x.value.hex(), y.value.hex(), acc[0].hex(), rng.random().hex(), str(last)]) + "\n")
