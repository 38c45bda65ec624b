#!/usr/bin/env python3
"""libhermes.so must export only the public API: hermes_* functions declared
with HERMES_API in include/hermes/*.h, and every declared function must be
exported."""
import pathlib, re, subprocess, sys

lib, incdir = sys.argv[1], pathlib.Path(sys.argv[2])
out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
exported = {line.split()[-1] for line in out.splitlines() if line.split()[1] in ("T", "D", "B", "R")}
declared = set()
for h in incdir.glob("*.h*"):
    declared |= set(re.findall(r"HERMES_API[^;(]*?\b(hermes_\w+)\s*\(", h.read_text(), re.S))
stray = sorted(s for s in exported if not s.startswith("hermes_") and s not in ("_init", "_fini"))
missing = sorted(declared - exported)
extra = sorted(s for s in exported if s.startswith("hermes_") and s not in declared)
for name, items in (("exported but not hermes_*", stray), ("declared HERMES_API but not exported", missing),
                    ("exported hermes_* not declared in a public header", extra)):
    if items:
        print(f"{name}: {' '.join(items)}")
print(f"{len(exported)} exported symbols, {len(declared)} declared")
sys.exit(1 if stray or missing or extra else 0)
