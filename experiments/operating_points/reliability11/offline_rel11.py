"""The check of the ``log`` estimate (`graphguard.models.calibration.log_check`), recomputed from
detect runs already written, against each world's truth: does it fire where the estimate
fails (the hard worlds) and stay quiet where it holds (the ordinary ones)? No detect rerun.

    python experiments/operating_points/reliability11/offline_rel11.py DIR --out FILE.json

``DIR`` as `../offline_op10.py` reads it (``model.pt``, ``w<seed>/truth.parquet``,
``run<seed>/accounts.parquet``, one detect per seed serving every target). Per run and target:
the run's point (`stratified_point`, as `pipeline.operating.model_point` calls it: threshold,
expected FPR, ``reliable``, the check's ratio and weight gap, the interval as the run reports
it, widened where the check fired, and the sampling one), the population FPR at it, and
whether each interval covers it. Beside it, thresholds chosen from the bracket of the two
estimators (the truth read only to score them):

- ``isotonic_stratum``: the isotonic estimate alone;
- ``bracket_max``: the larger of the two estimates at each threshold meets the target;
- ``bracket_mid``: their mean does (the same as the run's where they agree);
- ``bracket_geo``: their geometric mean does;
- ``bracket_run``: ``bracket_mid`` as the run applies it (``scoring.unreliable_threshold:
  bracket``, `stratified_point(unreliable="bracket")`: only where the check fires), with its
  expected FPR and interval.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl
import torch

from graphguard.models.calibration import StratifiedFpr, isotonic_benign, stratified_point


def _choose(est_a: StratifiedFpr, est_b: StratifiedFpr, cands: np.ndarray, target: float, how):
    fa, fb = est_a.parts(cands)["fpr"], est_b.parts(cands)["fpr"]
    f = how(fa, fb)
    worst_above = np.maximum.accumulate(f[::-1])[::-1]
    ok = worst_above <= target
    return float(cands[ok].min()) if ok.any() else float(np.nextafter(cands.max(), 2.0))


def one_dir(d: Path, targets: list[float]) -> list[dict]:
    stored = torch.load(d / "model.pt", weights_only=True)["validation_scores"]
    vm, ve = (np.asarray(stored[k], dtype=np.float64) for k in ("model_risk", "evidence_risk"))
    va = np.asarray(stored["abusive"], dtype=bool)
    calibrate = isotonic_benign(vm, va)
    rows = []
    for run in sorted(d.glob("run*"), key=lambda p: int(p.name[3:])):
        seed = int(run.name[3:])
        truth = pl.read_parquet(d / f"w{seed}" / "truth.parquet")
        acc = pl.read_parquet(run / "accounts.parquet").join(
            truth.select("account_id", pl.col("label").alias("truth")), on="account_id"
        )
        benign = (acc["truth"] == "benign").to_numpy()
        risk, ev, lm = (acc[c].to_numpy() for c in ("risk", "evidence_risk", "model_risk"))
        w = 1.0 - lm
        est = StratifiedFpr(vm, ve, va, ev, w, risk, "stratum")
        iso = StratifiedFpr(vm, ve, va, ev, calibrate(lm), risk, "stratum")
        v_risk = 1.0 - (1.0 - vm) * (1.0 - ve)
        cands = np.unique(np.concatenate([v_risk, ev, risk]))

        benign_risk = np.sort(risk[benign])

        def pop(t: float, benign_risk: np.ndarray = benign_risk) -> float:
            below = np.searchsorted(benign_risk, t, side="left")
            return float(1.0 - below / benign_risk.size)

        for target in targets:
            p = stratified_point(
                vm,
                ve,
                va,
                ev,
                evidence_weights=w,
                log_risk=risk,
                target_fpr=target,
                estimator="log",
            )
            rel = p.reliability or {}
            f = pop(p.threshold)

            def inside(iv, f: float = f) -> bool:
                return bool(iv) and iv[0] <= f <= iv[1]

            row = {
                "dir": d.name,
                "seed": seed,
                "target_fpr": target,
                "threshold": p.threshold,
                "expected_fpr": p.expected_fpr,
                "population_fpr": f,
                "reliable": p.reliable,
                "ratio": rel.get("ratio"),
                "weight_gap": rel.get("weight_gap"),
                "isotonic_fpr": rel.get("isotonic_fpr"),
                "fpr_interval": list(p.fpr_interval or []),
                "sampling_interval": rel.get("sampling_interval"),
                "inside_reported": inside(p.fpr_interval),
                "inside_sampling": inside(rel.get("sampling_interval")),
                "precision_interval": list(p.precision_interval or []),
                "population_precision": float(
                    (~benign[risk >= p.threshold]).mean() if (risk >= p.threshold).any() else 0
                ),
            }
            for name, how in (
                ("isotonic_stratum", lambda a, b: b),
                ("bracket_max", np.maximum),
                ("bracket_mid", lambda a, b: (a + b) / 2),
                ("bracket_geo", lambda a, b: np.sqrt(a * b)),
            ):
                t = _choose(est, iso, cands, target, how)
                row[name] = {
                    "threshold": t,
                    "population_fpr": pop(t),
                    "recall": float((risk[~benign] >= t).mean()),
                }
            # the opt-in rule as the run applies it (scoring.unreliable_threshold: bracket)
            b = stratified_point(
                vm,
                ve,
                va,
                ev,
                evidence_weights=w,
                log_risk=risk,
                target_fpr=target,
                estimator="log",
                unreliable="bracket",
            )
            fb = pop(b.threshold)
            row["bracket_run"] = {
                "threshold": b.threshold,
                "threshold_rule": b.threshold_rule,
                "expected_fpr": b.expected_fpr,
                "fpr_interval": list(b.fpr_interval or []),
                "population_fpr": fb,
                "inside": inside(b.fpr_interval, fb),
                "recall": float((risk[~benign] >= b.threshold).mean()),
            }
            row["recall"] = float((risk[~benign] >= p.threshold).mean())
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--targets", type=float, nargs="+", default=[0.005, 0.01])
    a = ap.parse_args()
    rows = one_dir(a.dir, a.targets)
    summary = {}
    for target in a.targets:
        rs = [r for r in rows if r["target_fpr"] == target]
        s = {
            "runs": len(rs),
            "fired": sum(r["reliable"] is False for r in rs),
            "ratio": [min(r["ratio"] for r in rs), max(r["ratio"] for r in rs)],
            "weight_gap": [min(r["weight_gap"] for r in rs), max(r["weight_gap"] for r in rs)],
            "inside_reported": sum(r["inside_reported"] for r in rs),
            "inside_sampling": sum(r["inside_sampling"] for r in rs),
        }
        s["bracket_run_inside"] = sum(r["bracket_run"]["inside"] for r in rs)
        s["bracket_run_moved"] = sum(r["bracket_run"]["threshold_rule"] == "bracket" for r in rs)
        names = ("run", "isotonic_stratum", "bracket_max", "bracket_mid", "bracket_geo")
        for name in (*names, "bracket_run"):
            fpr = [r["population_fpr"] if name == "run" else r[name]["population_fpr"] for r in rs]
            s[name] = {
                "population_fpr": [min(fpr), max(fpr)],
                "mean_error": float(np.mean(fpr) - target),
                "worst_gap": max(abs(x - target) for x in fpr),
                "within_0.2_points": sum(abs(x - target) <= 0.002 for x in fpr),
            }
        summary[str(target)] = s
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=1) + "\n")
    for r in rows:
        print(
            f"{r['dir']} {r['seed']} {r['target_fpr']:.3f} t {r['threshold']:.4f} "
            f"exp {r['expected_fpr']:.4f} pop {r['population_fpr']:.4f} "
            f"reliable {r['reliable']} ratio {r['ratio']:.2f} gap {r['weight_gap']:+.3f} "
            f"iv {r['fpr_interval'][0]:.4f}-{r['fpr_interval'][1]:.4f} in {r['inside_reported']} "
            f"| max {r['bracket_max']['population_fpr']:.4f} "
            f"mid {r['bracket_mid']['population_fpr']:.4f} "
            f"geo {r['bracket_geo']['population_fpr']:.4f}"
        )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
