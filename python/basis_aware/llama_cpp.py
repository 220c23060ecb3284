"""BAT for ``llama-cpp-python``: a processor for ``Llama(...)(prompt, logits_processor=...)``.

>>> from llama_cpp import Llama, LogitsProcessorList                      # doctest: +SKIP
>>> from basis_aware.llama_cpp import BatLogitsProcessor                  # doctest: +SKIP
>>> llm = Llama(model_path=path)                                          # doctest: +SKIP
>>> bat = BatLogitsProcessor(path, rule="eta=0.0009", svd=20, mode="sample")  # doctest: +SKIP
>>> llm(prompt, logits_processor=LogitsProcessorList([bat]),              # doctest: +SKIP
...     temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)

``W`` is read from the GGUF file (``output.weight``, or ``token_embd.weight`` for models that tie
their embeddings, as SmolLM2 does) and dequantized with the ``gguf`` package; the basis is
computed once per processor.

Where it goes: llama-cpp-python runs the processor on the raw logits, before its own sampler
chain (penalties, top-k, top-p, min-p, temperature), so the rule sees the model's own ``q``.
Pass ``top_k=0, top_p=1.0, min_p=0.0`` so that chain cuts nothing BAT kept. In
``mode="sample"``, pass the temperature to the processor (it draws from ``softmax(logits / T)``
restricted to the kept set and returns a row with only the drawn token finite); in
``mode="mask"``, llama.cpp's own ``temperature`` then reshapes the draw among the kept tokens.
"""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np
import numpy.typing as npt

from ._common import Processor
from ._native import Basis

__all__ = ["BatLogitsProcessor", "gguf_output_matrix"]


def gguf_output_matrix(model_path: Union[str, os.PathLike]) -> np.ndarray:
    """The output matrix ``W`` (``V x d``, float32) of a GGUF model: ``output.weight``, else the
    tied ``token_embd.weight``, dequantized."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(os.fspath(model_path))
    tensors = {t.name: t for t in reader.tensors}
    tensor = tensors.get("output.weight") or tensors.get("token_embd.weight")
    if tensor is None:
        raise ValueError(f"{model_path}: neither output.weight nor token_embd.weight is in the file")
    w = dequantize(tensor.data, tensor.tensor_type)
    vocab, hidden = int(tensor.shape[-1]), int(tensor.shape[0])
    return np.ascontiguousarray(w.reshape(vocab, hidden), dtype=np.float32)


class BatLogitsProcessor(Processor):
    """A llama-cpp-python logits processor: ``__call__(input_ids, scores) -> scores``.

    Args:
        model_path: the GGUF file the ``Llama`` runs; ``W`` is read from it.
        rule, svd, mode, seed, basis, backend, time_limit, temperature: as in
            :class:`basis_aware.hf.BatLogitsProcessor`.
    """

    def __init__(
        self,
        model_path: Union[str, os.PathLike, None] = None,
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
        if (model_path is None) == (basis is None):
            raise ValueError("pass exactly one of model_path or basis")
        super().__init__(
            lambda: gguf_output_matrix(model_path), basis, rule=rule, svd=svd, mode=mode,
            seed=seed, backend=backend, time_limit=time_limit, temperature=temperature)

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        return self._decide(scores[np.newaxis, :], len(input_ids))[0]
