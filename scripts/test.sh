#!/usr/bin/env bash
# Runs every test (all features, HiGHS included). The first run builds HiGHS from source.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo test --workspace --all-features
