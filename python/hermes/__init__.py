"""Hermes from Python: write process modules, drive runs, read results.

- hermes.Module: a process module (ctypes on libhermes, standard library only)
- hermes.Client / hermes.AsyncClient: the WebSocket protocol (python3-websockets)
- hermes.Recording, hermes.read_results: recordings and campaign results (h5py)

The package version follows the library's major.minor: it refuses a libhermes
of another major version (hermes.library_version() tells the loaded one).
"""
from ._lib import HermesError, LibraryNotFound, library_path, library_version
from .module import Module, Signal, Step, ModuleFailed

__version__ = "0.1.0"

__all__ = ["HermesError", "LibraryNotFound", "library_path", "library_version",
           "Module", "Signal", "Step", "ModuleFailed",
           "Client", "AsyncClient", "CommandError", "Schema", "Frame", "decode_frame",
           "Recording", "read_results"]


def __getattr__(name: str):  # lazy: the module side needs no websockets nor h5py
    if name in ("Client", "AsyncClient", "CommandError", "Schema", "Frame", "decode_frame",
                "SignalInfo", "ModuleInfo"):
        from . import client
        return getattr(client, name)
    if name in ("Recording", "read_results"):
        from . import results
        return getattr(results, name)
    raise AttributeError(f"module 'hermes' has no attribute {name!r}")
