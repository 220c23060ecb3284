"""BAT for Hugging Face ``transformers``: a ``LogitsProcessor`` for ``model.generate``.

>>> from basis_aware.hf import BatLogitsProcessor                            # doctest: +SKIP
>>> bat = BatLogitsProcessor(model, rule="eta=0.0009", svd=20, mode="sample")  # doctest: +SKIP
>>> model.generate(**inputs, logits_processor=[bat], do_sample=True)  # doctest: +SKIP

Where it goes: the rule is stated for the model's own distribution ``q = softmax(logits)`` at
temperature 1. ``generate`` runs the processors passed in ``logits_processor`` after its own
logits processors (repetition penalty, minimum length, bad words, ...; none of them is on by
default) and before its sampling warpers (temperature, top-k, top-p, min-p, ...), so the processor
sees the raw logits. In a list you build and apply yourself, put it first, before any temperature.

What temperature then means: the kept set is always decided at temperature 1, and a temperature
``T`` only reshapes the draw within it. In ``mode="mask"`` the kept logits are returned unchanged
and every other token is ``-inf``; ``generate``'s warpers then act on the kept set, so
``do_sample=True, temperature=T`` draws from ``softmax(logits / T)`` over the kept tokens. Pass
``top_k=0, top_p=1.0`` too: ``GenerationConfig``'s default ``top_k=50`` would cut tokens BAT kept.
In ``mode="sample"`` (exact BAT sampling, lazy: most draws need no LP) the returned row keeps only
the drawn token, so the warpers change nothing: give the temperature to the processor
(``BatLogitsProcessor(..., temperature=T)``), which draws from ``softmax(logits / T)`` restricted
to the kept set.

Scores of any float dtype on any device are copied to the host as float32 for the decision
(rows in parallel in mask mode) and the result is returned in the scores' dtype and device.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from transformers import LogitsProcessor

from ._common import Processor
from ._native import Basis

__all__ = ["BatLogitsProcessor", "output_embedding"]


def output_embedding(model: Any) -> np.ndarray:
    """``model.get_output_embeddings().weight`` (``V x d``) as a float32 host array."""
    layer = model.get_output_embeddings()
    if layer is None:
        raise ValueError("the model has no output embeddings (get_output_embeddings() is None)")
    return _host_f32(layer.weight)


def _host_f32(tensor: Any) -> np.ndarray:
    if isinstance(tensor, np.ndarray):
        return tensor
    return tensor.detach().to(device="cpu", dtype=torch.float32).numpy()


class BatLogitsProcessor(Processor, LogitsProcessor):
    """BAT truncation (``mode="mask"``) or exact BAT sampling (``mode="sample"``) for
    ``model.generate``.

    Args:
        model: a ``transformers`` model; its ``get_output_embeddings().weight`` is ``W``.
        weight: ``W`` (``V x d``) directly, as a tensor or array, instead of ``model``.
        rule: the threshold rule, e.g. ``"eta=0.0009"``, ``"epsilon=3e-4"``, ``"min-p=0.05"``.
        svd: rank ``c`` of the basis ``W V_c``, computed once here; ``None`` or 0 for the full
            ``W``.
        mode: ``"sample"`` (draw one token per row; use with ``do_sample=True``) or ``"mask"``
            (rejected tokens to ``-inf``).
        seed: draws are seeded by ``(seed, row, sequence length)``, so a generation is
            reproducible from its seed.
        basis: a prebuilt :class:`basis_aware.Basis` instead of ``model``/``weight``.
        backend, time_limit: as in :class:`basis_aware.Bat`.
        temperature: the sampling temperature of ``mode="sample"`` (see the module docs).
    """

    def __init__(
        self,
        model: Any = None,
        weight: Any = None,
        rule: str = "eta=0.0009",
        svd: Optional[int] = 20,
        mode: str = "sample",
        seed: int = 0,
        *,
        basis: Optional[Basis] = None,
        backend: str = "simplex",
        time_limit: Optional[float] = None,
        temperature: float = 1.0,
    ) -> None:
        if sum(x is not None for x in (model, weight, basis)) != 1:
            raise ValueError("pass exactly one of model, weight or basis")
        super().__init__(
            lambda: output_embedding(model) if model is not None else _host_f32(weight), basis,
            rule=rule, svd=svd, mode=mode, seed=seed, backend=backend, time_limit=time_limit,
            temperature=temperature)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        host = scores.detach().to(device="cpu", dtype=torch.float32).numpy()
        out = self._decide(host, int(input_ids.shape[-1]))
        return torch.from_numpy(out).to(device=scores.device, dtype=scores.dtype)
