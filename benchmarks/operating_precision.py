"""Does `scoring.target_precision` hold on new worlds? The precision twin of operating_points.py.

Runs `graphguard detect --model M --set scoring.target_precision=P` on simulated worlds of new
seeds (the checkpoint trained on another world: `benchmarks/operating_points.py --save-model`
makes one) and measures against each world's truth the realised precision (flagged abusive /
flagged), population FPR and recall, beside the target and the run's own expected precision and
its interval (run.json ``operating_point``). The run's expected precision is taken at the
validation split's class mix (the training world's), so it holds on a new log only as far as
that log's share of abuse is the training world's; each row reports the world's share too.
Writes ``OUT/results.json`` and ``OUT/summary.md``; generated worlds go to a temporary
directory, never the repo.

    python benchmarks/operating_precision.py --model M3000.pt --accounts 3000 \\
        --seeds 1001 1002 1003 --targets 0.9 0.95 --out experiments/operating_points/precision10
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from operating_points import _detect, _world  # noqa: E402  (the same worlds and detect calls)


def measure(run: Path, truth: pl.DataFrame) -> dict:
    accounts = pl.read_parquet(run / "accounts.parquet").join(
        truth.select("account_id", pl.col("label").alias("truth")), on="account_id"
    )
    abusive = (accounts["truth"] != "benign").to_numpy()
    flagged = accounts["flagged"].to_numpy()
    point = json.loads((run / "run.json").read_text())["operating_point"]
    tp = int((flagged & abusive).sum())
    return {
        "threshold": point["threshold"],
        "estimator": point.get("estimator"),
        "expected_precision": point.get("expected_precision"),
        "precision_interval": point.get("precision_interval"),
        "flagged": int(flagged.sum()),
        "precision": tp / int(flagged.sum()) if flagged.any() else None,
        "population_fpr": float((flagged & ~abusive).sum() / max((~abusive).sum(), 1)),
        "recall": tp / max(int(abusive.sum()), 1),
        "abusive_share": float(abusive.mean()),
    }


def summary(rows: list[dict], targets: list[float]) -> str:
    lines = [
        "| seed | target precision | threshold | expected precision [interval] | precision |"
        " population FPR | recall | flagged | abusive share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        interval = r["precision_interval"]
        shown = f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
        expected, precision = r["expected_precision"], r["precision"]
        expected_text = "none" if expected is None else f"{expected:.4f}"
        precision_text = "none" if precision is None else f"{precision:.4f}"
        lines.append(
            f"| {r['seed']} | {r['target_precision']:.3f} | {r['threshold']:.4f} |"
            f" {expected_text}{shown} | {precision_text} |"
            f" {r['population_fpr']:.3%} | {r['recall']:.4f} | {r['flagged']} |"
            f" {r['abusive_share']:.2%} |"
        )
    lines.append("")
    for target in targets:
        mine = [r for r in rows if r["target_precision"] == target]
        got = [r["precision"] for r in mine if r["precision"] is not None]
        inside = sum(
            r["precision_interval"] is not None
            and r["precision"] is not None
            and r["precision_interval"][0] <= r["precision"] <= r["precision_interval"][1]
            for r in mine
        )
        lines.append(
            f"- target {target:.3f}: precision {min(got):.4f}-{max(got):.4f} (mean"
            f" {np.mean(got):.4f}); {sum(p >= target for p in got)} of {len(mine)} at or above"
            f" the target; {inside} of {len(mine)} inside their own interval"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="a trained checkpoint")
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1001, 1002, 1003])
    parser.add_argument("--targets", type=float, nargs="+", default=[0.9, 0.95])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for seed in args.seeds:
            world = _world(root, seed, args.accounts)
            truth = pl.read_parquet(world / "truth.parquet")
            for target in args.targets:
                run = root / f"run-{seed}-{target}"
                _detect(world, args.model, run, f"scoring.target_precision={target}")
                row = {"seed": seed, "target_precision": target, **measure(run, truth)}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {"accounts": args.accounts, "model": str(args.model), "seeds": args.seeds}
    (args.out / "results.json").write_text(json.dumps({**config, "rows": rows}, indent=2))
    (args.out / "summary.md").write_text(summary(rows, args.targets))
    print(summary(rows, args.targets))


if __name__ == "__main__":
    main()
