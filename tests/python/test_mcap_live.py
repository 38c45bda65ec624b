#!/usr/bin/python3
"""The MCAP file and the live Foxglove server agree (issue 23): a paused
`hermes run` of the launch demo recording to MCAP (chunks uncompressed, so the
standard library reads them) is watched by a Foxglove WebSocket client; after
the run is stopped, the file's channels must be the advertised ones (topic,
encoding, schema name, schema text byte for byte) and, for the modules'
channels, the file's frame-0 message must be the live message byte for byte
(the /hermes channel carries wall-clock timing signals: same keys only).

usage: test_mcap_live.py HERMES LAUNCH_YAML
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

import websockets

from rig import fail, wait_port


def records(buf, top=True):
    """(opcode, body) of every record; a chunk's records inline (uncompressed chunks only)."""
    at = 8 if top else 0
    while at + 9 <= len(buf):
        op, n = struct.unpack_from("<BQ", buf, at)
        body = buf[at + 9:at + 9 + n]
        at += 9 + n
        if op == 0x06:
            _, _, usize, _ = struct.unpack_from("<QQQI", body, 0)
            clen = struct.unpack_from("<I", body, 28)[0]
            comp = body[32:32 + clen]
            if comp != b"":
                fail(f"chunk compressed with {comp!r}: this test reads uncompressed chunks")
            rlen = struct.unpack_from("<Q", body, 32 + clen)[0]
            yield from records(body[40 + clen:40 + clen + rlen], False)
        else:
            yield op, body
        if op == 0x0F:
            return


def string(body, at):
    n = struct.unpack_from("<I", body, at)[0]
    return body[at + 4:at + 4 + n], at + 4 + n


def read_mcap(path):
    buf = open(path, "rb").read()
    schemas, channels, first = {}, {}, {}
    for op, body in records(buf):
        if op == 0x03:
            sid = struct.unpack_from("<H", body, 0)[0]
            name, at = string(body, 2)
            enc, at = string(body, at)
            data, _ = string(body, at)
            schemas[sid] = (name.decode(), enc.decode(), data.decode())
        elif op == 0x04:
            cid, sid = struct.unpack_from("<HH", body, 0)
            topic, at = string(body, 4)
            enc, _ = string(body, at)
            channels[cid] = (topic.decode(), enc.decode(), sid)
        elif op == 0x05:
            cid = struct.unpack_from("<H", body, 0)[0]
            first.setdefault(cid, bytes(body[22:]))
    return schemas, channels, first


async def watch(port):
    async with websockets.connect(f"ws://127.0.0.1:{port}/", subprotocols=["foxglove.websocket.v1"],
                                  max_size=2**24) as ws:
        chans = None
        end = time.monotonic() + 10
        while chans is None and time.monotonic() < end:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, str) and json.loads(msg).get("op") == "advertise":
                chans = json.loads(msg)["channels"]
        if not chans:
            fail("no advertise")
        await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"id": c["id"], "channelId": c["id"]} for c in chans]}))
        live = {}
        end = time.monotonic() + 10
        while len(live) < len(chans) and time.monotonic() < end:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, bytes) and msg[0] == 1:
                sub = struct.unpack_from("<I", msg, 1)[0]
                live.setdefault(sub, bytes(msg[13:]))
        if len(live) < len(chans):
            fail(f"messages on {len(live)} of {len(chans)} channels")
        return chans, live


def main():
    hermes, launch = sys.argv[1], os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="hermes-test-mcap-live-")
    proc = None
    try:
        path = os.path.join(tmp, "live.mcap")
        log = os.path.join(tmp, "run.log")
        with open(log, "w") as lf:
            proc = subprocess.Popen([hermes, "run", launch, "--paused", "--port", "0", "--record", path,
                                     "--record-compression", "none"], stdout=lf, stderr=lf,
                                    env={**os.environ, "HERMES_AUTH_TOKEN": ""})
        port = wait_port(log, proc, what="hermes run")
        chans, live = asyncio.run(asyncio.wait_for(watch(port), 60))
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(20)
        if rc != 130:  # interrupted, the recording closed
            fail(f"hermes run exited {rc} after SIGINT: {open(log).read()[-1500:]}")
        schemas, channels, first = read_mcap(path)
        by_topic = {t: (cid, enc, sid) for cid, (t, enc, sid) in channels.items()}
        for c in chans:
            if c["topic"] not in by_topic:
                fail(f"advertised {c['topic']} is not in the file ({sorted(by_topic)})")
            cid, enc, sid = by_topic[c["topic"]]
            name, senc, text = schemas[sid]
            if (enc, name, senc) != (c["encoding"], c["schemaName"], c["schemaEncoding"]):
                fail(f"{c['topic']}: file {(enc, name, senc)} vs live {c}")
            if text != c["schema"]:
                fail(f"{c['topic']}: schema text differs:\n{text[:300]}\n{c['schema'][:300]}")
            if c["topic"] == "/hermes":
                if sorted(json.loads(first[cid])) != sorted(json.loads(live[c["id"]])):
                    fail(f"/hermes keys differ: {first[cid][:200]} vs {live[c['id']][:200]}")
            elif first[cid] != live[c["id"]]:
                fail(f"{c['topic']}: frame-0 message differs:\n{first[cid][:300]}\n{live[c['id']][:300]}")
        extra = sorted(set(by_topic) - {c["topic"] for c in chans})
        if extra != ["/hermes/events", "/hermes/journal"]:
            fail(f"channels beyond the live ones: {extra}")
        print(f"ok: {len(chans)} live channels = the file's (schemas byte for byte, module messages byte for byte)"
              f", plus {extra}")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


main()
