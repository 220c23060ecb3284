"""What the engine processors share: their state (one ``Bat``, the mode, the seed), argument
checks, per-step seeds and the row handling."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ._native import Basis, Bat

MODES = ("mask", "sample")
_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def step_seed(seed: int, row: int, position: int) -> int:
    """The seed of one draw: a hash of the processor's seed, the batch row and the sequence
    length, so a generation is reproducible from its seed without state carried between calls
    (two ``generate`` calls with the same seed and prompt draw the same tokens)."""
    x = _splitmix64(seed & _MASK64)
    x = _splitmix64(x ^ (row & _MASK64))
    return _splitmix64(x ^ (position & _MASK64))


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be 'mask' or 'sample', got {mode!r}")
    return mode


def basis_from_weight(weight: np.ndarray, svd: Optional[int]) -> Basis:
    """``Basis.svd(W, svd)``, or the full ``W`` when ``svd`` is ``None`` or 0."""
    return Basis.svd(weight, svd) if svd else Basis.full(weight)


def decide_rows(bat: Bat, mode: str, seed: int, scores: np.ndarray, position: int) -> np.ndarray:
    """The processed float32 ``rows x V`` scores: ``mask`` sets every token BAT does not keep to
    ``-inf``; ``sample`` draws one token per row with the lazy sampler and keeps only it."""
    if mode == "mask":
        # One row goes through the single-row call, which keeps the Bat's warm starts between
        # steps (batched rows each get a fresh solver).
        return bat.mask(scores[0])[np.newaxis, :] if scores.shape[0] == 1 else bat.mask(scores)
    out = np.full(scores.shape, -np.inf, dtype=np.float32)
    for row in range(scores.shape[0]):
        token = bat.sample(scores[row], step_seed(seed, row, position))
        out[row, token] = scores[row, token]
    return out


class Processor:
    """The state of an engine's logits processor: one ``Bat`` per processor (its warm starts
    carry over between steps), the mode and the seed. ``weight`` is called for ``W`` only when
    no ``basis`` is given, after the mode is checked, so a bad mode fails before the SVD."""

    def __init__(self, weight: Callable[[], np.ndarray], basis: Optional[Basis], *, rule: str,
                 svd: Optional[int], mode: str, seed: int, backend: str,
                 time_limit: Optional[float], temperature: float) -> None:
        self.mode = check_mode(mode)
        if basis is None:
            basis = basis_from_weight(weight(), svd)
        self.seed = int(seed)
        self.bat = Bat(basis, rule=rule, backend=backend, time_limit=time_limit,
                       temperature=temperature)

    def _decide(self, scores: np.ndarray, position: int) -> np.ndarray:
        """:func:`decide_rows` with this processor's ``Bat``, mode and seed."""
        return decide_rows(self.bat, self.mode, self.seed, scores, position)
