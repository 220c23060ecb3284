#!/usr/bin/env bash
# Exports the real SmolLM2 decode steps that tools/benches/mask.rs times, once: greedy steps from
# prompts chosen so the steps' entropies span under 0.1 to over 6 nats. Idempotent (a prompt's
# file is kept once written). Output: $BASIS_AWARE_STEPS_DIR, default ~/.cache/basis-aware/steps.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${BASIS_AWARE_STEPS_DIR:-$HOME/.cache/basis-aware/steps}"
mkdir -p "$out"
export BASIS_AWARE_MODEL="${BASIS_AWARE_MODEL:-$(bash scripts/fetch-model.sh | tail -n 1)}"
prompts=(
  "The best thing about living by the sea is"
  "Once upon a time, in a small village at the edge of the forest,"
  "1, 2, 3, 4, 5, 6, 7,"
  "The capital of France is"
  "Here is a list of random words:"
  "My name is"
)
for k in "${!prompts[@]}"; do
  file="$out/prompt$k.safetensors"
  [ -f "$file" ] && continue
  cargo run --quiet -p basis-aware-tools ${BENCH_STEPS_CARGO_FLAGS:---features candle} -- export --prompt "${prompts[$k]}" --steps 6 --out "$file"
done
echo "$out"
