#!/usr/bin/env python3
"""Checks that the library's modules import only downward.

The layers, bottom to top, are the `mod` lines (`pub mod` too) of
src/lib.rs in their order there. Every path a source file names outside comments, in `use` items
(multi-line groups included) or inline, starting `crate::` or `super::`,
is resolved to the top-level module it reaches (a root re-export such as
`crate::Pattern` counts as the module that defines it); it must be the
file's own module or one listed before it. Inside `arch`, the reference
(`arch/all`) may reach nothing of `arch` but itself: it never dispatches.

Exits non-zero on any violation, printing each one; otherwise prints the
graph it found.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
src = root / "src"
lib = (src / "lib.rs").read_text()
layers = re.findall(r"^(?:pub )?mod (\w+);", lib, re.M)
rank = {m: i for i, m in enumerate(layers)}

# Root re-exports: item name -> defining top-level module.
exported = {}
for m in re.finditer(r"^\s*pub use (\w+)::([^;]+);", lib, re.M | re.S):
    for name in re.findall(r"\b([A-Z]\w*)\b", m.group(2)):
        exported[name] = m.group(1)


def module_path(path):
    """The module a file is: src/plan/planner.rs -> [plan, planner]."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def strip_comments(text):
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def heads(group):
    """The first segment of each path of a `{...}` group, at depth 0."""
    out, depth, cur = [], 0, ""
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and ch == ",":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [re.match(r"\s*(\w*)", p).group(1) for p in out if p.strip()]


def groups(text, start):
    """The `{...}` group beginning at `start` (balanced)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    return text[start + 1 :]


edges, bad = {}, []
path_re = re.compile(r"\b(crate|self|super)((?:::super)*)::(\{|\w+)")
for path in sorted(src.rglob("*.rs")):
    here = module_path(path)
    if not here or here[0] not in rank:  # lib.rs itself
        continue
    text = strip_comments(path.read_text())
    for m in path_re.finditer(text):
        base, supers, nxt = m.group(1), m.group(2), m.group(3)
        if base == "self":
            continue
        if base == "crate":
            at = []
        else:
            ups = 1 + supers.count("super")
            # A file's `super` is its parent module.
            at = here[: max(len(here) - ups, 0)]
        names = heads(groups(text, m.start(3))) if nxt == "{" else [nxt]
        for name in names:
            full = at + [name] if name else at
            if not full:
                continue
            top = full[0]
            dep = top if top in rank else exported.get(top)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{path.relative_to(root)}:{line}"
            # arch/all, the reference, reaches nothing of arch but itself.
            if here[:2] == ["arch", "all"] and full[:1] == ["arch"] and full[:2] != ["arch", "all"]:
                if len(full) > 1 or base == "super":
                    bad.append(f"{where}: arch/all -> {'::'.join(full)} (the reference never dispatches)")
            if dep is None or dep == here[0]:
                continue
            edges.setdefault(here[0], set()).add(dep)
            if rank[dep] > rank[here[0]]:
                bad.append(f"{where}: {here[0]} -> {dep} ({'::'.join(full)})")

for mod in layers:
    deps = sorted(edges.get(mod, ()), key=rank.get)
    print(f"{mod:8} -> {', '.join(deps) if deps else '(nothing)'}")
if bad:
    print("\nupward imports (a layer may import only the ones before it in src/lib.rs):")
    print("\n".join(sorted(set(bad))))
    sys.exit(1)
print(f"layers: {len(layers)} top-level modules, every import downward, no cycle; arch/all stands alone")
