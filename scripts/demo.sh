#!/usr/bin/env bash
# The main job, for now: generate a small synthetic instance (Gaussian W, V = 1000, d = 16) and
# decide BAT truncation for every token of each step, with the full basis and with a top-4 SVD
# basis: first with the default pure-Rust simplex backend, then with the HiGHS oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --features cli,highs --bin basis-aware
bin="$CARGO_TARGET_DIR/debug/basis-aware"
dir="$HOME/.cache/basis-aware/demo"
mkdir -p "$dir"
"$bin" synth --out "$dir/gaussian.safetensors" --vocab 1000 --dim 16 --steps 2 --scale 8 --seed 1
for backend in simplex highs; do
  echo "== $backend: full basis (every column of W), eta = 0.0009"
  "$bin" truncate "$dir/gaussian.safetensors" --rule eta=0.0009 --backend "$backend"
  echo "== $backend: top-4 SVD basis, eta = 0.0009"
  "$bin" truncate "$dir/gaussian.safetensors" --rule eta=0.0009 --svd 4 --backend "$backend"
done
echo "== three tokens of step 0 as JSON"
"$bin" truncate "$dir/gaussian.safetensors" --step 0 --svd 4 --tokens 0,1,2 --json
