#!/usr/bin/env bash
# Runs every test (all features, HiGHS and the real model included), then the Python package's
# tests (python/tests, on the same model, in transformers and llama-cpp-python). The first run
# builds HiGHS from source, downloads the model (scripts/fetch-model.sh) and builds the Python venv
# (scripts/python-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --highs
BASIS_AWARE_MODEL="$(bash scripts/fetch-model.sh | tail -n 1)"
# One seed for every property test, so a run is reproducible and CI sees the cases the last
# local run saw; explore others with PROPTEST_RNG_SEED=<n> bash scripts/test.sh.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261201}"
export BASIS_AWARE_MODEL
# The Python venv (a ~3 GB download and a C++ build on a clean machine) is made while cargo runs.
python_env_log="$(mktemp)"
bash scripts/python-env.sh >"$python_env_log" 2>&1 &
python_env=$!
cargo test --workspace --all-features
# The CLI the Python tests compare the numpy API with (already built by the tests above).
cargo build --workspace --all-features --bins
export BASIS_AWARE_CLI="$CARGO_TARGET_DIR/debug/basis-aware"
if ! wait "$python_env"; then
  cat "$python_env_log" >&2
  exit 1
fi
cat "$python_env_log" >&2
bash scripts/test-python.sh
