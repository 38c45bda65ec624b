"""State hooks (m.state): a Python module's checkpoint restored bit for bit,
and exceptions in its callbacks failing the checkpoint/restore by name."""
import os
import sys
import textwrap

from conftest import HERE, run


def state_config(out, mode="ok", end_time=1.0):
    return textwrap.dedent(f"""\
version: "0.2"
modules:
  src:
    type: injection
    signals:
      - {{name: u, type: f64, writable: true, initial: 0.75}}
  py:
    type: process
    executable: {sys.executable}
    args: ["{os.path.join(HERE, "py_state.py")}", "{out}", "{mode}"]
    signals:
      - {{name: u, type: f64, writable: true}}
      - {{name: x, type: f64}}
      - {{name: y, type: f64, initial: 0.5}}
wiring:
  - {{src: src.u, dst: py.u}}
execution:
  mode: afap
  rate_hz: 100.0
  end_time: {end_time}
  schedule: [src, py]
""")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_checkpoint_restore_bit_identical(tmp_path, hermes_exe):
    straight, ck_out, restored = (tmp_path / n for n in ("straight.txt", "ck.txt", "restored.txt"))
    r = run(hermes_exe, write(tmp_path, "a.yaml", state_config(straight)), "--no-server", "--quiet")
    assert r.returncode == 0, r.stderr
    ck = tmp_path / "run.hckpt"
    r = run(hermes_exe, write(tmp_path, "b.yaml", state_config(ck_out)), "--no-server", "--quiet",
            "--checkpoint", str(ck), "--checkpoint-at", "0.37")
    assert r.returncode == 0, r.stderr
    assert ck.exists()
    r = run(hermes_exe, write(tmp_path, "c.yaml", state_config(restored)), "--no-server", "--quiet",
            "--restore", str(ck))
    assert r.returncode == 0, r.stderr
    a, b, c = (p.read_text().split() for p in (straight, ck_out, restored))
    assert a == b  # taking a checkpoint does not disturb the run
    assert c == a  # x, y, the integrator, the generator's next draw, the last frame
    assert int(a[-1]) == 99
    # a restore without the module's hidden state would differ: the state mattered
    fresh = tmp_path / "fresh.txt"
    r = run(hermes_exe, write(tmp_path, "d.yaml", state_config(fresh, end_time=0.63)), "--no-server",
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert fresh.read_text().split()[0] != a[0]


def test_save_exception_fails_checkpoint_naming_module(tmp_path, hermes_exe):
    out = tmp_path / "o.txt"
    r = run(hermes_exe, write(tmp_path, "a.yaml", state_config(out, "save_raises")), "--no-server",
            "--quiet", "--checkpoint", str(tmp_path / "x.hckpt"), "--checkpoint-at", "0.2")
    text = r.stdout + r.stderr
    assert "'py'" in text and "state save callback failed" in text, text
    assert "RuntimeError: cannot save the integrator now" in text  # the module's traceback, on its stderr
    assert not (tmp_path / "x.hckpt").exists()
    assert r.returncode == 0 and out.read_text().split()[-1] == "99"  # the run goes on to its end


def test_load_exception_fails_restore_naming_module(tmp_path, hermes_exe):
    ck = tmp_path / "run.hckpt"
    r = run(hermes_exe, write(tmp_path, "a.yaml", state_config(tmp_path / "a.txt")), "--no-server",
            "--quiet", "--checkpoint", str(ck), "--checkpoint-at", "0.2")
    assert r.returncode == 0, r.stderr
    r = run(hermes_exe, write(tmp_path, "b.yaml", state_config(tmp_path / "b.txt", "load_raises")),
            "--no-server", "--quiet", "--restore", str(ck))
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "'py'" in text, text
    assert "RuntimeError: refusing this state" in text
