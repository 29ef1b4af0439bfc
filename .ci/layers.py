#!/usr/bin/env python3
"""Checks that the library's top-level modules import only downward.

The layers, bottom to top, are read from the `mod` lines of src/lib.rs (in
their order there). Every path a source file names outside comments,
`crate::<module>::...` or a root re-export such as `crate::Pattern`, must
lead to its own top-level module or one listed before it. Exits non-zero on
any upward import, printing each one; otherwise prints the graph it found.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
lib = (root / "src" / "lib.rs").read_text()
layers = re.findall(r"^mod (\w+);", lib, re.M)
rank = {m: i for i, m in enumerate(layers)}

# Root re-exports: item name -> defining top-level module.
exported = {}
for m in re.finditer(r"^\s*pub use (\w+)::([^;]+);", lib, re.M | re.S):
    module, rest = m.group(1), m.group(2)
    for name in re.findall(r"\b([A-Z]\w*)\b", rest):
        exported[name] = module

def module_of(path):
    rel = path.relative_to(root / "src")
    top = rel.parts[0]
    return top[:-3] if top.endswith(".rs") else top

edges = {}
bad = []
for path in sorted((root / "src").rglob("*.rs")):
    mod = module_of(path)
    if mod not in rank:  # lib.rs itself
        continue
    for n, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("//")[0]
        if not code.strip():
            continue
        targets = set(re.findall(r"\bcrate::(\w+)", code))
        # `use crate::{a, b}` style
        for group in re.findall(r"\bcrate::\{([^}]*)\}", code):
            targets |= set(re.findall(r"\b(\w+)", group))
        for t in targets:
            dep = t if t in rank else exported.get(t)
            if dep is None or dep == mod:
                continue
            edges.setdefault(mod, set()).add(dep)
            if rank[dep] > rank[mod]:
                bad.append(f"{path.relative_to(root)}:{n}: {mod} -> {dep}: {line.strip()}")

for mod in layers:
    deps = sorted(edges.get(mod, ()), key=rank.get)
    print(f"{mod:8} -> {', '.join(deps) if deps else '(nothing)'}")
if bad:
    print("\nupward imports (a layer may import only the ones listed before it in src/lib.rs):")
    print("\n".join(bad))
    sys.exit(1)
print(f"layers: {len(layers)} top-level modules, every import downward, no cycle")
