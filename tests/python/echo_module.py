#!/usr/bin/env python3
"""A Hermes process module in Python: standard library and ctypes only.

Same behaviour as `proc_module echo`: out = in * 2 + frame, and counters of
the commands it received. libhermes is found through $HERMES_LIB (the test
passes the build tree's library) or the loader's search path.
"""
import ctypes
import os
import sys

lib = ctypes.CDLL(os.environ.get("HERMES_LIB", "libhermes.so.0"))
handle_p = ctypes.c_void_p
lib.hermes_module_open.argtypes = [ctypes.POINTER(handle_p)]
lib.hermes_module_open.restype = ctypes.c_int
lib.hermes_module_slot.argtypes = [handle_p, ctypes.c_char_p]
lib.hermes_module_slot.restype = ctypes.POINTER(ctypes.c_double)
lib.hermes_module_wait.argtypes = [handle_p, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_double)]
lib.hermes_module_wait.restype = ctypes.c_int
lib.hermes_module_done.argtypes = [handle_p, ctypes.c_int, ctypes.c_char_p]
lib.hermes_module_done.restype = ctypes.c_int
lib.hermes_module_close.argtypes = [handle_p]
lib.hermes_module_close.restype = None
lib.hermes_last_error.restype = ctypes.c_char_p

STAGE, STEP, RESET, TERMINATE = 1, 2, 3, 4


def main() -> int:
    m = handle_p()
    if lib.hermes_module_open(ctypes.byref(m)) != 0:
        print("echo_module.py:", lib.hermes_last_error().decode(), file=sys.stderr)
        return 1
    names = ["pid", "in", "out", "stages", "resets", "steps", "last_frame", "last_dt"]
    slot = {n: lib.hermes_module_slot(m, n.encode()) for n in names}
    missing = [n for n, p in slot.items() if not p]
    if missing:
        lib.hermes_module_done(m, 1, ("missing signals: " + ", ".join(missing)).encode())
        lib.hermes_module_close(m)
        return 1
    counts = {STAGE: 0, RESET: 0, STEP: 0}
    frame, dt = ctypes.c_uint64(), ctypes.c_double()
    while True:
        cmd = lib.hermes_module_wait(m, ctypes.byref(frame), ctypes.byref(dt))
        if cmd <= 0 or cmd == TERMINATE:
            break
        counts[cmd] = counts.get(cmd, 0) + 1
        if cmd == STEP:
            slot["out"][0] = slot["in"][0] * 2.0 + frame.value
        slot["pid"][0] = os.getpid()
        slot["stages"][0] = counts[STAGE]
        slot["resets"][0] = counts[RESET]
        slot["steps"][0] = counts[STEP]
        slot["last_frame"][0] = frame.value
        slot["last_dt"][0] = dt.value
    lib.hermes_module_close(m)
    return 0 if cmd >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
