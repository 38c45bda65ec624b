#!/usr/bin/env python3
"""readme_campaign: runs the README's campaign commands exactly as written.

usage: readme_campaign.py SOURCE_ROOT BUILD_ROOT

The commands are the indented lines between the README markers
`<!-- readme_campaign: begin ... -->` and `<!-- readme_campaign: end -->`.
They are written for the repository root after `meson setup build && ninja -C
build`, so they run in a scratch directory laid out like one: a copy of
examples/campaign/ and build/cli, build/examples linked to BUILD_ROOT (the
campaign directory the commands create lands in the scratch build/, not in
the real build). Then results.csv must have one ok row per planned run, the
columns of the campaign file's dispersions and outputs, and the values and
seeds of runs.csv. Exit 77 (skipped) without GNU parallel.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BEGIN = "<!-- readme_campaign: begin"
END = "<!-- readme_campaign: end"
DEADLINE_S = 90   # all commands together; they take about 10 s here


def fail(msg):
    print("readme_campaign: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def readme_commands(readme):
    text = open(readme, encoding="utf-8").read()
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        fail("%s: expected one '%s' and one '%s' marker" % (readme, BEGIN, END))
    block = text[text.index(BEGIN):text.index(END)].split("\n")[1:]
    cmds = [line[4:] for line in block if line.startswith("    ") and line.strip()]
    if not cmds or any(line.strip() and not line.startswith("    ") and not line.startswith("<!--")
                       for line in block):
        fail("the README's campaign block must be 4-space indented command lines, got %r" % block)
    return cmds


def campaign_file(path):
    """runs, dispersed signals, output columns of the example (the few keys this test needs)."""
    text = open(path, encoding="utf-8").read()
    runs = int(re.search(r"^runs:\s*(\d+)", text, re.M).group(1))
    disp = re.findall(r"^\s*-\s*signal:\s*([\w.]+)", text, re.M)
    outs = []
    for stat in ("final", "min", "max"):
        m = re.search(r"^\s+%s:\s*\[([^\]]*)\]" % stat, text, re.M)
        if m:
            outs += ["%s:%s" % (stat, s.strip()) for s in m.group(1).split(",")]
    return runs, disp, outs


def main():
    if len(sys.argv) != 3:
        fail("usage: readme_campaign.py SOURCE_ROOT BUILD_ROOT")
    src, build = (os.path.abspath(a) for a in sys.argv[1:])
    if not shutil.which("parallel"):
        print("readme_campaign: GNU parallel is not installed: skipped")
        sys.exit(77)
    cmds = readme_commands(os.path.join(src, "README.md"))
    if not any("campaign plan examples/campaign/campaign.yaml" in c for c in cmds):
        fail("the README's commands do not plan examples/campaign/campaign.yaml: %r" % cmds)
    runs, disp, outs = campaign_file(os.path.join(src, "examples/campaign/campaign.yaml"))
    if not disp or not outs:
        fail("examples/campaign/campaign.yaml: no dispersions or outputs found")

    root = tempfile.mkdtemp(prefix="hermes-readme-campaign-")
    try:
        shutil.copytree(os.path.join(src, "examples/campaign"), os.path.join(root, "examples/campaign"))
        os.mkdir(os.path.join(root, "build"))
        for d in ("cli", "examples"):
            os.symlink(os.path.join(build, d), os.path.join(root, "build", d))
        t_end = time.monotonic() + DEADLINE_S
        for cmd in cmds:
            print("$ " + cmd, flush=True)
            left = t_end - time.monotonic()
            try:
                p = subprocess.run(["/bin/sh", "-c", cmd], cwd=root, timeout=max(left, 1))
            except subprocess.TimeoutExpired:
                fail("%r: still running after %d s in all" % (cmd, DEADLINE_S))
            if p.returncode != 0:
                fail("%r: exit status %d" % (cmd, p.returncode))
        dirs = set(re.findall(r"campaign collect (\S+)", " ".join(cmds)))
        if len(dirs) != 1:
            fail("expected one `campaign collect DIR` among the commands, got %r" % sorted(dirs))
        cdir = os.path.join(root, dirs.pop())
        check_results(cdir, runs, disp, outs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("readme_campaign: ok: %d runs, %d dispersions, %d outputs" % (runs, len(disp), len(outs)))


def check_results(cdir, runs, disp, outs):
    results = os.path.join(cdir, "results.csv")
    if not os.path.exists(results):
        fail(results + " was not written")
    with open(results, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(cdir, "runs.csv"), newline="") as f:
        planned = list(csv.DictReader(f))
    header = list(rows[0].keys()) if rows else []
    want = ["index", "seed", "status", "end_reason", "frames", "sim_time", "wall_time"] + disp + outs + ["error"]
    if header != want:
        fail("results.csv columns %r, expected %r" % (header, want))
    if len(rows) != runs or len(planned) != runs:
        fail("results.csv has %d rows and runs.csv %d, expected %d" % (len(rows), len(planned), runs))
    for i, (row, plan) in enumerate(zip(rows, planned)):
        if row["index"] != str(i) or row["status"] != "ok" or row["end_reason"] != "end_time" or row["error"]:
            fail("results.csv row %d: %r" % (i, row))
        if row["seed"] != plan["seed"] or any(float(row[d]) != float(plan[d]) for d in disp):
            fail("results.csv row %d disagrees with runs.csv: %r vs %r" % (i, row, plan))
        if any(not float(row[o]) > 0 for o in outs):   # every output of the demo is positive in flight
            fail("results.csv row %d: an output is not a positive number: %r" % (i, row))
    if len({row[disp[0]] for row in rows}) < 2:
        fail("the dispersion %s does not vary between runs" % disp[0])


if __name__ == "__main__":
    main()
