#!/usr/bin/env python3
"""Hermes WebSocket client on the hermes package (python/, docs/python.md):
schema, subscribe, set, resume, decoded telemetry, the server's counters.

Runs with the package installed (`pip install ./python`) or from the source
tree (it then imports ../../python). Needs python3-websockets.
"""
import argparse
import os
import sys
import time

try:
    import hermes
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import hermes


def main(args) -> None:
    with hermes.Client(args.url, token=os.environ.get("HERMES_AUTH_TOKEN")) as c:
        s = c.schema
        print(f"run {s.raw.get('run_id')}: state {s.state}, frame {s.frame}, sim {s.raw.get('rate_hz')} Hz, "
              f"telemetry {s.telemetry_hz} Hz, role {c.role}")
        for name, mod in s.modules.items():
            print(f"  {name}: " + ", ".join(f"{x.name[len(name) + 1:]}[{x.unit}]{'*' if x.writable else ''}"
                                          for x in mod.signals))
        names = c.subscribe(args.signals, rate_hz=args.rate)
        print(f"subscribed to {len(names)} signals")
        for item in args.set:
            name, _, value = item.partition("=")
            c.set(name, float(value))
            print(f"set {name} = {value}")
        if args.resume:
            c.resume()
        frames, start, last = 0, time.monotonic(), 0.0
        while time.monotonic() - start < args.duration:
            try:
                f = c.next_frame(timeout=1.0)
            except TimeoutError:
                continue
            frames += 1
            if time.monotonic() - last >= args.print_every:
                last = time.monotonic()
                shown = ", ".join(f"{n}={v:.6g}" for n, v in list(f.as_dict().items())[:6])
                print(f"frame {f.frame} t={f.time:.3f}s {shown}")
        st = c.stats()
        elapsed = time.monotonic() - start
        print(f"{frames} frames in {elapsed:.1f} s = {frames / elapsed:.1f} Hz; "
              f"server sent {st['sent']}, dropped {st['dropped']}")
        for ev in c.events:
            print(f"event: {ev['event']} at frame {ev.get('frame')}")


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
        main(p.parse_args())
    except (OSError, hermes.CommandError) as e:
        sys.exit(f"client: {e}")
