#!/usr/bin/env bash
# The Python package (python/): formatting and clippy of its Rust crate
# (outside the workspace: it links against the Python that loads it), then
# `pip install ./python` into a fresh venv with numpy and pytest (no
# torch: the torch tests skip) and its tests, which include every INC 2.0
# golden case through INC's API.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --manifest-path python/Cargo.toml --check
cargo clippy --manifest-path python/Cargo.toml --all-targets -- -D warnings
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet numpy pytest
"$venv/bin/pip" install --quiet ./python
# From the repository root, so `prunemask` is the installed package.
"$venv/bin/pytest" -q python/tests -rs
