#!/usr/bin/python3
"""meson test python_pkg: make a venv (Debian's python3, system site packages for
pytest, websockets, h5py, numpy), install ./python into it offline, run the
package tests (tests/python/pkg) with pytest against real `hermes run` processes.

usage: run_pkg.py SRC_ROOT BUILD_DIR HERMES_EXE LIBHERMES PROC_MODULE [pytest args]
"""
import os
import shutil
import subprocess
import sys


def main() -> int:
    src, build, exe, lib, proc = (os.path.abspath(a) for a in sys.argv[1:6])
    venv = os.path.join(build, "python-venv")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
    py = os.path.join(venv, "bin", "python")
    # setuptools builds in the package's folder (build/, *.egg-info): install from
    # a copy in the build directory so the source tree is never written.
    pkg = os.path.join(build, "python-src")
    shutil.rmtree(pkg, ignore_errors=True)
    shutil.copytree(os.path.join(src, "python"), pkg,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index",
                    "--no-cache-dir", pkg], check=True, cwd=build)
    env = dict(os.environ, HERMES_EXE=exe, HERMES_LIB=lib, PROC_MODULE=proc,
               PYTHONDONTWRITEBYTECODE="1")
    tests = os.path.join(src, "tests", "python", "pkg")
    return subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tests,
                           tests, *sys.argv[6:]], env=env, cwd=build, timeout=600).returncode


if __name__ == "__main__":
    sys.exit(main())
