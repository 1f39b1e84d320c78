"""Why the operating points moved under `community.max_cluster_size: auto` (2026-12-03).

Trains the model of `benchmarks/operating_points.py` (world of seed 1, 20,000 accounts, 40%
labelled) once per ``community.max_cluster_size`` setting (auto, i.e. 50 on this log, and the
earlier 300), then detects the *training world itself* at each target FPR and compares what the
threshold was chosen on (the checkpoint's validation accounts) with the whole benign population
of the same world: how many benign accounts reach the threshold, and through which side of the
noisy-OR (the model's risk or the evidence's). Writes ``OUT/diagnose.json`` and prints it.
Since the post-stratified estimator (`models.calibration.stratified_point`) each row also has
the run's estimator, its estimate of the evidence's term, and the threshold the validation
negatives alone would have chosen with the population FPR there.

    python experiments/operating_points/diagnose.py --out experiments/operating_points
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import torch


def _cli(*args: object) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "graphguard", *map(str, args)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.005, 0.01])
    parser.add_argument("--sizes", nargs="+", default=["auto", "300"])
    parser.add_argument(
        "--model", type=Path, help="reuse this checkpoint (of the first size) instead of training"
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = root / "w1"
        _cli("simulate", world, "--accounts", args.accounts, "--seed", 1, "--label-fraction", 0.4)
        truth = pl.read_parquet(world / "truth.parquet").select(
            "account_id", pl.col("label").alias("truth")
        )
        labelled = pl.read_parquet(world / "labels.parquet").get_column("account_id")
        for size in args.sizes:
            cap = f"community.max_cluster_size={size}"
            model = root / f"model_{size}.pt"
            if args.model is not None and size == args.sizes[0]:
                model = args.model
            else:
                _cli(
                    "train",
                    world / "events.parquet",
                    "--labels",
                    world / "labels.parquet",
                    "--out",
                    model,
                    "--set",
                    "train.device=cpu",
                    "--set",
                    cap,
                    "-q",
                )
            val = torch.load(model, weights_only=True)["validation_scores"]
            v_model = np.asarray(val["model_risk"])
            v_ev = np.asarray(val["evidence_risk"])
            v_neg = ~np.asarray(val["abusive"], dtype=bool)
            v_risk = 1 - (1 - v_model) * (1 - v_ev)
            for target in args.targets:
                run = root / f"run-{size}-{target}"
                _cli(
                    "detect",
                    world / "events.parquet",
                    "--model",
                    model,
                    "--out",
                    run,
                    "--device",
                    "cpu",
                    "--set",
                    f"scoring.target_fpr={target}",
                    "--set",
                    cap,
                    "-q",
                )
                point = json.loads((run / "run.json").read_text())["operating_point"]
                t = point["threshold"]
                benign = (
                    pl.read_parquet(run / "accounts.parquet")
                    .join(truth, on="account_id")
                    .filter(pl.col("truth") == "benign")
                    .with_columns(pl.col("account_id").is_in(labelled.implode()).alias("lab"))
                )
                unlab = benign.filter(~pl.col("lab"))
                t_val = point.get("validation_threshold") or t
                rows.append(
                    {
                        "max_cluster_size": size,
                        "target_fpr": target,
                        "estimator": point.get("estimator"),
                        "threshold": t,
                        "expected_fpr": point.get("expected_fpr"),
                        "fpr_interval": point.get("fpr_interval"),
                        "evidence_negatives": point.get("n_evidence_negatives"),
                        "evidence_fpr_estimate": point.get("evidence_fpr"),
                        "validation_only_threshold": t_val,
                        "population_fpr_at_validation_only_threshold": float(
                            (benign["risk"] >= t_val).mean()
                        ),
                        "validation_negatives": int(v_neg.sum()),
                        "validation_fpr": float((v_risk[v_neg] >= t).mean()),
                        "validation_negatives_evidence_at_threshold": int((v_ev[v_neg] >= t).sum()),
                        "validation_negatives_model_at_threshold": int((v_model[v_neg] >= t).sum()),
                        "population_benign": benign.height,
                        "population_fpr": float((benign["risk"] >= t).mean()),
                        "population_fpr_unlabelled": float((unlab["risk"] >= t).mean()),
                        "population_share_evidence_at_threshold": float(
                            (benign["evidence_risk"] >= t).mean()
                        ),
                        "population_share_model_at_threshold": float(
                            (benign["model_risk"] >= t).mean()
                        ),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "diagnose.json").write_text(
        json.dumps({"accounts": args.accounts, "train_seed": 1, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
