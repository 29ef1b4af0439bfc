"""Activation statistics for Wanda-style pruning: ``‖X_j‖₂`` per input feature.

For every ``nn.Linear`` (and transformers' ``Conv1D``, GPT-2's ``[in, out]``
linear) of a Hugging Face model, runs the model over calibration text and
accumulates, per input feature ``j``, the sum of squares of the layer's
inputs over all calibration tokens; writes ``sqrt`` of it, an f32 vector
of the layer's in features, to a safetensors file under the weight's own
name (``encoder.layer.0.attention.self.query.weight``). This is the
``‖X_j‖₂`` of Wanda (Sun et al., 2023: score ``|W_ij| · ‖X_j‖₂``), what
``prunemask prune --criterion wanda --activations FILE`` reads.

    python scripts/activation_stats.py MODEL_DIR calibration.txt stats.safetensors

``calibration.txt`` holds one sample per line. Padding tokens are left
out of the sums (the attention mask). Needs torch, transformers and
safetensors; runs on the CPU unless ``--device`` says otherwise.
"""

import argparse
import sys


def collect(model, tokenizer, texts, batch_size=16, max_length=128, device="cpu"):
    """``{weight name: float32 tensor [in_features]}``: ``‖X_j‖₂`` over the
    non-padding tokens of ``texts``."""
    import torch

    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # very old transformers
        Conv1D = ()

    sums, hooks, mask = {}, [], {}

    def hook(name, in_dim):
        def fn(module, inputs, output):
            x = inputs[0].detach()
            x = x.reshape(-1, x.shape[-1]).to(torch.float64)
            keep = mask.get("tokens")
            if keep is not None and keep.numel() == x.shape[0]:
                x = x[keep]
            s = (x * x).sum(dim=0)
            sums[name] = sums[name] + s if name in sums else s

        return fn

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            hooks.append(module.register_forward_hook(hook(f"{name}.weight", module.in_features)))
        elif Conv1D and isinstance(module, Conv1D):
            hooks.append(module.register_forward_hook(hook(f"{name}.weight", module.weight.shape[0])))
    model.eval().to(device)
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[start:start + batch_size], return_tensors="pt", padding=True,
                    truncation=True, max_length=max_length,
                ).to(device)
                mask["tokens"] = batch["attention_mask"].reshape(-1).bool()
                model(**batch)
    finally:
        for h in hooks:
            h.remove()
    return {name: s.sqrt().to(torch.float32).cpu().contiguous() for name, s in sums.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a Hugging Face model directory (or hub name, if cached)")
    ap.add_argument("calibration", help="a text file, one sample per line")
    ap.add_argument("output", help="the safetensors file to write")
    ap.add_argument("--samples", type=int, default=256, help="calibration lines to use (default 256)")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    try:
        from safetensors.torch import save_file
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:
        sys.exit(f"needs torch, transformers and safetensors: {e}")
    with open(args.calibration, encoding="utf-8") as f:
        texts = [line.strip() for line in f if line.strip()][: args.samples]
    if not texts:
        sys.exit(f"{args.calibration}: no calibration text")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModel.from_pretrained(args.model)
    stats = collect(model, tokenizer, texts, args.batch_size, args.max_length, args.device)
    save_file(stats, args.output, metadata={"format": "pt", "prunemask": "activation L2 norms per input feature"})
    print(f"{args.output}: {len(stats)} layers, {len(texts)} samples")


if __name__ == "__main__":
    main()
