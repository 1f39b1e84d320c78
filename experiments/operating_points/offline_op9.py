"""The run's estimator (`models.calibration.stratified_point`, estimator ``log``: the evidence
term and the pooled model term on the scored log) and the previous one (the model term on the
validation negatives alone), recomputed from detect runs already written, against each
world's truth: no detect is rerun. A detect's accounts (risk, evidence_risk, model_risk) do
not depend on the target, so one run per seed serves both targets.

    python experiments/operating_points/offline_op9.py DIR --out FILE.json

``DIR``: ``model.pt`` (the checkpoint), ``w<seed>/truth.parquet`` and ``run<seed>/`` for each
seed (as `graphguard simulate` and `graphguard detect --model` write them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl
import torch

from graphguard.models.calibration import stratified_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.005, 0.01])
    args = parser.parse_args()
    stored = torch.load(args.dir / "model.pt", weights_only=True)["validation_scores"]
    vm, ve = (np.asarray(stored[k], dtype=np.float64) for k in ("model_risk", "evidence_risk"))
    va = np.asarray(stored["abusive"], dtype=bool)
    rows = []
    for run in sorted(args.dir.glob("run*")):
        seed = int(run.name[3:])
        truth = pl.read_parquet(args.dir / f"w{seed}" / "truth.parquet")
        accounts = pl.read_parquet(run / "accounts.parquet").join(
            truth.select("account_id", pl.col("label").alias("truth")), on="account_id"
        )
        benign = (accounts["truth"] == "benign").to_numpy()
        risk = accounts["risk"].to_numpy()
        evidence = accounts["evidence_risk"].to_numpy()
        w = 1.0 - accounts["model_risk"].to_numpy()
        for target in args.targets:
            row = {"seed": seed, "target_fpr": target, "n_benign": int(benign.sum())}
            for name, log_risk in (("log_pooled", risk), ("log_validation", None)):
                p = stratified_point(
                    vm, ve, va, evidence, evidence_weights=w, log_risk=log_risk, target_fpr=target
                )
                row[name] = {
                    "threshold": p.threshold,
                    "expected_fpr": p.expected_fpr,
                    "fpr_interval": list(p.fpr_interval or []),
                    "population_fpr": float((risk[benign] >= p.threshold).mean()),
                }
            rows.append(row)
    summary = {}
    for target in args.targets:
        for name in ("log_pooled", "log_validation"):
            gaps = [
                abs(r[name]["population_fpr"] - target) for r in rows if r["target_fpr"] == target
            ]
            summary[f"{name} {target}"] = {
                "worst_gap": max(gaps),
                "within_0.2_points": sum(g <= 0.002 for g in gaps),
                "runs": len(gaps),
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
