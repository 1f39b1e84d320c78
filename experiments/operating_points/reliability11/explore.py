"""Candidate label-free checks of the ``log`` estimate, from saved run tables (no detect rerun).

    python experiments/operating_points/reliability11/explore.py DIR [DIR ...] --out FILE.json

``DIR`` as `../offline_op10.py` reads it (``model.pt``, ``w<seed>/truth.parquet``,
``run<seed>/accounts.parquet``). Per run and target: the run's threshold (``stratum``), the
isotonic estimators' thresholds and their estimate of the FPR at the run's threshold, a
two-sample comparison of the model risk in the stratum ``e < t`` (the log's accounts against
the validation accounts), and the population FPR at each threshold (the truth: for the table
only, no statistic reads it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl
import torch
from sklearn.isotonic import IsotonicRegression

from graphguard.models.calibration import StratifiedFpr, stratified_point


def ks(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.unique(np.concatenate([a, b]))
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def one_dir(d: Path, targets: list[float]) -> list[dict]:
    stored = torch.load(d / "model.pt", weights_only=True)["validation_scores"]
    vm, ve = (np.asarray(stored[k], dtype=np.float64) for k in ("model_risk", "evidence_risk"))
    va = np.asarray(stored["abusive"], dtype=bool)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=False, out_of_bounds="clip")
    iso.fit(vm, (~va).astype(np.float64))
    rows = []
    for run in sorted(d.glob("run*")):
        seed = int(run.name[3:])
        truth = pl.read_parquet(d / f"w{seed}" / "truth.parquet")
        acc = pl.read_parquet(run / "accounts.parquet").join(
            truth.select("account_id", pl.col("label").alias("truth")), on="account_id"
        )
        benign = (acc["truth"] == "benign").to_numpy()
        risk, ev, lm = (acc[c].to_numpy() for c in ("risk", "evidence_risk", "model_risk"))
        w = 1.0 - lm
        wi = iso.predict(lm)
        base = {"log_risk": risk, "log_weights": "stratum"}
        variants = {
            "stratum": {"evidence_weights": w, **base},
            "isotonic": {"evidence_weights": wi, "log_risk": risk, "log_weights": "model_risk"},
            "isotonic_stratum": {"evidence_weights": wi, **base},
            "log_validation": {"evidence_weights": w},
            "truth_weights": {
                "evidence_weights": benign.astype(float),
                "log_risk": risk,
                "log_weights": "model_risk",
            },
        }
        for target in targets:
            row = {"dir": d.name, "seed": seed, "target": target, "n": int(risk.size)}
            pts = {
                k: stratified_point(vm, ve, va, ev, target_fpr=target, **kw)
                for k, kw in variants.items()
            }
            t = pts["stratum"].threshold
            for k, p in pts.items():
                row[k] = {
                    "threshold": p.threshold,
                    "expected": p.expected_fpr,
                    "interval": list(p.fpr_interval or []),
                    "pop_fpr": float((risk[benign] >= p.threshold).mean()),
                }
                # this estimator's estimate of the FPR at the run's threshold
                est = StratifiedFpr(
                    vm,
                    ve,
                    va,
                    ev,
                    variants[k]["evidence_weights"],
                    variants[k].get("log_risk"),
                    variants[k].get("log_weights", "stratum"),
                )
                row[k]["at_run"] = float(est.parts(np.array([t]))["fpr"][0])
            # two-sample: model risk in the stratum e < t, the log against the validation
            lo_log, lo_val = lm[ev < t], vm[ve < t]
            row["ks_stratum"] = ks(lo_log, lo_val)
            row["ks_all"] = ks(lm, vm)
            row["mean_m_log"] = float(lo_log.mean())
            row["mean_m_val"] = float(lo_val.mean())
            row["share_m05_log"] = float((lo_log >= 0.5).mean())
            row["share_m05_val"] = float((lo_val >= 0.5).mean())
            row["flag_share"] = float((risk >= t).mean())
            row["iso_weight_share"] = float(wi.mean())
            row["w_share"] = float(w.mean())
            row["true_benign_share"] = float(benign.mean())
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--targets", type=float, nargs="+", default=[0.005, 0.01])
    a = ap.parse_args()
    rows = [r for d in a.dirs for r in one_dir(d, a.targets)]
    a.out.write_text(json.dumps(rows, indent=1) + "\n")
    for r in rows:
        s, i, si = r["stratum"], r["isotonic"], r["isotonic_stratum"]
        print(
            f"{r['dir']:10s} {r['seed']} {r['target']:.3f} pop {s['pop_fpr']:.4f} "
            f"iso_at {i['at_run']:.4f} isost_at {si['at_run']:.4f} "
            f"ratio {i['at_run'] / r['target']:.2f} "
            f"popiso {i['pop_fpr']:.4f} tw {r['truth_weights']['pop_fpr']:.4f} "
            f"ks {r['ks_stratum']:.3f} ksall {r['ks_all']:.3f} "
            f"m {r['mean_m_log']:.3f}/{r['mean_m_val']:.3f} "
            f"w {r['w_share']:.3f} wi {r['iso_weight_share']:.3f} tb {r['true_benign_share']:.3f}"
        )


if __name__ == "__main__":
    main()
