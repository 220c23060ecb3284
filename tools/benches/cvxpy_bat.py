#!/usr/bin/env python3
"""The paper's approach as its authors ran it: one cvxpy feasibility LP per token.

Independent of the Rust crate (it reads only the instance file that `basis-aware export`
writes). For each token it builds the LP of Finlayson et al. (ICLR 2024) the way the authors'
code does (`get_token_specific_problem` in github.com/mattf1n/basis-aware-threshold, src/lp.py),
plus `p >= 0`, which their experiment code keeps:

    find p in R^V:  B^T p == B^T q,  sum(p) == 1,  0 <= p <= sigma q,  p_i == 0

with `B = W V_c` (top `c` right singular vectors of `W`) or `B = W`, and solves it with cvxpy's
default solver for an LP (the authors used MOSEK, which is commercial). Decision: status
`infeasible` -> keep, `optimal` -> reject, anything else (inaccurate statuses, solver errors,
the time limit) -> undecided. Nothing is guessed, and nothing is certified either: the solver's
status is taken as it comes, which is how the authors' code decides. Each reject's point is
checked against the constraints and the violations are reported next to the decision.

Each token runs in a forked child so that a time limit can stop cvxpy's compilation as well as
the solve. One JSON line per token on stdout:

    python tools/benches/cvxpy_bat.py INSTANCE --step K --svd 20 --tokens 12,34 [--time-limit S]
    python tools/benches/cvxpy_bat.py INSTANCE --step K --svd 20 --pick 5,5   # prints token ids
    python tools/benches/cvxpy_bat.py INSTANCE --unembedding                  # times f32 W h
"""

import argparse
import json
import multiprocessing as mp
import sys
import time

import numpy as np
from safetensors.numpy import load_file

ETA = 0.0009


def load(path):
    tensors = load_file(path)
    if "embedding" not in tensors:
        sys.exit(f"{path}: needs an `embedding` tensor (written by `basis-aware export`)")
    logits = tensors["logits"].astype(np.float32)
    return logits.reshape(-1, logits.shape[-1]), tensors["embedding"].astype(np.float32)


def basis(w, svd):
    """`W V_c` for the top `svd` right singular vectors of `W`, or `W` itself (`svd` None)."""
    w = w.astype(np.float64)
    if svd is None:
        return w
    _, _, vt = np.linalg.svd(w, full_matrices=False)
    return w @ vt[:svd].T


def distribution(logits):
    """`q` (f64 softmax with the max shift) and eta's threshold `tau`."""
    z = logits.astype(np.float64)
    z = z - z.max()
    e = np.exp(z)
    q = e / e.sum()
    positive = q[q > 0]
    entropy = -np.sum(positive * np.log(positive))
    return q, min(ETA, np.sqrt(ETA) * np.exp(-entropy))


def pick(q, tau, head, tail):
    """`head` most probable tokens below `tau`, then `tail` spread evenly over the rest below
    `tau` (by decreasing `q`, at fractions 1/(tail+1), 2/(tail+1), ...): deterministic."""
    below = np.flatnonzero((q < tau) & (q > 0))
    below = below[np.argsort(-q[below], kind="stable")]
    rest = below[head:]
    chosen = list(below[:head])
    chosen += [rest[(k * len(rest)) // (tail + 1)] for k in range(1, tail + 1)]
    return [int(t) for t in chosen]


def solve_token(b, q, tau, token, time_limit, out):
    """Builds and solves token `token`'s LP; puts one result dict on `out`."""
    import cvxpy as cp

    sigma = 1.0 / (1.0 - tau)
    started = time.perf_counter()
    p = cp.Variable(q.shape[0])
    constraints = [
        b.T @ p == b.T @ q,
        cp.sum(p) == 1,
        p >= 0,
        p <= sigma * q,
        p[token] == 0,
    ]
    problem = cp.Problem(cp.Minimize(0), constraints)
    solver = problem._construct_chain().solver.name()
    options = {"time_limit": time_limit} if solver in ("CLARABEL", "HIGHS") else {}
    error = None
    try:
        problem.solve(solver=solver, **options)
    except cp.error.SolverError as e:
        error = str(e)
    wall = time.perf_counter() - started
    status = "solver_error" if error else problem.status
    result = {
        "solver": solver,
        "status": status,
        "decision": {"infeasible": "keep", "optimal": "reject"}.get(status, "undecided"),
        "wall_s": wall,
        "solve_s": getattr(problem.solver_stats, "solve_time", None) if not error else None,
        "compile_s": getattr(problem, "compilation_time", None),
    }
    if error:
        result["error"] = error[:200]
    if status == "optimal" and p.value is not None:
        x = p.value
        result["point"] = {
            "p_i": float(abs(x[token])),
            "below_zero": float(max(0.0, -x.min())),
            "above_sigma_q": float(max(0.0, (x - sigma * q).max())),
            "residual": float(
                max(np.abs(b.T @ (x - q)).max(), abs(x.sum() - 1.0))
            ),
        }
    out.put(result)


def decide(b, q, tau, token, time_limit):
    """`solve_token` in a forked child, stopped after `time_limit` seconds plus a grace period
    for compilation (the solver's own limit covers only its solve)."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=solve_token, args=(b, q, tau, token, time_limit, out))
    started = time.perf_counter()
    child.start()
    try:
        return out.get(timeout=time_limit * 1.5 + 30)
    except Exception:  # queue.Empty: the child ran out of time (or died)
        return {
            "status": "timeout",
            "decision": "undecided",
            "wall_s": time.perf_counter() - started,
        }
    finally:
        if child.is_alive():
            child.kill()
        child.join()


def unembedding(w, repeats=200):
    """Median seconds of the f32 product `W h` (numpy, BLAS threads as configured)."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal(w.shape[1]).astype(np.float32)
    w = np.ascontiguousarray(w)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        w @ h
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("instance")
    parser.add_argument("--step", type=int, default=0)
    parser.add_argument("--svd", type=int, help="top-C SVD basis; omit for the full W")
    parser.add_argument("--tokens", help="comma-separated token ids to decide")
    parser.add_argument("--pick", help="HEAD,TAIL: print the chosen token ids and exit")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--unembedding", action="store_true", help="time f32 W h and exit")
    args = parser.parse_args()

    logits, w = load(args.instance)
    if args.unembedding:
        print(json.dumps({"unembedding_s": unembedding(w), "shape": list(w.shape)}))
        return
    q, tau = distribution(logits[args.step])
    if args.pick:
        head, tail = (int(x) for x in args.pick.split(","))
        print(",".join(str(t) for t in pick(q, tau, head, tail)))
        return
    started = time.perf_counter()
    b = basis(w, args.svd)
    setup = time.perf_counter() - started
    tokens = [int(t) for t in args.tokens.split(",")]
    for token in tokens:
        line = {
            "step": args.step,
            "token": token,
            "q": float(q[token]),
            "tau": float(tau),
            "rows": b.shape[1] + 1,
            "basis_s": setup,
        }
        if q[token] >= tau:
            line.update(status="threshold", decision="keep", wall_s=0.0)
        else:
            line.update(decide(b, q, tau, token, args.time_limit))
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
