#!/usr/bin/env bash
# Creates (when missing or out of date) the venv the Python tests run in and prints its path.
# Everything is cached under ~/.cache/basis-aware: the venv (venv/, or $BASIS_AWARE_VENV) and the
# llama-cpp-python wheel (wheels/), which PyPI ships only as an sdist (a ~4.5 minute C++ build on
# 2 cores).
# The wheel is built for any x86-64 CPU with AVX2, not for the build machine: a native build
# on a CPU with AMX runs llama.cpp's AMX matrix kernels, which crash (SIGSEGV in
# ggml_backend_amx_mul_mat) on the SmolLM2 Q4_1 model.
# A stamp holding the requirements file's and the build flags' hash makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="$HOME/.cache/basis-aware"
VENV="${BASIS_AWARE_VENV:-$CACHE/venv}"
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
WHEELS="$CACHE/wheels/$(echo "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
REQS=python/requirements-test.txt
STAMP="$VENV/.basis-aware-requirements"
want="$( (cat "$REQS"; echo "$LLAMA_CMAKE_ARGS") | sha256sum | cut -d' ' -f1)"
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
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" nice -n 10 \
    "${PIP[@]}" wheel --no-deps --no-cache-dir --wheel-dir "$WHEELS" "$llama"
  log "llama-cpp-python wheel built in $((SECONDS - t)) s"
fi

log "installing $REQS (torch pulls about 3 GB of CUDA packages from PyPI; it runs on the CPU)"
t=$SECONDS
nice -n 10 "${PIP[@]}" install --find-links "$WHEELS" -r "$REQS"
# A venv from an earlier stamp may hold the same version built with other flags.
"${PIP[@]}" install --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-"$llama_version"-*.whl
log "requirements installed in $((SECONDS - t)) s (whole setup $((SECONDS - start)) s)"
echo "$want" > "$STAMP"
echo "$VENV"
