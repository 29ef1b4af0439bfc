#!/usr/bin/env bash
# Runs the library's unit tests and the semantics/properties integration tests
# under Miri (nightly) to catch undefined behaviour. Installs nightly's miri
# and rust-src if missing. Exits non-zero on any test failure or UB report.
#
# Not run: tests/inc_golden.rs (reads the golden JSON: needs the filesystem,
# and parsing 1.3 MB of JSON is very slow under Miri) and doc tests.
# tests/no_alloc.rs can be tried with MIRI_NO_ALLOC=1.
set -uo pipefail
cd "$(dirname "$0")/.."

# --- install -----------------------------------------------------------------
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal --component miri,rust-src
fi
installed=$(rustup +nightly component list --installed)
want=()
grep -q '^miri' <<<"$installed" || want+=(miri)
grep -q '^rust-src' <<<"$installed" || want+=(rust-src)
((${#want[@]} == 0)) || rustup +nightly component add "${want[@]}" || exit 1
cargo +nightly miri setup || exit 1

# --- settings (environment only; host builds are unaffected) ---------------
export CARGO_TERM_COLOR=never
# Few proptest cases: every case is interpreted, ~1000x slower than native.
export PROPTEST_CASES=${PROPTEST_CASES:-4}
# Some proptest blocks (src/arch/tests.rs) use the default file-based failure
# persistence, which would need filesystem access; this turns it off.
export PROPTEST_DISABLE_FAILURE_PERSISTENCE=1
# Miri keeps isolation on (no host filesystem/clock/env). Flags:
# -Zmiri-env-forward=...  isolation hides the host environment from the
#   program; forward the two proptest settings above so proptest sees them.
#   (proptest's RNG seeds from getrandom, which Miri emulates deterministically
#   under isolation, so no -Zmiri-disable-isolation is needed.)
# -Zmiri-ignore-leaks  tests/semantics.rs (error_registry_duplicate_and_names)
#   Box::leak()s registry tables on purpose to get &'static slices; Miri reports
#   those as leaks. The library itself has no allocator (no `alloc` crate), so
#   this can only hide test-side leaks.
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-ignore-leaks -Zmiri-env-forward=PROPTEST_CASES -Zmiri-env-forward=PROPTEST_DISABLE_FAILURE_PERSISTENCE"
# Under miri, Level::is_available says scalar only (cfg!(miri)): pulp's
# CPUID detection is inline asm, which miri cannot run.
features=()

failed=()
run() {
  local name=$1
  shift
  echo "::: miri: $name"
  local t0=$SECONDS
  if nice cargo +nightly miri test -p prunemask "${features[@]}" "$@"; then
    echo "::: miri: $name ok ($((SECONDS - t0)) s)"
  else
    echo "::: miri: $name FAILED ($((SECONDS - t0)) s)"
    failed+=("$name")
  fi
}

# The scalar kernels (keys, torch-order sums, least-N) and, from the
# semantics suite, the registry, lock, sparsity, error and conv-view cases.
# The whole suite passes under miri too but takes about 15 minutes here
# (`cargo +nightly miri test --test semantics`), too long for every CI run.
# arch::tests are skipped: under miri only the scalar level exists.
run "lib unit tests (scalar kernels)" --lib -- --skip arch::tests
run "tests/semantics.rs (registry, lock, sparsity, errors, conv view)" \
  --test semantics -- registry lock_ sparsity error_ conv_view
if [[ ${MIRI_NO_ALLOC:-0} == 1 ]]; then
  run "tests/no_alloc.rs" --test no_alloc
fi

if ((${#failed[@]})); then
  printf 'miri: FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "miri: all passed ($SECONDS s)"
