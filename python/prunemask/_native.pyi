"""Type stubs of the Rust extension (python/src/lib.rs). The public API is
the `prunemask` package; these are its building blocks."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__version__: str

def prune(
    scores: List[Tuple[np.ndarray, str, bool]],
    names: List[str],
    masks: List[np.ndarray],
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
    scales: Optional[List[Optional[np.ndarray]]] = None,
    targets: Optional[List[Optional[float]]] = None,
) -> List[Dict[str, Any]]:
    """Selects and writes every layer's mask in one call.

    scores: per layer (array, kind, in_out): a C-contiguous array of
    float32 (kind "f32"), float16 ("f16"), or bfloat16 bits as uint16/int16
    ("bf16"), shaped [out, in] (or [in, out] with in_out), or [O, I, ...].
    masks: fresh C-contiguous uint8 or float32 arrays of the same shapes,
    written 1 = keep, 0 = prune (one scoring pass: the selection's pass
    writes them, so on a NaN their contents are unspecified). scales: per layer None or a C-contiguous float32 vector
    of input-feature norms (criterion "wanda"); targets: per layer None or
    its own target sparsity (local and row scope). Returns per layer a report dict (status, reason, units,
    pruned_units, elements, pruned_elements, sparsity, threshold).
    Raises ValueError naming the layer (NaN, ratios, shapes), TypeError
    (dtypes, layouts), before any mask is written except for NaN scores."""

def lock(
    scores: List[Tuple[np.ndarray, str, bool]],
    names: List[str],
    masks: List[np.ndarray],
    pattern: str,
) -> List[Dict[str, Any]]:
    """Pattern-lock masks from the weights (same arguments as prune)."""

def mask_sparsity(pattern: str, names: List[str], masks: List[np.ndarray]) -> Tuple[int, int]:
    """(zero units, units) of uint8 0/1 masks: blocks for NxM, elements for N:M."""

def builtin_patterns() -> List[str]:
    """The pattern names the library knows."""

def _panic_for_tests() -> None:
    """Panics (raises pyo3_runtime.PanicException), for the tests."""
