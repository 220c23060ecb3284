#!/usr/bin/env bash
# Creates (when missing or out of date) the venv the Python tests run in and prints its path.
# Everything is cached under ~/.cache/basis-aware: the venv (venv/, or $BASIS_AWARE_VENV) and the
# llama-cpp-python wheel (wheels/), which PyPI ships only as an sdist (a ~4.5 minute C++ build on
# 2 cores).
# A stamp holding the requirements file's hash makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="$HOME/.cache/basis-aware"
VENV="${BASIS_AWARE_VENV:-$CACHE/venv}"
WHEELS="$CACHE/wheels"
REQS=python/requirements-test.txt
STAMP="$VENV/.basis-aware-requirements"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
log() { echo "python-env: $*" >&2; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV"
  exit 0
fi

start=$SECONDS
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip --quiet --disable-pip-version-check)

llama="$(grep -E '^llama-cpp-python==' "$REQS")"
llama_version="${llama#*==}"
mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
  log "building the $llama wheel from its sdist (about 5 minutes, once)"
  t=$SECONDS
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" nice -n 10 "${PIP[@]}" wheel --no-deps \
    --wheel-dir "$WHEELS" "$llama"
  log "llama-cpp-python wheel built in $((SECONDS - t)) s"
fi

log "installing $REQS (torch pulls about 3 GB of CUDA packages from PyPI; it runs on the CPU)"
t=$SECONDS
nice -n 10 "${PIP[@]}" install --find-links "$WHEELS" -r "$REQS"
log "requirements installed in $((SECONDS - t)) s (whole setup $((SECONDS - start)) s)"
echo "$want" > "$STAMP"
echo "$VENV"
