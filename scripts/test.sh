#!/usr/bin/env bash
# Runs every test (all features, HiGHS and the real model included). The first run builds HiGHS
# from source and downloads the model (scripts/fetch-model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
BASIS_AWARE_MODEL="$(bash scripts/fetch-model.sh | tail -n 1)"
export BASIS_AWARE_MODEL
cargo test --workspace --all-features
