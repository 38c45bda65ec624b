#!/usr/bin/env python3
"""A Hermes process module in Python on the hermes package (python/, imported
from the source tree): same behaviour as `proc_module echo`: out = in * 2 +
frame, and counters of the commands it received. libhermes is found through
$HERMES_LIB (the test passes the build tree's library) or the loader's path.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import hermes  # noqa: E402
from hermes.module import STAGE, STEP, RESET, TERMINATE  # noqa: E402


def main() -> int:
    try:
        m = hermes.Module()
    except hermes.HermesError as e:
        print("echo_module.py:", e.message, file=sys.stderr)
        return 1
    names = ["pid", "in", "out", "stages", "resets", "steps", "last_frame", "last_dt"]
    try:
        slot = {n: m.signal(n) for n in names}
    except KeyError:
        m.fail("missing signals: " + ", ".join(n for n in names if not _has(m, n)))
        m.close()
        return 1
    counts = {STAGE: 0, RESET: 0, STEP: 0}
    while True:
        cmd, frame, dt = m.wait()
        if cmd <= 0 or cmd == TERMINATE:
            break
        counts[cmd] = counts.get(cmd, 0) + 1
        if cmd == STEP:
            slot["out"].value = slot["in"].value * 2.0 + frame
        slot["pid"].value = os.getpid()
        slot["stages"].value = counts[STAGE]
        slot["resets"].value = counts[RESET]
        slot["steps"].value = counts[STEP]
        slot["last_frame"].value = frame
        slot["last_dt"].value = dt
    m.close()
    return 0 if cmd >= 0 else 1


def _has(m: "hermes.Module", name: str) -> bool:
    try:
        m.signal(name)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    sys.exit(main())
