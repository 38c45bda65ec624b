"""examples/python_module runs as documented and its model behaves (energy decays); a
checkpoint of it restored and recorded gives the straight run's rows bit for bit."""
import os

import hermes
from conftest import run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


def test_python_module_example(tmp_path, hermes_exe):
    rec = tmp_path / "osc.h5"
    cfg = os.path.join(ROOT, "examples", "python_module", "oscillator.yaml")
    r = run(hermes_exe, cfg, "--mode", "afap", "--no-server", "--quiet", "--end-time", "5", "--record", str(rec))
    assert r.returncode == 0, r.stderr
    with hermes.Recording(str(rec)) as h:
        e = h["osc.energy"]
        assert h["osc.x"][0] == 1.0 and h.units["osc.x"] == "m"
        assert 0 < e[-1] < e[1]


def test_python_module_example_restored(tmp_path, hermes_exe):
    import numpy as np
    cfg = os.path.join(ROOT, "examples", "python_module", "oscillator.yaml")
    common = ("--mode", "afap", "--no-server", "--quiet", "--end-time", "5")
    straight, restored, ck = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "osc.hckpt"
    r = run(hermes_exe, cfg, *common, "--record", str(straight), "--checkpoint", str(ck), "--checkpoint-at", "2.5")
    assert r.returncode == 0, r.stderr
    r = run(hermes_exe, cfg, *common, "--restore", str(ck), "--record", str(restored))
    assert r.returncode == 0, r.stderr
    with hermes.Recording(str(straight)) as a, hermes.Recording(str(restored)) as b:
        assert b.frame[0] >= 250 and b.frame[-1] == a.frame[-1]
        rows = np.searchsorted(a.frame, b.frame)
        assert np.array_equal(a.frame[rows], b.frame)
        for name in ("osc.x", "osc.v", "osc.energy"):
            assert np.array_equal(a[name][rows].view(np.uint64), b[name].view(np.uint64)), name
