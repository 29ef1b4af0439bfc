"""Probe which float32 summation order torch's CPU `mean` uses for short reductions.

Not needed to regenerate the golden files; this is the experiment behind the
summation-order notes for the Rust crate. It compares, bit for bit, torch's
float32 results with numpy float32 emulations of candidate orders:

  seq        strictly sequential left to right, starting from 0.0
  ilp4mod    p_k = sequential sum of x[i] for i = k (mod 4); ((p0+p1)+p2)+p3
  rowsum     torch's scalar `row_sum`: 4 accumulators p_k over the first
             4*(n//4) elements (i = k mod 4; past 16 rows per accumulator a
             4-level cascade of 16-row blocks, see multi_row_sum), the n%4
             leftovers added to p0 in order, then ((p0+p1)+p2)+p3
  vecW       torch's `vectorized_inner_sum` with W float lanes: lane l sums
             x[v*W+l] over vectors v in `rowsum` order, the n%W tail is summed
             sequentially from 0.0, then lanes 0..W-1 are added to that tail
             sum one after another
  pairwise   recursive halving (n//2 split) down to single elements
  numpy      np.sum(float32) along the axis
  model      torch's cascade_sum dispatch, with W = 8 lanes:
             contiguous reduction of n:  n < 8 -> rowsum, n >= 8 -> vec8
             strided reduction of N rows with C columns (row stride C):
               C == 1 -> as contiguous; C >= 8 -> columns j < 32*(C//32) in
               multi_row_sum order (sequential per column, 16-row cascade),
               the rest rowsum over rows; C < 8 -> columns j < 4*(C//4)
               multi_row_sum order, the remaining C%4 columns rowsum.
             mean = sum / float32(n) (an IEEE float32 division)

Finding on torch 2.15.0 (x86-64, AVX512 machine): `model` with W = 8 matches
every tested case bit for bit, also under ATEN_CPU_CAPABILITY=avx2 and
=default and with 1 or 2 threads; W = 16 does not (the float sum kernel runs
with 8 lanes even when get_cpu_capability() says AVX512).

Usage:  python probe_torch_sum_order.py            (uses this machine's CPU capability)
        ATEN_CPU_CAPABILITY=avx2 python probe_torch_sum_order.py
        ATEN_CPU_CAPABILITY=default python probe_torch_sum_order.py
        PROBE_W=16 python probe_torch_sum_order.py (check a 16-lane model instead)
"""
import os
import sys

import numpy as np
import torch

f32 = np.float32


def ceil_log2(x):
    if x <= 2:
        return 1
    return int(x - 1).bit_length()


def multi_row_sum(a):
    """a: (B, size, *rest) float32 -> (B, *rest); torch multi_row_sum order over axis 1."""
    size = a.shape[1]
    num_levels = 4
    level_power = max(4, ceil_log2(size) // num_levels) if size > 0 else 4
    step = 1 << level_power
    mask = step - 1
    acc = [np.zeros((a.shape[0],) + a.shape[2:], dtype=f32) for _ in range(num_levels)]
    i = 0
    while i + step <= size:
        for _ in range(step):
            acc[0] = acc[0] + a[:, i]
            i += 1
        for j in range(1, num_levels):
            acc[j] = acc[j] + acc[j - 1]
            acc[j - 1] = np.zeros_like(acc[j - 1])
            if i & (mask << (j * level_power)):
                break
    while i < size:
        acc[0] = acc[0] + a[:, i]
        i += 1
    for j in range(1, num_levels):
        acc[0] = acc[0] + acc[j]
    return acc[0]


def rowsum(x):
    """x: (B, n, *rest) -> (B, *rest); torch row_sum (ilp 4, leftovers into p0)."""
    B, n = x.shape[0], x.shape[1]
    k4 = n // 4
    head = x[:, : k4 * 4].reshape((B, k4, 4) + x.shape[2:])
    p = multi_row_sum(head)  # (B, 4, *rest)
    p0 = p[:, 0]
    for i in range(k4 * 4, n):
        p0 = p0 + x[:, i]
    for k in range(1, 4):
        p0 = p0 + p[:, k]
    return p0


def seq(x):
    s = np.zeros(x.shape[0], dtype=f32)
    for i in range(x.shape[1]):
        s = s + x[:, i]
    return s


def ilp4mod(x):
    p = [seq(x[:, k::4]) if x[:, k::4].shape[1] else np.zeros(x.shape[0], f32) for k in range(4)]
    return ((p[0] + p[1]) + p[2]) + p[3]


def pairwise(x):
    n = x.shape[1]
    if n == 1:
        return x[:, 0].copy()
    h = n // 2
    return pairwise(x[:, :h]) + pairwise(x[:, h:])


def vec_inner(x, W):
    B, n = x.shape
    V = n // W
    lanes = rowsum(x[:, : V * W].reshape(B, V, W))  # (B, W)
    fin = np.zeros(B, dtype=f32)
    for k in range(V * W, n):
        fin = fin + x[:, k]
    for l in range(W):
        fin = fin + lanes[:, l]
    return fin


def model_inner(x, W):
    """Contiguous inner reduction (reduced dim has stride 1)."""
    if x.shape[1] >= W:
        return vec_inner(x, W)
    return rowsum(x)


def model_outer(x3, W):
    """x3: (B, N, C) contiguous, reduce over N (stride C). Returns (B, C).

    torch: if C >= W -> vectorized_outer_sum: columns in chunks of 4W use
    multi_row_sum (sequential + cascade), then chunks of W use row_sum (ilp4),
    then the remaining columns row_sum (ilp4). Else scalar_outer_sum: columns
    in groups of 4 use multi_row_sum, the C%4 remaining ones row_sum.
    C == 1 is a contiguous inner reduction (model_inner).
    """
    B, N, C = x3.shape
    if C == 1:  # size-1 dims are dropped: this is a contiguous inner reduction
        return model_inner(x3.reshape(B, N), W).reshape(B, 1)
    out = np.zeros((B, C), dtype=f32)
    if C >= W:
        j = 0
        while j + 4 * W <= C:
            out[:, j:j + 4 * W] = multi_row_sum(x3[:, :, j:j + 4 * W])
            j += 4 * W
        while j + W <= C:
            out[:, j:j + W] = rowsum(x3[:, :, j:j + W])
            j += W
        if j < C:
            out[:, j:] = rowsum(x3[:, :, j:])
    else:
        j = 0
        while j + 3 < C:
            out[:, j:j + 4] = multi_row_sum(x3[:, :, j:j + 4])
            j += 4
        if j < C:
            out[:, j:] = rowsum(x3[:, :, j:])
    return out


def gen(rng, shape, kind):
    if kind == "normal":
        return rng.standard_normal(shape).astype(f32)
    if kind == "wide":  # wide dynamic range, exposes order differences
        return (rng.standard_normal(shape) * np.exp2(rng.integers(-12, 13, shape))).astype(f32)
    if kind == "absnormal":
        return np.abs(rng.standard_normal(shape)).astype(f32)
    raise ValueError(kind)


def same(a, b):
    a = np.asarray(a, dtype=f32)
    b = np.asarray(b, dtype=f32)
    return float(np.mean((a == b) | (np.isnan(a) & np.isnan(b))))


def main():
    # Lane width of the model. Found empirically: 8 float lanes (256-bit) even when
    # get_cpu_capability() says AVX512 (the sum kernel is not dispatched to an
    # AVX512 build); override with PROBE_W=16 to see the 512-bit model fail.
    W = int(os.environ.get("PROBE_W", "8"))
    print(f"torch {torch.__version__} numpy {np.__version__} "
          f"cpu_capability {torch.backends.cpu.get_cpu_capability()} threads {torch.get_num_threads()} "
          f"(model lane width W={W})")
    rng = np.random.default_rng(12345)
    sizes = [2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 24, 31, 32, 33, 48, 64, 100, 128, 768, 1000, 4096]

    print("\n== inner contiguous reduction: t.reshape(B, n).mean(-1) / .sum(-1) ==")
    print("fraction of rows where torch's float32 result equals each candidate bit-for-bit")
    hdr = ["n", "sum:seq", "ilp4mod", "rowsum", "vec8", "vec16", "pairw", "numpy", "model",
           "mean=model/n", "mean=model*(1/n)"]
    print(" ".join(f"{h:>9}" for h in hdr))
    for n in sizes:
        B = 4000 if n <= 128 else 300
        for kind in ["wide"]:
            x = gen(rng, (B, n), kind)
            ts = torch.from_numpy(x).sum(-1).numpy()
            tm = torch.from_numpy(x).mean(-1).numpy()
            # and the 4-D INC form: reshape(R/N, N, C/M, M).mean(-1)
            cands = [seq(x), ilp4mod(x), rowsum(x), vec_inner(x, 8), vec_inner(x, 16),
                     pairwise(x), np.sum(x, axis=1, dtype=f32), model_inner(x, W)]
            row = [same(ts, c) for c in cands]
            m = model_inner(x, W)
            row += [same(tm, m / f32(n)), same(tm, m * f32(1.0 / n))]
            print(f"{n:>9} " + " ".join(f"{v:>9.4f}" for v in row))

    print("\n== strided reduction: t (B, N, C) contiguous, .mean(1) (stride C) ==")
    print("model = column-position-dependent dispatch (see model_outer)")
    hdr = ["N", "C", "sum:seq", "ilp4mod", "rowsum", "model", "mean=model/N", "mean*(1/N)"]
    print(" ".join(f"{h:>9}" for h in hdr))
    for N in [2, 3, 4, 5, 8, 16, 32, 64, 768]:
        for C in [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 33, 64, 65, 100, 130]:
            B = max(1, min(50, 20000 // (N * C)))
            x3 = gen(rng, (B, N, C), "wide")
            t = torch.from_numpy(x3)
            ts = t.sum(1).numpy()
            tm = t.mean(1).numpy()
            xt = np.ascontiguousarray(x3.transpose(0, 2, 1)).reshape(B * C, N)
            c_seq = seq(xt).reshape(B, C)
            c_ilp = ilp4mod(xt).reshape(B, C)
            c_rs = rowsum(xt).reshape(B, C)
            c_m = model_outer(x3, W)
            row = [same(ts, c_seq), same(ts, c_ilp), same(ts, c_rs), same(ts, c_m),
                   same(tm, c_m / f32(N)), same(tm, c_m * f32(1.0 / N))]
            print(f"{N:>9} {C:>9} " + " ".join(f"{v:>9.4f}" for v in row))

    print("\n== INC NxM block score: x.reshape(R/N, N, C/M, M).mean(-1).mean(1) ==")
    hdr = ["R", "C", "N", "M", "model", "seq/seq"]
    print(" ".join(f"{h:>7}" for h in hdr))
    for (R, C, N, M) in [(16, 32, 4, 1), (16, 32, 1, 4), (16, 32, 2, 2), (16, 32, 4, 4), (32, 64, 8, 1),
                         (32, 64, 1, 8), (32, 64, 16, 1), (32, 64, 32, 1), (32, 64, 1, 64),
                         (12, 32, 3, 2), (64, 768, 1, 768), (768, 64, 768, 1), (64, 96, 8, 8),
                         (64, 1024, 16, 1), (64, 1024, 8, 1), (128, 256, 4, 16), (128, 256, 16, 16),
                         (8, 36, 8, 1), (8, 36, 1, 4), (64, 2048, 8, 2), (32, 4096, 4, 32),
                         (8, 8200, 8, 1), (16, 4100, 16, 1), (64, 1000, 8, 1), (40, 8200, 8, 1),
                         (24, 4104, 24, 1), (8, 65544, 8, 8)]:
        for kind in ["wide", "absnormal"]:
            x = gen(rng, (R, C), kind)
            t = torch.from_numpy(x).reshape(R // N, N, C // M, M).mean(-1).mean(1).numpy()
            inner = (model_inner(x.reshape(-1, M), W) / f32(M)).reshape(R // N, N, C // M)
            mod = model_outer(inner, W) / f32(N)
            inner_s = (seq(x.reshape(-1, M)) / f32(M)).reshape(R // N, N, C // M)
            sq = (seq(np.ascontiguousarray(inner_s.transpose(0, 2, 1)).reshape(-1, N)) / f32(N)).reshape(R // N, C // M)
            print(f"{R:>7} {C:>7} {N:>7} {M:>7} {same(t, mod):>7.4f} {same(t, sq):>7.4f}  ({kind})")

    print("\n== INC N:M group score: torch.mean((x*(1-mask)).reshape(R, C/M, M), dim=-1) ==")
    for (R, C, M) in [(16, 32, 2), (16, 32, 4), (16, 64, 8), (16, 64, 16), (16, 64, 32), (16, 768, 768),
                      (8, 72, 4), (8, 72, 8)]:
        x = gen(rng, (R, C), "wide")
        mask = (rng.random((R, C)) < 0.5).astype(f32)
        t = torch.mean((torch.from_numpy(x) * (1.0 - torch.from_numpy(mask))).reshape(R, C // M, M), dim=-1).numpy()
        y = (x * (f32(1.0) - mask)).astype(f32)
        mod = model_inner(y.reshape(-1, M), W).reshape(R, C // M) / f32(M)
        print(f"R={R} C={C} M={M}: model match {same(t, mod):.4f}, seq match "
              f"{same(t, (seq(y.reshape(-1, M)) / f32(M)).reshape(R, C // M)):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
