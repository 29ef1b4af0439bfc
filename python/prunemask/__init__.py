"""prunemask: pruning masks at memory speed, with Intel Neural Compressor's API.

The reference's own names and arguments (INC 2.0
``neural_compressor.experimental.pytorch_pruner.patterns``)::

    from prunemask import get_pattern
    pattern = get_pattern({"pattern": "4x1", "prune_domain": "global"})
    masks = pattern.get_masks(scores, 0.8, pre_masks, 0.98)

and a Pythonic entry beside it::

    masks, report = prunemask.prune(weights, pattern="2:4")

Inputs are dicts of layer name -> ``numpy.ndarray`` or ``torch.Tensor``
(torch is optional), float32, float16 or bfloat16, shaped ``[out, in]``
(Linear) or ``[O, I, H, W]`` (Conv2d; also conv1d/conv3d). They are read
in place, never copied, when they are C-contiguous and on the CPU;
otherwise one copy is made (``numpy.ascontiguousarray`` / ``.cpu()``) and
the masks go back to the input's device. The GIL is released while the
masks are computed: the arrays must not be written by another thread
meanwhile (as for any function that releases it).

Masks come back in the type of ``pre_masks``' entries (INC 2.0 returns
torch float32 0/1; a torch bool or uint8, or a numpy array, gives the same
type back), or, without ``pre_masks``, as torch float32 for torch scores
and numpy float32 for numpy scores. 1 keeps a weight, 0 prunes it.

float16 and bfloat16 scores are ranked by their exact values: the masks
equal INC's for those scores in float32 (INC computes block means in the
tensor's own precision, which can round two blocks to a tie). float64 and
integer scores are refused (``TypeError``): cast them (``.float()``).
Overriding ``get_masks_global`` in a subclass is honoured (local scope
calls it per layer, as INC does); overriding ``get_block_size_dict`` or
``get_mask_single`` does not change ``get_masks``, which computes blocks
and caps itself.

Defaults reproduce INC 2.0's masks exactly (``compat="inc"``: inclusive
ties, INC's cap, mean block scores, INC's conv views and its float ``k``).
Keyword options of :func:`get_pattern` select what prunemask does better:
``ties="exact"`` (exactly ``k`` units), ``cap="redistribute"``,
``reduce="sum"|"max"|"l2"``; any of them switches to ``compat="native"``.

Where INC raises or goes wrong, this package either raises ``ValueError``
naming the layer (a NaN score, a bad ratio, a shape that is not a weight,
a pre_mask shaped unlike its scores) or does the right thing (documented): a layer the pattern does not fit is
kept dense (all ones) in local and global scope alike (INC crashes in local
scope); ``+inf`` scores rank above every finite score (INC's ``kthvalue``
may pick them); a cap that leaves zero units keeps the layer whole.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from . import _native

__all__ = [
    "PATTERNS",
    "Pattern",
    "PatternNInM",
    "PatternNxM",
    "get_pattern",
    "prune",
    "register_pattern",
]

__version__ = _native.__version__

#: Registered pattern classes, by name (INC's ``PATTERNS``).
PATTERNS: Dict[str, type] = {}


def register_pattern(name: str) -> Callable[[type], type]:
    """Class decorator registering a :class:`Pattern` subclass under ``name``
    (INC's ``register_pattern``). ``get_pattern`` picks ``"NxM"`` for a
    pattern containing ``x``, ``"N:M"`` for one containing ``:`` (so a
    subclass registered as ``"NxM"`` replaces the built-in one), or a class
    registered under the pattern's exact name."""

    def register(pattern: type) -> type:
        PATTERNS[name] = pattern
        return pattern

    return register


def _get(config: Any, *keys: str, default: Any = None) -> Any:
    """The first of ``keys`` set in ``config``, an object (attributes, as
    INC's config) or a mapping (keys)."""
    for key in keys:
        if isinstance(config, Mapping):
            if key in config and config[key] is not None:
                return config[key]
        elif getattr(config, key, None) is not None:
            return getattr(config, key)
    return default


def get_pattern(config: Any, **options: Any) -> "Pattern":
    """A :class:`Pattern` for ``config`` (INC's ``get_pattern``).

    ``config`` is an object or a dict with ``pattern`` (``"4x1"``,
    ``"channelx1"``, ``"2:4"``, ... ; INC's prefixes such as ``"tile_4x1"``
    are accepted) and the scope as INC 2.0 (``prune_domain``) or INC 3.x
    (``pruning_scope``) names it, ``"global"`` by default. INC 3.x's
    ``max_sparsity_ratio_per_op``, ``min_sparsity_ratio_per_op`` and
    ``criterion_reduce_type`` are read too. ``options`` (``ties``, ``cap``,
    ``reduce``, ``compat``) are described in the module docs.

    Raises ``ValueError`` for a missing or unknown pattern."""
    name = _get(config, "pattern")
    if not isinstance(name, str):
        raise ValueError(f"config has no pattern (got {name!r})")
    short = name.split("_")[-1]
    if short in PATTERNS:
        return PATTERNS[short](config, **options)
    if "x" in short:
        return PATTERNS["NxM"](config, **options)
    if ":" in short:
        return PATTERNS["N:M"](config, **options)
    raise ValueError(
        f"pattern {name!r}: not NxM or N:M (built in: {', '.join(_native.builtin_patterns())}; "
        f"registered: {sorted(PATTERNS)})"
    )


# ---------------------------------------------------------------------------
# Arrays in and out
# ---------------------------------------------------------------------------


def _torch():
    try:
        import torch  # noqa: PLC0415

        return torch
    except ImportError:  # torch is optional
        return None


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "data_ptr")


def _weight(x: Any) -> Any:
    """A module's ``.weight`` (INC passes modules or tensors alike), or
    ``x`` itself."""
    return x.weight if hasattr(x, "weight") and not isinstance(x, np.ndarray) else x


def _scores(x: Any, name: str) -> Tuple[np.ndarray, str]:
    """``x`` as a numpy array the extension reads in place, and its kind
    (``f32``, ``f16``, ``bf16``). torch tensors share their memory
    (bfloat16 as its int16 bits); a non-contiguous or non-CPU input is
    copied once."""
    if _is_torch(x):
        torch = _torch()
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if not t.is_contiguous():
            t = t.contiguous()
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy(), "bf16"
        if t.dtype == torch.float32:
            return t.numpy(), "f32"
        if t.dtype == torch.float16:
            return t.numpy(), "f16"
        raise TypeError(f"{name}: dtype {t.dtype} is not float32, float16 or bfloat16")
    w = _weight(x)
    if w is not x:
        return _scores(w, name)
    a = np.asarray(x)
    if a.dtype == np.float32:
        kind = "f32"
    elif a.dtype == np.float16:
        kind = "f16"
    elif a.dtype.name == "bfloat16":  # ml_dtypes
        a, kind = a.view(np.uint16), "bf16"
    else:
        raise TypeError(f"{name}: dtype {a.dtype} is not float32, float16 or bfloat16")
    return np.ascontiguousarray(a), kind


def _mask_out(template: Any, scores: Any, shape: Tuple[int, ...]) -> Tuple[np.ndarray, Callable[[], Any]]:
    """A mask buffer the extension writes (uint8 or float32), and how to
    return it: in the type of ``template`` (a pre_mask), or of ``scores``
    when there is none (torch float32 for torch, numpy float32 for numpy:
    INC 2.0's float 0/1). float32, bool and uint8 masks are written in
    place, other dtypes converted once."""
    torch = _torch()
    ref = template if template is not None else scores
    if torch is not None and _is_torch(ref):
        dtype = template.dtype if template is not None else torch.float32
        if dtype == torch.float32:
            t = torch.empty(shape, dtype=torch.float32)
            buf = t.numpy()
        else:
            t = torch.empty(shape, dtype=torch.uint8)
            buf = t.numpy()
            if dtype == torch.bool:
                t = t.view(torch.bool)
            elif dtype != torch.uint8:
                t8 = t
                return buf, lambda: _to_device(t8.to(dtype), ref)
        return buf, lambda: _to_device(t, ref)
    if isinstance(template, np.ndarray) and template.dtype != np.float32:
        buf = np.empty(shape, dtype=np.uint8)
        if template.dtype == np.bool_:
            return buf, lambda: buf.view(np.bool_)
        if template.dtype == np.uint8:
            return buf, lambda: buf
        return buf, lambda: buf.astype(template.dtype)
    buf = np.empty(shape, dtype=np.float32)
    return buf, lambda: buf


def _check_pre_masks(pre: Mapping[str, Any], scores: Mapping[str, Any]) -> None:
    """A layer's pre_mask gives the type its mask comes back in; one shaped
    unlike its scores is a mix-up of layers (INC 2.0 ignores it), so it is
    an error naming the layer."""
    for name, score in scores.items():
        m = pre.get(name)
        if m is None:
            continue
        if not hasattr(m, "shape") or not hasattr(m, "dtype"):
            raise TypeError(f"{name}: pre_mask is a {type(m).__name__}, expected a tensor or array")
        score = _weight(score)
        shape = tuple(score.shape) if hasattr(score, "shape") else np.shape(score)
        if tuple(m.shape) != shape:
            raise ValueError(f"{name}: pre_mask of shape {tuple(m.shape)}, its scores are {shape}")


def _to_device(t: Any, ref: Any) -> Any:
    return t.to(ref.device) if ref.device.type != "cpu" else t


def _like(mask8: np.ndarray, template: Any, scores: Any) -> Any:
    """A uint8 0/1 mask in the type :func:`_mask_out` would give."""
    buf, done = _mask_out(template, scores, mask8.shape)
    buf[...] = mask8
    return done()


def _mask_bytes(m: Any, name: str) -> np.ndarray:
    """A mask as uint8 0/1 (zero where ``m`` is 0), for the sparsity count;
    a copy unless it is already uint8/bool."""
    if _is_torch(m):
        m = m.detach().cpu().numpy() if m.dtype != _torch().bfloat16 else m.detach().float().cpu().numpy()
    a = np.asarray(m)
    if a.dtype in (np.uint8, np.bool_):
        return np.ascontiguousarray(a.view(np.uint8) if a.dtype == np.bool_ else a)
    return np.ascontiguousarray((a != 0).astype(np.uint8))


def _norms(x: Any, name: str) -> np.ndarray:
    """Wanda's input-feature norms of layer ``name`` as a contiguous float32
    vector (a copy only when they are not one already)."""
    if _is_torch(x):
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(f"{name}: activation norms of dtype {a.dtype}, expected float")
    return np.ascontiguousarray(a, dtype=np.float32)


def _run_prune(
    scores: Mapping[str, Any],
    pattern: str,
    sparsity: float,
    scope: str,
    max_ratio: float,
    min_ratio: float,
    ties: str,
    cap: str,
    reduce: str,
    criterion: str,
    compat: str,
    transposed: Tuple[str, ...] = (),
    outputs: Optional[Callable[[str, Tuple[int, ...]], Tuple[np.ndarray, Callable[[], Any]]]] = None,
    activations: Optional[Mapping[str, Any]] = None,
    layer_sparsity: Optional[Mapping[str, float]] = None,
) -> Tuple[Dict[str, Any], Dict[str, dict]]:
    """Masks for ``scores`` and each layer's report. ``outputs(name,
    shape)`` gives a layer's buffer and its finisher (default: uint8);
    ``activations`` and ``layer_sparsity`` as in :func:`prune`."""
    names = list(scores)
    # Norms of other layers are ignored (one file serves any subset), a
    # target for a layer not given is a mistake.
    unknown = sorted(set(layer_sparsity or ()) - set(names))
    if unknown:
        raise ValueError(f"layer_sparsity: {unknown[0]!r} is not a layer of the weights given")
    scales = None
    if activations is not None:
        scales = [_norms(activations[n], n) if n in activations else None for n in names]
    targets = None
    if layer_sparsity is not None:
        targets = [float(layer_sparsity[n]) if n in layer_sparsity else None for n in names]
    arrays = [_scores(scores[n], n) for n in names]
    if outputs is None:
        outs = [(lambda b: (b, lambda: b))(np.empty(a.shape, dtype=np.uint8)) for a, _ in arrays]
    else:
        outs = [outputs(n, a.shape) for n, (a, _) in zip(names, arrays)]
    layers = [(a, kind, n in transposed) for (a, kind), n in zip(arrays, names)]
    reports = _native.prune(
        layers, names, [b for b, _ in outs], pattern, float(sparsity), scope, float(max_ratio),
        float(min_ratio), ties, cap, reduce, criterion, compat, scales, targets,
    )
    return {n: done() for n, (_, done) in zip(names, outs)}, dict(zip(names, reports))


# ---------------------------------------------------------------------------
# INC's classes
# ---------------------------------------------------------------------------


class Pattern:
    """A pruning pattern (INC 2.0's ``Pattern``).

    Attributes: ``pattern`` (the name as configured), ``is_global``
    (``pruning_scope``/``prune_domain == "global"``), and the options
    (``ties``, ``cap``, ``reduce``, ``compat``) that the masks use.
    """

    def __init__(self, config: Any, **options: Any):
        self.pattern = _get(config, "pattern")
        scope = _get(config, "pruning_scope", "prune_domain", default="global")
        if scope not in ("global", "local"):
            raise ValueError(f"pruning_scope {scope!r}: not 'global' or 'local'")
        self.is_global = scope == "global"
        self.min_sparsity_ratio_per_op = float(_get(config, "min_sparsity_ratio_per_op", default=0.0))
        self.max_sparsity_ratio_per_op = _get(config, "max_sparsity_ratio_per_op")
        reduce = _get(config, "criterion_reduce_type")
        unknown = set(options) - {"ties", "cap", "reduce", "compat"}
        if unknown:
            raise TypeError(f"unknown options {sorted(unknown)}; known: ties, cap, reduce, compat")
        if reduce is not None and "reduce" not in options:
            options["reduce"] = reduce
        # INC 2.0's own choices (INC 3.x's default reduction is "mean") keep
        # INC mode; any other switches to native.
        inc_defaults = {"ties": "inclusive", "cap": "seed", "reduce": "mean"}
        native = any(k in options and options[k] != v for k, v in inc_defaults.items())
        if native and options.get("compat") == "inc":
            raise ValueError(
                "compat='inc' is INC 2.0's ties, cap and reduction; drop it to use "
                f"{sorted(k for k in inc_defaults if k in options)}"
            )
        self.compat = options.get("compat", "native" if native else "inc")
        self.ties = options.get("ties", "inclusive")
        self.cap = options.get("cap", "seed")
        self.reduce = options.get("reduce", "mean")
        self._name = str(self.pattern).split("_")[-1]

    # The methods INC 2.0 has, with its arguments.

    def get_masks(self, scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer):
        """Masks for every layer of ``scores`` (dicts of name -> tensor):
        ``get_masks_global`` or ``get_masks_local`` by the scope.

        ``target_sparsity_ratio`` is the target in ``[0, 1]`` (for N:M at
        most N/M), ``max_sparsity_ratio_per_layer`` the per-layer cap.
        Returns a dict of masks shaped as the scores. Raises ``ValueError``
        naming the layer for a NaN score, a bad ratio or a pre_mask shaped
        unlike its scores, ``TypeError`` for a dtype other than
        float32/float16/bfloat16 or a pre_mask that is not an array or
        tensor."""
        if self.is_global:
            return self.get_masks_global(scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer)
        return self.get_masks_local(scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer)

    def _masks(self, scores, target, pre_masks, max_ratio, scope):
        if max_ratio is None:
            max_ratio = self.max_sparsity_ratio_per_op if self.max_sparsity_ratio_per_op is not None else 1.0
        if isinstance(getattr(self, "block_size", None), list):
            # INC turns the list into a per-layer dict on the first call.
            self.block_size = self.get_block_size_dict(scores)
        pre = pre_masks or {}
        _check_pre_masks(pre, scores)
        masks, _ = _run_prune(
            scores, self._name, target, scope, max_ratio, self.min_sparsity_ratio_per_op,
            self.ties, self.cap, self.reduce, "scores", self.compat,
            outputs=lambda n, shape: _mask_out(pre.get(n), scores[n], shape),
        )
        return masks

    def get_masks_global(self, scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer):
        """One threshold over all layers (INC's global masks)."""
        return self._masks(scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer, "global")

    def get_masks_local(self, scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer):
        """One threshold per layer (INC's local masks); a layer the pattern
        does not fit is kept dense (INC crashes on it). A subclass that
        overrides ``get_masks_global`` gets INC's loop: that method, called
        with one layer at a time."""
        if type(self).get_masks_global is not Pattern.get_masks_global:
            pre = pre_masks or {}
            return {
                key: self.get_masks_global(
                    {key: scores[key]}, target_sparsity_ratio, {key: pre.get(key)} if key in pre else {},
                    max_sparsity_ratio_per_layer,
                )[key]
                for key in scores
            }
        return self._masks(scores, target_sparsity_ratio, pre_masks, max_sparsity_ratio_per_layer, "local")

    def get_mask_single(self, score, exact_sparsity_ratio):
        """One tensor's element mask (INC: ``k = int(ratio * numel)``, every
        element ``<=`` the k-th smallest pruned; all ones when ``k < 1``)."""
        a, _ = _scores(score, "score")
        flat = {"score": a.reshape(1, -1)}
        masks, _ = _run_prune(
            flat, "1x1", exact_sparsity_ratio, "local", 1.0, 0.0, "inclusive", "seed", "mean",
            "scores", "inc",
        )
        return _like(masks["score"].reshape(a.shape), None, score)

    def get_block_size_dict(self, data):
        """Each layer's block ``[height, width]`` (INC's
        ``get_block_size_dict``; ``channel`` resolved per layer)."""
        raise NotImplementedError

    def get_sparsity_ratio(self, pre_masks):
        """The share of zero units in ``pre_masks``, computed as INC 2.0
        computes it (see the subclasses)."""
        raise NotImplementedError

    def get_pattern_lock_masks(self, modules):
        """Masks from the weights themselves (INC's pattern lock):
        ``modules`` maps names to modules with ``.weight`` or to tensors.
        NxM: a block is 0 when all its weights are zero; N:M: an element is
        0 when it is zero and its group has at least N zeros."""
        names = list(modules)
        arrays = [_scores(modules[n], n) for n in names]
        masks = [np.empty(a.shape, dtype=np.uint8) for a, _ in arrays]
        for n, (a, k), m in zip(names, arrays, masks):
            # INC's `Nxchannel` block on a conv is `[N, I]` (input channels)
            # of the `[O, H*W*I]` view, not the whole row.
            name = self._name
            if a.ndim == 4 and name.endswith("xchannel"):
                name = f"{name.split('x')[0]}x{a.shape[1]}"
            _native.lock([(a, k, False)], [n], [m], name)
        out = {}
        for n, m in zip(names, masks):
            out[n] = _like(m, None, _weight(modules[n]))
        return out


@register_pattern("NxM")
class PatternNxM(Pattern):
    """Blocks of N rows by M columns of the ``[out, in]`` view, pruned whole
    (``4x1``, ``1x4``, ``channelx1``, ``1xchannel``, ...)."""

    def __init__(self, config: Any, **options: Any):
        super().__init__(config, **options)
        self.N, self.M = self._name.split("x")
        if self.N == "channel":
            self.block_size = ["channel", int(self.M)]
        elif self.M == "channel":
            self.block_size = [int(self.N), "channel"]
        else:
            self.block_size = [int(self.N), int(self.M)]

    def get_sparsity_ratio(self, pre_masks):
        """Blocks whose mask is all zero over the blocks of the layers the
        pattern fits, INC 2.0's way: a conv mask is reshaped to
        ``[O, I*H*W]`` without INC's selection permute, ``channel`` blocks
        are ``[O, 1]`` / ``[1, I]`` (``get_block_size_dict``). Returns 0.0
        when no layer fits (INC divides by zero)."""
        sizes = self.get_block_size_dict(pre_masks)
        zero = total = 0
        for key, mask in pre_masks.items():
            m = _mask_bytes(mask, key)
            m = m.reshape(m.shape[0], -1) if m.ndim > 2 else m.reshape(1, -1) if m.ndim < 2 else m
            (bh, bw), (rows, cols) = sizes[key], m.shape
            if rows % bh or cols % bw:
                continue  # INC: "not support under current pattern, ignoring"
            blocks = m.reshape(rows // bh, bh, cols // bw, bw).sum(axis=(1, 3), dtype=np.int64)
            zero += int((blocks == 0).sum())
            total += blocks.size
        return float(zero) / total if total else 0.0

    def get_block_size_dict(self, data):
        out = {}
        for key, value in data.items():
            shape = _weight(value).shape
            if self.N == "channel":
                out[key] = [shape[0], 1]
            elif self.M == "channel":
                out[key] = [1, shape[1]]
            else:
                out[key] = self.block_size
        return out


@register_pattern("N:M")
class PatternNInM(Pattern):
    """N pruned of every M consecutive inputs of an output (``2:4``,
    ``4:8``; INC's N:M counts the pruned, NVIDIA ASP's ``m4n2`` the kept)."""

    def __init__(self, config: Any, **options: Any):
        super().__init__(config, **options)
        n, m = self._name.split(":")
        self.N, self.M = int(n), int(m)

    def get_sparsity_ratio(self, pre_masks):
        """Element-wise, INC 2.0's way: ``1 - nonzero / total``."""
        nonzero = total = 0
        for key, mask in pre_masks.items():
            m = _mask_bytes(mask, key)
            nonzero += int(m.sum(dtype=np.int64))
            total += m.size
        return 1.0 - float(nonzero) / total if total else 0.0


def prune(
    weights: Mapping[str, Any],
    pattern: str = "2:4",
    sparsity: Optional[float] = None,
    scope: str = "global",
    *,
    max_sparsity_ratio_per_op: float = 0.98,
    min_sparsity_ratio_per_op: float = 0.0,
    ties: str = "exact",
    cap: str = "redistribute",
    reduce: str = "mean",
    criterion: str = "magnitude",
    compat: str = "native",
    transposed: Tuple[str, ...] = (),
    activations: Optional[Mapping[str, Any]] = None,
    layer_sparsity: Optional[Mapping[str, float]] = None,
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Masks for a dict of weights, and a report.

    ``weights``: name -> numpy array or torch tensor (float32, float16,
    bfloat16), ``[out, in]``, conv ``[O, I, ...]``, or ``[in, out]`` for the
    names in ``transposed`` (GPT-2's ``Conv1D``). ``sparsity`` defaults to
    N/M for N:M (every group pruned) and 0.5 for blocks. ``criterion``:
    ``"magnitude"`` ranks by ``|w|``, ``"wanda"`` by ``|w| * activations[name][j]``
    (Sun et al., 2023: ``activations`` maps each weight's name to the L2
    norm of each of its input features over calibration tokens, a float
    vector of length in_features, e.g. from ``scripts/activation_stats.py``),
    ``"scores"`` by the values as given. ``scope``: ``"global"``,
    ``"local"`` (per layer) or ``"row"`` (per output row, Wanda's
    comparison group; exact ties). ``layer_sparsity``: name -> that layer's
    own target (local and row scope; the others take ``sparsity``).

    Returns ``(masks, report)``: masks as bool arrays (torch bool for torch
    weights) of the weights' shapes, ``True`` = keep; ``report`` with
    ``"layers"`` (per name: status, reason, units, pruned_units, elements,
    pruned_elements, sparsity, threshold) and ``"totals"``. Raises
    ``ValueError`` naming the layer (NaN, bad ratios, shapes) or
    ``TypeError`` (dtypes)."""
    if sparsity is None:
        sparsity = 0.5
        if ":" in pattern:
            n, m = pattern.split(":")
            sparsity = int(n) / int(m)
    masks8, reports = _run_prune(
        weights, pattern, sparsity, scope, max_sparsity_ratio_per_op, min_sparsity_ratio_per_op,
        ties, cap, reduce, criterion, compat, tuple(transposed),
        activations=activations, layer_sparsity=layer_sparsity,
    )
    torch = _torch()
    masks = {}
    for n, m in masks8.items():
        w = weights[n]
        if torch is not None and _is_torch(w):
            t = torch.from_numpy(m).view(torch.bool)
            masks[n] = t.to(w.device) if w.device.type != "cpu" else t
        else:
            masks[n] = m.view(np.bool_)
    elements = sum(r["elements"] for r in reports.values())
    pruned = sum(r["pruned_elements"] for r in reports.values())
    totals = {
        "layers": len(reports),
        "skipped": sum(r["status"] == "skipped" for r in reports.values()),
        "bounded": sum(r["status"] == "bounded" for r in reports.values()),
        "units": sum(r["units"] for r in reports.values()),
        "pruned_units": sum(r["pruned_units"] for r in reports.values()),
        "elements": elements,
        "pruned_elements": pruned,
        "sparsity": pruned / elements if elements else 0.0,
    }
    return masks, {"layers": reports, "totals": totals}
