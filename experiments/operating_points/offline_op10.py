"""The ``log`` estimator's model term, weighted by ``1 - model_risk`` (before) against the
stratum weights (now), and other candidates, recomputed from detect runs already written,
against each world's truth: no detect is rerun (as `offline_op9.py`; one run per seed serves
every target).

    python experiments/operating_points/offline_op10.py DIR --out FILE.json

``DIR``: ``model.pt`` (the checkpoint), ``w<seed>/truth.parquet`` and ``run<seed>/`` for each
seed (as `graphguard simulate` and `graphguard detect --model` write them). Estimators:

- ``weighted``: the pooled model term with the log's accounts weighted by ``1 - model_risk``
  (``log_weights="model_risk"``, the run's estimator before this change);
- ``stratum``: the pooled model term with each of the log's accounts weighted by its benign
  probability within the stratum ``e < t`` (``log_weights="stratum"``, the run's estimator
  now; `graphguard.models.calibration`);
- ``log_validation``: the model term on the validation negatives alone;
- ``isotonic``: ``weighted`` with each weight the isotonic calibration of the model risk
  against the validation labels (P(benign | model risk), fitted on the checkpoint's
  validation accounts), for the evidence term and the model term;
- ``isotonic_stratum``: ``isotonic`` weights, then the stratum weights on them;
- ``truth_weights``: ``weighted`` with each account's weight its true class (1 benign, 0
  abusive): what weighting could give at best (needs the truth; a reference, not an estimator).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl
import torch
from sklearn.isotonic import IsotonicRegression

from graphguard.models.calibration import stratified_point

NAMES = ("weighted", "stratum", "log_validation", "isotonic", "isotonic_stratum", "truth_weights")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.005, 0.01])
    args = parser.parse_args()
    stored = torch.load(args.dir / "model.pt", weights_only=True)["validation_scores"]
    vm, ve = (np.asarray(stored[k], dtype=np.float64) for k in ("model_risk", "evidence_risk"))
    va = np.asarray(stored["abusive"], dtype=bool)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=False, out_of_bounds="clip")
    iso.fit(vm, (~va).astype(np.float64))
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
        lm = accounts["model_risk"].to_numpy()
        w = 1.0 - lm
        variants = {
            "weighted": {"evidence_weights": w, "log_risk": risk, "log_weights": "model_risk"},
            "stratum": {"evidence_weights": w, "log_risk": risk, "log_weights": "stratum"},
            "log_validation": {"evidence_weights": w},
            "isotonic": {
                "evidence_weights": iso.predict(lm),
                "log_risk": risk,
                "log_weights": "model_risk",
            },
            "isotonic_stratum": {
                "evidence_weights": iso.predict(lm),
                "log_risk": risk,
                "log_weights": "stratum",
            },
            "truth_weights": {
                "evidence_weights": benign.astype(np.float64),
                "log_risk": risk,
                "log_weights": "model_risk",
            },
        }
        for target in args.targets:
            row = {"seed": seed, "target_fpr": target, "n_benign": int(benign.sum())}
            for name, kw in variants.items():
                p = stratified_point(vm, ve, va, evidence, target_fpr=target, **kw)
                row[name] = {
                    "threshold": p.threshold,
                    "expected_fpr": p.expected_fpr,
                    "fpr_interval": list(p.fpr_interval or []),
                    "population_fpr": float((risk[benign] >= p.threshold).mean()),
                    "recall": float((risk[~benign] >= p.threshold).mean()),
                }
            rows.append(row)
    summary = {}
    for target in args.targets:
        for name in NAMES:
            runs = [r[name] for r in rows if r["target_fpr"] == target]
            fpr = [r["population_fpr"] for r in runs]
            summary[f"{name} {target}"] = {
                "population_fpr": [min(fpr), max(fpr)],
                "mean_error": float(np.mean(fpr) - target),
                "worst_gap": max(abs(f - target) for f in fpr),
                "within_0.2_points": sum(abs(f - target) <= 0.002 for f in fpr),
                "inside_interval": sum(
                    bool(r["fpr_interval"])
                    and r["fpr_interval"][0] <= r["population_fpr"] <= r["fpr_interval"][1]
                    for r in runs
                ),
                "min_recall": min(r["recall"] for r in runs),
                "runs": len(runs),
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2) + "\n")
    for key, s in summary.items():
        lo, hi = s["population_fpr"]
        print(
            f"{key:22s} fpr {lo:.3%}-{hi:.3%} mean err {s['mean_error']:+.3%} "
            f"worst {s['worst_gap']:.3%} within {s['within_0.2_points']}/{s['runs']} "
            f"inside {s['inside_interval']} recall>={s['min_recall']:.4f}"
        )


if __name__ == "__main__":
    main()
