"""Loads a pruned model directory with transformers and checks it is the
dense model with zeros: no missing, unexpected or mismatched weight; every
parameter equal to the dense one or +0.0; a forward pass gives finite
outputs. Usage: load_with_transformers.py DENSE_DIR PRUNED_DIR (run by
cli/tests/model_dir.rs where torch and transformers are installed)."""

import sys

import torch
from transformers import AutoModel


def main(dense_dir: str, pruned_dir: str) -> None:
    pruned, info = AutoModel.from_pretrained(pruned_dir, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v and k != "error_msgs"}
    problems.update({"error_msgs": info["error_msgs"]} if info.get("error_msgs") else {})
    assert not problems, f"{pruned_dir}: {problems}"
    dense = AutoModel.from_pretrained(dense_dir)
    dense_params = dict(dense.named_parameters())
    zeros = 0
    for name, p in pruned.named_parameters():
        d = dense_params[name]
        same_or_zero = (p == d) | ((p == 0) & ~torch.signbit(p))
        assert bool(same_or_zero.all()), f"{name}: not the dense weight or +0.0"
        zeros += int((p == 0).sum())
    assert zeros > 0, "nothing was pruned"
    ids = torch.arange(6).reshape(1, 6) % pruned.config.vocab_size
    with torch.no_grad():
        out = pruned(input_ids=ids).last_hidden_state
    assert torch.isfinite(out).all(), "non-finite outputs"
    print(f"{pruned_dir}: loaded, {zeros} zeros, outputs {tuple(out.shape)} finite")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
