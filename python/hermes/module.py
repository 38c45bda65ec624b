"""The module side: a Hermes process module written in Python.

    with hermes.Module() as m:              # attaches from the environment Hermes sets
        x, v = m.signal("x"), m.signal("v") # zero-copy views of the slots
        for step in m.steps():              # lockstep; ends on terminate or a stopped run
            v.value += -x.value * step.dt

An exception leaving the `with` block is answered to Hermes as a failure of
this module, with the last line of the Python traceback as the message.
"""
import ctypes
import os
import traceback
from typing import Callable, Iterator, Optional

from . import _lib

STAGE, STEP, RESET, TERMINATE = 1, 2, 3, 4


class ModuleFailed(Exception):
    """Raise to fail the run with this message (no traceback text added)."""


class Signal(ctypes.c_double):
    """Zero-copy view of one signal's slot in shared memory (float64): a ctypes
    double placed on the slot, so `.value` reads and writes it at C speed."""

    name: str

    @classmethod
    def at(cls, name: str, pointer: "ctypes._Pointer[ctypes.c_double]") -> "Signal":
        s = cls.from_address(ctypes.addressof(pointer.contents))
        s.name = name
        return s

    def __float__(self) -> float:
        return self.value

    def array(self, count: int = 1):  # numpy is optional
        """A numpy float64 array of @count consecutive slots starting at this one."""
        import numpy as np
        return np.ctypeslib.as_array((ctypes.c_double * count).from_address(ctypes.addressof(self)))

    def __repr__(self) -> str:
        return f"Signal({self.name!r}, {self.value!r})"


class Step:
    """One STEP command: frame (0 first after a stage), dt (the module's own
    period, seconds), time (sim time at the frame's start: frame / the run's
    base rate, which Hermes passes as HERMES_BASE_RATE_HZ; frame * dt when a
    host does not pass it).

    m.steps() yields the same Step object every frame, updated in place (no
    allocation per frame): copy the fields you want to keep, not the object."""

    __slots__ = ("frame", "dt", "_rate")

    def __init__(self, frame: int = 0, dt: float = 0.0, base_rate_hz: float = 0.0) -> None:
        self.frame = frame
        self.dt = dt
        self._rate = base_rate_hz

    @property
    def time(self) -> float:
        return self.frame / self._rate if self._rate > 0 else self.frame * self.dt

    def __repr__(self) -> str:
        return f"Step(frame={self.frame}, dt={self.dt}, time={self.time})"


class Module:
    """A process module's handle. Open from the environment (Hermes starts the
    program) or, for tests, with explicit run and module names."""

    def __init__(self, on_stage: Optional[Callable[["Module"], None]] = None,
                 on_reset: Optional[Callable[["Module"], None]] = None) -> None:
        self._lib = _lib.load()
        self._h = ctypes.c_void_p()
        rc = self._lib.hermes_module_open(ctypes.byref(self._h))
        if rc != 0:
            raise _lib.HermesError(rc, _lib.last_error())
        self.on_stage = on_stage
        self.on_reset = on_reset
        self.stages = 0
        self.resets = 0
        self._frame = ctypes.c_uint64()
        self._dt = ctypes.c_double()
        self._wait_raw = _lib.raw_function("hermes_module_wait")
        try:
            self.base_rate_hz = float(os.environ.get("HERMES_BASE_RATE_HZ", "0"))
        except ValueError:
            self.base_rate_hz = 0.0

    # -- information ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._lib.hermes_module_name(self._h).decode()

    @property
    def config_path(self) -> Optional[str]:
        """Path of the module's `config:` file, or None."""
        p = self._lib.hermes_module_config_path(self._h)
        return p.decode() if p else None

    @property
    def seed(self) -> Optional[int]:
        """The run's seed (hermes run --seed, campaigns), or None when the run has none."""
        out = ctypes.c_uint64()
        return out.value if self._lib.hermes_module_seed(self._h, ctypes.byref(out)) == 0 else None

    def signal(self, name: str) -> Signal:
        """A view of signal @name (local, then qualified). KeyError when there is none."""
        p = self._lib.hermes_module_slot(self._h, name.encode())
        if not p:
            raise KeyError(f"module '{self.name}' has no signal '{name}'")
        return Signal.at(name, p)

    def signals(self, *names: str):
        return [self.signal(n) for n in names]

    # -- checkpoints -------------------------------------------------------------------
    def state(self, save: Callable[[], bytes], load: Callable[[bytes], None]) -> None:
        """Declare the module's state for checkpoints (docs/checkpoints.md): save()
        returns bytes (what the module needs to continue bit for bit: integrators,
        generator state, anything not in its signals), load(data) restores them
        (after a stage, maybe in another run). Call it before the loop starts
        (before the first wait). Both run inside the loop's wait, at a frame
        boundary. An exception in either (its traceback goes to stderr) fails
        the checkpoint or the restore, naming this module. HermesError when
        called too late."""
        self._state_bytes = b""
        self._state_error = False

        def size(_ctx):
            try:
                data = save()
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise TypeError(f"state save() returned {type(data).__name__}, not bytes")
                self._state_bytes = bytes(data)
                self._state_error = False
            except BaseException:  # noqa: B902 -- a callback must not let it into C
                traceback.print_exc()
                self._state_bytes, self._state_error = b"", True
            return len(self._state_bytes)

        def put(_ctx, buf, n):
            data, self._state_bytes = self._state_bytes, b""
            if self._state_error or n != len(data):
                return 1
            ctypes.memmove(buf, data, n)
            return 0

        def get(_ctx, buf, n):
            try:
                load(ctypes.string_at(buf, n) if n else b"")
                return 0
            except BaseException:  # noqa: B902
                traceback.print_exc()
                return 1

        ops = _lib.ModuleState(_lib.STATE_SIZE(size), _lib.STATE_SAVE(put), _lib.STATE_LOAD(get), None)
        rc = self._lib.hermes_module_set_state(self._h, ctypes.byref(ops))
        if rc != 0:
            raise _lib.HermesError(rc, _lib.last_error())
        self._state_ops = ops  # keeps the callbacks alive while C holds them

    # -- the loop --------------------------------------------------------------------
    def wait(self):
        """Answer the previous command (success), wait for the next: (cmd, frame, dt);
        cmd is STAGE, STEP, RESET, TERMINATE or a negative code (orchestrator gone)."""
        cmd = self._lib.hermes_module_wait(self._h, ctypes.byref(self._frame), ctypes.byref(self._dt))
        return cmd, self._frame.value, self._dt.value

    def steps(self) -> Iterator[Step]:
        """Yield each STEP (one Step object, updated in place); STAGE and RESET run
        the hooks; ends on terminate or a stopped run."""
        # The hot path: one ctypes call per frame through a function pointer
        # without argtypes (the handle and the out-pointers are pre-built ctypes
        # objects, so nothing is converted or allocated per frame).
        wait, h, fr, dt = self._wait_raw, self._h, self._frame, self._dt
        rf, rd = ctypes.byref(fr), ctypes.byref(dt)
        step = Step(0, 0.0, self.base_rate_hz)
        while True:
            cmd = wait(h, rf, rd)
            if cmd == STEP:
                step.frame = fr.value
                step.dt = dt.value
                yield step
                continue
            if cmd <= 0 or cmd == TERMINATE:
                return
            if cmd == STAGE:
                self.stages += 1
                if self.on_stage:
                    self.on_stage(self)
            elif cmd == RESET:
                self.resets += 1
                if self.on_reset:
                    self.on_reset(self)

    def finish(self, message: str = "") -> None:
        """Answer the current step with success and end the run normally once this
        frame is complete (its outputs are wired, published and recorded): the run
        stops with exit status 0 and the reason "module 'NAME': message". Call it
        inside the loop over steps(); the loop then ends with the run (terminate)."""
        rc = self._lib.hermes_module_finish(self._h, message.encode()[:255])
        if rc != 0:
            raise _lib.HermesError(rc, _lib.last_error())

    def fail(self, message: str) -> None:
        """Answer the current command with a failure: the run stops in error naming this module."""
        self._lib.hermes_module_done(self._h, 1, message.encode()[:255])

    def close(self) -> None:
        if self._h:
            self._lib.hermes_module_close(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self) -> "Module":
        return self

    def __exit__(self, et, ev, tb) -> bool:
        if ev is not None and not isinstance(ev, (KeyboardInterrupt, GeneratorExit)):
            if isinstance(ev, ModuleFailed):
                msg = str(ev)
            else:
                msg = traceback.format_exception_only(et, ev)[-1].strip()
            self.fail(msg)
            self.close()
            return False
        self.close()
        return False
