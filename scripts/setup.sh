#!/usr/bin/env bash
# Sourced by the other scripts: a cargo target directory outside the clone, so repeated runs on one
# machine reuse the builds, and with `--highs` (`source scripts/setup.sh --highs`) the system
# packages the HiGHS backend needs to build. The demo does not build HiGHS, so it needs neither
# apt-get nor root.
set -euo pipefail
if [ "${1:-}" = "--highs" ] && { ! command -v cmake >/dev/null 2>&1 ||
  ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; }; then
  echo "setup: installing cmake and libclang-dev (needed to build HiGHS)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq cmake libclang-dev >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/basis-aware/target}"
