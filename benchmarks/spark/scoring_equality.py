"""Spark scoring stages against the local engine on a scale world: equality and time.

Runs the local stages (index, projections, Leiden, evidence, scores, features) on an events
file, hands the same index, graph and membership to the Spark scoring stages
(`graphguard.spark.evidence`, `scoring`, `features`) and reports the largest difference of every
table and the seconds of each side, so the equality the tests show on small worlds is checked
at scale too (the Spark core stages are not part of this comparison).

    PYTHONPATH=. python benchmarks/spark/scoring_equality.py \
        /work/snap/scale/w1000000/events.parquet \
        --out experiments/benchmarks/spark_scoring_w1000000.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import polars as pl

from graphguard.community.scoring import score_accounts
from graphguard.config import DetectConfig
from graphguard.io import load_events
from graphguard.pipeline.stages import build_stages


def _max_diff(a: pl.DataFrame, b: pl.DataFrame) -> dict[str, float | bool]:
    """Largest absolute difference of each numeric column; equality of the others."""
    out: dict[str, float | bool] = {}
    for name in b.columns:
        x, y = a.get_column(name), b.get_column(name)
        if y.dtype.is_numeric():
            diff = (x.cast(pl.Float64) - y.cast(pl.Float64)).abs()
            out[name] = float(diff.max() or 0.0)
        else:
            out[name] = bool((x == y).all()) if x.len() == y.len() else False
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--driver-memory", default="2g")
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from graphguard.spark.evidence import evidence_schemas, spark_evidence, to_polars
    from graphguard.spark.features import spark_features
    from graphguard.spark.scoring import spark_scores
    from tests.spark.conftest import spark_frames

    config = DetectConfig()
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    events, _, _ = load_events(args.events, config.data)
    stages = build_stages(events, config)
    seconds["local_stages_to_evidence"] = time.perf_counter() - start
    start = time.perf_counter()
    local_accounts = score_accounts(
        stages.n_accounts,
        stages.account_ids,
        stages.partition.membership,
        stages.members,
        stages.clusters,
        config.scoring,
    )
    seconds["local_scores"] = time.perf_counter() - start
    start = time.perf_counter()
    local_features = stages.features()
    seconds["local_features"] = time.perf_counter() - start

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        frames = spark_frames(spark, stages)
        for frame in (frames.indexed, frames.edges, frames.membership, frames.account_ids):
            frame.persist().count()
        start = time.perf_counter()
        clusters, members = spark_evidence(frames)
        _, member_schema = evidence_schemas()
        got_members = to_polars(members, member_schema).sort("account")
        seconds["spark_evidence"] = time.perf_counter() - start
        start = time.perf_counter()
        accounts = to_polars(spark_scores(frames, clusters, members)).sort("account")
        seconds["spark_scores"] = time.perf_counter() - start
        start = time.perf_counter()
        features = to_polars(spark_features(frames, clusters, members)).sort("account")
        seconds["spark_features"] = time.perf_counter() - start
    finally:
        spark.stop()
    accounts = accounts.select(
        [pl.col(c).cast(local_accounts.schema[c]) for c in local_accounts.columns]
    )
    report = {
        "events": str(args.events),
        "n_events": events.height,
        "n_accounts": stages.n_accounts,
        "n_edges": stages.graph.edges.height,
        "n_clusters": stages.clusters.height,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "max_abs_diff": {
            "clusters": _max_diff(clusters, stages.clusters),
            "members": _max_diff(got_members, stages.members),
            "accounts": _max_diff(accounts, local_accounts),
            "features": _max_diff(features, local_features),
        },
    }
    worst = max(
        v
        for table in report["max_abs_diff"].values()
        for v in table.values()
        if isinstance(v, float)
    )
    unequal = [
        f"{t}.{c}"
        for t, table in report["max_abs_diff"].items()
        for c, v in table.items()
        if v is False
    ]
    report["worst_numeric_diff"] = worst
    report["unequal_text_columns"] = unequal
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
