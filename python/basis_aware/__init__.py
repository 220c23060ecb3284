"""Basis-aware threshold (BAT) truncation for language-model decoding.

BAT (Finlayson et al., ICLR 2024) keeps a token below a threshold sampler's cut ``tau`` when a
linear program proves that its true probability cannot be zero given the softmax bottleneck of
the output embedding ``W``. This package wraps the Rust crate ``basis-aware``: every decision is
made there, with a certificate that an independent verifier checks, and with the GIL released.

>>> import numpy as np, basis_aware
>>> W = np.random.default_rng(0).standard_normal((1000, 16), dtype=np.float32)
>>> bat = basis_aware.Bat(basis_aware.Basis.svd(W, 8), rule="eta=0.0009")
>>> logits = W @ np.ones(16, dtype=np.float32)
>>> step = bat.truncate(logits)
>>> bool(step.kept.size > 0)
True

Engine integrations: :mod:`basis_aware.hf` (a ``transformers`` logits processor) and
:mod:`basis_aware.llama_cpp` (a ``llama-cpp-python`` logits processor).
"""

from ._native import Basis, Bat, Truncation, __version__

__all__ = ["Basis", "Bat", "Truncation", "__version__"]
