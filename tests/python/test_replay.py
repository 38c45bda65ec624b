#!/usr/bin/python3
"""`hermes replay` end to end: record an afap run of the launch demo, serve the
file with `hermes replay --port 0`, and check with a real WebSocket client that
the schema lists the recorded signals, telemetry frames carry exactly the
recorded values of their frame, pause holds the frame, step/seek (by frame and
by time) move it, set is refused as read-only, reset goes to frame 0.

With --mcap the run also records an MCAP file (issue 23) and the MCAP file is
served instead: the same checks, against the HDF5 recording of the same run.

usage: test_replay.py HERMES LAUNCH_YAML [--mcap]
"""
import asyncio
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import websockets

from rig import fail, wait_port

HEADER = struct.Struct("<IQdI")


def decode(buf):
    magic, frame, t, count = HEADER.unpack_from(buf, 0)
    assert magic == 0x48455254 and len(buf) == 24 + 8 * count
    return frame, t, np.frombuffer(buf, dtype="<f8", count=count, offset=24)


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.events = []

    async def cmd(self, action, expect_error=False, **params):
        await self.ws.send(json.dumps({"action": action, "params": params}))
        while True:
            msg = await asyncio.wait_for(self.ws.recv(), 10)
            if isinstance(msg, bytes):
                continue
            reply = json.loads(msg)
            if reply["type"] == "event":
                self.events.append(reply)
            elif reply["type"] == "ack":
                if expect_error:
                    fail(f"{action} {params} was accepted: {reply}")
                return reply
            elif reply["type"] == "error":
                if not expect_error:
                    fail(f"{action} {params}: {reply['message']}")
                return reply

    async def frames(self, seconds):
        """Telemetry frames received during @seconds (events kept)."""
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                msg = await asyncio.wait_for(self.ws.recv(), max(0.01, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if isinstance(msg, bytes):
                out.append(decode(msg))
            else:
                reply = json.loads(msg)
                if reply["type"] == "event":
                    self.events.append(reply)
        return out


async def run(port, rec):
    names, data, frames = rec
    row_of = {int(f): k for k, f in enumerate(frames)}
    async with websockets.connect(f"ws://127.0.0.1:{port}/", subprotocols=["hermes"], max_size=2**24) as ws:
        schema = json.loads(await ws.recv())
        if schema["type"] != "schema":
            fail(f"first message {schema}")
        listed = [f"{m}.{s['name']}" for m, body in schema["modules"].items() for s in body["signals"]]
        if sorted(listed) != sorted(names):
            fail(f"schema signals {listed} differ from the recording's {names}")
        if schema["rate_hz"] != 100.0:
            fail(f"schema rate_hz {schema['rate_hz']}")
        g = schema["modules"]["guidance"]
        if (g.get("rate_hz"), g.get("divisor"), g.get("offset")) != (20.0, 5, 0):
            fail(f"replayed schema's guidance rate {g}")
        c = Client(ws)
        ack = await c.cmd("subscribe", signals=["vehicle.*", "commands.throttle"])
        cols = [names.index(n) for n in ack["signals"]]

        def check(got, what):
            if not got:
                fail(f"no telemetry ({what})")
            for frame, t, vals in got:
                k = row_of.get(frame)
                if k is None:
                    fail(f"{what}: frame {frame} is not in the recording")
                want = data[k, cols]
                if vals.tobytes() != want.tobytes():
                    fail(f"{what}: frame {frame} values {vals[:3]} != recorded {want[:3]}")
                if t != frame / 100.0:
                    fail(f"{what}: frame {frame} time {t}")

        got = await c.frames(0.6)
        check(got, "playing")
        if got[-1][0] <= got[0][0]:
            fail(f"frames do not advance while playing: {got[0][0]} .. {got[-1][0]}")

        ack = await c.cmd("pause")
        if ack.get("state") != "paused":
            fail(f"pause ack {ack}")
        got = await c.frames(0.4)
        check(got, "paused")
        if len({f for f, _, _ in got}) != 1:
            fail(f"frame moves while paused: {[f for f, _, _ in got]}")
        held = got[-1][0]

        ack = await c.cmd("step", count=5)
        if ack["frame"] != held + 5:
            fail(f"step 5 from {held}: ack {ack}")
        got = await c.frames(0.2)
        check(got, "after step")
        if got[-1][0] != held + 5:
            fail(f"after step telemetry shows {got[-1][0]}, expected {held + 5}")

        ack = await c.cmd("seek", frame=100)
        if ack["frame"] != 100:
            fail(f"seek frame 100: ack {ack}")
        got = await c.frames(0.2)
        check(got, "after seek")
        if got[-1][0] != 100:
            fail(f"after seek 100 telemetry shows {got[-1][0]}")

        ack = await c.cmd("seek", time=12.5)
        if ack["frame"] != 1250:
            fail(f"seek time 12.5: ack {ack}")
        got = await c.frames(0.2)
        check(got, "after seek by time")
        if got[-1][0] != 1250:
            fail(f"after seek time telemetry shows {got[-1][0]}")

        err = await c.cmd("seek", expect_error=True, frame=999999)
        if "not in the recording" not in err["message"]:
            fail(f"seek beyond the end: {err}")
        err = await c.cmd("set", expect_error=True, signal="commands.throttle", value=0.5)
        if "read-only" not in err["message"]:
            fail(f"set was not refused as read-only: {err}")

        ack = await c.cmd("resume")
        got = await c.frames(0.5)
        check(got, "resumed")
        if got[-1][0] <= 1250:
            fail(f"resume did not move on from 1250: {got[-1][0]}")

        await c.cmd("reset")
        got = await c.frames(0.2)
        check(got, "after reset")
        if got[-1][0] != 0:
            fail(f"after reset telemetry shows {got[-1][0]}")
        kinds = [e["event"] for e in c.events]
        for want in ("paused", "running", "reset"):
            if want not in kinds:
                fail(f"no '{want}' event (events {kinds})")
        print(f"ok: schema of {len(listed)} signals, telemetry equal to the recording, pause/step/seek/resume/"
              f"reset, set refused: {err['message'][:60]}...")


async def foxglove(port, rec):
    """The same replay through the Foxglove protocol: the recorded modules'
    channels and /hermes advertised, and a subscribed channel's messages hold
    the recorded values of their frame (JSON, the live encoder's numbers)."""
    names, data, frames = rec
    row_of = {int(f): k for k, f in enumerate(frames)}
    async with websockets.connect(f"ws://127.0.0.1:{port}/", subprotocols=["hermes"], max_size=2**24) as ws:
        await ws.recv()  # schema
        await Client(ws).cmd("resume")  # run() left it paused at frame 0
    async with websockets.connect(f"ws://127.0.0.1:{port}/", subprotocols=["foxglove.websocket.v1"],
                                  max_size=2**24) as ws:
        chans = None
        end = time.monotonic() + 10
        while chans is None and time.monotonic() < end:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, str) and json.loads(msg).get("op") == "advertise":
                chans = {c["topic"]: c for c in json.loads(msg)["channels"]}
        topics = sorted(chans or {})
        if topics != sorted({"/" + n.split(".")[0] for n in names} | {"/hermes"}):
            fail(f"Foxglove topics of the replay {topics}")
        await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"id": 1, "channelId": chans["/vehicle"]["id"]}, {"id": 2, "channelId": chans["/hermes"]["id"]}]}))
        got, frame_at, alt_at = 0, {}, {}
        end = time.monotonic() + 10
        col = names.index("vehicle.position.altitude")
        while got < 20 and time.monotonic() < end:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if not isinstance(msg, bytes) or msg[0] != 1:
                continue
            sub, t_ns = struct.unpack_from("<IQ", msg, 1)
            body = json.loads(msg[13:])
            if sub == 2:
                frame_at[t_ns] = body["frame"]
            else:
                alt_at[t_ns] = body["position"]["altitude"]
            if t_ns in frame_at and t_ns in alt_at:  # the two channels' messages of one frame, either order
                want = data[row_of[frame_at[t_ns]], col]
                if alt_at.pop(t_ns) != want:
                    fail(f"Foxglove /vehicle altitude at frame {frame_at[t_ns]} != recorded {want}")
                got += 1
        if got < 20:
            fail(f"only {got} Foxglove /vehicle messages matched to a frame")
        if len(set(frame_at.values())) < 2:
            fail(f"the Foxglove client saw no playback: frames {sorted(set(frame_at.values()))}")
        print(f"ok: Foxglove protocol: {len(topics)} topics, {got} messages equal to the recording, "
              f"{len(set(frame_at.values()))} frames")


def main():
    hermes, launch = sys.argv[1], os.path.abspath(sys.argv[2])
    mcap = "--mcap" in sys.argv[3:]
    tmp = tempfile.mkdtemp(prefix="hermes-test-replay-")
    proc = None
    try:
        path = os.path.join(tmp, "run.h5")
        served = os.path.join(tmp, "run.mcap") if mcap else path
        extra = ["--record", served] if mcap else []
        r = subprocess.run([hermes, "run", launch, "--mode", "afap", "--end-time", "20", "--no-server",
                            "--record", path] + extra, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            fail(f"recording run exited {r.returncode}: {r.stderr[-1500:]}")
        f = h5py.File(path, "r")
        rec = ([n.decode() for n in f["signals"]["name"]], f["data"][:], f["frame"][:])
        rates = {r["name"].decode(): (float(r["rate_hz"]), int(r["divisor"]), int(r["offset"]))
                 for r in f["module_rates"][:]}
        f.close()
        if rates.get("guidance") != (20.0, 5, 0) or rates.get("vehicle") != (100.0, 1, 0):
            fail(f"module_rates {rates}: the demo's guidance runs at 20 Hz (divisor 5), vehicle at 100 Hz")
        log = os.path.join(tmp, "replay.log")
        with open(log, "w") as lf:
            proc = subprocess.Popen([hermes, "replay", served, "--port", "0", "--speed", "4"], stdout=lf, stderr=lf)
        port = wait_port(log, proc, what="hermes replay")
        asyncio.run(asyncio.wait_for(run(port, rec), 60))
        asyncio.run(asyncio.wait_for(foxglove(port, rec), 60))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
        if rc != 0:
            fail(f"hermes replay exited {rc} after SIGTERM: {open(log).read()[-1500:]}")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


main()
