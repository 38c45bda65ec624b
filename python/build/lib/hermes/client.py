"""Clients of the Hermes WebSocket protocol (docs/protocol.md), on python3-websockets.

    async with hermes.AsyncClient("ws://127.0.0.1:8765/") as c:
        print(c.schema.signals)                    # SignalInfo by qualified name
        await c.subscribe(["vehicle.*"], rate_hz=10)
        async for f in c.frames():                 # Frame: frame, time, values by name
            print(f.frame, f["vehicle.speed"])

    with hermes.Client(url) as c:                  # the same, blocking
        c.step(10); c.set("commands.throttle", 0.5)

Commands wait for their ack and raise hermes.CommandError(code, message): code is the
HERMES_E* name when the server gives one, else None. Events are kept in .events.
Reconnection: none is automatic; a dropped connection raises
websockets.ConnectionClosed from the pending call and a new client must be made
(the run keeps going; the new schema tells its state and frame).
"""
import asyncio
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

MAGIC = 0x48455254
HEADER = struct.Struct("<IQdI")  # magic, frame, time, count: 24 bytes


class CommandError(Exception):
    """The server refused a command: action, code (HERMES_E* name or None), message."""

    def __init__(self, code: Optional[str], message: str, action: Optional[str] = None) -> None:
        super().__init__(f"{action}: {message}" if action else message)
        self.code = code
        self.message = message
        self.action = action


@dataclass
class SignalInfo:
    name: str            # qualified
    module: str
    type: str
    unit: str
    writable: bool


@dataclass
class ModuleInfo:
    name: str
    signals: List[SignalInfo]


@dataclass
class Schema:
    raw: Dict[str, Any]
    modules: Dict[str, ModuleInfo] = field(default_factory=dict)
    signals: Dict[str, SignalInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for mod, body in self.raw.get("modules", {}).items():
            sigs = [SignalInfo(f"{mod}.{s['name']}", mod, s.get("type", "f64"), s.get("unit", ""),
                               bool(s.get("writable"))) for s in body.get("signals", [])]
            self.modules[mod] = ModuleInfo(mod, sigs)
            for s in sigs:
                self.signals[s.name] = s

    def __getattr__(self, name: str) -> Any:  # rate_hz, mode, state, frame, role, run_id ...
        try:
            return self.raw[name]
        except KeyError:
            raise AttributeError(name) from None


class Frame:
    """One decoded telemetry frame. f["module.signal"], f.values (tuple), f.array() (numpy)."""

    __slots__ = ("frame", "time", "values", "names", "_index")

    def __init__(self, frame: int, time: float, values: Sequence[float], names: Sequence[str],
                 index: Dict[str, int]) -> None:
        self.frame, self.time, self.values, self.names, self._index = frame, time, values, names, index

    def __getitem__(self, name: str) -> float:
        return self.values[self._index[name]]

    def as_dict(self) -> Dict[str, float]:
        return dict(zip(self.names, self.values))

    def array(self):
        import numpy as np
        return np.asarray(self.values, dtype=np.float64)


def decode_frame(buf: bytes):
    """(frame, time, values tuple) of one binary HERT frame; ValueError when malformed."""
    if len(buf) < HEADER.size:
        raise ValueError(f"telemetry frame of {len(buf)} bytes is shorter than its header")
    magic, frame, t, count = HEADER.unpack_from(buf, 0)
    if magic != MAGIC or len(buf) != HEADER.size + 8 * count:
        raise ValueError(f"bad telemetry frame ({len(buf)} bytes, magic {magic:#x})")
    return frame, t, struct.unpack_from(f"<{count}d", buf, HEADER.size)


_CODE = re.compile(r"\((HERMES_E[A-Z]+)\)\s*$")


class AsyncClient:
    def __init__(self, url: str = "ws://127.0.0.1:8765/", token: Optional[str] = None,
                 timeout: float = 10.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout
        self.schema: Optional[Schema] = None
        self.events: List[Dict[str, Any]] = []
        self.names: List[str] = []
        self._index: Dict[str, int] = {}
        self._ws: Any = None
        self._frames: "asyncio.Queue[bytes]" = asyncio.Queue()
        self._next_id = 0

    async def connect(self) -> "AsyncClient":
        import websockets
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        self._ws = await asyncio.wait_for(websockets.connect(
            self.url, subprotocols=["hermes"], max_size=2 ** 26, extra_headers=headers), self.timeout)
        msg = json.loads(await asyncio.wait_for(self._ws.recv(), self.timeout))
        if msg.get("type") != "schema":
            raise CommandError(None, f"expected the schema first, got {msg.get('type')}")
        self.schema = Schema(msg)
        return self

    @property
    def role(self) -> str:
        assert self.schema is not None
        return self.schema.raw.get("role", "controller")

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def __aenter__(self) -> "AsyncClient":
        return await self.connect()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def command(self, action: str, **params: Any) -> Dict[str, Any]:
        """Send a command and return its ack; telemetry meanwhile is queued for frames()."""
        self._next_id += 1
        cid = self._next_id
        msg: Dict[str, Any] = {"action": action, "id": cid}
        if params:
            msg["params"] = params
        await self._ws.send(json.dumps(msg))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{action}: no answer within {self.timeout} s")
            m = await asyncio.wait_for(self._ws.recv(), left)
            if isinstance(m, bytes):
                self._frames.put_nowait(m)
                continue
            reply = json.loads(m)
            kind = reply.get("type")
            if kind == "event":
                self.events.append(reply)
            elif kind in ("ack", "error") and reply.get("id") == cid:
                if kind == "error":
                    text = reply.get("message", "")
                    found = _CODE.search(text)
                    raise CommandError(found.group(1) if found else None, text, action)
                return reply

    async def subscribe(self, patterns: Sequence[str], rate_hz: Optional[float] = None) -> List[str]:
        params: Dict[str, Any] = {"signals": list(patterns)}
        if rate_hz is not None:
            params["rate_hz"] = rate_hz
        ack = await self.command("subscribe", **params)
        self.names = list(ack["signals"])
        self._index = {n: i for i, n in enumerate(self.names)}
        while not self._frames.empty():  # frames of an older subscription
            self._frames.get_nowait()
        return self.names

    async def unsubscribe(self) -> None:
        await self.command("unsubscribe")

    async def pause(self) -> Dict[str, Any]:
        return await self.command("pause")

    async def resume(self) -> Dict[str, Any]:
        return await self.command("resume")

    async def step(self, count: int = 1) -> Dict[str, Any]:
        return await self.command("step", count=count)

    async def reset(self) -> Dict[str, Any]:
        return await self.command("reset")

    async def set(self, signal: str, value: float) -> Dict[str, Any]:
        return await self.command("set", signal=signal, value=value)

    async def stats(self) -> Dict[str, Any]:
        return await self.command("stats")

    async def next_frame(self, timeout: Optional[float] = None) -> Frame:
        """The next telemetry frame (TimeoutError after timeout, default self.timeout)."""
        if not self._frames.empty():
            buf = self._frames.get_nowait()
        else:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (self.timeout if timeout is None else timeout)
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError("no telemetry frame")
                m = await asyncio.wait_for(self._ws.recv(), left)
                if isinstance(m, bytes):
                    buf = m
                    break
                reply = json.loads(m)
                if reply.get("type") == "event":
                    self.events.append(reply)
        frame, t, values = decode_frame(buf)
        return Frame(frame, t, values, self.names, self._index)

    async def frames(self, timeout: Optional[float] = None):
        """Iterate decoded frames until the connection closes."""
        import websockets
        while True:
            try:
                yield await self.next_frame(timeout)
            except websockets.ConnectionClosed:
                return


class Client:
    """Blocking wrapper: the AsyncClient's calls on a private event loop thread."""

    def __init__(self, url: str = "ws://127.0.0.1:8765/", token: Optional[str] = None,
                 timeout: float = 10.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._a = self._run(self._make(url, token, timeout))
        self._run(self._a.connect())

    @staticmethod
    async def _make(url: str, token: Optional[str], timeout: float) -> AsyncClient:
        return AsyncClient(url, token, timeout)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    schema = property(lambda self: self._a.schema)
    events = property(lambda self: self._a.events)
    names = property(lambda self: self._a.names)
    role = property(lambda self: self._a.role)

    def command(self, action: str, **params: Any) -> Dict[str, Any]:
        return self._run(self._a.command(action, **params))

    def subscribe(self, patterns: Sequence[str], rate_hz: Optional[float] = None) -> List[str]:
        return self._run(self._a.subscribe(patterns, rate_hz))

    def pause(self): return self._run(self._a.pause())            # noqa: E704
    def resume(self): return self._run(self._a.resume())          # noqa: E704
    def step(self, count: int = 1): return self._run(self._a.step(count))  # noqa: E704
    def reset(self): return self._run(self._a.reset())            # noqa: E704
    def set(self, signal: str, value: float): return self._run(self._a.set(signal, value))  # noqa: E704
    def stats(self): return self._run(self._a.stats())            # noqa: E704

    def next_frame(self, timeout: Optional[float] = None) -> Frame:
        return self._run(self._a.next_frame(timeout))

    def frames(self, count: int, timeout: Optional[float] = None) -> List[Frame]:
        return [self.next_frame(timeout) for _ in range(count)]

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self._a.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
