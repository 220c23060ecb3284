#!/usr/bin/env bash
# Side by side in one run on real SmolLM2-135M steps: the crate's default path (simplex backend
# with its reductions), HiGHS on the unreduced LP, and the paper's approach as its authors ran it
# (tools/benches/cvxpy_bat.py: one cvxpy LP per token, cvxpy's default open solver), on the same
# instance and the same tokens, for the top-20 SVD basis and the full W. Also the default path's
# full mask and numpy's f32 W h for scale. Every result file is named after a line of
# commands.tsv, which holds the exact command that produced it; tools/benches/paper_table.py turns the
# run into the table of docs/performance.md.
#
#   bash scripts/bench-paper.sh            # both bases
#   BENCH_PAPER_FULL=0 bash scripts/bench-paper.sh   # top-20 SVD basis only
#
# Knobs (environment): BENCH_PAPER_STEPS (c = 20 steps, default "0 1 2 3"), BENCH_PAPER_FULL_STEP
# (default 0), BENCH_PAPER_LIMIT_C20 / BENCH_PAPER_LIMIT_FULL (seconds per LP, 120 / 300). With the
# full W (577 rows) each solver gets one token near tau and one from the tail: minutes apiece.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --highs

cache="$HOME/.cache/basis-aware"
venv="$cache/venv-cvxpy"
steps="${BENCH_PAPER_STEPS:-0 1 2 3}"
full_step="${BENCH_PAPER_FULL_STEP:-0}"
limit_c20="${BENCH_PAPER_LIMIT_C20:-120}"
limit_full="${BENCH_PAPER_LIMIT_FULL:-300}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r tools/benches/requirements-cvxpy.txt
fi
py="$venv/bin/python"

cargo build --release -p basis-aware-tools --features candle,highs --bin basis-aware

run="$cache/bench-paper/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
echo "bench-paper: writing $run" >&2
# The run keeps its own copy of the binary: the target directory may be shared, and another
# build must not swap it in the middle of a run.
bin="$run/basis-aware"
cp "$CARGO_TARGET_DIR/release/basis-aware" "$bin"
[[ "$("$bin" truncate --help)" == *--each* ]] || { echo "bench-paper: $bin is not this tree's build" >&2; exit 1; }

instance="$cache/bench-paper/smol.safetensors"
if [ ! -f "$instance" ]; then
  mkdir -p "$(dirname "$instance")"
  model="$(bash scripts/fetch-model.sh | tail -n 1)"
  "$bin" export --prompt "The best thing about living by the sea is" --steps 4 \
    --out "$instance" --model "$model"
fi

{
  echo "# started $(date -u +%FT%TZ) on $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# $(uname -srm), $("$py" --version); $("$py" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ("cvxpy", "clarabel", "highspy", "scipy", "numpy", "safetensors")))')"
  echo "# Rust HiGHS backend: highs-sys $(grep -A1 '^name = "highs-sys"' Cargo.lock | tail -n 1 | cut -d'"' -f2)"
  echo "# basis-aware $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src backends || echo '+dirty')"
} > "$run/commands.tsv"

# Runs a command, keeps its stdout as $run/TAG.jsonl and its command line in commands.tsv.
record() {
  local tag="$1"
  shift
  printf '%s\t%s\n' "$tag" "$*" >> "$run/commands.tsv"
  echo "bench-paper: $tag" >&2
  "$@" > "$run/$tag.jsonl"
}

# One basis: the tokens of each step, then our path three times (milliseconds, so repeated),
# HiGHS and cvxpy once each.
compare() {
  local name="$1" svd_flag="$2" pick="$3" limit="$4" step="$5"
  local svd_args=()
  [ -n "$svd_flag" ] && svd_args=(--svd "$svd_flag")
  record "tokens-$name-step$step" "$py" tools/benches/cvxpy_bat.py "$instance" --step "$step" \
    "${svd_args[@]}" --pick "$pick"
  local tokens
  tokens="$(cat "$run/tokens-$name-step$step.jsonl")"
  for rep in 1 2 3; do
    record "ours-$name-step$step-rep$rep" "$bin" truncate "$instance" --step "$step" "${svd_args[@]}" \
      --tokens "$tokens" --each --backend simplex --time-limit "$limit" --json
  done
  record "highs-$name-step$step" "$bin" truncate "$instance" --step "$step" "${svd_args[@]}" \
    --tokens "$tokens" --each --backend highs --time-limit "$limit" --json
  record "cvxpy-$name-step$step" "$py" tools/benches/cvxpy_bat.py "$instance" --step "$step" \
    "${svd_args[@]}" --tokens "$tokens" --time-limit "$limit"
}

# The reference: f32 W h on one thread (the crate's path is single-threaded too).
record "unembedding" env OPENBLAS_NUM_THREADS=1 "$py" tools/benches/cvxpy_bat.py "$instance" --unembedding

for step in $steps; do
  compare c20 20 5,5 "$limit_c20" "$step"
  record "mask-c20-step$step" "$bin" truncate "$instance" --step "$step" --svd 20 --json
done
if [ "${BENCH_PAPER_FULL:-1}" != 0 ]; then
  compare full "" 1,1 "$limit_full" "$full_step"
fi
echo "# finished $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$run/commands.tsv"

"$py" tools/benches/paper_table.py "$run"
