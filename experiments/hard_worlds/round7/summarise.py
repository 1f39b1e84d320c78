"""Round 7's table (the round-6 main table rerun under `community.max_cluster_size: auto`) beside
round 6's: mean ± std per arm and rate from each folder's results.json, the change of the mean,
per-seed changes, per-seed differences to the trees, and the best arm per seed at 40% against
the graph ceiling.

    python experiments/hard_worlds/round7/summarise.py [RUN ...]   # default: round7/*/results.json

Prints markdown; `summary.md` is its output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BASE = "gbt+agg+evidence"


def collect(paths: list[Path]) -> dict[tuple[str, str], dict[str, float]]:
    values: dict[tuple[str, str], dict[str, float]] = {}
    for path in paths:
        run = json.loads(path.read_text())
        for seed, keys in run["per_seed"].items():
            for key, result in keys.items():
                for arm, v in result["auprc"].items():
                    values.setdefault((key, arm), {})[seed] = v
    return values


def cell(v: dict[str, float] | None) -> str:
    if not v:
        return "n/a"
    a = np.array(list(v.values()))
    return f"{a.mean():.4f} ± {a.std():.4f}"


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("*/results.json"))
    new = collect(paths)
    old = collect([HERE.parent / "round6" / "main" / "results.json"])
    rates = sorted({k for k, _ in new}, key=lambda k: float(k.split("@")[1]))
    arms = list(dict.fromkeys(a for _, a in new))
    print("| method | " + " | ".join(f"{r.split('@')[1]} round 6 -> round 7" for r in rates) + " |")
    print("|---|" + "---|" * len(rates))
    for arm in arms:
        cells = []
        for r in rates:
            o, n = old.get((r, arm)), new.get((r, arm))
            delta = ""
            if o and n:
                common = sorted(set(o) & set(n))
                d = np.mean([n[s] for s in common]) - np.mean([o[s] for s in common])
                delta = f" ({d:+.4f}{', worse' if d < 0 else ''})"
            cells.append(f"{cell(o)} -> {cell(n)}{delta}")
        print(f"| {arm} | " + " | ".join(cells) + " |")
    print()
    print("Per seed, round 7 minus round 6:")
    print()
    for arm in arms:
        for r in rates:
            o, n = old.get((r, arm)), new.get((r, arm))
            if o and n:
                d = [n[s] - o[s] for s in sorted(set(o) & set(n), key=int)]
                print(f"- {arm} @ {r}: " + " ".join(f"{x:+.4f}" for x in d))
    print()
    print("Per seed, round 7, minus the trees (gbt+agg+evidence):")
    print()
    for arm in arms:
        if arm in (BASE, "evidence"):
            continue
        for r in rates:
            v, b = new.get((r, arm)), new.get((r, BASE))
            if v and b:
                d = [v[s] - b[s] for s in sorted(v, key=int)]
                print(f"- {arm} @ {r}: " + " ".join(f"{x:+.4f}" for x in d))
    ceiling_path = HERE / "ceiling.json"
    if not ceiling_path.exists():
        ceiling_path = HERE.parent / "round6" / "ceiling.json"
    ceiling = json.loads(ceiling_path.read_text())["per_seed"]
    print()
    best = []
    for s in sorted(ceiling, key=int):
        candidates = [
            (v[s], a) for (k, a), v in new.items() if k == "hard@0.4" and s in v and a != "evidence"
        ]
        if not candidates:
            continue
        top = max(candidates)
        best.append(top[0])
        print(
            f"- seed {s} @40%: best arm {top[1]} {top[0]:.4f}, graph ceiling "
            f"{ceiling[s]['graph_ceiling_auprc_40']:.4f}"
        )
    if best:
        print(f"- best arm per seed, mean {np.mean(best):.4f} ± {np.std(best):.4f}")


if __name__ == "__main__":
    main()
