"""Merge hard_worlds.py per-seed stderr lines (seed difficulty rate {auprc json}) into mean/std."""
import json, sys
import numpy as np
out, logs = sys.argv[1], sys.argv[2:]
per = {}
for log in logs:
    for line in open(log):
        parts = line.split(' ', 3)
        if len(parts) < 4 or parts[1] not in ('hard', 'easy'):
            continue
        seed, diff, rate, js = parts
        per.setdefault(f"{diff}@{float(rate)}", {})[int(seed)] = json.loads(js)
summary = {}
for key, seeds in per.items():
    arms = {a for v in seeds.values() for a in v}
    summary[key] = {a: {"mean": float(np.mean([v[a] for v in seeds.values() if a in v])),
                        "std": float(np.std([v[a] for v in seeds.values() if a in v])),
                        "seeds": sorted(s for s, v in seeds.items() if a in v)} for a in arms}
json.dump({"logs": logs, "summary": summary, "per_seed": {k: {str(s): v for s, v in d.items()} for k, d in per.items()}}, open(out, 'w'), indent=1)
order = ["gbt (own)", "gbt+agg+evidence", "gbt+agg+labels+evidence", "graphsage+evidence", "graphsage(label trick)+evidence", "graphsage(degrees)+evidence", "evidence"]
rates = sorted(float(k.split('@')[1]) for k in per if k.startswith('hard'))
print("| method | " + " | ".join(f"{r:.0%} labels" for r in rates) + " |")
print("|---|" + "---:|" * len(rates))
for a in order:
    cells = [summary[f"hard@{r}"].get(a) for r in rates]
    if all(c is None for c in cells): continue
    print(f"| {a} | " + " | ".join("n/a" if c is None else f"{c['mean']:.4f} ± {c['std']:.4f} (n={len(c['seeds'])})" for c in cells) + " |")
e = summary.get(f"easy@{max(rates)}", {}).get("gbt (own)")
if e: print(f"\neasy worlds, gbt (own) at {max(rates):.0%}: {e['mean']:.4f} ± {e['std']:.4f} (n={len(e['seeds'])})")
