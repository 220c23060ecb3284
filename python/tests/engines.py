"""Helpers the engine tests share: a processor wrapper that records every step."""

from __future__ import annotations

import numpy as np


class Recorder:
    """Calls `inner` and keeps each step's input scores and output (float32 host copies)."""

    def __init__(self, inner, to_numpy):
        self.inner = inner
        self.to_numpy = to_numpy
        self.steps: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, input_ids, scores):
        before = np.array(self.to_numpy(scores), dtype=np.float32, copy=True)
        out = self.inner(input_ids, scores)
        self.steps.append((before, np.array(self.to_numpy(out), dtype=np.float32, copy=True)))
        return out


def drawn_token(row: np.ndarray) -> int:
    """The one token a sample-mode row keeps (every other entry is -inf)."""
    finite = np.flatnonzero(np.isfinite(row))
    assert finite.size == 1, f"a sample-mode row keeps {finite.size} tokens"
    return int(finite[0])


def check_sampled_steps(steps, bat, generated):
    """Each step drew one token, it is the token the engine emitted, and it is in the kept set
    `Bat.truncate` gives for that step's logits."""
    assert len(steps) >= len(generated) > 0
    for (scores, out), token in zip(steps, generated):
        for row_in, row_out in zip(np.atleast_2d(scores), np.atleast_2d(out)):
            drawn = drawn_token(row_out)
            assert row_out[drawn] == row_in[drawn]
            kept = bat.truncate(row_in).kept
            assert drawn in set(kept.tolist())
        assert drawn == token


def check_masked_steps(steps, bat):
    """Each mask-mode row keeps exactly the set `Bat.truncate` gives, with unchanged logits."""
    assert steps
    for scores, out in steps:
        for row_in, row_out in zip(np.atleast_2d(scores), np.atleast_2d(out)):
            kept = bat.truncate(row_in).kept
            np.testing.assert_array_equal(np.flatnonzero(np.isfinite(row_out)), kept)
            np.testing.assert_array_equal(row_out[kept], row_in[kept])
