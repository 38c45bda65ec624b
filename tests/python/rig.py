"""Shared by the test scripts in tests/python (each run as a script, so this
folder is on sys.path): the failure line, the port a `hermes run` or
`hermes replay` started with `--port 0` listens on (from its log), and a
protocol command that waits for its ack."""
import asyncio
import json
import os
import re
import sys
import time


def fail(msg):
    """Print `<script>: FAIL: msg` and exit 1."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    print(f"{name}: FAIL: {msg}")
    sys.exit(1)


def wait_port(log, proc, seconds=20, what="hermes"):
    """The port of the event=listening line in the log file @log of @proc;
    fails if @proc exits first or no such line comes within @seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            fail(f"{what} exited early with {proc.returncode}: {open(log).read()[-2000:]}")
        m = re.search(r"event=listening .*?port=(\d+)", open(log).read())
        if m:
            return int(m.group(1))
        time.sleep(0.02)
    fail(f"no event=listening line within {seconds} s")


async def cmd(ws, action, **params):
    """Send a protocol command on @ws and return its ack (telemetry frames
    in between are skipped); an error reply fails the test."""
    await ws.send(json.dumps({"action": action, "params": params}))
    while True:
        msg = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(msg, bytes):
            continue
        reply = json.loads(msg)
        if reply["type"] == "ack":
            return reply
        if reply["type"] == "error":
            fail(f"{action} {params}: {reply['message']}")
