"""Fixtures: the hermes executable, the C test module and configs written per test.
Environment (set by tests/python/run_pkg.py): HERMES_EXE, HERMES_LIB, PROC_MODULE."""
import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO_SIGNALS = ["in", "out", "pid", "stages", "resets", "steps", "last_frame", "last_dt"]


def sig_lines(names, writable=("in",)):
    return "\n".join(f"      - {{name: {n}, type: f64{', writable: true' if n in writable else ''}}}"
                     for n in names)


def echo_config(py_args=("echo",), extra_py=(), end_time=0.1, rate=100.0, server=False, port=0,
                token=None, observers=False, config_file=None, py_rate=None):
    py_args = ", ".join(f'"{a}"' for a in [os.path.join(HERE, "py_echo.py"), *py_args])
    cfg = f"\n    config: {config_file}" if config_file else ""
    if py_rate:
        cfg += f"\n    rate_hz: {py_rate[0]}\n    offset: {py_rate[1]}"
    srv = ""
    if server:
        srv = f"server:\n  enabled: true\n  host: 127.0.0.1\n  port: {port}\n  telemetry_hz: 50.0\n"
        if token:
            srv += f"  auth_token: {token}\n"
        if observers:
            srv += "  observers: true\n"
    return textwrap.dedent(f"""\
version: "0.2"
modules:
  src:
    type: injection
    signals:
      - {{name: u, type: f64, writable: true, initial: 1.5}}
  py:
    type: process
    executable: {sys.executable}
    args: [{py_args}]{cfg}
    signals:
{sig_lines(ECHO_SIGNALS + list(extra_py))}
  c:
    type: process
    executable: {os.environ["PROC_MODULE"]}
    args: [echo]
    signals:
{sig_lines(ECHO_SIGNALS)}
wiring:
  - {{src: src.u, dst: py.in}}
  - {{src: src.u, dst: c.in}}
execution:
  mode: afap
  rate_hz: {rate}
  end_time: {end_time}
  schedule: [src, py, c]
{srv}""")


@pytest.fixture
def hermes_exe():
    return os.environ["HERMES_EXE"]


def run(hermes_exe, cfg_path, *args, timeout=60):
    return subprocess.run([hermes_exe, "run", str(cfg_path), *args], capture_output=True, text=True,
                          timeout=timeout)
