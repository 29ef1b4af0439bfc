#!/usr/bin/env bash
# Runs the test suite for aarch64-unknown-linux-gnu under QEMU user-mode
# emulation. Installs what it needs (rustup target, Debian qemu-user and the
# aarch64 cross gcc/libc), skipping whatever is already present; all settings
# go through environment variables, so host builds are unaffected.
#
# What runs under qemu: the library (`-p prunemask`, the root package; the
# CLI in cli/ is not cross-built), its unit tests and every tests/*.rs
# (no_alloc, harness = false, included). Doc tests: cargo before 1.89 skips
# them for a cross target (fine, they also run natively in `.ci/run`); cargo >= 1.89
# (stabilised doctest-xcompile, the stable toolchain of this image) builds
# them for aarch64 and runs them through the same RUNNER, so they run under
# qemu too and are counted.
#
# Exits non-zero if anything fails. Prints "aarch64: N tests passed under
# qemu", N summed over the "test result:" lines.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

# --- install -----------------------------------------------------------------
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[[ -e $sysroot/lib/ld-linux-aarch64.so.1 && -e $sysroot/lib/libc.so.6 ]] ||
  need+=(libc6-dev-arm64-cross)
if ((${#need[@]})); then
  echo "aarch64: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Debian's qemu-user ships /usr/bin/qemu-aarch64 (qemu-user-static would ship
# qemu-aarch64-static); fail early and clearly if it is not there.
command -v qemu-aarch64 >/dev/null || { echo "aarch64: qemu-aarch64 not found" >&2; exit 1; }

# --- build and run -------------------------------------------------------------
export CARGO_TERM_COLOR=never
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Prove the binaries are aarch64 ELF (not host binaries run natively): build
# the lib test binary and show `file` on it.
bin=$(nice cargo test -p prunemask --target "$target" --lib --no-run --message-format=json |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | sed -n 1p)
[[ -n $bin ]] || { echo "aarch64: could not build the lib test binary" >&2; exit 1; }
info=$(file -b "$bin" 2>/dev/null || readelf -h "$bin" | grep Machine)
echo "aarch64: $bin: $info"
[[ $info == *aarch64* || $info == *AArch64* ]] ||
  { echo "aarch64: test binary is not aarch64" >&2; exit 1; }

status=0
nice cargo test -p prunemask --target "$target" 2>&1 | tee "$log" || status=$?

# "test result: ok. 59 passed; 0 failed; 0 ignored; ..." per harness binary
# (no_alloc has no harness and prints no such line; its exit status counts).
read -r passed failed binaries < <(awk '/^test result:/ {
    for (i = 1; i < NF; i++) {
      if ($(i + 1) ~ /^passed/) p += $i
      if ($(i + 1) ~ /^failed/) f += $i
    }
    n++
  } END { print p + 0, f + 0, n + 0 }' "$log")
echo "aarch64: $((passed + failed)) tests ran under qemu: $passed passed, $failed failed ($binaries harness binaries; no_alloc runs without a harness)"
if ((status)); then
  echo "aarch64: FAILED (cargo test exit $status)" >&2
fi
exit "$status"
