#!/usr/bin/env bash
# `prunemask prune` on a big checkpoint, against plain reads and copies.
#
#   bash cli/benches/big_checkpoint.sh [SIZE_GB]    (default 4)
#
# Builds the binary and make_checkpoint in release, writes a synthetic
# sharded bf16 checkpoint of SIZE_GB (cli/examples/make_checkpoint.rs:
# Llama-shaped, ~2 GB shards, streamed, so it can be larger than RAM), then
# measures in one run:
#
#   - one plain read of the files (cat > /dev/null),
#   - prune, 2:4 global at 0.5, embeddings and lm_head dense, --masks only,
#   - prune --masks again with --threads 1 (the runs above use every
#     core): the scaling of the selection and of the masks,
#   - a plain copy of the checkpoint (cp -r),
#   - prune as above with --output (the pruned weights),
#
# and prints wall times, the ratios to the targets (masks-only <= 3x the
# read, --output <= 2x the copy) and the peak anonymous memory of the prune
# runs (RssAnon polled from /proc: VmHWM would count the mapped file pages).
# `sync` runs after each step that writes, timed apart ("+ N s sync"): the
# page cache takes a write long before the disk has it, so the time to
# durable data is shown too, and one step's write-back does not land on the
# next. A checkpoint that fits in the page cache is read from memory
# by every step; a bigger one from disk by every step.
#
# Files go to $BIG_CHECKPOINT_DIR (default target/big-checkpoint), at most
# the input and one output at a time, and are removed at the end. A copy or
# an --output run that would not fit on the disk is skipped, and says so.
set -euo pipefail
shopt -s inherit_errexit
# From the workspace root, where target/ is.
cd "$(dirname "$0")/../.."

size=${1:-4}
work=${BIG_CHECKPOINT_DIR:-$PWD/target/big-checkpoint}
exclude='embed_tokens|lm_head'

cargo build --release -p prunemask-cli --bin prunemask --example make_checkpoint
prunemask=target/release/prunemask
make_checkpoint=target/release/examples/make_checkpoint

rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

echo "::: writing a ${size} GB checkpoint to $work/in"
"$make_checkpoint" "$work/in" --gb "$size"
sync
in_bytes=$(du -sb "$work/in" | cut -f1)

now() { date +%s.%N; }
# Wall seconds of a command; its output goes to $work/log.
timed() {
  local start
  start=$(now)
  "$@" >"$work/log"
  awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}
# Like `timed`, then the peak RssAnon (KiB) of the command: "SECONDS KIB".
timed_peak() {
  local start pid kb peak=0
  start=$(now)
  "$@" >"$work/log" &
  pid=$!
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    if [[ -n $kb ]] && ((kb > peak)); then peak=$kb; fi
    sleep 0.05
  done
  wait "$pid"
  awk -v a="$start" -v b="$(now)" -v k="$peak" 'BEGIN { printf "%.2f %d", b - a, k }'
}
# Whether $1 more bytes fit on the disk of $work, with 2 GB to spare.
fits() {
  local avail
  avail=$(df -B1 --output=avail "$work" | tail -1)
  ((avail > $1 + 2000000000))
}
# The selection and write seconds of the last prune run (its --json report).
phases() {
  tr -d ' \n' <"$work/log" | sed -n 's/.*"select":\([0-9.e-]*\),"write":\([0-9.e-]*\),.*/select \1 s, masks\/output \2 s/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# A prune run writing $work/$1 with --$2: sets ${1}_s (wall seconds),
# ${1}_peak (KiB), ${1}_phases and ${1}_sync (seconds of the sync after it).
prune_run() {
  local run
  run=$(timed_peak "$prunemask" prune "$work/in" --exclude "$exclude" "--$2" "$work/$1" --json "${@:3}")
  printf -v "${1}_s" %s "${run% *}"
  printf -v "${1}_peak" %s "${run#* }"
  printf -v "${1}_phases" %s "$(phases)"
  printf -v "${1}_sync" %s "$(timed sync)"
}

# `timed` keeps a command's output in $work/log: the read goes to /dev/null.
read_all() { cat "$@" >/dev/null; }

echo "::: plain read"
read_s=$(timed read_all "$work"/in/*)

echo "::: prune --masks"
prune_run masks masks
masks_bytes=$(du -sb "$work/masks" | cut -f1)
rm -rf "$work/masks"

echo "::: prune --masks --threads 1"
prune_run one masks --threads 1
rm -rf "$work/one"

copy_s=
if fits "$in_bytes"; then
  echo "::: plain copy"
  copy_s=$(timed cp -r "$work/in" "$work/copy")
  copy_sync=$(timed sync)
  rm -rf "$work/copy"
  echo "::: prune --output"
  prune_run out output
  rm -rf "$work/out"
else
  echo "::: skipping the copy and --output: $((in_bytes / 1000000000)) GB more would not fit on the disk"
fi

echo
echo "checkpoint: $(awk -v b="$in_bytes" 'BEGIN { printf "%.2f", b / 1e9 }') GB bf16, $(ls "$work"/in/*.safetensors | wc -l) shards; 2:4 global at 0.5, $exclude dense"
echo "plain read (cat):      $read_s s"
echo "prune --masks:         $masks_s s + $masks_sync s sync ($masks_phases), $(ratio "$masks_s" "$read_s")x the read (target <= 3), peak RssAnon $(mib "$masks_peak") MiB, masks $(awk -v b="$masks_bytes" 'BEGIN { printf "%.2f", b / 1e9 }') GB"
echo "  on one thread:       $one_s s ($one_phases); $(nproc) threads take $(ratio "$masks_s" "$one_s")x its time"
if [[ -n $copy_s ]]; then
  echo "plain copy (cp -r):    $copy_s s + $copy_sync s sync"
  durable=$(ratio "$(plus "$out_s" "$out_sync")" "$(plus "$copy_s" "$copy_sync")")
  echo "prune --output:        $out_s s + $out_sync s sync ($out_phases), $(ratio "$out_s" "$copy_s")x the copy (target <= 2; ${durable}x with the syncs), peak RssAnon $(mib "$out_peak") MiB"
fi
echo "peak anonymous memory target: < 1024 MiB"
