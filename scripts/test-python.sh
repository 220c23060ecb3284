#!/usr/bin/env bash
# The Python package's tests (python/tests): builds the cached venv when missing
# (scripts/python-env.sh), installs ./python into it (the Rust build reuses a target directory in
# the cache) and runs pytest. scripts/test.sh calls it after the cargo tests; it needs
# BASIS_AWARE_MODEL (the GGUF file) and BASIS_AWARE_CLI (the `basis-aware` binary) for the
# engine tests and the CLI comparisons.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="$HOME/.cache/basis-aware"
VENV="$(bash scripts/python-env.sh | tail -n 1)"
# Only PyPI is reachable: transformers must never try a model hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The maturin build backend runs the `maturin` of the venv it finds on PATH.
export PATH="$VENV/bin:$PATH"
start=$SECONDS
CARGO_TARGET_DIR="$CACHE/python-target" nice -n 10 "$VENV/bin/python" -m pip install --quiet \
  --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall ./python
echo "test-python: ./python built and installed in $((SECONDS - start)) s" >&2
"$VENV/bin/python" -m pytest python/tests -q -p no:cacheprovider "$@"
