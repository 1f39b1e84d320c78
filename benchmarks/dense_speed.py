"""How long the dense-block methods take on MovieLens-100k and on a 1M-edge synthetic log.

The synthetic log: 150,000 accounts each engaging targets drawn Zipf(1.3) over 60,000 targets,
1,150,000 draws (about 0.9M distinct account-target edges once repeats merge), seeded. Timed:
one peel of each objective, k = 10 blocks (FRAUDAR's repeated peeling), the null over
the 10 blocks, and the refinement (`graphguard.dense.refine.refine_blocks`) seeded by both
peelings' 10 blocks (``refine_s``: the refinement alone, the peelings not counted;
``refine_vs_density_k10``: its time over the k = 10 density peel of the same run).
Timing under contention is noisy; the MovieLens peel is the reference.

    PYTHONPATH=$PWD python benchmarks/dense_speed.py --out experiments/dense_blocks
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import polars as pl

from graphguard.dense.bipartite import Bipartite
from graphguard.dense.fraudar import find_blocks
from graphguard.dense.refine import peeled_seeds, refine_blocks
from graphguard.dense.significance import block_significance
from graphguard.outputs import write_json_atomic

DATA = Path(os.environ.get("GRAPHGUARD_SHARED_DATA", "../shared/data")) / "movielens-100k"


def graph_of(account: np.ndarray, target: np.ndarray) -> Bipartite:
    n_t = int(target.max()) + 1
    key = np.unique(account.astype(np.int64) * n_t + target)
    a, t = key // n_t, key % n_t
    return Bipartite(
        account_ids=pl.Series([f"a{i:07d}" for i in range(int(a.max()) + 1)]),
        target_ids=pl.Series([f"t{i:07d}" for i in range(n_t)]),
        account=a,
        target=t,
    )


def movielens() -> Bipartite:
    d = pl.read_csv(
        DATA / "u.data", separator="\t", has_header=False, new_columns=["u", "i", "r", "ts"]
    )
    return graph_of(d["u"].to_numpy() - 1, d["i"].to_numpy() - 1)


def synthetic(seed: int = 0) -> Bipartite:
    rng = np.random.default_rng(seed)
    n_a, n_t, draws = 150_000, 60_000, 1_150_000
    return graph_of(rng.integers(0, n_a, draws), rng.zipf(1.3, draws) % n_t)


def timed(graph: Bipartite) -> dict:
    out = {"accounts": graph.n_accounts, "targets": graph.n_targets, "edges": graph.n_edges}
    for objective in ("density", "excess"):
        t = time.perf_counter()
        find_blocks(graph, 1, objective=objective)
        out[f"{objective}_k1_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        blocks, _ = find_blocks(graph, 10, objective=objective)
        out[f"{objective}_k10_s"] = round(time.perf_counter() - t, 3)
        groups = blocks.select(
            pl.col("accounts").alias("account_id"), pl.col("block").alias("group")
        )
        t = time.perf_counter()
        block_significance(graph, groups.explode("account_id"))
        out[f"{objective}_null_s"] = round(time.perf_counter() - t, 3)
    seeds = peeled_seeds(graph, 10)
    t = time.perf_counter()
    refined = refine_blocks(graph, seeds)
    out["refine_s"] = round(time.perf_counter() - t, 3)
    out["refine_vs_density_k10"] = round(out["refine_s"] / out["density_k10_s"], 3)
    out["refined_blocks"] = refined.height
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/dense_blocks"))
    parser.add_argument(
        "--movielens-only", action="store_true", help="skip the 1M log; write speed_movielens.json"
    )
    args = parser.parse_args()
    doc = {
        "command": "GRAPHGUARD_SHARED_DATA=/work/shared/data PYTHONPATH=$PWD "
        f"python benchmarks/dense_speed.py --out {args.out}"
        + (" --movielens-only" if args.movielens_only else ""),
        "movielens-100k": timed(movielens()),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }
    if not args.movielens_only:
        doc["synthetic-1M"] = timed(synthetic())
        doc["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "speed_movielens.json" if args.movielens_only else "speed.json"
    write_json_atomic(doc, args.out / name)
    print(doc)


if __name__ == "__main__":
    main()
