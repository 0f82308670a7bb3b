#!/usr/bin/env python3
"""Checks the shape of the source tree: no import circles between modules, no file too long.

Every `crate::a::b` and `super::x` path in a file (in `use` lines and inline) is an edge from the
file's module to the module it names (the longest prefix that is a module file). Edges from a
module to its own ancestors or descendants are not circles of design (a parent re-exports its
children), so only edges between modules that are neither are kept; a strongly connected group
of two or more modules is reported as a circle.

Usage: scripts/module-graph.py [--max-lines N] [--strict-lines] [ROOT…]
       (default: src and every crates/*/src of the workspace, each its own graph; 800 lines)
Exit 1 when a circle is found (and, with --strict-lines, a file longer than N); prints each.
Long files are listed as warnings otherwise, until the last of them is split.
"""
import glob
import os
import re
import sys

PATH_RE = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_files(root):
    """Map module path tuple -> file path, for every .rs file under root."""
    mods = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            mods[tuple(rel)] = path
    return mods


def strip_tests_and_comments(text):
    # Test modules may reach anywhere; they are not part of the design's graph.
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod tests", text, re.M)
    if cut:
        text = text[: cut.start()]
    return re.sub(r"//[^\n]*", "", text)


def resolve(module, kind, rest, mods):
    parts = [p for p in rest.split("::") if p]
    if kind == "crate":
        base = []
    else:
        base = list(module[:-1])
        while parts and parts[0] == "super":
            parts.pop(0)
            base = base[:-1]
    full = base + parts
    for n in range(len(full), 0, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return None


def related(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def circles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv):
    max_lines = 800
    strict_lines = False
    roots = []
    it = iter(argv)
    for a in it:
        if a == "--max-lines":
            max_lines = int(next(it))
        elif a == "--strict-lines":
            strict_lines = True
        else:
            roots.append(a)
    roots = roots or ["src"] + sorted(glob.glob("crates/*/src"))
    failed = False
    for root in roots:
        mods = module_files(root)
        graph = {}
        for module, path in mods.items():
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            lines = text.count("\n")
            if lines > max_lines:
                print(f"{'' if strict_lines else 'warning: '}{path}: {lines} lines (at most {max_lines})")
                failed = failed or strict_lines
            for kind, rest in PATH_RE.findall(strip_tests_and_comments(text)):
                target = resolve(module, kind, rest, mods)
                if target and target != module and not related(module, target):
                    graph.setdefault(module, set()).add(target)
        for group in circles(graph):
            names = ", ".join("::".join(m) or "crate" for m in group)
            print(f"{root}: import circle between {names}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
