"""Every INC 2.0 golden case of tests/golden/ through the Python API, with
INC's own arguments: the masks equal the ones INC 2.0 computed."""

import numpy as np
import pytest

import prunemask
from conftest import load


def layers(case, key):
    out = {}
    for i, layer in enumerate(case["layers"]):
        name = layer.get("name") or f"layer{i}"
        out[name] = np.array(layer[key], dtype=np.float32).reshape(layer["shape"])
    return out


def expected(case):
    return {
        (layer.get("name") or f"layer{i}"): np.array(layer["mask"], dtype=np.float32).reshape(layer["shape"])
        for i, layer in enumerate(case["layers"])
    }


SELECTION = [c for f in ("inc20_nxm.json", "inc20_nm.json") for c in load(f) if not c.get("error")]


@pytest.mark.parametrize("case", SELECTION, ids=[c["name"] for c in SELECTION])
def test_get_masks_equals_inc(case):
    config = {"pattern": case["pattern"], "prune_domain": case.get("domain") or "global"}
    pattern = prunemask.get_pattern(config)
    scores = layers(case, "scores")
    masks = pattern.get_masks(scores, case["target"], {}, case.get("max_layer", 1.0))
    want = expected(case)
    assert list(masks) == list(want)
    for name, mask in masks.items():
        assert mask.dtype == np.float32
        np.testing.assert_array_equal(mask, want[name], err_msg=f"{case['name']}: {name}")


LOCK = [c for c in load("inc20_lock.json") if not c.get("error")]


@pytest.mark.parametrize("case", LOCK, ids=[c["name"] for c in LOCK])
def test_pattern_lock_equals_inc(case):
    pattern = prunemask.get_pattern({"pattern": case["pattern"]})
    masks = pattern.get_pattern_lock_masks(layers(case, "weights"))
    want = expected(case)
    for name, mask in masks.items():
        np.testing.assert_array_equal(mask, want[name], err_msg=f"{case['name']}: {name}")


def test_golden_counts():
    assert len(SELECTION) >= 65
    assert len(LOCK) >= 6
