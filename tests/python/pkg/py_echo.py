"""Test module on the hermes package: same behaviour as `proc_module echo`
(out = in * 2 + frame, counters of the commands it got), plus modes:
  raise N   raise ValueError at frame N (a module failure naming the traceback's last line)
  seed      write the run's seed (or -1) to `seed` and the config path's length to `cfg`
  finish N  end the run normally after its step of frame N (Module.finish)
"""
import os
import sys

import hermes

mode = sys.argv[1] if len(sys.argv) > 1 else "echo"
with hermes.Module() as m:
    inp, out, pid, steps, stages, resets, last_frame, last_dt = m.signals(
        "in", "out", "pid", "steps", "stages", "resets", "last_frame", "last_dt")
    pid.value = os.getpid()

    def staged(mod):
        stages.value = mod.stages
        resets.value = mod.resets
        if mode == "seed":
            mod.signal("seed").value = -1 if mod.seed is None else mod.seed % 1000003
            mod.signal("cfg").value = len(mod.config_path or "")

    m.on_stage = staged
    m.on_reset = staged
    try:
        last_time = m.signal("last_time")
    except KeyError:
        last_time = None
    n = 0
    for step in m.steps():
        n += 1
        if mode == "raise" and step.frame == int(sys.argv[2]):
            raise ValueError(f"bad value at frame {step.frame}")
        out.value = inp.value * 2.0 + step.frame
        steps.value = n
        last_frame.value = step.frame
        last_dt.value = step.dt
        if last_time is not None:
            last_time.value = step.time
        if mode == "finish" and step.frame == int(sys.argv[2]):
            m.finish(f"done at frame {step.frame}")
