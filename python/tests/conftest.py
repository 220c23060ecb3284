"""Shared fixtures: the Rust CLI (the reference the numpy API is compared with) and the model.

scripts/test.sh sets BASIS_AWARE_CLI (the `basis-aware` binary its cargo build produced) and
BASIS_AWARE_MODEL (the SmolLM2 GGUF file scripts/fetch-model.sh downloads).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _cli_candidates():
    if os.environ.get("BASIS_AWARE_CLI"):
        yield Path(os.environ["BASIS_AWARE_CLI"])
    for target in (os.environ.get("CARGO_TARGET_DIR"), REPO / "target",
                   Path.home() / ".cache/basis-aware/target"):
        if target:
            for profile in ("debug", "release"):
                yield Path(target) / profile / "basis-aware"


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `basis-aware` command-line tool (built by scripts/test.sh's cargo build)."""
    for path in _cli_candidates():
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail("the basis-aware CLI was not found: set BASIS_AWARE_CLI or run "
                "`cargo build --workspace --all-features --bins` (scripts/test.sh does)")


def run_cli(cli: Path, *args: str) -> str:
    done = subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"basis-aware {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def cli_truncate(cli: Path, instance: Path, step: int, *extra: str) -> dict:
    """One step of `basis-aware truncate --json`."""
    out = run_cli(cli, "truncate", str(instance), "--step", str(step), "--json", *extra)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(lines) == 1, out
    return lines[0]


def read_instance(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


@pytest.fixture(scope="session")
def synth(cli, tmp_path_factory):
    """Writes a synthetic instance with `basis-aware synth` and returns (path, tensors)."""
    made = {}

    def make(vocab=2000, dim=16, steps=4, seed=0, scale=8.0):
        key = (vocab, dim, steps, seed, scale)
        if key not in made:
            path = tmp_path_factory.mktemp("synth") / f"v{vocab}-d{dim}-s{seed}.safetensors"
            run_cli(cli, "synth", "--out", str(path), "--vocab", str(vocab), "--dim", str(dim),
                    "--steps", str(steps), "--seed", str(seed), "--scale", str(scale))
            made[key] = (path, read_instance(path))
        return made[key]

    return make


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The SmolLM2 GGUF file (BASIS_AWARE_MODEL, set by scripts/test.sh)."""
    path = os.environ.get("BASIS_AWARE_MODEL")
    if not path:
        pytest.skip("BASIS_AWARE_MODEL is not set (scripts/test.sh sets it)")
    assert Path(path).is_file(), f"BASIS_AWARE_MODEL={path} does not exist"
    return Path(path)


PROMPT = "The capital of France is Paris. The capital of Germany is"
