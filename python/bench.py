"""Per-step overhead of the BAT processors against the engine's own step time.

    python python/bench.py --model "$BASIS_AWARE_MODEL" [--tokens 48] [--engine hf,llama]

For each engine it generates from one prompt three times: without a processor (the engine's own
step: forward pass plus its sampler), with the processor in mask mode (greedy decoding) and in
sample mode (do_sample, seeded). The processor's time is measured inside the engine's call to it
(host copies and dtype conversions included); the engine's step is the rest. Prints a markdown
table (docs/python.md keeps one run).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "Once upon a time, in a small village by the sea, there lived"


class Timed:
    def __init__(self, inner):
        self.inner = inner
        self.times: list[float] = []

    def __call__(self, input_ids, scores):
        start = time.perf_counter()
        out = self.inner(input_ids, scores)
        self.times.append(time.perf_counter() - start)
        return out


def summary(engine, mode, steps, total, proc_times):
    per_step = total / steps
    if not proc_times:
        return dict(engine=engine, mode=mode, steps=steps, step_ms=per_step * 1e3,
                    engine_ms=per_step * 1e3, proc_ms=0.0, p50=0.0, p99=0.0, share=0.0)
    proc = np.array(proc_times) * 1e3
    engine_ms = (total - proc.sum() / 1e3) / steps * 1e3
    return dict(engine=engine, mode=mode, steps=steps, step_ms=per_step * 1e3,
                engine_ms=engine_ms, proc_ms=float(proc.mean()),
                p50=float(np.percentile(proc, 50)), p99=float(np.percentile(proc, 99)),
                share=float(proc.mean() / engine_ms))


def bench_hf(model_path: Path, tokens: int, basis):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList

    from basis_aware.hf import BatLogitsProcessor

    tok = AutoTokenizer.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model = AutoModelForCausalLM.from_pretrained(model_path.parent, gguf_file=model_path.name)
    model.eval()
    inputs = tok(PROMPT, return_tensors="pt")
    plain = dict(temperature=1.0, top_k=0, top_p=1.0)
    rows = []
    for mode in (None, "mask", "sample"):
        kw = dict(max_new_tokens=tokens, min_new_tokens=tokens, pad_token_id=tok.eos_token_id)
        if mode == "sample":
            kw.update(do_sample=True, **plain)
        else:
            kw.update(do_sample=False)
        timed = Timed(BatLogitsProcessor(basis=basis, mode=mode)) if mode else None
        procs = LogitsProcessorList([timed] if timed else [])
        with torch.no_grad():
            model.generate(**inputs, max_new_tokens=2, logits_processor=procs,
                           pad_token_id=tok.eos_token_id)  # warm-up
            if timed:
                timed.times.clear()
            start = time.perf_counter()
            out = model.generate(**inputs, logits_processor=procs, **kw)
            total = time.perf_counter() - start
        steps = out.shape[1] - inputs["input_ids"].shape[1]
        rows.append(summary("transformers", mode or "none", steps, total,
                            timed.times if timed else []))
    return rows


def bench_llama(model_path: Path, tokens: int, basis):
    from llama_cpp import Llama, LogitsProcessorList

    from basis_aware.llama_cpp import BatLogitsProcessor

    llm = Llama(model_path=str(model_path), n_ctx=512, n_threads=2, verbose=False, seed=0)
    plain = dict(top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    rows = []
    for mode in (None, "mask", "sample"):
        timed = Timed(BatLogitsProcessor(basis=basis, mode=mode)) if mode else None
        procs = LogitsProcessorList([timed]) if timed else None
        temperature = 1.0 if mode == "sample" else 0.0
        llm.create_completion(PROMPT, max_tokens=2, temperature=temperature,
                              logits_processor=procs, **plain)  # warm-up
        llm.reset()
        if timed:
            timed.times.clear()
        start = time.perf_counter()
        out = llm.create_completion(PROMPT, max_tokens=tokens, temperature=temperature, seed=1,
                                    logits_processor=procs, **plain)
        total = time.perf_counter() - start
        steps = out["usage"]["completion_tokens"]
        rows.append(summary("llama-cpp-python", mode or "none", steps, total,
                            timed.times if timed else []))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=os.environ.get("BASIS_AWARE_MODEL"))
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--svd", type=int, default=20)
    parser.add_argument("--engine", default="hf,llama")
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
    if "hf" in engines:
        rows += bench_hf(args.model, args.tokens, basis)
    if "llama" in engines:
        rows += bench_llama(args.model, args.tokens, basis)
    print("| engine | processor | steps | step (ms) | engine's own (ms) | processor mean (ms) "
          "| p50 | p99 | processor / engine |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['engine']} | {r['mode']} | {r['steps']} | {r['step_ms']:.1f} | "
              f"{r['engine_ms']:.1f} | {r['proc_ms']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['share']:.2f} |")


if __name__ == "__main__":
    main()
