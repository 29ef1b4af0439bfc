"""The INC API's other methods and arguments, the Pythonic prune(), dtypes,
zero copy, errors, the GIL and panics (numpy only; torch tests skip
without torch)."""

import threading
import types

import numpy as np
import pytest

import prunemask

RNG = np.random.default_rng(7)


def weights(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# --- configs ---------------------------------------------------------------


def test_config_as_object_inc2_and_dict_inc3():
    inc2 = types.SimpleNamespace(pattern="tile_pattern_4x1", prune_domain="local")
    p = prunemask.get_pattern(inc2)
    assert isinstance(p, prunemask.PatternNxM) and not p.is_global
    assert p.block_size == [4, 1]
    inc3 = {"pattern": "2:4", "pruning_scope": "global", "max_sparsity_ratio_per_op": 0.7,
            "min_sparsity_ratio_per_op": 0.1, "criterion_reduce_type": "sum"}
    p = prunemask.get_pattern(inc3)
    assert isinstance(p, prunemask.PatternNInM) and p.is_global
    assert (p.N, p.M, p.max_sparsity_ratio_per_op, p.min_sparsity_ratio_per_op) == (2, 4, 0.7, 0.1)
    # An INC 3.x reduction is one of prunemask's options: native mode.
    assert (p.reduce, p.compat) == ("sum", "native")
    assert prunemask.get_pattern({"pattern": "4x1"}).compat == "inc"


def test_bad_configs():
    with pytest.raises(ValueError, match="no pattern"):
        prunemask.get_pattern({})
    with pytest.raises(ValueError, match="not NxM or N:M"):
        prunemask.get_pattern({"pattern": "dense"})
    with pytest.raises(ValueError, match="pruning_scope"):
        prunemask.get_pattern({"pattern": "4x1", "pruning_scope": "everywhere"})
    with pytest.raises(TypeError, match="unknown options"):
        prunemask.get_pattern({"pattern": "4x1"}, speed="max")
    with pytest.raises(ValueError, match="compat='inc'"):
        prunemask.get_pattern({"pattern": "4x1"}, ties="exact", compat="inc")
    with pytest.raises(ValueError, match="built in: 1x1, 4x1"):
        prunemask.get_pattern({"pattern": "dense"})


def test_register_pattern_subclass():
    calls = []

    @prunemask.register_pattern("NxM")
    class Mine(prunemask.PatternNxM):
        def get_masks_global(self, *args):
            calls.append(args[1])
            return super().get_masks_global(*args)

    try:
        p = prunemask.get_pattern({"pattern": "4x1"})
        assert isinstance(p, Mine)
        p.get_masks({"a": weights(8, 8)}, 0.5, {}, 1.0)
        assert calls == [0.5]
    finally:
        prunemask.register_pattern("NxM")(prunemask.PatternNxM)


# --- the other methods -----------------------------------------------------


def test_get_mask_single_is_inc_inclusive_kth():
    s = np.array([[3.0, 1.0, 2.0, 1.0], [5.0, 0.5, 4.0, 2.0]], dtype=np.float32)
    p = prunemask.get_pattern({"pattern": "4x1"})
    m = p.get_mask_single(s, 0.25)  # k = 2: threshold 1.0, both 1.0 pruned, and 0.5
    np.testing.assert_array_equal(m, (s > 1.0).astype(np.float32))
    assert (p.get_mask_single(s, 0.1) == 1).all()  # k = 0: all ones


def test_get_sparsity_ratio_counts_as_inc():
    m = np.ones((8, 4), dtype=np.float32)
    m[0:4, 0] = 0  # one 4x1 block, and 4 elements
    m[4, 1] = 0  # a partial block
    assert prunemask.get_pattern({"pattern": "4x1"}).get_sparsity_ratio({"a": m}) == 1 / 8
    assert prunemask.get_pattern({"pattern": "2:4"}).get_sparsity_ratio({"a": m}) == 5 / 32


def test_block_size_dict_resolves_channel():
    w = {"a": weights(6, 10), "b": weights(4, 3)}
    assert prunemask.get_pattern({"pattern": "channelx1"}).get_block_size_dict(w) == {"a": [6, 1], "b": [4, 1]}
    assert prunemask.get_pattern({"pattern": "1xchannel"}).get_block_size_dict(w) == {"a": [1, 10], "b": [1, 3]}


def test_local_scope_keeps_a_layer_that_does_not_fit():
    # INC 2.0 crashes here (torch.cat of nothing); the layer stays dense.
    p = prunemask.get_pattern({"pattern": "4x1", "prune_domain": "local"})
    masks = p.get_masks({"fits": weights(8, 4), "odd": weights(6, 4)}, 0.5, {}, 1.0)
    assert masks["fits"].mean() == 0.5
    assert (masks["odd"] == 1).all()


def test_native_options_exact_ties():
    s = {"a": np.ones((4, 4), dtype=np.float32)}  # all tied
    inc = prunemask.get_pattern({"pattern": "1x1"}).get_masks(s, 0.25, {}, 1.0)
    exact = prunemask.get_pattern({"pattern": "1x1"}, ties="exact").get_masks(s, 0.25, {}, 1.0)
    assert inc["a"].sum() == 0  # INC prunes every tie
    assert exact["a"].sum() == 12  # exactly k = 4 pruned


# --- prune() ----------------------------------------------------------------


def test_prune_two_of_four_and_report():
    w = {"q": weights(16, 32), "up": weights(64, 32, dtype=np.float16)}
    masks, report = prunemask.prune(w)
    for name, m in masks.items():
        assert m.dtype == np.bool_ and m.shape == w[name].shape
        assert (m.reshape(-1, 4).sum(1) == 2).all()  # 2 kept of every 4
    assert report["totals"]["sparsity"] == 0.5
    assert report["layers"]["q"]["status"] == "selected"
    # The exact decimal count: 0.29 of 100 units prunes 29.
    _, report = prunemask.prune({"a": weights(10, 10)}, pattern="1x1", sparsity=0.29)
    assert report["layers"]["a"]["pruned_units"] == 29


def test_prune_transposed_groups_run_down_dim_0():
    w = weights(16, 12)  # [in, out]
    masks, _ = prunemask.prune({"c_fc": w}, transposed=("c_fc",))
    assert (masks["c_fc"].reshape(4, 4, 12).sum(1) == 2).all()


# --- dtypes, zero copy ------------------------------------------------------


def wanda_model(w, s, sparsity):
    """Wanda per row, independently: each row prunes floor(sparsity * cols)
    weights of least |w| * s[j] (f32 product; ties: lower column)."""
    rows, cols = w.shape
    keep = np.ones(w.shape, dtype=bool)
    score = np.abs(w).astype(np.float32) * s.astype(np.float32)
    k = int(np.floor(sparsity * cols))
    for r in range(rows):
        order = np.lexsort((np.arange(cols), score[r]))
        keep[r, order[:k]] = False
    return keep


def test_wanda_per_row_and_layer_targets():
    ws = {"a": weights(8, 32), "b": weights(4, 64, dtype=np.float16)}
    acts = {n: np.abs(RNG.standard_normal(w.shape[1])).astype(np.float32) for n, w in ws.items()}
    acts["a"][3] = 0.0  # a zero norm: ties, broken by the lower column
    acts["unused"] = np.ones(5, dtype=np.float32)  # norms of other layers are ignored
    masks, report = prunemask.prune(ws, "1x1", 0.5, "row", criterion="wanda", activations=acts)
    for n, w in ws.items():
        np.testing.assert_array_equal(masks[n], wanda_model(w.astype(np.float32), acts[n], 0.5), n)
    magnitude, _ = prunemask.prune(ws, "1x1", 0.5, "row")
    assert any((magnitude[n] != masks[n]).any() for n in ws)
    # float64 norms (and torch tensors) are taken as float32.
    as64 = {n: a.astype(np.float64) for n, a in acts.items()}
    again, _ = prunemask.prune(ws, "1x1", 0.5, "row", criterion="wanda", activations=as64)
    for n in ws:
        np.testing.assert_array_equal(again[n], masks[n])
    # 2:4 by Wanda: every group keeps 2, the 2 of least score pruned.
    m24, _ = prunemask.prune({"a": ws["a"]}, "2:4", criterion="wanda", activations=acts)
    score = np.abs(ws["a"]) * acts["a"]
    for g_keep, g_score in zip(m24["a"].reshape(-1, 4), score.reshape(-1, 4)):
        assert g_keep.sum() == 2
        assert g_score[~g_keep].max() <= g_score[g_keep].min()
    # Layer targets, local and row.
    for scope in ("local", "row"):
        _, rep = prunemask.prune(ws, "1x1", 0.5, scope, layer_sparsity={"a": 0.25})
        assert rep["layers"]["a"]["sparsity"] == 0.25
        assert rep["layers"]["b"]["sparsity"] == 0.5


def test_wanda_errors_name_the_layer():
    ws = {"a": weights(8, 32), "b": weights(4, 64)}
    acts = {"a": np.ones(32, dtype=np.float32), "b": np.ones(64, dtype=np.float32)}
    with pytest.raises(ValueError, match="b: .*input scale"):
        prunemask.prune(ws, "1x1", 0.5, "row", criterion="wanda", activations={"a": acts["a"]})
    with pytest.raises(ValueError, match="b: input scale has 63 values"):
        prunemask.prune(ws, "1x1", 0.5, criterion="wanda", activations={**acts, "b": np.ones(63, np.float32)})
    bad = acts["a"].copy()
    bad[7] = -1.0
    with pytest.raises(ValueError, match="a: input scale of input feature 7 is -1"):
        prunemask.prune(ws, "1x1", 0.5, criterion="wanda", activations={**acts, "a": bad})
    with pytest.raises(ValueError, match="a: .*vector"):
        prunemask.prune(ws, "1x1", 0.5, criterion="wanda", activations={**acts, "a": np.ones((2, 16), np.float32)})
    with pytest.raises(TypeError, match="a: activation norms of dtype int64"):
        prunemask.prune(ws, "1x1", 0.5, criterion="wanda", activations={**acts, "a": np.ones(32, np.int64)})
    with pytest.raises(ValueError, match="criterion magnitude uses none"):
        prunemask.prune(ws, "1x1", 0.5, activations=acts)
    with pytest.raises(ValueError, match="needs local or row scope"):
        prunemask.prune(ws, "1x1", 0.5, layer_sparsity={"a": 0.3})
    with pytest.raises(ValueError, match="layer_sparsity: 'c' is not a layer"):
        prunemask.prune(ws, "1x1", 0.5, "local", layer_sparsity={"c": 0.3})
    with pytest.raises(ValueError, match="exact ties"):
        prunemask.prune(ws, "1x1", 0.5, "row", ties="inclusive")


def test_inputs_are_read_in_place():
    w = weights(8, 8)
    a, kind = prunemask._scores(w, "w")
    assert kind == "f32" and np.shares_memory(a, w)
    h = weights(8, 8, dtype=np.float16)
    a, kind = prunemask._scores(h, "h")
    assert kind == "f16" and np.shares_memory(a, h)
    # Not contiguous: one documented copy.
    t = w.T
    a, _ = prunemask._scores(t, "t")
    assert not np.shares_memory(a, t) and a.flags.c_contiguous


def test_mask_types_follow_pre_masks():
    s = {"a": weights(8, 8)}
    p = prunemask.get_pattern({"pattern": "2:4"})
    for dtype in (np.bool_, np.uint8, np.float32, np.float64):
        m = p.get_masks(s, 0.5, {"a": np.ones((8, 8), dtype=dtype)}, 1.0)["a"]
        assert m.dtype == dtype and m.sum() == 32


def test_pre_masks_of_another_shape_or_kind_are_errors_naming_the_layer():
    s = {"a": weights(8, 8), "b": weights(8, 16)}
    p = prunemask.get_pattern({"pattern": "2:4"})
    with pytest.raises(ValueError, match=r"b: pre_mask of shape \(8, 8\), its scores are \(8, 16\)"):
        p.get_masks(s, 0.5, {"a": np.ones((8, 8)), "b": np.ones((8, 8))}, 1.0)
    with pytest.raises(TypeError, match="a: pre_mask is a list"):
        p.get_masks(s, 0.5, {"a": [1.0] * 64}, 1.0)
    # Layers without a pre_mask are fine; one of the right shape is used.
    m = p.get_masks(s, 0.5, {"b": np.ones((8, 16), dtype=np.bool_)}, 1.0)
    assert m["b"].dtype == np.bool_ and m["a"].dtype == np.float32
    # A module's shape is its weight's.
    module = types.SimpleNamespace(weight=weights(8, 16))
    m = p.get_masks({"b": module}, 0.5, {"b": np.ones((8, 16), dtype=np.uint8)}, 1.0)
    assert m["b"].dtype == np.uint8 and m["b"].shape == (8, 16)
    with pytest.raises(ValueError, match="b: pre_mask of shape"):
        p.get_masks({"b": module}, 0.5, {"b": np.ones((16, 8))}, 1.0)


def test_f16_and_f32_give_the_same_masks_for_the_same_values():
    w16 = weights(16, 16, dtype=np.float16)
    p = prunemask.get_pattern({"pattern": "4x1"})
    a = p.get_masks({"a": w16}, 0.5, {}, 1.0)["a"]
    b = p.get_masks({"a": w16.astype(np.float32)}, 0.5, {}, 1.0)["a"]
    np.testing.assert_array_equal(a, b)


def test_torch_tensors(torch):
    w = torch.randn(16, 32)
    p = prunemask.get_pattern({"pattern": "2:4"})
    m = p.get_masks({"a": w}, 0.5, {"a": torch.ones(16, 32)}, 1.0)["a"]
    assert isinstance(m, torch.Tensor) and m.dtype == torch.float32
    assert (m.reshape(-1, 4).sum(1) == 2).all()
    b = p.get_masks({"a": w}, 0.5, {"a": torch.ones(16, 32, dtype=torch.bool)}, 1.0)["a"]
    assert b.dtype == torch.bool and torch.equal(b.float(), m)
    # bfloat16 is read as its bits, and ranks as its values.
    wb = w.to(torch.bfloat16)
    mb = p.get_masks({"a": wb}, 0.5, {}, 1.0)["a"]
    mf = p.get_masks({"a": wb.float()}, 0.5, {}, 1.0)["a"]
    assert torch.equal(mb, mf)
    a, kind = prunemask._scores(w, "w")
    assert kind == "f32" and a.ctypes.data == w.data_ptr()  # zero copy
    masks, _ = prunemask.prune({"a": w.requires_grad_()})
    assert masks["a"].dtype == torch.bool


# --- errors, the GIL, panics -------------------------------------------------


def test_errors_name_the_layer():
    p = prunemask.get_pattern({"pattern": "4x1"})
    bad = weights(8, 8)
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"^encoder\.bad: .*NaN"):
        p.get_masks({"ok": weights(8, 8), "encoder.bad": bad}, 0.5, {}, 1.0)
    with pytest.raises(TypeError, match=r"^d64: dtype float64"):
        p.get_masks({"d64": np.ones((4, 4))}, 0.5, {}, 1.0)
    with pytest.raises(ValueError, match=r"^bias: shape \[8\]"):
        p.get_masks({"bias": np.ones(8, dtype=np.float32)}, 0.5, {}, 1.0)
    with pytest.raises(ValueError, match="target_sparsity|sparsity"):
        p.get_masks({"a": weights(8, 8)}, 1.5, {}, 1.0)
    with pytest.raises(ValueError, match="N:M pattern can prune"):
        prunemask.get_pattern({"pattern": "2:4"}).get_masks({"a": weights(8, 8)}, 0.75, {}, 1.0)


def test_gil_is_released_while_masks_are_computed():
    big = {"a": weights(2048, 4096)}
    p = prunemask.get_pattern({"pattern": "1x1"}, ties="exact")
    state = {"in_call": False, "count": 0, "done": False}

    def count():
        while not state["done"]:
            if state["in_call"]:
                state["count"] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        for _ in range(3):
            state["in_call"] = True
            p.get_masks(big, 0.5, {}, 1.0)
            state["in_call"] = False
    finally:
        state["done"] = True
        t.join()
    assert state["count"] > 100, state["count"]


def test_a_panic_is_an_exception_not_an_abort():
    with pytest.raises(BaseException, match="deliberate panic") as info:
        prunemask._native._panic_for_tests()
    assert type(info.value).__name__ == "PanicException"


def test_where_inc_goes_wrong():
    p = prunemask.get_pattern({"pattern": "4x1"})
    # +inf scores rank above every finite one: never pruned before them.
    s = np.abs(weights(8, 4))
    s[0:4, 0] = np.inf
    m = p.get_masks({"a": s}, 0.5, {}, 1.0)["a"]
    assert (m[0:4, 0] == 1).all() and m.mean() == 0.5
    # A cap that allows no unit keeps the layer whole (4x1 on 8x4: 8
    # blocks, a cap of 0.1 is 0 blocks), while the other layer is pruned.
    m = p.get_masks({"capped": np.abs(weights(8, 4)), "b": np.abs(weights(64, 4))}, 0.5, {}, 0.1)
    assert (m["capped"] == 1).all()
    assert m["b"].mean() < 1


def test_inc_conv_rules_for_lock_and_ratio():
    # INC's 1xchannel lock block on a conv is [1, I] of the [O, H*W*I] view.
    w = np.array([[[[0, 1]], [[0, 2]]]], dtype=np.float32)  # [O=1, I=2, H=1, W=2]
    lock = prunemask.get_pattern({"pattern": "1xchannel"}).get_pattern_lock_masks({"c": w})
    np.testing.assert_array_equal(lock["c"].reshape(-1), [0, 1, 0, 1])
    # INC counts conv mask blocks on [O, I*H*W], without its permute.
    m = np.array([[[[0, 1]], [[0, 1]]]], dtype=np.float32)
    assert prunemask.get_pattern({"pattern": "1x2"}).get_sparsity_ratio({"c": m}) == 0.0
    # N:M: 1 - nonzero / total, to the last bit.
    m = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]], dtype=np.float32)
    assert prunemask.get_pattern({"pattern": "2:4"}).get_sparsity_ratio({"a": m}) == 1.0 - 8 / 12
    # The extension's own count (prunemask's view) for a matrix.
    u8 = (m != 0).astype(np.uint8)
    assert prunemask._native.mask_sparsity("2:4", ["a"], [u8]) == (4, 12)


def test_inc3_mean_reduction_stays_inc_mode_and_block_size_becomes_a_dict():
    p = prunemask.get_pattern({"pattern": "4x1", "pruning_scope": "global", "criterion_reduce_type": "mean"})
    assert p.compat == "inc"
    p.get_masks({"a": weights(8, 8)}, 0.5, {}, 1.0)
    assert p.block_size == {"a": [4, 1]}


def test_local_scope_calls_an_overridden_get_masks_global_per_layer():
    seen = []

    class Mine(prunemask.PatternNInM):
        def get_masks_global(self, scores, *args):
            seen.append(list(scores))
            return super().get_masks_global(scores, *args)

    p = Mine({"pattern": "2:4", "prune_domain": "local"})
    p.get_masks({"a": weights(4, 8), "b": weights(4, 8)}, 0.5, {}, 1.0)
    assert seen == [["a"], ["b"]]
