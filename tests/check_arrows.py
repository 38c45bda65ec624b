#!/usr/bin/env python3
"""Every arrow one way: fail when two lib files, or two lib components
(lib/<component>/, sub-folders included), depend on each other.

The graph comes from the built objects, not from reading sources: for every
object of the static core (lib/libhermes_core.a) nm gives the symbols it
defines and the ones it needs; an object that needs a symbol another defines
depends on it. Objects map back to their sources through the build's
compile_commands.json (exact, whatever the object naming scheme), and the
archive's member list is compared with that map so no object is left out.
Prints every circle found (file and component level) and exits 1.

usage: check_arrows.py BUILD_DIR [SOURCE_ROOT]
"""
import json
import os
import subprocess
import sys

CORE = "lib/libhermes_core.a"


def nm_symbols(path):
    """(defined, undefined) global symbol sets of one object."""
    out = subprocess.run(["nm", "-P", "-g", path], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind in ("U", "w", "v"):  # needed (weak references count as needs)
            undefined.add(name)
        else:
            defined.add(name)
    return defined, undefined


def core_objects(build):
    """{object path: source path relative to the source root} of the core lib."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        cmds = json.load(f)
    prefix = CORE + ".p" + os.sep
    objs = {}
    for c in cmds:
        out = c.get("output", "")
        if not out.startswith(prefix):
            continue
        src = c["file"]
        if not os.path.isabs(src):
            src = os.path.normpath(os.path.join(c.get("directory", build), src))
        objs[os.path.join(build, out)] = src
    members = subprocess.run(["ar", "t", os.path.join(build, CORE)], check=True,
                             capture_output=True, text=True).stdout.split()
    known = {os.path.basename(o) for o in objs}
    missing = [m for m in members if os.path.basename(m) not in known]  # thin archives list paths
    if missing:
        sys.exit("check_arrows: archive members with no compile command: %s" % ", ".join(missing))
    if not objs:
        sys.exit("check_arrows: no objects of %s in compile_commands.json" % CORE)
    return objs


def find_cycles(nodes, edges):
    """One cycle per strongly connected component of more than one node (Tarjan)."""
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            u, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[u] = min(low[u], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[u])
            if low[u] == index[u]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == u:
                        break
                if len(comp) > 1:
                    sccs.append(set(comp))

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    cycles = []
    for comp in sccs:  # a shortest way back to the start, inside the component
        start = min(comp)
        prev, frontier, path = {start: None}, [start], None
        while frontier and path is None:
            nxt = []
            for u in frontier:
                for w in sorted(edges.get(u, ())):
                    if w not in comp:
                        continue
                    if w == start:
                        path = [u]
                        while prev[path[-1]] is not None:
                            path.append(prev[path[-1]])
                        path.reverse()
                        break
                    if w not in prev:
                        prev[w] = u
                        nxt.append(w)
                if path:
                    break
            frontier = nxt
        cycles.append((sorted(comp), path + [start]))
    return cycles


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
    objs = core_objects(build)
    if root is None:
        root = os.path.commonpath(list(objs.values()))
        while os.path.basename(root) != "lib" and root != os.path.dirname(root):
            root = os.path.dirname(root)
        root = os.path.dirname(root)
    defs, needs = {}, {}
    owner = {}
    for obj, src in objs.items():
        name = os.path.relpath(src, root)
        d, u = nm_symbols(obj)
        defs[name], needs[name] = d, u
        for s in d:
            owner.setdefault(s, set()).add(name)
    edges, why = {}, {}
    for name, u in needs.items():
        for s in u:
            for o in owner.get(s, ()):
                if o != name:
                    edges.setdefault(name, set()).add(o)
                    why.setdefault((name, o), []).append(s)

    def component(f):
        parts = f.split(os.sep)
        return os.sep.join(parts[:2]) if parts[0] == "lib" and len(parts) > 2 else os.path.dirname(f)

    cedges, cwhy = {}, {}
    for (a, b), syms in why.items():
        ca, cb = component(a), component(b)
        if ca != cb:
            cedges.setdefault(ca, set()).add(cb)
            cwhy.setdefault((ca, cb), []).append("%s -> %s (%s)" % (a, b, sorted(syms)[0]))

    bad = 0
    for comp, cyc in find_cycles(set(defs), edges):
        bad += 1
        print("file circle among %s:" % ", ".join(comp))
        for a, b in zip(cyc, cyc[1:]):
            print("  %s -> %s  (%s)" % (a, b, ", ".join(sorted(why[(a, b)])[:4])))
    for comp, cyc in find_cycles({component(f) for f in defs}, cedges):
        bad += 1
        print("component circle among %s:" % ", ".join(comp))
        for a, b in zip(cyc, cyc[1:]):
            print("  %s -> %s  e.g. %s" % (a, b, sorted(cwhy[(a, b)])[0]))
    nedges = sum(len(v) for v in edges.values())
    if bad:
        print("check_arrows: %d circle(s) in %d files, %d file arrows" % (bad, len(defs), nedges))
        return 1
    print("check_arrows: no circle in %d files (%d file arrows)" % (len(defs), nedges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
