#!/usr/bin/env python3
"""libhermes.so must export only the public API: hermes_* functions declared
with HERMES_API in include/hermes/*.h, and every declared function must be
exported; and the test-only functions (defined in the files given after the
header folder: the hermes_testing library's sources) are not in it at all,
not even as hidden symbols."""
import pathlib, re, subprocess, sys

lib, incdir, testing = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
exported = {line.split()[-1] for line in out.splitlines() if line.split()[1] in ("T", "D", "B", "R")}
declared = set()
for h in incdir.glob("*.h*"):
    declared |= set(re.findall(r"HERMES_API[^;(]*?\b(hermes_\w+)\s*\(", h.read_text(), re.S))
stray = sorted(s for s in exported if not s.startswith("hermes_") and s not in ("_init", "_fini"))
missing = sorted(declared - exported)
extra = sorted(s for s in exported if s.startswith("hermes_") and s not in declared)
test_only = set()
for f in testing:
    test_only |= set(re.findall(r"^(?:int|void|bool)\s+(hermes__\w+)\s*\(", pathlib.Path(f).read_text(), re.M))
if testing and not test_only:
    print(f"no test-only function found in {' '.join(testing)}")
    sys.exit(1)
symtab = subprocess.run(["nm", lib], capture_output=True, text=True).stdout
if "no symbols" in symtab or not symtab.strip():
    symtab = subprocess.run(["nm", "-D", lib], capture_output=True, text=True).stdout
present = {line.split()[-1] for line in symtab.splitlines() if line.split()}
shipped_tests = sorted(test_only & present)
for name, items in (("test-only code in the shipped library", shipped_tests), ("exported but not hermes_*", stray), ("declared HERMES_API but not exported", missing),
                    ("exported hermes_* not declared in a public header", extra)):
    if items:
        print(f"{name}: {' '.join(items)}")
print(f"{len(exported)} exported symbols, {len(declared)} declared, {len(test_only)} test-only functions checked")
sys.exit(1 if stray or missing or extra or shipped_tests else 0)
