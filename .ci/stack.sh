#!/usr/bin/env bash
# The worst-case stack of every public entry point on a Cortex-M4F, measured
# by painting (embedded/stack: each call runs over a painted stack under
# qemu-system-arm -M mps2-an386, and the deepest word it changed is its
# depth), for the default build and for the build for small targets
# (feature `small`), which must stay within 8 KiB (the program exits non-zero
# otherwise). Prints each build's lines. Installs qemu-system-arm and the
# target if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
if ! command -v qemu-system-arm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq qemu-system-arm >/dev/null
fi

cd embedded/stack
for build in default small; do
  flags=()
  [[ $build == small ]] && flags=(--features small)
  echo "::: stack of every entry point, $build build (Cortex-M4F, qemu mps2-an386)"
  # The program's own exit status: 1 if a call failed or, for the small
  # build, one went over 8 KiB.
  timeout 300 cargo run --release "${flags[@]}"
done
