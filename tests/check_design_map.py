#!/usr/bin/env python3
"""docs/design.md is the map of lib/: its section "## The folder tree" must name
every source and header under lib/ (as `folder/file.c`, relative to lib/, in
backticks), and every lib path it names must exist. Usage: check_design_map.py ROOT"""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
text = (root / "docs/design.md").read_text()
m = re.search(r"^## The folder tree\n(.*?)(?=^## )", text, re.S | re.M)
if not m:
    print("docs/design.md: no section '## The folder tree'")
    sys.exit(1)
lib = root / "lib"
folders = {p.name for p in lib.iterdir() if p.is_dir()}
named = set()
for tok in re.findall(r"`([^`\n]+)`", m.group(1)):
    for part in re.split(r"[,\s]+", tok):
        part = part.removeprefix("lib/")
        if re.fullmatch(r"[\w./-]+\.[ch]", part) and part.split("/")[0] in folders:
            named.add(part)
actual = {str(p.relative_to(lib)) for p in lib.rglob("*") if p.suffix in (".c", ".h")}
missing = sorted(actual - named)
stale = sorted(p for p in named - actual if p.endswith((".c", ".h")))
for label, items in (("lib files missing from the map", missing), ("map names files that do not exist", stale)):
    if items:
        print(f"{label}:\n  " + "\n  ".join(items))
print(f"{len(actual)} lib files, {len(named)} named in docs/design.md")
sys.exit(1 if missing or stale else 0)
