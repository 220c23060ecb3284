#!/usr/bin/env python3
"""Summarises one run of scripts/bench-paper.sh (a directory of TAG.jsonl files and the
commands.tsv that produced them) as the markdown tables of docs/performance.md: per-token
medians and ratios, decisions side by side, full masks against W h.

    python tools/benches/paper_table.py ~/.cache/basis-aware/bench-paper/run-...
"""

import json
import re
import statistics
import sys
from pathlib import Path

SOLVERS = ("ours", "highs", "cvxpy")


def lines(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def read_run(run):
    commands = {}
    for line in (run / "commands.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            tag, command = line.split("\t", 1)
            commands[tag] = command
    return commands


def decision(line, token):
    for key, word in (("kept", "keep"), ("rejected", "reject"), ("undecided", "undecided")):
        if token in line.get(key, []):
            return word
    raise ValueError(f"token {token} missing from {line}")


def tokens_of(run, commands, name, step):
    """The tokens of one basis and step, and how many of them came from the head."""
    tag = f"tokens-{name}-step{step}"
    head = int(re.search(r"--pick (\d+),", commands[tag]).group(1))
    ids = [int(t) for t in (run / f"{tag}.jsonl").read_text().strip().split(",")]
    return ids, head


def per_token(run, commands, name):
    """One dict per (step, token): q, class, and each solver's decision and seconds."""
    rows = []
    steps = sorted(
        int(m.group(1))
        for tag in commands
        if (m := re.fullmatch(rf"tokens-{name}-step(\d+)", tag))
    )
    for step in steps:
        ids, head = tokens_of(run, commands, name, step)
        reps = [
            lines(run / f"{tag}.jsonl")[0]
            for tag in commands
            if tag.startswith(f"ours-{name}-step{step}-rep")
        ]
        highs = lines(run / f"highs-{name}-step{step}.jsonl")[0]
        cvx = lines(run / f"cvxpy-{name}-step{step}.jsonl")
        for k, token in enumerate(ids):
            c = cvx[k]
            assert c["token"] == token
            rows.append(
                {
                    "step": step,
                    "token": token,
                    "q": c["q"],
                    "class": "near tau" if k < head else "tail",
                    "ours": (
                        decision(reps[0], token),
                        statistics.median(r["token_us"][k] for r in reps) / 1e6,
                    ),
                    "highs": (decision(highs, token), highs["token_us"][k] / 1e6),
                    "cvxpy": (c["decision"], c["wall_s"]),
                    "cvxpy_solve": c.get("solve_s"),
                    "cvxpy_status": c["status"],
                    "cvxpy_solver": c.get("solver"),
                    "cvxpy_point": c.get("point"),
                }
            )
    return rows


def ms(seconds):
    if seconds is None:
        return "-"
    v = seconds * 1e3
    if v >= 1000:
        return f"{seconds:.2f} s"
    return f"{v:.3g} ms" if v >= 1 else f"{v:.3f} ms"


def ratio(a, b):
    r = a / b
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2g}x"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def timing_table(groups, wh):
    out = [
        "| basis | tokens | ours (simplex) | HiGHS unreduced | cvxpy + solver, wall | "
        "cvxpy solve only | HiGHS / ours | cvxpy / ours | ours / `W h` | cvxpy / `W h` |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, rows in groups:
        if not rows:
            continue
        t = {s: median(r[s][1] for r in rows) for s in SOLVERS}
        solve = median(r["cvxpy_solve"] for r in rows)
        marks = {
            s: sum(r[s][0] == "undecided" for r in rows) for s in SOLVERS
        }

        def cell(s):
            note = f" ({marks[s]} undecided)" if marks[s] else ""
            return ms(t[s]) + note

        out.append(
            f"| {label} | {len(rows)} | {cell('ours')} | {cell('highs')} | {cell('cvxpy')} | "
            f"{ms(solve)} | {ratio(t['highs'], t['ours'])} | {ratio(t['cvxpy'], t['ours'])} | "
            f"{ratio(t['ours'], wh)} | {ratio(t['cvxpy'], wh)} |"
        )
    return out


def decision_table(rows):
    out = [
        "| step | token | q | class | ours | HiGHS | cvxpy (status) | ours ms | HiGHS ms | cvxpy ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['step']} | {r['token']} | {r['q']:.3g} | {r['class']} | {r['ours'][0]} | "
            f"{r['highs'][0]} | {r['cvxpy'][0]} ({r['cvxpy_status']}) | "
            f"{r['ours'][1] * 1e3:.3g} | {r['highs'][1] * 1e3:.4g} | {r['cvxpy'][1] * 1e3:.4g} |"
        )
    return out


def disagreements(rows, other):
    return [
        r
        for r in rows
        if r["ours"][0] != "undecided"
        and r[other][0] != "undecided"
        and r["ours"][0] != r[other][0]
    ]


def main():
    run = Path(sys.argv[1])
    commands = read_run(run)
    wh = lines(run / "unembedding.jsonl")[0]["unembedding_s"]
    out = [f"Run: `{run.name}`; f32 `W h` (numpy, one thread): {ms(wh)}", ""]
    groups = []
    bases = {}
    for name in ("c20", "full"):
        rows = per_token(run, commands, name)
        bases[name] = rows
        if rows:
            groups += [
                (f"{name} near tau", [r for r in rows if r["class"] == "near tau"]),
                (f"{name} tail", [r for r in rows if r["class"] == "tail"]),
                (f"{name} all", rows),
            ]
    solvers = {r["cvxpy_solver"] for rows in bases.values() for r in rows} - {None}
    out.append(f"cvxpy's default solver: {', '.join(sorted(solvers))}")
    out.append("")
    out += timing_table(groups, wh)
    out.append("")
    masks = [
        (int(m.group(1)), lines(run / f"{tag}.jsonl")[0])
        for tag in commands
        if (m := re.fullmatch(r"mask-c20-step(\d+)", tag))
    ]
    if masks:
        out.append("| full mask, c20 | kept | time | / `W h` |")
        out.append("|---|---|---|---|")
        for step, line in sorted(masks):
            t = line["elapsed_us"] / 1e6
            out.append(f"| step {step} | {len(line['kept'])} | {ms(t)} | {ratio(t, wh)} |")
        t = median(line["elapsed_us"] / 1e6 for _, line in masks)
        out.append(f"| median | | {ms(t)} | {ratio(t, wh)} |")
        out.append("")
    for name, rows in bases.items():
        if not rows:
            continue
        out.append(f"Decisions, {name}:")
        out.append("")
        out += decision_table(rows)
        for other in ("highs", "cvxpy"):
            bad = disagreements(rows, other)
            out.append("")
            out.append(
                f"{name}: ours vs {other}: {len(bad)} disagreements among tokens both decided"
                + "".join(f"; token {r['token']} (step {r['step']}, q {r['q']:.3g})" for r in bad)
            )
        points = [r["cvxpy_point"] for r in rows if r["cvxpy_point"]]
        if points:
            worst = {k: max(p[k] for p in points) for k in points[0]}
            out.append(
                f"{name}: worst violations of cvxpy's reject points: "
                + ", ".join(f"{k} {v:.2g}" for k, v in worst.items())
            )
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
