"""Loading libhermes with ctypes: $HERMES_LIB, else the loader's search path."""
import ctypes
import ctypes.util
import os
from typing import Optional

ENV_LIB = "HERMES_LIB"
_MAJOR = 0


class HermesError(Exception):
    """A libhermes call failed: code (negative HERMES_E*), message (hermes_last_error())."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LibraryNotFound(OSError):
    """libhermes could not be loaded; the message names every path tried."""


# hermes_module_state_t (hermes/module.h): size/save/load callbacks and their ctx.
STATE_SIZE = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)
STATE_SAVE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
STATE_LOAD = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class ModuleState(ctypes.Structure):
    _fields_ = [("size", STATE_SIZE), ("save", STATE_SAVE), ("load", STATE_LOAD), ("ctx", ctypes.c_void_p)]


_lib: Optional[ctypes.CDLL] = None
_path: Optional[str] = None


def _candidates():
    env = os.environ.get(ENV_LIB)
    if env:
        return [env]
    found = ctypes.util.find_library("hermes")
    out = ["libhermes.so.0", "libhermes.so"]
    if found:
        out.append(found)
    out += ["/usr/local/lib/libhermes.so.0", "/usr/local/lib/x86_64-linux-gnu/libhermes.so.0"]
    return out


def _declare(lib: ctypes.CDLL) -> None:
    h, c, p = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER
    f = [("hermes_module_open", [p(h)], c),
         ("hermes_module_slot", [h, ctypes.c_char_p], p(ctypes.c_double)),
         ("hermes_module_wait", [h, p(ctypes.c_uint64), p(ctypes.c_double)], c),
         ("hermes_module_done", [h, c, ctypes.c_char_p], c),
         ("hermes_module_finish", [h, ctypes.c_char_p], c),
         ("hermes_module_close", [h], None),
         ("hermes_module_name", [h], ctypes.c_char_p),
         ("hermes_module_config_path", [h], ctypes.c_char_p),
         ("hermes_module_seed", [h, p(ctypes.c_uint64)], c),
         ("hermes_module_set_state", [h, p(ModuleState)], c),
         ("hermes_last_error", [], ctypes.c_char_p),
         ("hermes_version", [], c),
         ("hermes_version_string", [], ctypes.c_char_p)]
    for name, args, res in f:
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res


def load() -> ctypes.CDLL:
    """The loaded libhermes (loaded at the first call). Raises LibraryNotFound."""
    global _lib, _path
    if _lib is not None:
        return _lib
    errors = []
    for cand in _candidates():
        try:
            lib = ctypes.CDLL(cand)
        except OSError as e:
            errors.append(f"{cand}: {e}")
            continue
        _declare(lib)
        major = lib.hermes_version() // 10000
        if major != _MAJOR:
            raise LibraryNotFound(f"{cand} is libhermes {lib.hermes_version_string().decode()}; "
                                  f"this package needs {_MAJOR}.x")
        _lib, _path = lib, cand
        return lib
    raise LibraryNotFound("libhermes not found; tried " + "; ".join(errors) +
                          f". Set {ENV_LIB}=/path/to/libhermes.so.0")


def raw_function(name: str, restype=ctypes.c_int):
    """A second function object for @name without argtypes, for hot loops: ctypes
    then skips the per-call argument conversion. Pass only ctypes objects
    (c_void_p handles, byref() pointers); a plain Python int would go as a C int."""
    lib = load()
    fn = lib._FuncPtr((name, lib))
    fn.restype = restype
    return fn


def library_path() -> str:
    load()
    assert _path is not None
    return _path


def library_version() -> str:
    return load().hermes_version_string().decode()


def last_error() -> str:
    msg = load().hermes_last_error()
    return msg.decode(errors="replace") if msg else ""
