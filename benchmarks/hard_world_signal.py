"""Is the coordination signal present in the hard worlds? Label-free oracles and a truth audit.

For every seed one hard world (`simulate.difficulty=hard`) is built and, on its engagement
events (like, comment, share, follow; an account's first engagement of each target):

    members without co-activity   share of campaign members that engage no target within
                                  `--window` seconds of another member of their own campaign
                                  (read from the truth: the ceiling no detector can pass)
    ceiling AUPRC                 AUPRC of a score that is perfect except on those members,
                                  which it ranks among the benign accounts at random
    oracle co-engagement AUPRC    AUPRC of label-free per-account scores: the number of
                                  (other account, target) co-engagements within the window
                                  on targets with at most --cap engagers (`pairs`), the same
                                  weighted by 1 / log2(1 + engagers) (`weighted`), and the
                                  number of partners met on at least two targets (`repeat`)

    python benchmarks/hard_world_signal.py --seeds 1-5 --accounts 4000 \
        --out experiments/hard_worlds/signal
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.metrics import auprc
from graphguard.outputs import write_json_atomic
from graphguard.simulate import SimulationConfig, simulate

ENGAGEMENT = ("like", "comment", "share", "follow")


def first_engagements(events: pl.DataFrame) -> pl.DataFrame:
    return (
        events.filter(pl.col(schema.EVENT_TYPE).is_in(ENGAGEMENT))
        .group_by(schema.ACCOUNT, schema.TARGET)
        .agg(t=pl.col(schema.TIME).min().dt.epoch("s"))
    )


def co_engagements(first: pl.DataFrame, window: float, cap: int) -> pl.DataFrame:
    """Pairs (a, b, target) engaging the same target within `window` seconds, both ways."""
    pop = first.group_by(schema.TARGET).agg(engagers=pl.len())
    e = first.join(pop, on=schema.TARGET).filter(pl.col("engagers") <= cap)
    pairs = e.join(e.select(schema.ACCOUNT, schema.TARGET, "t"), on=schema.TARGET, suffix="_b")
    return pairs.filter(
        (pl.col(schema.ACCOUNT) != pl.col(f"{schema.ACCOUNT}_b"))
        & ((pl.col("t") - pl.col("t_b")).abs() <= window)
    )


def audit(seed: int, accounts: int, window: float, cap: int) -> dict:
    world = simulate(SimulationConfig(n_accounts=accounts, seed=seed, difficulty="hard"))
    truth = world.truth.select(schema.ACCOUNT, schema.LABEL, "campaign_id", "campaign_kind")
    first = first_engagements(world.events)
    pairs = co_engagements(first, window, cap)
    per = pairs.group_by(schema.ACCOUNT, f"{schema.ACCOUNT}_b").agg(
        n=pl.len(), w=(1.0 / (1.0 + pl.col("engagers")).log(2)).sum()
    )
    feats = per.group_by(schema.ACCOUNT).agg(
        pairs=pl.col("n").sum(), weighted=pl.col("w").sum(), repeat=(pl.col("n") >= 2).sum()
    )
    d = truth.join(feats, on=schema.ACCOUNT, how="left").fill_null(0)
    y = (d.get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    rng = np.random.default_rng(seed)
    jitter = 1e-6 * rng.random(y.size)
    oracle = {
        c: auprc(y, d.get_column(c).to_numpy().astype(float) + jitter)
        for c in ("pairs", "weighted", "repeat")
    }
    # truth audit: members with a same-campaign co-engagement within the window (any target)
    members = first.join(truth.filter(pl.col("campaign_id").is_not_null()), on=schema.ACCOUNT)
    m = members.select(schema.ACCOUNT, schema.TARGET, "t", "campaign_id")
    same = m.join(m, on=[schema.TARGET, "campaign_id"], suffix="_b").filter(
        (pl.col(schema.ACCOUNT) != pl.col(f"{schema.ACCOUNT}_b"))
        & ((pl.col("t") - pl.col("t_b")).abs() <= window)
    )
    active = same.group_by(schema.ACCOUNT).agg(targets=pl.col(schema.TARGET).n_unique())
    mem = (
        truth.filter(pl.col("campaign_id").is_not_null())
        .join(active, on=schema.ACCOUNT, how="left")
        .fill_null(0)
    )
    silent = mem.get_column("targets").to_numpy() == 0
    by_kind = (
        mem.group_by("campaign_kind")
        .agg(
            members=pl.len(),
            silent=(pl.col("targets") == 0).mean(),
            one=(pl.col("targets") == 1).mean(),
        )
        .sort("campaign_kind")
    )
    # ceiling: perfect except silent members, which fall among benign at random
    silent_ids = set(mem.filter(pl.col("targets") == 0).get_column(schema.ACCOUNT).to_list())
    is_silent = d.get_column(schema.ACCOUNT).is_in(list(silent_ids)).to_numpy()
    ceiling = np.where(y & ~is_silent, 2.0, rng.random(y.size))
    return {
        "members": int(y.sum()),
        "silent_share": float(silent.mean()),
        "single_target_share": float((mem.get_column("targets").to_numpy() == 1).mean()),
        "ceiling_auprc": auprc(y, ceiling),
        "oracle_auprc": oracle,
        "by_kind": by_kind.to_dicts(),
    }


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument("--window", type=float, default=600.0)
    parser.add_argument("--cap", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("experiments/hard_worlds/signal"))
    args = parser.parse_args(argv)
    per_seed = {s: audit(s, args.accounts, args.window, args.cap) for s in parse_seeds(args.seeds)}
    keys = ["silent_share", "single_target_share", "ceiling_auprc"]
    summary = {}
    for k in keys:
        v = [r[k] for r in per_seed.values()]
        summary[k] = [float(np.mean(v)), float(np.std(v))]
    for c in ("pairs", "weighted", "repeat"):
        v = [r["oracle_auprc"][c] for r in per_seed.values()]
        summary[f"oracle_{c}"] = [float(np.mean(v)), float(np.std(v))]
    out = {
        "command": "python benchmarks/hard_world_signal.py " + " ".join(argv or sys.argv[1:]),
        "summary_mean_std": summary,
        "per_seed": {str(k): v for k, v in per_seed.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, args.out / "signal.json")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
