"""Generate golden pruning masks from Intel Neural Compressor (INC) 2.0's own code.

Writes, next to this script (or into --out DIR):
  inc20_nxm.json   PATTERNS["NxM"].get_masks(...)           (global and local)
  inc20_nm.json    PATTERNS["N:M"].get_masks(...)           (global and local)
  inc20_lock.json  <pattern>.get_pattern_lock_masks(modules) (NxM and N:M)

Usage
-----
    pip download --no-deps neural-compressor==2.0      # or any copy of the wheel
    unzip neural_compressor-2.0-py3-none-any.whl -d /tmp/inc20
    python make_inc_golden.py /tmp/inc20 [--out DIR]

The path is the folder the INC 2.0 wheel (neural_compressor-2.0-py3-none-any.whl)
was unzipped into, i.e. the one holding `neural_compressor/`; the folder
`.../neural_compressor/experimental/pytorch_pruner` itself is accepted too.
Only `experimental/pytorch_pruner/patterns.py` is loaded, by file path, with a
stub `logger` module, so neither `neural_compressor/__init__.py` nor its heavy
dependencies are imported. Needs torch and numpy (any recent CPU build; made
with torch 2.15.0 and numpy 2.4.6 on Python 3.11). A patterns.py whose sha256
is not INC 2.0's gives a warning.

Everything is deterministic: the inputs come from numpy's PCG64 seeded with the
CRC32 of the case name, and the inputs themselves are written into the files.
With torch 2.15.0 the output was byte-identical (except the `cpu_capability`
field) under ATEN_CPU_CAPABILITY=avx512 (native), avx2 and default. The "_order"
cases depend on torch's float32 summation order for the block means (see
probe_torch_sum_order.py beside this script): a torch build that orders its CPU
sums differently could change their masks.

File format
-----------
    {"generator": "make_inc_golden.py", "inc_version": "2.0", "torch_version": ...,
     "numpy_version": ..., "cpu_capability": ..., "patterns_py_sha256": ...,
     "cases": [
       {"name": ..., "pattern": "4x1", "domain": "global"|"local", "input": "real",
        "target": 0.5, "max_layer": 0.98, "cap_recomputes": 0, "warnings": [...],
        "layers": [{"name": "l0", "shape": [16, 32], "scores": [...], "mask": [...]}, ...]},
       ...]}

* `scores` / `mask` are flat row-major in the tensor's own layout; conv layers
  are OIHW ([O, I, H, W]) and flattened in OIHW order.
* Scores are float32 values written as the double nearest to numpy's shortest
  float32 representation: parsing as f64 and casting to f32 (or parsing
  directly as f32) gives back the exact float32 (checked when writing).
* `mask` holds 0/1 integers.
* If INC raised for a case, the case has `"error": "<ExceptionType>: <message>"`
  and its layers have no `mask`.
* `cap_recomputes` counts calls of `get_mask_single`, i.e. layers for which the
  per-layer cap (`max_sparsity_ratio_per_layer`) path was taken.
* `warnings` are the messages INC logged (e.g. layers a pattern does not fit).
* Lock cases (inc20_lock.json) have `weights` instead of `scores` and no
  domain/target/max_layer (get_pattern_lock_masks takes only the modules).
* `input` kinds: real = |N(0,1)| float32; signed = N(0,1) float32;
  ties = integers 0..3 as float32; tiesf = values from {0.1, 0.2, 0.5, 1.0} (as float32);
  ties2f / ties3f / ties6f = values from {0.1, 0.2} / {0.1, 0.3, 0.7} /
  {0.1, 0.2, 0.7, 0.9, 1.3, 1.7} (as float32). Their blocks share value multisets in
  different arrangements, so the float32 block means differ by an ulp or not
  depending on torch's exact summation order: the cases with "_order" in their
  name check that order (a naive sequential or float64 mean gets other masks).
"""
import argparse
import hashlib
import importlib.util
import json
import logging
import os
import sys
import types
import zlib
from types import SimpleNamespace

import numpy as np
import torch

F32 = np.float32
# sha256 of neural_compressor/experimental/pytorch_pruner/patterns.py in the
# neural_compressor-2.0-py3-none-any.whl wheel.
INC20_PATTERNS_SHA256 = "46458844c6f3ba4324fda54cacea4b33e67e8763b6102273d77d64f549438fd3"


# ----------------------------------------------------------------------------
# Loading INC's patterns.py without importing neural_compressor
# ----------------------------------------------------------------------------
class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _find_pruner_dir(inc_path):
    cands = [
        os.path.join(inc_path, "neural_compressor", "experimental", "pytorch_pruner"),
        os.path.join(inc_path, "experimental", "pytorch_pruner"),
        os.path.join(inc_path, "pytorch_pruner"),
        inc_path,
    ]
    for c in cands:
        if os.path.isfile(os.path.join(c, "patterns.py")):
            return os.path.abspath(c)
    sys.exit(f"patterns.py not found under {inc_path!r} (looked in {cands})")


def _inc_version(pruner_dir):
    vfile = os.path.join(os.path.dirname(os.path.dirname(pruner_dir)), "version.py")
    if os.path.isfile(vfile):
        ns = {}
        with open(vfile) as f:
            exec(compile(f.read(), vfile, "exec"), ns)
        return ns.get("__version__")
    return None


def load_inc_patterns(inc_path):
    pruner_dir = _find_pruner_dir(inc_path)
    pfile = os.path.join(pruner_dir, "patterns.py")
    with open(pfile, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    version = _inc_version(pruner_dir)
    if sha != INC20_PATTERNS_SHA256:
        print(f"WARNING: {pfile} sha256 {sha} differs from INC 2.0's", file=sys.stderr)
    if version is not None and version != "2.0":
        print(f"WARNING: INC version.py says {version!r}, expected '2.0'", file=sys.stderr)

    pkg_name = "_inc20_pytorch_pruner"
    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = [pruner_dir]
    sys.modules[pkg_name] = pkg

    log_mod = types.ModuleType(pkg_name + ".logger")
    inc_logger = logging.getLogger("inc20_golden_stub")
    inc_logger.propagate = False
    inc_logger.setLevel(logging.DEBUG)
    handler = _ListHandler()
    inc_logger.addHandler(handler)
    log_mod.logger = inc_logger
    sys.modules[pkg_name + ".logger"] = log_mod

    spec = importlib.util.spec_from_file_location(pkg_name + ".patterns", pfile)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[pkg_name + ".patterns"] = mod
    spec.loader.exec_module(mod)
    return mod, handler, sha, version


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------
def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode("utf-8")))


def make_scores(rng, shape, kind, scale=1.0):
    if kind == "real":
        x = np.abs(rng.standard_normal(shape)).astype(F32)
    elif kind == "signed":
        x = rng.standard_normal(shape).astype(F32)
    elif kind == "ties":
        x = rng.integers(0, 4, size=shape).astype(F32)
    elif kind == "tiesf":
        x = rng.choice(np.array([0.1, 0.2, 0.5, 1.0], dtype=F32), size=shape)
    elif kind == "ties2f":
        x = rng.choice(np.array([0.1, 0.2], dtype=F32), size=shape)
    elif kind == "ties3f":
        x = rng.choice(np.array([0.1, 0.3, 0.7], dtype=F32), size=shape)
    elif kind == "ties6f":
        x = rng.choice(np.array([0.1, 0.2, 0.7, 0.9, 1.3, 1.7], dtype=F32), size=shape)
    else:
        raise ValueError(kind)
    if scale != 1.0:
        x = (x * F32(scale)).astype(F32)
    return np.ascontiguousarray(x, dtype=F32)


def f32_json(a):
    """float32 array -> list of Python floats d with float32(d) == a exactly."""
    flat = np.ascontiguousarray(a, dtype=F32).reshape(-1)
    out = []
    for v in flat:
        d = float(str(v))  # numpy's shortest round-trip repr of the float32
        if np.float32(d).view(np.uint32) != v.view(np.uint32):
            d = float(v)  # exact double of the float32 (never needed so far)
        assert np.float32(d).view(np.uint32) == v.view(np.uint32)
        out.append(d)
    return out


def mask_json(m, shape):
    t = m.detach().to("cpu")
    assert tuple(t.shape) == tuple(shape), (tuple(t.shape), shape)
    flat = t.reshape(-1).tolist()
    out = []
    for v in flat:
        assert v == 0.0 or v == 1.0, v
        out.append(int(v))
    return out


def err_str(e):
    return f"{type(e).__name__}: {e}".strip()


# ----------------------------------------------------------------------------
# Case runners
# ----------------------------------------------------------------------------
def run_mask_case(P, handler, name, pattern, domain, kind, target, max_layer, layers):
    """layers: list of (layer_name, shape, scale) or (layer_name, shape, scale, kind)."""
    rng = rng_for(name)
    arrays = {}
    for spec in layers:
        lname, shape, scale = spec[:3]
        lkind = spec[3] if len(spec) > 3 else kind
        arrays[lname] = make_scores(rng, shape, lkind, scale)
    scores = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    pre_masks = {k: torch.ones(v.shape) for k, v in arrays.items()}

    cfg = SimpleNamespace(pattern=pattern, prune_domain=domain)
    pat = P.get_pattern(cfg)
    calls = []
    orig_single = pat.get_mask_single

    def counting_single(score, ratio):
        calls.append(1)
        return orig_single(score, ratio)

    pat.get_mask_single = counting_single
    handler.messages.clear()
    error = None
    try:
        masks = pat.get_masks(scores, target, pre_masks, max_layer)
    except Exception as e:  # INC raised: record it
        error = err_str(e)
        masks = None

    case = {"name": name, "pattern": pattern, "domain": domain, "input": kind,
            "target": target, "max_layer": max_layer}
    if error is None:
        case["cap_recomputes"] = len(calls)
    case["warnings"] = list(handler.messages)
    if error is not None:
        case["error"] = error
    out_layers = []
    for lname, arr in arrays.items():
        L = {"name": lname, "shape": list(arr.shape), "scores": f32_json(arr)}
        if masks is not None:
            L["mask"] = mask_json(masks[lname], arr.shape)
        out_layers.append(L)
    case["layers"] = out_layers
    return case


class _WeightModule(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.from_numpy(w.copy()), requires_grad=False)


def make_lock_weights(rng, shape, unit):
    """Signed normal weights with many exact zeros.

    unit: ("block", bn, bm) for NxM (bn/bm may be "channel"), ("group", N, M) for N:M.
    Units are taken on the [O, H*W*I] (conv, OHWI order) / [R, C] view INC uses.
    Mixes: whole zero units, units with exactly N zeros (N:M), scattered zeros,
    -0.0 zeros, and one unit whose signed sum is 0 but whose values are not.
    """
    w = rng.standard_normal(shape).astype(F32)
    if len(shape) == 4:
        v = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(shape[0], -1)
    else:
        v = w.copy()
    R, C = v.shape
    # scattered zeros
    v[rng.random((R, C)) < 0.12] = 0.0
    if unit[0] == "block":
        bn = R if unit[1] == "channel" else unit[1]
        bm = (shape[1] if unit[2] == "channel" else unit[2])
        nb_r, nb_c = R // bn, C // bm
        blocks = [(i, j) for i in range(nb_r) for j in range(nb_c)]
        order = rng.permutation(len(blocks))
        nzero = max(1, len(blocks) // 4)
        for t in order[:nzero]:
            i, j = blocks[t]
            v[i * bn:(i + 1) * bn, j * bm:(j + 1) * bm] = 0.0
        # a block whose values cancel (+a, -a, ...) but are not zero
        if len(order) > nzero and bn * bm >= 2:
            i, j = blocks[order[nzero]]
            blk = np.full((bn, bm), F32(0.75))
            blk.reshape(-1)[1::2] = F32(-0.75)
            if (bn * bm) % 2:
                blk.reshape(-1)[-1] = 0.0
            v[i * bn:(i + 1) * bn, j * bm:(j + 1) * bm] = blk
        # a block with a single nonzero
        if len(order) > nzero + 1:
            i, j = blocks[order[nzero + 1]]
            v[i * bn:(i + 1) * bn, j * bm:(j + 1) * bm] = 0.0
            v[i * bn, j * bm] = F32(-0.5)
    else:
        N, M = unit[1], unit[2]
        g = v.reshape(R, C // M, M)
        ng = R * (C // M)
        order = rng.permutation(ng)
        q = ng // 4
        for t in order[:q]:  # whole group zero
            g[t // (C // M), t % (C // M), :] = 0.0
        for t in order[q:2 * q]:  # exactly N zeros
            r, c = t // (C // M), t % (C // M)
            vals = rng.standard_normal(M).astype(F32)
            vals[vals == 0] = F32(1.0)
            vals[rng.permutation(M)[:N]] = 0.0
            g[r, c, :] = vals
        for t in order[2 * q:2 * q + q // 2]:  # N-1 zeros (fewer than N)
            r, c = t // (C // M), t % (C // M)
            vals = rng.standard_normal(M).astype(F32)
            vals[vals == 0] = F32(1.0)
            if N - 1 > 0:
                vals[rng.permutation(M)[:N - 1]] = 0.0
            g[r, c, :] = vals
        v = g.reshape(R, C)
    # some zeros become -0.0
    zs = np.argwhere(v == 0)
    for idx in zs[rng.random(len(zs)) < 0.3]:
        v[tuple(idx)] = F32(-0.0)
    if len(shape) == 4:
        w = np.ascontiguousarray(v.reshape(shape[0], shape[2], shape[3], shape[1]).transpose(0, 3, 1, 2))
    else:
        w = v
    return np.ascontiguousarray(w, dtype=F32)


def run_lock_case(P, handler, name, pattern, unit, layers):
    rng = rng_for(name)
    arrays = {}
    for lname, shape in layers:
        arrays[lname] = make_lock_weights(rng, shape, unit)
    modules = {k: _WeightModule(v) for k, v in arrays.items()}
    pat = P.get_pattern(SimpleNamespace(pattern=pattern, prune_domain="global"))
    handler.messages.clear()
    error = None
    try:
        masks = pat.get_pattern_lock_masks(modules)
    except Exception as e:
        error = err_str(e)
        masks = None
    case = {"name": name, "pattern": pattern, "warnings": list(handler.messages)}
    if error is not None:
        case["error"] = error
    out_layers = []
    for lname, arr in arrays.items():
        L = {"name": lname, "shape": list(arr.shape), "weights": f32_json(arr)}
        if masks is not None:
            L["mask"] = mask_json(masks[lname], arr.shape)
        out_layers.append(L)
    case["layers"] = out_layers
    return case


# ----------------------------------------------------------------------------
# Case lists
# ----------------------------------------------------------------------------
# (pattern, fitting layers, one layer that the pattern does not fit)
NXM_LAYERS = {
    "4x1": ([("l0", [16, 32]), ("l1", [32, 16]), ("c0", [8, 4, 3, 3])], ("nf", [10, 16])),
    "1x4": ([("l0", [16, 32]), ("l1", [8, 64]), ("c0", [8, 4, 3, 3])], ("nf", [8, 18])),
    "2x2": ([("l0", [16, 32]), ("l1", [12, 24]), ("c0", [8, 4, 3, 3])], ("nf", [9, 16])),
    "4x4": ([("l0", [16, 32]), ("l1", [32, 16]), ("c0", [8, 4, 3, 3])], ("nf", [12, 18])),
    "8x1": ([("l0", [16, 32]), ("l1", [32, 16]), ("c0", [8, 4, 3, 3])], ("nf", [12, 16])),
    "1x8": ([("l0", [16, 32]), ("l1", [8, 64]), ("c0", [8, 8, 3, 3])], ("nf", [8, 4, 3, 3])),
    "16x1": ([("l0", [16, 32]), ("l1", [32, 16]), ("l2", [48, 8])], ("nf", [8, 4, 3, 3])),
    "channelx1": ([("l0", [16, 32]), ("l1", [32, 16]), ("c0", [8, 4, 3, 3])], None),
    "1xchannel": ([("l0", [16, 32]), ("l1", [8, 64]), ("c0", [8, 4, 3, 3])], None),
    "3x2": ([("l0", [12, 32]), ("l1", [24, 16]), ("c0", [6, 4, 3, 3])], ("nf", [16, 32])),
    "1x1": ([("l0", [16, 32]), ("l1", [8, 24]), ("c0", [8, 4, 3, 3])], None),
}

NM_LAYERS = {
    4: ([("l0", [16, 32]), ("l1", [8, 64]), ("c0", [8, 8, 3, 3])], ("nf", [8, 18])),
    2: ([("l0", [16, 32]), ("l1", [8, 64]), ("c0", [8, 8, 3, 3])], ("nf", [8, 9])),
    # [8, 2, 2, 2]: I=2 is not a multiple of 8 although H*W*I=8 is; INC 2.0
    # checks shape[1] of the original (OIHW) tensor, so this conv is left unpruned.
    8: ([("l0", [16, 32]), ("l1", [8, 64]), ("c0", [8, 8, 3, 3])], ("nf", [8, 2, 2, 2])),
}


def _layers(fit, nf, with_nf, scales=None):
    scales = scales or {}
    out = [(n, s, scales.get(n, 1.0)) for n, s in fit]
    if with_nf and nf is not None:
        out.append((nf[0], nf[1], scales.get(nf[0], 1.0)))
    return out


def nxm_cases(P, h):
    cases = []

    def add(pattern, domain, kind, target, max_layer, scales=None, with_nf=None, tag="", layers=None):
        if layers is not None:
            ls = layers
        else:
            fit, nf = NXM_LAYERS[pattern]
            if with_nf is None:
                with_nf = domain == "global"
            ls = _layers(fit, nf, with_nf, scales)
        name = f"nxm_{pattern}_{domain}_{kind}_s{target}_m{max_layer}{tag}"
        cases.append(run_mask_case(P, h, name, pattern, domain, kind, target, max_layer, ls))

    # main sweep: each pattern once global (with a non-fitting layer), once local
    sweep = [
        ("4x1", ("real", 0.5), ("real", 0.3)),
        ("1x4", ("real", 0.9), ("signed", 0.5)),
        ("2x2", ("signed", 0.3), ("real", 0.9)),
        ("4x4", ("real", 0.5), ("ties", 0.5)),
        ("8x1", ("ties", 0.5), ("real", 0.3)),
        ("1x8", ("real", 0.3), ("real", 0.9)),
        ("16x1", ("real", 0.9), ("signed", 0.5)),
        ("channelx1", ("real", 0.5), ("real", 0.3)),
        ("1xchannel", ("real", 0.3), ("ties", 0.5)),
        ("3x2", ("real", 0.5), ("real", 0.5)),
    ]
    for pattern, (gk, gt), (lk, lt) in sweep:
        add(pattern, "global", gk, gt, 0.98)
        add(pattern, "local", lk, lt, 0.98)

    # more inputs
    add("4x1", "global", "ties", 0.5, 0.98)
    add("1x4", "global", "tiesf", 0.3, 0.98)
    add("2x2", "global", "ties", 0.9, 0.98)
    add("1x1", "global", "ties", 0.5, 0.98)
    add("4x1", "global", "signed", 0.9, 0.98)
    add("channelx1", "global", "tiesf", 0.5, 0.98)
    add("2x2", "global", "real", 1.0, 0.98)  # k == number of blocks

    # low per-layer caps; layer l1 scaled down so the global threshold over-prunes it
    add("4x1", "global", "real", 0.5, 0.6, scales={"l1": 0.01}, tag="_cap")
    add("1x4", "global", "real", 0.9, 0.7, scales={"l1": 0.01}, tag="_cap")
    add("2x2", "global", "ties", 0.5, 0.6, scales={"l1": 0.01}, tag="_cap")
    add("channelx1", "global", "real", 0.5, 0.7, scales={"c0": 0.01}, tag="_cap")
    add("8x1", "global", "real", 0.3, 0.6, scales={"l1": 0.01}, tag="_cap")
    add("4x4", "local", "real", 0.9, 0.7, tag="_cap")
    add("1x4", "local", "ties", 0.5, 0.6, tag="_cap")

    # the cap test `sum(mask)/numel < 1.0 - max_layer` is done in float32:
    # kept = 42/100 = 0.42f and float32(1.0 - 0.58) = 0.42f, so no cap and 58
    # blocks stay pruned (a float64 comparison would cap and prune int(0.58*100) = 57)
    add("1x1", "global", "real", 0.585, 0.58, tag="_f32cmp", layers=[("l0", [10, 10], 1.0)])
    # k = int(target * n) in float64: int(0.58 * 100) = int(57.99999999999999) = 57
    add("1x1", "local", "real", 0.58, 0.98, tag="_trunc", layers=[("l0", [10, 10], 1.0), ("l1", [20, 5], 1.0)])

    # sensitive to torch's float32 summation order (see the docstring)
    t2 = "ties2f"
    add("1x16", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [16, 32], 1.0), ("l1", [8, 64], 1.0), ("l2", [12, 48], 1.0), ("nf", [8, 24], 1.0)])
    add("1x16", "local", t2, 0.3, 0.98, tag="_order",
        layers=[("l0", [16, 32], 1.0), ("l1", [8, 64], 1.0)])
    add("1x6", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [8, 24], 1.0), ("l1", [16, 36], 1.0), ("c0", [8, 2, 3, 3], 1.0), ("nf", [8, 16], 1.0)])
    add("1xchannel", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [16, 24], 1.0), ("l1", [8, 64], 1.0), ("l2", [16, 40], 1.0), ("c0", [8, 4, 3, 3], 1.0)])
    add("8x1", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [32, 16], 1.0), ("l1", [16, 40], 1.0), ("l2", [16, 12], 1.0), ("l3", [16, 6], 1.0)])
    add("16x1", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [32, 16], 1.0), ("l1", [16, 40], 1.0), ("l2", [32, 6], 1.0)])
    add("4x16", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [16, 32], 1.0), ("l1", [8, 64], 1.0), ("l2", [16, 48], 1.0)])
    add("channelx1", "global", t2, 0.5, 0.98, tag="_order",
        layers=[("l0", [16, 12], 1.0), ("l1", [32, 16], 1.0), ("l2", [24, 6], 1.0), ("c0", [8, 4, 3, 3], 1.0)])

    # k < 1: everything kept
    add("4x1", "global", "real", 0.001, 0.98, tag="_tiny")
    add("1x4", "local", "real", 0.01, 0.98, tag="_tiny")

    # errors
    fit, nf = NXM_LAYERS["4x1"]
    add("4x1", "local", "real", 0.5, 0.98, with_nf=True, tag="_nonfit")  # torch.cat of empty list
    # cap path with int(max_layer * n_blocks) == 0 -> kthvalue(k=0) raises
    add("channelx1", "global", "real", 0.5, 0.05, tag="_capk0")
    return cases


def nm_cases(P, h):
    cases = []

    def add(pattern, domain, kind, target, max_layer, scales=None, with_nf=None, tag="", layers=None):
        M = int(pattern.split(":")[1])
        if layers is None:
            fit, nf = NM_LAYERS[M]
            if with_nf is None:
                with_nf = domain == "global"
            ls = _layers(fit, nf, with_nf, scales)
        else:
            ls = layers
        name = f"nm_{pattern.replace(':', 'in')}_{domain}_{kind}_s{target}_m{max_layer}{tag}"
        cases.append(run_mask_case(P, h, name, pattern, domain, kind, target, max_layer, ls))

    add("2:4", "global", "real", 0.5, 0.98)   # target == N/M: every group pruned
    add("2:4", "global", "real", 0.3, 0.98)   # partial: 60% of groups
    add("2:4", "local", "real", 0.3, 0.98)
    add("2:4", "global", "signed", 0.5, 0.98)
    add("2:4", "global", "signed", 0.3, 0.98)
    add("2:4", "global", "ties", 0.5, 0.98)   # ties: > N zeros per group
    add("2:4", "global", "tiesf", 0.3, 0.98)
    add("2:4", "local", "ties", 0.3, 0.98)
    add("1:4", "global", "real", 0.25, 0.98)
    add("1:4", "local", "real", 0.1, 0.98)
    add("1:4", "global", "signed", 0.2, 0.98)
    add("4:8", "global", "real", 0.5, 0.98)
    add("4:8", "global", "real", 0.3, 0.98)
    add("4:8", "local", "ties", 0.3, 0.98)
    add("2:8", "global", "real", 0.25, 0.98)
    add("2:8", "local", "signed", 0.2, 0.98)
    add("1:2", "global", "real", 0.5, 0.98)
    add("1:2", "local", "real", 0.3, 0.98)
    add("1:2", "global", "ties", 0.5, 0.98)
    # caps (layer l1 scaled down)
    add("2:4", "global", "real", 0.4, 0.35, scales={"l1": 0.01}, tag="_cap")
    add("4:8", "global", "ties", 0.5, 0.6, tag="_cap")
    add("1:2", "global", "real", 0.45, 0.4, scales={"c0": 0.01}, tag="_cap")
    add("2:4", "local", "real", 0.5, 0.4, tag="_cap")
    # sensitive to torch's float32 summation order (group mean over M >= 5)
    # ("_vN" only picks the input draw: the name seeds the generator, and these
    #  draws were chosen so that sequential / float64 / pairwise means get other masks)
    add("8:16", "global", "ties2f", 0.3, 0.98, tag="_order_v1",
        layers=[("l0", [16, 32], 1.0), ("l1", [8, 64], 1.0), ("c0", [4, 16, 2, 2], 1.0)])
    add("2:16", "global", "ties2f", 0.1, 0.98, tag="_order_v1",
        layers=[("l0", [16, 32], 1.0), ("l1", [8, 64], 1.0)])
    add("4:32", "global", "ties2f", 0.1, 0.98, tag="_order_v1",
        layers=[("l0", [16, 64], 1.0)])
    add("16:32", "global", "ties3f", 0.25, 0.98, tag="_order_v4",
        layers=[("l0", [16, 64], 1.0), ("l1", [8, 96], 1.0)])
    add("3:6", "global", "ties6f", 0.3, 0.98, tag="_order_v1",
        layers=[("l0", [8, 24], 1.0), ("l1", [16, 36], 1.0)])
    # k < 1
    add("2:4", "global", "real", 0.001, 0.98, tag="_tiny")
    # errors
    add("2:4", "global", "real", 0.9, 0.98, tag="_over")       # target/(N/M) > 1 -> k > numel
    add("2:4", "local", "real", 0.3, 0.98, with_nf=True, tag="_nonfit")
    return cases


def lock_cases(P, h):
    cases = []
    specs = [
        ("4x1", ("block", 4, 1), [("l0", [16, 32]), ("c0", [8, 4, 3, 3])]),
        ("1x4", ("block", 1, 4), [("l0", [16, 32]), ("c0", [8, 4, 3, 3])]),
        ("2x2", ("block", 2, 2), [("l0", [16, 32]), ("c0", [8, 4, 3, 3])]),
        ("channelx1", ("block", "channel", 1), [("l0", [16, 32]), ("c0", [8, 4, 3, 3])]),
        ("2:4", ("group", 2, 4), [("l0", [16, 32]), ("c0", [8, 8, 3, 3])]),
        ("4:8", ("group", 4, 8), [("l0", [16, 32]), ("c0", [8, 8, 3, 3])]),
        ("1:4", ("group", 1, 4), [("l0", [8, 32])]),
    ]
    for pattern, unit, layers in specs:
        name = f"lock_{pattern.replace(':', 'in')}"
        cases.append(run_lock_case(P, h, name, pattern, unit, layers))
    # error: NxM lock has no divisibility check -> reshape fails
    cases.append(run_lock_case(P, h, "lock_4x1_nonfit", "4x1", ("block", 2, 1),
                               [("l0", [16, 32]), ("nf", [10, 16])]))
    return cases


# ----------------------------------------------------------------------------
def write_json(path, header, cases):
    with open(path, "w") as f:
        f.write("{\n")
        for k, v in header.items():
            f.write(f"{json.dumps(k)}: {json.dumps(v)},\n")
        f.write('"cases": [\n')
        for i, c in enumerate(cases):
            f.write(json.dumps(c, separators=(",", ":"), allow_nan=False))
            f.write(",\n" if i + 1 < len(cases) else "\n")
        f.write("]}\n")
    with open(path) as f:  # must parse back
        assert len(json.load(f)["cases"]) == len(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inc_path", help="folder the INC 2.0 wheel was extracted into")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output folder (default: this script's folder)")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    P, handler, sha, version = load_inc_patterns(args.inc_path)
    header = {
        "generator": "make_inc_golden.py",
        "inc_version": version or "2.0",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "patterns_py_sha256": sha,
    }
    os.makedirs(args.out, exist_ok=True)
    for fname, fn in [("inc20_nxm.json", nxm_cases), ("inc20_nm.json", nm_cases),
                      ("inc20_lock.json", lock_cases)]:
        cases = fn(P, handler)
        path = os.path.join(args.out, fname)
        write_json(path, header, cases)
        nerr = sum(1 for c in cases if "error" in c)
        print(f"{path}: {len(cases)} cases ({nerr} error), {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
