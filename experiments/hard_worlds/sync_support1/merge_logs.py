"""Merge hard_worlds.py per-seed stderr lines (seed difficulty rate {auprc json}) into mean/std.

python merge_logs.py OUT.json LOG [LOG ...]
"""

import json
import sys
from pathlib import Path

import numpy as np

ORDER = [
    "gbt (own)",
    "gbt+agg+evidence",
    "gbt+agg+labels+evidence",
    "graphsage+evidence",
    "graphsage(label trick)+evidence",
    "graphsage(degrees)+evidence",
    "evidence",
]


def main() -> None:
    out, logs = sys.argv[1], sys.argv[2:]
    per: dict[str, dict[int, dict[str, float]]] = {}
    for log in logs:
        for line in Path(log).read_text().splitlines():
            parts = line.split(" ", 3)
            if len(parts) < 4 or parts[1] not in ("hard", "easy"):
                continue
            seed, diff, rate, js = parts
            per.setdefault(f"{diff}@{float(rate)}", {})[int(seed)] = json.loads(js)
    summary = {}
    for key, seeds in per.items():
        arms = {a for v in seeds.values() for a in v}
        summary[key] = {
            a: {
                "mean": float(np.mean([v[a] for v in seeds.values() if a in v])),
                "std": float(np.std([v[a] for v in seeds.values() if a in v])),
                "seeds": sorted(s for s, v in seeds.items() if a in v),
            }
            for a in arms
        }
    per_seed = {k: {str(s): v for s, v in d.items()} for k, d in per.items()}
    Path(out).write_text(
        json.dumps({"logs": logs, "summary": summary, "per_seed": per_seed}, indent=1)
    )
    rates = sorted(float(k.split("@")[1]) for k in per if k.startswith("hard"))
    print("| method | " + " | ".join(f"{r:.0%} labels" for r in rates) + " |")
    print("|---|" + "---:|" * len(rates))
    for arm in ORDER:
        cells = [summary[f"hard@{r}"].get(arm) for r in rates]
        if all(c is None for c in cells):
            continue
        text = [
            "n/a" if c is None else f"{c['mean']:.4f} ± {c['std']:.4f} (n={len(c['seeds'])})"
            for c in cells
        ]
        print(f"| {arm} | " + " | ".join(text) + " |")
    easy = summary.get(f"easy@{max(rates)}", {}).get("gbt (own)")
    if easy:
        print(
            f"\neasy worlds, gbt (own) at {max(rates):.0%}: "
            f"{easy['mean']:.4f} ± {easy['std']:.4f} (n={len(easy['seeds'])})"
        )


if __name__ == "__main__":
    main()
