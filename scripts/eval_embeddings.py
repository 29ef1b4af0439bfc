"""How close a pruned sentence-embedding model stays to its dense model.

Loads the dense model and each pruned model directory (what ``prunemask``
writes) with transformers' ``AutoModel`` and ``AutoTokenizer``, offline, on
the CPU in float32, and embeds held-out text the way sentence-transformers'
MiniLM does: the attention-mask-weighted mean of ``last_hidden_state``. For
each pruned directory it prints, tab-separated, its path, the mean cosine
similarity of its embeddings to the dense model's (4 decimals), and the
fraction of zeros over the weight matrices of its ``nn.Linear`` modules
(a sanity check that the pruning is there).

    python scripts/eval_embeddings.py DENSE_DIR PRUNED_DIR [PRUNED_DIR ...] --texts eval.txt

``--texts`` holds one sample per line; the first ``--skip`` (256) lines are
left out, being the calibration text of ``scripts/activation_stats.py``
(see ``scripts/calibration_text.py``), and the next ``--samples`` (256)
used. A pruned directory without tokenizer files uses DENSE_DIR's
tokenizer. ``--json`` prints one JSON list instead. Needs torch and
transformers.
"""

import argparse
import json
import os
import sys
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")


def load(path, tokenizer_path):
    """``(model, tokenizer)`` from local directories, float32, eval mode; exits
    if the checkpoint lacks weights the model needs (they would be random)."""
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(path, local_files_only=True, output_loading_info=True)
    if info.get("missing_keys"):
        sys.exit(f"{path}: checkpoint lacks {', '.join(sorted(info['missing_keys']))}")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    return model.float().eval(), tokenizer


def embed(model, tokenizer, texts, batch_size=32, max_length=256):
    """Mean-pooled embeddings ``[len(texts), hidden]`` over non-padding tokens."""
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start:start + batch_size], return_tensors="pt", padding=True,
                truncation=True, max_length=max_length,
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))
    return torch.cat(out)


def zero_fraction(model):
    """Zeros over all elements of the 2-D weights of the ``nn.Linear`` modules."""
    import torch

    zeros = total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module.weight.dim() == 2:
            zeros += int((module.weight == 0).sum())
            total += module.weight.numel()
    return zeros / total if total else 0.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dense", help="the dense model directory")
    ap.add_argument("pruned", nargs="+", help="pruned model directories")
    ap.add_argument("--texts", required=True, help="a text file, one sample per line")
    ap.add_argument("--skip", type=int, default=256, help="lines to leave out first (default 256)")
    ap.add_argument("--samples", type=int, default=256, help="lines to embed (default 256)")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--json", action="store_true", help="print a JSON list instead of tab-separated lines")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
    except ImportError as e:
        sys.exit(f"needs torch and transformers: {e}")
    with open(args.texts, encoding="utf-8") as f:
        texts = [line.strip() for line in f if line.strip()][args.skip: args.skip + args.samples]
    if not texts:
        sys.exit(f"{args.texts}: no text after the first {args.skip} lines")
    model, tokenizer = load(args.dense, args.dense)
    dense = embed(model, tokenizer, texts, args.batch_size, args.max_length)
    results = []
    for path in args.pruned:
        has_tokenizer = any((Path(path) / name).is_file() for name in TOKENIZER_FILES)
        model, tokenizer = load(path, path if has_tokenizer else args.dense)
        emb = embed(model, tokenizer, texts, args.batch_size, args.max_length)
        cosine = torch.nn.functional.cosine_similarity(emb, dense, dim=-1).mean().item()
        results.append({"path": path, "cosine": round(cosine, 4), "zeros": zero_fraction(model), "samples": len(texts)})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"{r['path']}\t{r['cosine']:.4f}\t{r['zeros']:.4f}")


if __name__ == "__main__":
    main()
