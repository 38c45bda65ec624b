"""A Python module on the hermes package, in lockstep with the C echo module."""
import os
import sys

import numpy as np

import hermes
from conftest import echo_config, run


def test_lockstep_values_dt(tmp_path, hermes_exe):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(echo_config(end_time=0.1))
    rec = tmp_path / "run.h5"
    r = run(hermes_exe, cfg, "--no-server", "--quiet", "--record", str(rec))
    assert r.returncode == 0, r.stderr
    with hermes.Recording(str(rec)) as h:
        assert len(h.frame) >= 10
        for s in ["out", "steps", "stages", "resets", "last_frame"]:
            np.testing.assert_array_equal(h["py." + s], h["c." + s], err_msg=s)
        # the C module also writes the stage's dt before frame 0; steps only here
        np.testing.assert_array_equal(h["py.last_dt"][1:], h["c.last_dt"][1:])
        np.testing.assert_array_equal(h["py.out"][1:], 1.5 * 2 + h.frame[1:] - 1)  # row k: after step k-1
        assert h["py.last_dt"][1] == 0.01
        assert h["py.pid"][0] != h["c.pid"][0]
        assert h.meta["format_version"] == 2
        assert h.meta["end_reason"] == "finished"


def test_slow_module_dt_and_time(tmp_path, hermes_exe):
    # A module at 20 Hz (offset 1) in a 100 Hz run: steps on frames 1, 6, 11, ...
    # with its own dt (0.05 s) and the frame's sim time (frame / 100), not frame * dt.
    cfg = tmp_path / "slow.yaml"
    cfg.write_text(echo_config(end_time=0.2, extra_py=("last_time",), py_rate=(20, 1)))
    rec = tmp_path / "slow.h5"
    r = run(hermes_exe, cfg, "--no-server", "--quiet", "--record", str(rec))
    assert r.returncode == 0, r.stderr
    with hermes.Recording(str(rec)) as h:
        stepped = h["py.steps"] > 0
        assert stepped.any()
        frames = h["py.last_frame"][stepped]
        assert set(int(f) % 5 for f in frames) == {1}
        np.testing.assert_array_equal(h["py.last_dt"][stepped], 0.05)
        np.testing.assert_array_equal(h["py.last_time"][stepped], frames / 100.0)
        assert int(h["py.steps"][-1]) == 4  # frames 1, 6, 11, 16 of 0..19


def test_runs_inside_venv(tmp_path):
    # The module's executable is this venv's bin/python, a symlink: run as given, it
    # imports hermes from the venv; resolved to the system python it would not.
    assert sys.prefix != sys.base_prefix, "run the tests from a venv"
    assert os.path.islink(sys.executable)
    import subprocess
    outside = subprocess.run([os.path.realpath(sys.executable), "-I", "-c", "import hermes"], capture_output=True)
    assert outside.returncode != 0, "hermes must be importable only inside the venv for this test to mean anything"


def test_exception_is_module_failure(tmp_path, hermes_exe):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(echo_config(py_args=("raise", "3")))
    r = run(hermes_exe, cfg, "--no-server")
    assert r.returncode == 1, r.stderr
    assert "'py'" in r.stderr
    assert "ValueError: bad value at frame 3" in r.stderr


def test_finish_ends_the_run_normally(tmp_path, hermes_exe):
    # The module ends the run after its step of frame 4: exit 0, the reason in the
    # summary line and the recording's stopped event, that frame's outputs recorded.
    cfg = tmp_path / "run.yaml"
    cfg.write_text(echo_config(py_args=("finish", "4"), end_time=1.0))
    rec = tmp_path / "run.h5"
    r = run(hermes_exe, cfg, "--no-server", "--record", str(rec))
    assert r.returncode == 0, r.stderr
    summary = [ln for ln in r.stderr.splitlines() if "event=summary" in ln]
    assert summary and "status=finished frames=5 " in summary[0], r.stderr
    assert "reason=\"module 'py': done at frame 4\"" in summary[0]
    with hermes.Recording(str(rec)) as h:
        assert int(h.frame[-1]) == 5
        assert h["py.last_frame"][-1] == 4 and h["py.steps"][-1] == 5
        assert h["c.steps"][-1] == 5  # the C module after it in the schedule finished the frame too
        assert h.meta["end_reason"] == "finished"
        stopped = [e for e in h.events if e["event"] == "stopped"]
        assert stopped and stopped[-1]["detail"] == "module 'py': done at frame 4", h.events


def test_seed_and_config_path(tmp_path, hermes_exe):
    conf = tmp_path / "py.conf"
    conf.write_text("x\n")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(echo_config(py_args=("seed",), extra_py=("seed", "cfg"), config_file=str(conf)))
    rec = tmp_path / "run.h5"
    r = run(hermes_exe, cfg, "--no-server", "--quiet", "--seed", "123456789", "--record", str(rec))
    assert r.returncode == 0, r.stderr
    with hermes.Recording(str(rec)) as h:
        assert h["py.seed"][0] == 123456789 % 1000003
        assert h["py.cfg"][0] == len(str(conf))
    r = run(hermes_exe, cfg, "--no-server", "--quiet", "--record", str(rec))
    with hermes.Recording(str(rec)) as h:
        assert h["py.seed"][0] == -1


def test_library_not_found_names_path(tmp_path):
    import subprocess
    env = dict(os.environ, HERMES_LIB=str(tmp_path / "nope.so"))
    r = subprocess.run([sys.executable, "-c", "import hermes; hermes.Module()"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "nope.so" in r.stderr and "HERMES_LIB" in r.stderr
