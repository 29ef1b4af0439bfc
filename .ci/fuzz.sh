#!/usr/bin/env bash
# Fuzz CI: builds the cargo-fuzz targets in fuzz/ and runs each one for
# FUZZ_SECONDS (default 20) seconds from its seed corpus. Prints the
# executions per target; exits non-zero if a target crashes, fails an
# invariant, times out or does not build. Installs what a fresh machine lacks
# (the nightly toolchain, cargo-fuzz).
#
#   .ci/fuzz.sh                      # every target, 20 s each
#   FUZZ_SECONDS=300 .ci/fuzz.sh select patterns
#
# New inputs the fuzzer finds go to fuzz/grown/<target>/ (ignored by git), so
# the tracked seed corpus fuzz/corpus/<target>/ is only read. Crash
# reproducers go to fuzz/artifacts/<target>/; replay one with
#   cargo +nightly fuzz run -s none -a <target> fuzz/artifacts/<target>/<file>
set -uo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-20}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(patterns select lock_sparsity conv_view compress)
fi
# The crate forbids unsafe code, so AddressSanitizer finds nothing Rust's own
# checks do not; without it the targets run several times faster. Debug
# assertions (with overflow checks) stay on. FUZZ_FLAGS overrides.
read -r -a flags <<<"${FUZZ_FLAGS:--s none -a}"
export CARGO_TERM_COLOR=never

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "::: installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal || exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "::: installing cargo-fuzz"
  cargo +nightly install cargo-fuzz --locked || exit 1
fi

echo "::: cargo fuzz build ${flags[*]}"
cargo +nightly fuzz build "${flags[@]}" || {
  echo "::: FAILED: build"
  exit 1
}

failed=()
total=0
declare -A execs
for t in "${targets[@]}"; do
  mkdir -p "grown/$t" "corpus/$t"
  log=$(mktemp)
  echo "::: fuzz $t for ${seconds}s"
  # First corpus directory receives new inputs; the seed corpus is read only.
  cargo +nightly fuzz run "${flags[@]}" "$t" "grown/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    >"$log" 2>&1
  rc=$?
  n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  n=${n:-0}
  execs[$t]=$n
  total=$((total + n))
  if grep -q 'failed to build fuzz script' "$log"; then
    # `cargo fuzz run` builds again; the sources changed since the build above.
    failed+=("$t(build)")
    echo "::: FAILED: $t does not build; log tail:"
    tail -n 40 "$log"
  elif ((rc != 0)) || grep -qE '^(==[0-9]+== ?ERROR|SUMMARY: libFuzzer)|panicked at' "$log"; then
    failed+=("$t")
    echo "::: FAILED: $t (exit $rc); log tail:"
    tail -n 40 "$log"
  fi
  echo "$t: $n executions"
  rm -f "$log"
done

echo
echo "::: executions per target (${seconds}s each)"
for t in "${targets[@]}"; do
  printf '  %-14s %12s\n' "$t" "${execs[$t]}"
done
printf '  %-14s %12s\n' total "$total"
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]} (reproducers in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
