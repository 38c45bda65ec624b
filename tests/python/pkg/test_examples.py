"""examples/python_module runs as documented and its model behaves (energy decays)."""
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
