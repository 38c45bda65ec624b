#!/usr/bin/env python3
"""Write a large Hermes config for start-up measurements.

    bench/gen_config.py SIGNALS [WIRES] [MODULES] > big.yaml

SIGNALS signals spread over MODULES injection modules (default 2), one per
line in flow style as users write them; the second half of every module's
signals are writable. WIRES wires (default 0) each drive a distinct writable
signal of module k+1 from a signal of module k. The same shape as
bench/bench_startup.c and tests/test_startup_scale.c generate in memory.
Standard library only.
"""
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    nsig = int(sys.argv[1])
    nwire = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    nmod = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    per = max(1, nsig // nmod)
    half = per // 2
    if nwire > half * (nmod - 1) and nmod > 1:
        sys.exit(f"at most {half * (nmod - 1)} wires with {nsig} signals in {nmod} modules")
    out = sys.stdout
    out.write('version: "0.2"\nmodules:\n')
    for m in range(nmod):
        out.write(f"  m{m}:\n    type: injection\n    signals:\n")
        for s in range(per):
            w = ", writable: true" if s >= half else ""
            out.write(f"      - {{name: s{s}, type: f64, unit: m{w}, initial: 0.5}}\n")
    if nwire:
        out.write("wiring:\n")
        for k in range(nwire):
            m, s = divmod(k, half)
            out.write(f"  - {{src: m{m}.s{s}, dst: m{m + 1}.s{half + s}, gain: 2}}\n")
    out.write("execution:\n  mode: afap\n  rate_hz: 1000\n")


if __name__ == "__main__":
    main()
