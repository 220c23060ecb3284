"""Per-step overhead of the BAT processors against the engine's own step time.

    python python/bench.py --model "$BASIS_AWARE_MODEL" [--tokens 32] [--engine hf,llama]
        [--modes none,mask,sample]

For each engine it generates `--tokens` tokens from one prompt three times: with an identity
processor (the baseline), with the BAT processor in mask mode (greedy decoding) and in sample
mode (sampling, seeded). The processor's time is measured around the engine's call to it (host
copies and dtype conversions included); the engine's own step is the time between two calls
(the forward pass and the engine's sampler). Medians, since the machine is shared. Prints a
markdown table (docs/python.md keeps one run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

# Run as `python python/bench.py`, the script's folder comes first on sys.path and its source
# tree `basis_aware/` (without the compiled module) would shadow the installed package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "Once upon a time, in a small village by the sea, there lived"


class Timed:
    """Wraps a processor (or none: the identity) and records when each call starts and ends.
    The engine's own step is the gap from one call's end to the next call's start: the forward
    pass of the token just chosen plus the engine's sampler, without the prompt's prefill."""

    def __init__(self, inner=None):
        self.inner = inner
        self.spans: list[tuple[float, float]] = []

    def __call__(self, input_ids, scores):
        start = time.perf_counter()
        out = scores if self.inner is None else self.inner(input_ids, scores)
        self.spans.append((start, time.perf_counter()))
        return out


def summary(engine, mode, timed):
    spans = np.array(timed.spans)
    proc = (spans[:, 1] - spans[:, 0]) * 1e3
    gaps = (spans[1:, 0] - spans[:-1, 1]) * 1e3
    return dict(engine=engine, mode=mode, steps=len(spans), engine_ms=float(np.median(gaps)),
                proc_ms=float(np.median(proc)), p90=float(np.percentile(proc, 90)),
                max=float(proc.max()), ratio=float(np.median(proc) / np.median(gaps)))


def bench_hf(model_path: Path, tokens: int, basis, modes):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList

    from basis_aware.hf import BatLogitsProcessor

    tok = AutoTokenizer.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model = AutoModelForCausalLM.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model.eval()
    inputs = tok(PROMPT, return_tensors="pt")
    plain = dict(temperature=1.0, top_k=0, top_p=1.0)
    rows = []
    for mode in modes:
        kw = dict(max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=tok.eos_token_id)
        if mode == "sample":
            kw.update(do_sample=True, **plain)
        else:
            kw.update(do_sample=False)
        timed = Timed(BatLogitsProcessor(basis=basis, mode=mode) if mode else None)
        procs = LogitsProcessorList([timed])
        with torch.no_grad():
            model.generate(**inputs, max_new_tokens=2, logits_processor=procs,
                           pad_token_id=tok.eos_token_id)  # warm-up
            timed.spans.clear()
            model.generate(**inputs, logits_processor=procs, **kw)
        rows.append(summary("transformers", mode or "none", timed))
    return rows


def bench_llama(model_path: Path, tokens: int, basis, modes):
    from llama_cpp import Llama, LogitsProcessorList

    from basis_aware.llama_cpp import BatLogitsProcessor

    llm = Llama(model_path=str(model_path), n_ctx=512, n_threads=2, verbose=False, seed=0)
    plain = dict(top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    rows = []
    for mode in modes:
        timed = Timed(BatLogitsProcessor(basis=basis, mode=mode) if mode else None)
        procs = LogitsProcessorList([timed])
        temperature = 1.0 if mode == "sample" else 0.0
        llm.create_completion(PROMPT, max_tokens=2, temperature=temperature,
                              logits_processor=procs, **plain)  # warm-up
        llm.reset()
        timed.spans.clear()
        llm.create_completion(PROMPT, max_tokens=tokens, temperature=temperature, seed=1,
                              logits_processor=procs, **plain)
        rows.append(summary("llama-cpp-python", mode or "none", timed))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=os.environ.get("BASIS_AWARE_MODEL"))
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--svd", type=int, default=20)
    parser.add_argument("--engine", default="hf,llama")
    parser.add_argument("--modes", default="none,mask,sample",
                        help="runs in this order; `none` is the identity processor")
    args = parser.parse_args()
    if args.model is None:
        parser.error("--model (or BASIS_AWARE_MODEL) is required")

    from basis_aware import Basis
    from basis_aware.llama_cpp import gguf_output_matrix

    start = time.perf_counter()
    basis = Basis.svd(gguf_output_matrix(args.model), args.svd)
    print(f"basis: SVD c={args.svd} of the GGUF output matrix in "
          f"{time.perf_counter() - start:.2f} s")
    rows = []
    engines = args.engine.split(",")
    modes = [None if m == "none" else m for m in args.modes.split(",")]
    if "hf" in engines:
        rows += bench_hf(args.model, args.tokens, basis, modes)
    if "llama" in engines:
        rows += bench_llama(args.model, args.tokens, basis, modes)
    print("| engine | processor | steps | engine's own step, median (ms) | processor, median (ms) "
          "| processor p90 (ms) | processor max (ms) | processor / engine |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['engine']} | {r['mode']} | {r['steps']} | {r['engine_ms']:.1f} | "
              f"{r['proc_ms']:.2f} | {r['p90']:.2f} | {r['max']:.2f} | {r['ratio']:.3f} |")


if __name__ == "__main__":
    main()
