"""Unsupervised detection quality over many simulated worlds (no labels used).

Simulates one default world per seed, runs detection with the default config and evaluates it
against the simulator's truth. Writes per-seed figures and their mean/min to a JSON file.
The scoring curves were chosen while looking at seeds 1-5; report figures from other seeds.

    python benchmarks/eval_unsupervised.py --seeds 101-110 --out experiments/unsupervised

`--set KEY=VALUE` (repeatable) changes the detection config (e.g. `graph.sync.min_support=1`;
`scoring.target_fpr=0.005` flags at the null model's threshold, recorded per seed with the FPR
it expected; `scoring.q_gate=true` with it flags only communities whose evidence_q is at most
`scoring.fdr`).

`--run RUN --truth TRUTH` evaluates the unlabelled operating points of a finished run instead
(a world too large to detect once per arm): for each `--targets` share, with and without the
gate, the null point of `pipeline.operating.null_point` and the flags of `flag_accounts`, over
the run's own accounts.parquet and clusters.parquet (what detect with
`--set scoring.target_fpr=...` computes from the same tables), and the run's own flags.

    python benchmarks/eval_unsupervised.py --run RUN --truth truth.parquet --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from graphguard.compose import compose_config, settings
from graphguard.config import DetectConfig
from graphguard.evaluation.evaluate import evaluate
from graphguard.pipeline.detect import detect
from graphguard.simulate import SimulationConfig, simulate


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def summarise(metrics: dict) -> dict:
    fpr = metrics["false_positive_rate"]
    return {
        "auprc": metrics["accounts"]["auprc"],
        "auroc": metrics["accounts"]["auroc"],
        "recall_at_1pct_fpr": metrics["accounts"]["recall_at_1pct_fpr"],
        "precision": metrics["accounts"]["precision"],
        "recall": metrics["accounts"]["recall"],
        "campaigns_caught_share": metrics["campaigns"]["caught_share"],
        "campaigns_caught": f"{metrics['campaigns']['n_caught']}/{metrics['campaigns']['n']}",
        "missed": [c["campaign_id"] for c in metrics["campaigns"]["list"] if not c["caught"]],
        "caught_by_kind": {
            k: f"{v['n_caught']}/{v['n']}" for k, v in metrics["campaigns"]["by_kind"].items()
        },
        "fpr_benign_population": fpr["benign_population"],
        "fpr_hard_negatives": {k: v["fpr"] for k, v in fpr["hard_negatives"].items()},
        "class_accuracy": (metrics.get("classes") or {}).get("accuracy"),
        "ari": metrics["clusters_vs_campaigns"]["ari"],
    }


def run_points(run: Path, truth_path: Path, targets: list[float]) -> dict:
    """The run's own flags and the null points at each target, with and without the gate."""
    import polars as pl

    from graphguard import rundir
    from graphguard.config import ScoringConfig
    from graphguard.pipeline.operating import flag_accounts, null_point

    accounts = pl.read_parquet(run / rundir.ACCOUNTS_FILE)
    clusters = pl.read_parquet(run / rundir.CLUSTERS_FILE).rename({rundir.CLUSTER_ID: "cluster"})
    truth = pl.read_parquet(truth_path)
    out = {"run": {**summarise(evaluate(accounts, truth)), "threshold": "the run's own"}}
    for target in targets:
        for gate in (False, True):
            scoring = ScoringConfig(target_fpr=target, q_gate=gate)
            point = null_point(scoring, accounts, clusters)
            flagged = accounts.with_columns(flag_accounts(accounts, clusters, point))
            name = f"target_fpr_{target:g}" + ("_q_gate" if gate else "")
            out[name] = {
                **summarise(evaluate(flagged, truth)),
                "threshold": point.threshold,
                "expected_fpr": point.expected_fpr,
                "q_gate": point.q_gate,
            }
            print(
                f"{name}: caught {out[name]['campaigns_caught']}, threshold "
                f"{point.threshold:.4f}, benign FPR {out[name]['fpr_benign_population']:.5f} "
                f"(expected {point.expected_fpr:.5f})",
                file=sys.stderr,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="101-110")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("experiments/unsupervised"))
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="detection config KEY=VALUE"
    )
    parser.add_argument("--run", type=Path, help="a finished run: evaluate its operating points")
    parser.add_argument("--truth", type=Path, help="with --run: the world's truth.parquet")
    parser.add_argument(
        "--targets", default="0.005,0.01", help="with --run: the target FPRs (comma-separated)"
    )
    args = parser.parse_args()
    if args.run is not None:
        if args.truth is None:
            parser.error("--run needs --truth")
        targets = [float(x) for x in args.targets.split(",")]
        doc = {"run": str(args.run), "points": run_points(args.run, args.truth, targets)}
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "run_points.json").write_text(json.dumps(doc, indent=2) + "\n")
        return
    config = settings(compose_config(args.overrides)).detect if args.overrides else DetectConfig()
    rows = []
    for seed in parse_seeds(args.seeds):
        start = time.perf_counter()
        world = simulate(SimulationConfig(n_accounts=args.accounts, seed=seed))
        result = detect(world.events, config)
        row = {
            "seed": seed,
            "events": world.events.height,
            **summarise(evaluate(result.accounts, world.truth)),
        }
        point = result.operating_point or {}
        # with scoring.target_fpr and no labels: the null model's threshold and the FPR it
        # promised, beside the realised fpr_benign_population
        row["threshold"] = point.get("threshold")
        row["expected_fpr"] = point.get("expected_fpr")
        row["q_gate"] = point.get("q_gate")
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(
            f"seed {seed}: caught {row['campaigns_caught']}, AUPRC {row['auprc']:.4f}, "
            f"benign FPR {row['fpr_benign_population']:.4f}, worst hard-negative FPR "
            f"{max(row['fpr_hard_negatives'].values()):.3f}",
            file=sys.stderr,
        )
    keys = [
        "auprc",
        "auroc",
        "recall_at_1pct_fpr",
        "campaigns_caught_share",
        "fpr_benign_population",
        "class_accuracy",
    ]
    summary = {
        k: {
            "mean": sum(r[k] for r in rows) / len(rows),
            "min": min(r[k] for r in rows),
            "max": max(r[k] for r in rows),
        }
        for k in keys
    }
    kinds = rows[0]["fpr_hard_negatives"].keys()
    caught = [r["campaigns_caught"].split("/") for r in rows]
    summary["campaigns_caught"] = (
        f"{sum(int(c) for c, _ in caught)}/{sum(int(n) for _, n in caught)}"
    )
    summary["missed"] = [f"{r['seed']}:{m}" for r in rows for m in r["missed"]]
    summary["fpr_hard_negative_worst"] = {
        k: max(r["fpr_hard_negatives"][k] for r in rows) for k in kinds
    }
    summary["fpr_hard_negative_mean"] = {
        k: sum(r["fpr_hard_negatives"][k] for r in rows) / len(rows) for k in kinds
    }
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "config": ", ".join(args.overrides) or "default (conf/)",
        "accounts": args.accounts,
        "summary": summary,
        "per_seed": rows,
    }
    (args.out / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
