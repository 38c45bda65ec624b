#!/usr/bin/env python3
"""Minimal Hermes WebSocket client: schema, subscribe, control, decode telemetry.

Standard library plus the `websockets` package (Debian: python3-websockets).
See docs/protocol.md for the protocol.
"""
import argparse
import asyncio
import json
import struct
import sys
import time

import websockets

MAGIC = 0x48455254
HEADER = struct.Struct("<IQdI")  # magic, frame, time, count: 24 bytes


def decode(buf: bytes):
    """Return (frame, time, values) of one binary telemetry frame."""
    magic, frame, sim_time, count = HEADER.unpack_from(buf, 0)
    if magic != MAGIC or len(buf) != HEADER.size + 8 * count:
        raise ValueError(f"bad telemetry frame ({len(buf)} bytes, magic {magic:#x})")
    return frame, sim_time, struct.unpack_from(f"<{count}d", buf, HEADER.size)


async def command(ws, action, **params):
    """Send a command and return its ack; events and telemetry in between are skipped."""
    await ws.send(json.dumps({"action": action, "params": params}))
    while True:
        msg = await ws.recv()
        if isinstance(msg, bytes):
            continue
        reply = json.loads(msg)
        if reply["type"] == "event":
            print(f"event: {reply['event']} at frame {reply.get('frame')}")
        elif reply["type"] in ("ack", "error"):
            if reply["type"] == "error":
                raise RuntimeError(f"{action}: {reply['message']}")
            return reply


async def main(args):
    async with websockets.connect(args.url, subprotocols=["hermes"], max_size=2**24) as ws:
        schema = json.loads(await ws.recv())
        assert schema["type"] == "schema"
        print(f"run {schema.get('run_id')}: state {schema.get('state')}, frame {schema.get('frame')}, "
              f"sim {schema.get('rate_hz')} Hz, telemetry {schema.get('telemetry_hz')} Hz")
        for module, body in schema["modules"].items():
            names = ", ".join(f"{s['name']}[{s.get('unit', '')}]{'*' if s['writable'] else ''}" for s in body["signals"])
            print(f"  {module}: {names}")

        params = {"signals": args.signals}
        if args.rate:
            params["rate_hz"] = args.rate
        ack = await command(ws, "subscribe", **params)
        names = ack["signals"]
        print(f"subscribed to {ack['count']} signals")
        for item in args.set:
            name, _, value = item.partition("=")
            await command(ws, "set", signal=name, value=float(value))
            print(f"set {name} = {value}")
        if args.resume:
            await command(ws, "resume")

        frames, start, last = 0, time.monotonic(), 0.0
        while time.monotonic() - start < args.duration:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except asyncio.TimeoutError:
                continue
            if isinstance(msg, str):
                m = json.loads(msg)
                if m["type"] == "event":
                    print(f"event: {m['event']} at frame {m.get('frame')}")
                continue
            frame, sim_time, values = decode(msg)
            frames += 1
            now = time.monotonic()
            if now - last >= args.print_every:
                last = now
                shown = ", ".join(f"{n}={v:.6g}" for n, v in list(zip(names, values))[:6])
                print(f"frame {frame} t={sim_time:.3f}s {shown}")
        elapsed = time.monotonic() - start
        stats = await command(ws, "stats")
        print(f"{frames} frames in {elapsed:.1f} s = {frames / elapsed:.1f} Hz; "
              f"server sent {stats['sent']}, dropped {stats['dropped']}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url", nargs="?", default="ws://127.0.0.1:8765/")
    p.add_argument("--signals", nargs="+", default=["*"], help="patterns: '*', 'module.*', 'module.signal'")
    p.add_argument("--rate", type=float, help="per-client telemetry rate (Hz)")
    p.add_argument("--set", action="append", default=[], metavar="SIGNAL=VALUE")
    p.add_argument("--resume", action="store_true", help="resume the run after subscribing")
    p.add_argument("--duration", type=float, default=5.0, help="seconds to listen")
    p.add_argument("--print-every", type=float, default=0.5, help="seconds between printed frames")
    try:
        asyncio.run(main(p.parse_args()))
    except (OSError, RuntimeError, websockets.exceptions.WebSocketException) as e:
        sys.exit(f"client: {e}")
