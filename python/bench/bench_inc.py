"""INC 2.0's own ``get_masks`` against prunemask's, side by side, on the same
dict of torch tensors (BERT-base-shaped: 12 layers of q, k, v, o 768x768,
3072x768, 768x3072; 85M float32 scores), INC's defaults (global, target 0.5,
cap 0.98, float32 0/1 masks). Prints the best of ``--repeat`` runs of each,
their ratio, and whether the masks are equal.

Two tables: the Python package's ``get_masks`` (INC's API, INC's defaults),
and the CLI on the same scores saved as one safetensors file (needs the
``safetensors`` package): its whole job after opening the file (select, then
the masks in memory; the report's ``seconds.select + seconds.write``), in
INC 2.0 mode (``--compat inc``) and with exact ties, against the same INC
runs. The CLI's masks in INC mode are written once (untimed) and compared.

    python python/bench/bench_inc.py [--inc DIR] [--repeat 3] [--cli PATH]

``DIR`` is the folder the neural-compressor 2.0 wheel was unzipped into;
without it the wheel is fetched with ``pip download`` into a temporary
folder. Needs torch; prints why and exits 0 when torch or INC is missing.
INC's patterns.py is loaded by file path (tests/golden/make_inc_golden.py's
loader), never vendored.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fetch_inc(tmp):
    wheel_dir = pathlib.Path(tmp) / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "neural-compressor==2.0", "-d", str(wheel_dir)],
        check=True,
    )
    wheel = next(wheel_dir.glob("neural_compressor-2.0*.whl"))
    out = pathlib.Path(tmp) / "inc20"
    zipfile.ZipFile(wheel).extractall(out)
    return out


def best(f, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - t)
    return min(times), result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inc", help="folder the INC 2.0 wheel was unzipped into")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cli", help="the prunemask binary (default: target/release/prunemask, built if missing)")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("skipped: torch is not installed (pip install torch to compare with INC)")
        return
    import prunemask

    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    from make_inc_golden import load_inc_patterns

    with tempfile.TemporaryDirectory() as tmp:
        try:
            inc_path = args.inc or fetch_inc(tmp)
            inc = load_inc_patterns(inc_path)[0]
        except Exception as e:  # no network, no wheel
            print(f"skipped: INC 2.0 unavailable ({e})")
            return
        torch.manual_seed(0)
        shapes = [(768, 768)] * 4 + [(3072, 768), (768, 3072)]
        scores = {
            f"encoder.layer.{i}.{j}": torch.randn(*s).abs()
            for i in range(12)
            for j, s in enumerate(shapes)
        }
        pre = {k: torch.ones_like(v) for k, v in scores.items()}
        elements = sum(v.numel() for v in scores.values())
        print(f"{len(scores)} layers, {elements / 1e6:.1f}M float32 scores, torch {torch.__version__}, "
              f"{torch.get_num_threads()} torch threads")
        print(f"{'pattern':<8} {'INC 2.0 get_masks':>18} {'prunemask':>10} {'ratio':>7}  masks equal")
        inc_times = {}
        inc_masks = {}
        for name in ("2:4", "4x1"):

            class Config:
                pattern = name
                prune_domain = "global"

            key = "N:M" if ":" in name else "NxM"
            theirs = inc.PATTERNS[key](Config())
            ours = prunemask.get_pattern(Config())
            t_inc, m_inc = best(lambda: theirs.get_masks(scores, 0.5, pre, 0.98), args.repeat)
            t_pm, m_pm = best(lambda: ours.get_masks(scores, 0.5, pre, 0.98), args.repeat)
            equal = all(torch.equal(m_inc[k].float(), m_pm[k]) for k in scores)
            print(f"{name:<8} {t_inc:>16.3f} s {t_pm:>8.3f} s {t_inc / t_pm:>6.1f}x  {equal}")
            inc_times[name] = t_inc
            inc_masks[name] = {k: v.to(torch.uint8) for k, v in m_inc.items()}
        cli_table(args, tmp, scores, inc_times, inc_masks)


def cli_binary(args):
    if args.cli:
        return pathlib.Path(args.cli)
    binary = ROOT / "target" / "release" / "prunemask"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "prunemask-cli"], cwd=ROOT, check=True)
    return binary


def cli_table(args, tmp, scores, inc_times, inc_masks):
    """The CLI on the same scores: select + masks after opening, best of
    ``--repeat``, against INC's ``get_masks`` on the same scores."""
    import json

    try:
        from safetensors.torch import load_file, save_file
    except ImportError:
        print("CLI table skipped: the safetensors package is not installed")
        return
    import torch

    path = pathlib.Path(tmp) / "scores.safetensors"
    save_file({k: v.contiguous() for k, v in scores.items()}, str(path))
    # The file just written back before the CLI is timed on it.
    os.sync()
    binary = cli_binary(args)
    print()
    print(f"the CLI ({binary.name} prune FILE --criterion scores --sparsity 0.5), "
          "select + masks after opening, against INC 2.0 get_masks:")
    print(f"{'job':<24} {'INC 2.0':>9} {'prunemask':>10} {'ratio':>7}  masks equal to INC")
    for name, compat in (("2:4", "inc"), ("2:4", "native"), ("4x1", "inc"), ("4x1", "native")):
        base = [str(binary), "prune", str(path), "--pattern", name, "--sparsity", "0.5",
                "--criterion", "scores", "--compat", compat]
        times = []
        for _ in range(args.repeat):
            out = subprocess.run(base + ["--json"], check=True, capture_output=True, text=True).stdout
            sec = json.loads(out)["seconds"]
            times.append(sec["select"] + sec["write"])
        t = min(times)
        equal = "-"
        if compat == "inc":
            masks = pathlib.Path(tmp) / f"masks-{name.replace(':', 'in')}.safetensors"
            subprocess.run(base + ["--masks", str(masks)], check=True, capture_output=True)
            got = load_file(str(masks))
            equal = str(all(torch.equal(got[k], inc_masks[name][k]) for k in scores))
            masks.unlink()
        label = f"{name} {'--compat inc' if compat == 'inc' else 'exact ties'}"
        t_inc = inc_times[name]
        print(f"{label:<24} {t_inc:>7.3f} s {t:>8.3f} s {t_inc / t:>6.1f}x  {equal}")


if __name__ == "__main__":
    main()
