"""Type stubs of the compiled extension (``basis_aware._native``)."""

from __future__ import annotations

import os
from typing import Mapping, Optional, Union, final

import numpy as np
import numpy.typing as npt

_FloatArray = npt.ArrayLike
_Path = Union[str, os.PathLike[str]]

__version__: str

@final
class Basis:
    """The constraint matrix ``B`` (``V x m``), built once per model and shared by every Bat."""

    @staticmethod
    def svd(W: _FloatArray, c: int) -> Basis:
        """``W`` (``V x d``, float16/32/64, any strides) projected on its top ``c`` right
        singular vectors (the paper's setting: ``c`` = 20 or 30)."""
    @staticmethod
    def full(W: _FloatArray) -> Basis:
        """The whole output embedding ``W`` (``V x d``): every constraint of the bottleneck."""
    @staticmethod
    def explicit(B: _FloatArray) -> Basis:
        """Any ``V x m`` matrix, used as given."""
    @staticmethod
    def load(path: _Path) -> Basis:
        """A basis written by :meth:`save` (or by the Rust crate's ``Basis::save``)."""
    def save(self, path: _Path, metadata: Optional[Mapping[str, str]] = None) -> None:
        """Writes the basis as a safetensors file."""
    @property
    def vocab(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def kind(self) -> str:
        """``"full"``, ``"svd"`` or ``"explicit"``."""

@final
class Truncation:
    """One step's decision."""

    @property
    def kept(self) -> npt.NDArray[np.uint32]:
        """Kept token ids, ascending. Undecided tokens are not in it."""
    @property
    def undecided(self) -> npt.NDArray[np.uint32]:
        """Tokens below ``tau`` left without a certificate (treated as rejected), ascending."""
    @property
    def tau(self) -> float:
        """The threshold in force."""
    @property
    def counts(self) -> dict[str, int]:
        """``threshold_kept``, ``dual_kept``, ``zero_mass_rejected``, ``point_rejected``,
        ``chunk_rejected``, ``approximate``, ``undecided``, ``solves``, ``set_solves``."""
    @property
    def elapsed_s(self) -> float:
        """Wall time of the call, in seconds."""
    def __len__(self) -> int: ...

@final
class Bat:
    """Basis-aware threshold truncation for one sequence (stateful: solver warm starts).

    ``rule``: ``eta=E``, ``epsilon=E``, ``top-p=P``, ``top-k=K`` or ``min-p=M``, stated for the
    model's own distribution ``q = softmax(logits)``. ``backend``: ``"simplex"`` (default),
    ``"highs"`` (only in builds with that feature) or ``"none"`` (the threshold alone).
    ``time_limit`` (seconds) bounds a whole call: tokens left when it runs out are undecided.
    ``temperature`` changes only what :meth:`sample` draws from. ``threads`` sizes the pool
    :meth:`truncate_batch` runs rows on (default: rayon's global pool). Bad input raises
    ``ValueError`` with the crate's message.
    """

    def __init__(
        self,
        basis: Basis,
        rule: str = "eta=0.0009",
        backend: str = "simplex",
        time_limit: Optional[float] = None,
        temperature: float = 1.0,
        threads: Optional[int] = None,
    ) -> None: ...
    def truncate(self, logits: _FloatArray) -> Truncation:
        """Decides every token of one step (``logits``: 1-D, length ``V``)."""
    def truncate_batch(self, logits: _FloatArray) -> list[Truncation]:
        """:meth:`truncate` for every row of a ``rows x V`` array, rows in parallel."""
    def sample(self, logits: _FloatArray, seed: int) -> int:
        """One token from ``softmax(logits / temperature)`` restricted to the kept set, deciding
        only the candidates drawn (most land above ``tau`` and need no LP)."""
    def sample_from(self, proposal: _FloatArray, logits: _FloatArray, seed: int) -> int:
        """One token from ``softmax(proposal)`` restricted to the tokens kept under
        ``softmax(logits)``."""
    def mask(self, logits: _FloatArray) -> npt.NDArray[np.float32]:
        """A float32 copy (1-D, or 2-D rows in parallel) with every token not kept at ``-inf``;
        kept logits are unchanged bit for bit."""
    @property
    def basis(self) -> Basis: ...
    @property
    def rule(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def temperature(self) -> float: ...
