"""Round 8 summary (../README.md): mean ± std per arm and rate, and each arm's per-seed
difference from the baseline trees.  python summarise.py results.json > summary.md"""

import json
import sys

import numpy as np

BASE = "gbt+agg+evidence"
with open(sys.argv[1]) as f:
    run = json.load(f)
seeds = [str(s) for s in run["seeds"]]
rates = run["rates"]
arms = list(run["per_seed"][seeds[0]][f"hard@{rates[0]}"]["auprc"])
print(f"`{run['command']}`, seeds {', '.join(seeds)}; AUPRC mean ± std (n={len(seeds)})\n")
print("| method | " + " | ".join(f"{r:.0%} labels" for r in rates) + " |")
print("|---|" + "---:|" * len(rates))
for arm in arms:
    cells = []
    for r in rates:
        v = [run["per_seed"][s][f"hard@{r}"]["auprc"][arm] for s in seeds]
        cells.append(f"{np.mean(v):.4f} ± {np.std(v):.4f}")
    print(f"| {arm} | " + " | ".join(cells) + " |")
print(f"\nPer seed ({', '.join(seeds)}) minus {BASE}:\n")
print("| method | " + " | ".join(f"{r:.0%}" for r in rates) + " |")
print("|---|" + "---|" * len(rates))
for arm in arms:
    if arm == BASE:
        continue
    cells = []
    for r in rates:
        d = [
            run["per_seed"][s][f"hard@{r}"]["auprc"][arm]
            - run["per_seed"][s][f"hard@{r}"]["auprc"][BASE]
            for s in seeds
        ]
        ahead = sum(x > 0 for x in d)
        cells.append(" ".join(f"{x:+.3f}" for x in d) + f" ({ahead}/{len(d)} ahead)")
    print(f"| {arm} | " + " | ".join(cells) + " |")
