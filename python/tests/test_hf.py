"""The transformers processor on the real SmolLM2 GGUF (CPU)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
import transformers  # noqa: E402

from basis_aware import Basis, Bat  # noqa: E402
from basis_aware.hf import BatLogitsProcessor, output_embedding  # noqa: E402

from conftest import PROMPT  # noqa: E402
from engines import Recorder, check_masked_steps, check_sampled_steps  # noqa: E402

# generate() runs its own processors before the ones passed in: leave q untouched (module docs).
PLAIN = dict(temperature=1.0, top_k=0, top_p=1.0)


def to_numpy(t):
    return t.detach().to(device="cpu", dtype=torch.float32).numpy()


@pytest.fixture(scope="module")
def hf(model_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model = AutoModelForCausalLM.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model.eval()
    return tok, model


@pytest.fixture(scope="module")
def processor(hf):
    """Built from the model, as a user would: W from get_output_embeddings(), its SVD once."""
    return BatLogitsProcessor(hf[1], rule="eta=0.0009", svd=20, mode="mask")


def generate(hf, proc, **kw):
    tok, model = hf
    inputs = tok(PROMPT, return_tensors="pt")
    recorder = Recorder(proc, to_numpy)
    with torch.no_grad():
        out = model.generate(**inputs, logits_processor=transformers.LogitsProcessorList([recorder]),
                             pad_token_id=tok.eos_token_id, **kw)
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    return new, tok.decode(new), recorder.steps


def test_greedy_mask_mode_continues_with_berlin(hf, processor):
    new, text, steps = generate(hf, processor, max_new_tokens=2, do_sample=False)
    assert text.startswith(" Berlin"), text
    check_masked_steps(steps, processor.bat)


def test_sampling_is_reproducible_and_kept(hf, processor):
    basis = processor.bat.basis
    runs = []
    for _ in range(2):
        proc = BatLogitsProcessor(basis=basis, rule="eta=0.0009", mode="sample", seed=11)
        runs.append(generate(hf, proc, max_new_tokens=6, do_sample=True, **PLAIN))
    (new_a, text_a, steps_a), (new_b, text_b, _) = runs
    assert new_a == new_b, (text_a, text_b)
    check_sampled_steps(steps_a, Bat(basis), new_a)


def test_the_basis_is_the_models_output_embedding(hf, processor, model_path):
    w = output_embedding(hf[1])
    assert w.shape == (processor.bat.basis.vocab, 576) and w.dtype == np.float32
    # The same matrix the llama-cpp-python processor reads from the GGUF file.
    from basis_aware.llama_cpp import gguf_output_matrix

    np.testing.assert_array_equal(w, gguf_output_matrix(model_path))
    assert processor.bat.basis.kind == "svd" and processor.bat.basis.dim == 20


def last_logits(hf, prompts):
    tok, model = hf
    inputs = tok(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return inputs["input_ids"], model(**inputs).logits[:, -1, :]


def test_the_processor_sees_the_raw_logits_under_generates_warpers(hf, processor):
    # generate() applies temperature, top-k and top-p after the processors it is given.
    _, _, steps = generate(hf, processor, max_new_tokens=1, do_sample=True, temperature=0.5,
                           top_k=10, top_p=0.5)
    _, logits = last_logits(hf, [PROMPT])
    np.testing.assert_allclose(steps[0][0], to_numpy(logits), rtol=1e-4, atol=1e-4)


def test_batched_rows_equal_single_rows(hf, processor):
    ids, scores = last_logits(hf, [PROMPT, PROMPT + " Berlin"])
    out = processor(ids, scores)
    assert out.dtype == scores.dtype and out.shape == scores.shape
    for row in range(2):
        single = processor(ids[row:row + 1], scores[row:row + 1])
        assert torch.equal(single[0], out[row])
    check_masked_steps([(to_numpy(scores), to_numpy(out))], processor.bat)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_scores_of_any_float_dtype(hf, processor, dtype):
    ids, logits = last_logits(hf, [PROMPT])
    scores = logits.to(getattr(torch, dtype))
    out = processor(ids, scores)
    assert out.dtype == scores.dtype and out.shape == scores.shape and out.device == scores.device
    kept = processor.bat.truncate(to_numpy(scores[0])).kept
    np.testing.assert_array_equal(np.flatnonzero(torch.isfinite(out[0]).numpy()), kept)
    assert torch.equal(out[0, kept], scores[0, kept])


def test_sample_mode_temperature_draws_within_the_kept_set(hf, processor):
    _, scores = last_logits(hf, [PROMPT])
    kept = set(processor.bat.truncate(to_numpy(scores[0])).kept.tolist())
    hot = BatLogitsProcessor(basis=processor.bat.basis, mode="sample", temperature=3.0)
    drawn = set()
    for length in range(50):  # the sequence length seeds each draw
        ids = torch.zeros((1, length + 1), dtype=torch.long)
        drawn.add(int(torch.isfinite(hot(ids, scores)[0]).nonzero()[0, 0]))
    assert drawn <= kept and len(drawn) > 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_scores(hf, processor):
    tok, model = hf
    inputs = tok(PROMPT, return_tensors="pt")
    with torch.no_grad():
        scores = model(**inputs).logits[:, -1, :].cuda()
    out = processor(inputs["input_ids"].cuda(), scores)
    assert out.device == scores.device
    kept = processor.bat.truncate(to_numpy(scores[0])).kept
    np.testing.assert_array_equal(np.flatnonzero(torch.isfinite(out[0]).cpu().numpy()), kept)


def test_bad_arguments():
    w = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="exactly one"):
        BatLogitsProcessor()
    with pytest.raises(ValueError, match="mode"):
        BatLogitsProcessor(weight=w, svd=2, mode="greedy")
    with pytest.raises(ValueError, match="unknown rule"):
        BatLogitsProcessor(weight=torch.from_numpy(w), svd=2, rule="beta=1")
    proc = BatLogitsProcessor(weight=w, svd=None, mode="mask")
    assert proc.bat.basis.kind == "full"
    with pytest.raises(ValueError, match="shape mismatch"):
        proc(torch.zeros((1, 3), dtype=torch.long), torch.zeros((1, 49)))
