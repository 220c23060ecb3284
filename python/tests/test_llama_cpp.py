"""The llama-cpp-python processor on the real SmolLM2 GGUF."""

from __future__ import annotations

import numpy as np
import pytest

from llama_cpp import Llama, LogitsProcessorList

from basis_aware import Bat
from basis_aware.llama_cpp import BatLogitsProcessor, gguf_output_matrix

from conftest import PROMPT
from engines import Recorder, check_masked_steps, check_sampled_steps

# Leave q to the processor: llama.cpp's own chain after it cuts nothing (module docs).
PLAIN = dict(top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)


@pytest.fixture(scope="module")
def llm(model_path):
    return Llama(model_path=str(model_path), n_ctx=256, n_threads=2, verbose=False, seed=0)


@pytest.fixture(scope="module")
def processor(model_path):
    return BatLogitsProcessor(model_path, rule="eta=0.0009", svd=20, mode="mask")


def complete(llm, proc, **kw):
    recorder = Recorder(proc, lambda a: a)
    out = llm.create_completion(PROMPT, logits_processor=LogitsProcessorList([recorder]), **kw)
    text = out["choices"][0]["text"]
    tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
    return text, tokens, recorder.steps


def test_greedy_mask_mode_continues_with_berlin(llm, processor):
    text, _, steps = complete(llm, processor, max_tokens=2, temperature=0.0)
    assert text.startswith(" Berlin"), text
    check_masked_steps(steps, processor.bat)


def test_sampling_is_reproducible_and_kept(llm, processor):
    basis = processor.bat.basis
    runs = []
    for _ in range(2):
        proc = BatLogitsProcessor(basis=basis, mode="sample", seed=11)
        recorder = Recorder(proc, lambda a: a)
        out = llm.create_completion(PROMPT, max_tokens=6, temperature=1.0, seed=1,
                                    logits_processor=LogitsProcessorList([recorder]), **PLAIN)
        runs.append((out["choices"][0]["text"], recorder.steps))
    (text_a, steps_a), (text_b, _) = runs
    assert text_a == text_b
    drawn = [int(np.flatnonzero(np.isfinite(out))[0]) for _, out in steps_a]
    check_sampled_steps(steps_a, Bat(basis), drawn)
    # The engine emitted the drawn tokens.
    assert llm.detokenize(drawn).decode(errors="replace") == text_a


def test_the_basis_is_the_gguf_output_matrix(model_path, processor):
    w = gguf_output_matrix(model_path)
    assert w.shape == (49152, 576) and w.dtype == np.float32 and np.isfinite(w).all()
    assert processor.bat.basis.vocab == 49152 and processor.bat.basis.dim == 20


def test_bad_arguments(model_path):
    with pytest.raises(ValueError, match="exactly one"):
        BatLogitsProcessor()
    with pytest.raises(ValueError, match="mode"):
        BatLogitsProcessor(model_path, mode="greedy")
