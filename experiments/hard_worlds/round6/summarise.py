"""Round 6's table from its runs' results.json (main/, hetero_02/, hetero_10/, hetero_40/) and
ceiling.json: mean ± std per arm and rate, per-seed differences to the trees, the best arm per
seed at 40% against the graph ceiling.

    python experiments/hard_worlds/round6/summarise.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BASE = "gbt+agg+evidence"
runs = [json.loads(p.read_text()) for p in sorted(HERE.glob("*/results.json"))]
values: dict[tuple[str, str], dict[str, float]] = {}
for run in runs:
    for seed, keys in run["per_seed"].items():
        for key, result in keys.items():
            for arm, v in result["auprc"].items():
                values.setdefault((key, arm), {})[seed] = v
rates = sorted({k for k, _ in values}, key=lambda k: float(k.split("@")[1]))
arms = list(dict.fromkeys(a for _, a in values))
print("| method | " + " | ".join(r.replace("hard@", "") for r in rates) + " |")
for arm in arms:
    cells = []
    for r in rates:
        v = values.get((r, arm))
        cells.append(
            "n/a"
            if not v
            else f"{np.mean(list(v.values())):.4f} ± {np.std(list(v.values())):.4f} (n={len(v)})"
        )
    print(f"| {arm} | " + " | ".join(cells) + " |")
print()
for arm in arms:
    if arm in (BASE, "evidence"):
        continue
    for r in rates:
        v, b = values.get((r, arm)), values.get((r, BASE))
        if v and b:
            d = [v[s] - b[s] for s in sorted(v)]
            print(f"{arm} - trees @ {r}: " + " ".join(f"{x:+.4f}" for x in d))
ceiling = json.loads((HERE / "ceiling.json").read_text())["per_seed"]
print()
best = []
for s in sorted(ceiling):
    top = max(
        (v[s], a) for (k, a), v in values.items() if k == "hard@0.4" and s in v and a != "evidence"
    )
    best.append(top[0])
    print(
        f"seed {s} @40%: best arm {top[1]} {top[0]:.4f}, graph ceiling "
        f"{ceiling[s]['graph_ceiling_auprc_40']:.4f}"
    )
print(f"best arm per seed, mean {np.mean(best):.4f} ± {np.std(best):.4f}")
