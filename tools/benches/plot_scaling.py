#!/usr/bin/env python3
"""Plots the `scaling,V,rows,kind,seconds` lines that `cargo bench -p basis-aware-tools --bench scaling` prints:
time against the vocabulary size V for a lazy draw and for a full mask, one curve per basis
size (m + 1 rows), both axes logarithmic. Standard library only; writes a standalone SVG.
Other lines of the log (criterion's output, the `full577,...` one-solve lines) are ignored.

    cargo bench -p basis-aware-tools --bench scaling 2> scaling.log
    python3 tools/benches/plot_scaling.py scaling.log docs/scaling.svg
"""
import math
import sys

WIDTH, HEIGHT, MARGIN = 800, 440, 70
COLOURS = {("lazy_draw", 21): "#1f77b4", ("lazy_draw", 65): "#6baed6",
           ("lazy_draw", 577): "#08306b",
           ("full_mask", 21): "#d62728", ("full_mask", 65): "#fc9272"}


def read(path):
    series = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("scaling,"):
                continue
            _, vocab, rows, kind, seconds = line.split("#")[0].strip().split(",")
            series.setdefault((kind, int(rows)), []).append((int(vocab), float(seconds)))
    return {k: sorted(v) for k, v in series.items()}


def main(log, out):
    series = read(log)
    xs = [v for pts in series.values() for v, _ in pts]
    ys = [s for pts in series.values() for _, s in pts]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    pw, ph = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    px = lambda v: MARGIN + pw * (math.log10(v) - x0) / (x1 - x0)
    py = lambda s: HEIGHT - MARGIN - ph * (math.log10(s) - y0) / (y1 - y0)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="13">BAT per decode step '
           'against V: lazy draw vs full mask</text>',
           f'<text x="{WIDTH / 2}" y="42" text-anchor="middle">Gaussian W (d = 64; d = 576 for '
           'm + 1 = 577), eta = 9e-4</text>',
           f'<path d="M{MARGIN},{MARGIN} V{HEIGHT - MARGIN} H{WIDTH - MARGIN}" stroke="black" fill="none"/>']
    for e in range(y0, y1 + 1):
        y = py(10.0 ** e)
        label = f"1e{e} s"
        svg.append(f'<text x="{MARGIN - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
                   f'<path d="M{MARGIN},{y:.1f} h{pw}" stroke="#ddd"/>')
    for v in sorted(set(xs)):
        svg.append(f'<text x="{px(v):.1f}" y="{HEIGHT - MARGIN + 18}" text-anchor="middle">{v}</text>')
    svg.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 20}" text-anchor="middle">vocabulary size V</text>')
    svg.append(f'<text x="16" y="{HEIGHT / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {HEIGHT / 2})">wall time per step</text>')
    for k, ((kind, rows), pts) in enumerate(sorted(series.items())):
        colour = COLOURS.get((kind, rows), "black")
        path = " ".join(f"{px(v):.1f},{py(s):.1f}" for v, s in pts)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for v, s in pts:
            svg.append(f'<circle cx="{px(v):.1f}" cy="{py(s):.1f}" r="3" fill="{colour}"/>')
        name = ("lazy draw" if kind == "lazy_draw" else "full mask") + f", m + 1 = {rows}"
        # Legend in the top right corner, where the curves (rising with V) leave room.
        lx, ly = WIDTH - MARGIN - 180, MARGIN + 8 + 16 * k
        svg.append(f'<path d="M{lx},{ly} h20" stroke="{colour}" stroke-width="2"/>'
                   f'<text x="{lx + 26}" y="{ly + 4}">{name}</text>')
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
