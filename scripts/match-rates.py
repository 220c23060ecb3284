#!/usr/bin/env python3
"""Reads the results.json of `basis-aware match` and prints figures docs/evaluation.md quotes
that the command's own table does not: rejection rates at the customary parameters
(epsilon = 3e-4, eta = 9e-4), how many gold tokens BAT over eta can reject at all, the search's
censoring, and the cost of the critical thresholds. Usage: match-rates.py RESULTS.json"""
import json
import sys

results = json.load(open(sys.argv[1]))
gold = results["gold"]
n = len(gold)


def rejected(method, parameter):
    """Gold tokens the method rejects at `parameter` (BAT: past the certified rejecting end)."""
    count = 0
    for token in gold:
        bound = token["boundaries"][method]
        if isinstance(bound, list):
            bound = bound[1]
        if isinstance(bound, (int, float)) and parameter > bound:
            count += 1
    return count


for method, parameter in [("epsilon", 3e-4), ("BAT-epsilon", 3e-4), ("eta", 9e-4), ("BAT-eta", 9e-4)]:
    print(f"{method} = {parameter}: {rejected(method, parameter)} of {n} gold tokens rejected")
print("BAT-eta: gold tokens some eta < 1 rejects:",
      sum(isinstance(t["boundaries"]["BAT-eta"], list) for t in gold))
print("BAT-epsilon: gold tokens kept at every tau up to --max-tau:",
      sum(isinstance(t["boundaries"]["BAT-epsilon"], dict) for t in gold))
print("BAT: undecided gold tokens:", sum(not t["bat_decided"] for t in gold))
print("gold token = the most probable token:", sum(t["rank"] == 1 for t in gold))
ms = sorted(t["bat_ms"] for t in gold)
print("critical threshold per gold token: median %.1f ms, p90 %.0f ms, max %.0f ms; %d decisions"
      % (ms[n // 2], ms[int(0.9 * n)], ms[-1], sum(t["bat_probes"] for t in gold)))
