"""The shared SparkSession of the Spark tests, and a small world run by both engines.

(Written by the Spark scoring helper, who needed it first; Spark core: yours to extend. The
``spark`` fixture is session-scoped, local[2], driver memory 1g, 4 shuffle partitions, stopped at
the end; every test here skips cleanly without pyspark or Java.)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

import igraph as ig
import numpy as np
import polars as pl
import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed")
if shutil.which("java") is None:
    pytest.skip("no Java runtime: the Spark tests need Java 17", allow_module_level=True)


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole test session (1 GiB driver)."""
    from pyspark.sql import SparkSession

    # Python UDF workers (applyInPandas) run this interpreter, which has graphguard's packages
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("graphguard-tests")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # connected components checkpoint every few rounds
    checkpoints = tempfile.mkdtemp(prefix="graphguard-test-checkpoints-")
    session.sparkContext.setCheckpointDir(checkpoints)
    yield session
    session.stop()
    shutil.rmtree(checkpoints, ignore_errors=True)


@dataclass
class SparkFrames:
    """The local engine's stages of one world as the frames `graphguard.spark` hands on."""

    spark: object
    config: object
    indexed: object
    account_ids: object
    edges: object
    membership: object
    n_accounts: int


def components(n_accounts: int, edges: pl.DataFrame) -> np.ndarray:
    """Connected component of every account: its smallest account index (-1 without edges)."""
    pairs = edges.select("src", "dst").to_numpy().astype(np.int64)
    graph = ig.Graph(n=n_accounts, edges=pairs, directed=False)
    raw = np.asarray(graph.connected_components().membership)
    first = np.full(raw.max() + 1 if raw.size else 0, n_accounts)
    np.minimum.at(first, raw, np.arange(n_accounts))
    degree = np.asarray(graph.degree())
    return np.where(degree > 0, first[raw], -1)


def to_spark(spark, frame: pl.DataFrame):
    """A Polars frame as a Spark DataFrame (unsigned integers as int, through Arrow)."""
    casts = {
        name: pl.Int32 if dtype in (pl.UInt8, pl.UInt16, pl.UInt32) else pl.Int64
        for name, dtype in frame.schema.items()
        if dtype.is_unsigned_integer()
    }
    return spark.createDataFrame(frame.cast(casts).to_arrow())


def spark_frames(spark, stages) -> SparkFrames:
    """`graphguard.spark`'s frames built from the local engine's `Stages`."""
    n = stages.n_accounts
    membership = stages.partition.membership
    component = components(n, stages.graph.edges)
    table = pl.DataFrame(
        {
            "account": np.arange(n, dtype=np.int32),
            "component": component.astype(np.int64),
            "cluster": membership.astype(np.int64),
            # the accounts' Leiden communities before the max_cluster_size split
            "pre_split": (
                np.full(n, -1) if stages.partition.pre_split is None else stages.partition.pre_split
            ).astype(np.int64),
        }
    ).filter(pl.col("component") >= 0)
    ids = pl.DataFrame({"account": np.arange(n, dtype=np.int32), "account_id": stages.account_ids})
    return SparkFrames(
        spark=spark,
        config=stages.config,
        indexed=to_spark(spark, stages.indexed),
        account_ids=to_spark(spark, ids),
        edges=to_spark(spark, stages.graph.edges),
        membership=to_spark(spark, table),
        n_accounts=n,
    )


#: the simulated world every equality test of the scoring stages compares on
WORLD_SEED = 31


@pytest.fixture(scope="session")
def scored_world(spark):
    """(world, local stages, Spark frames, Spark clusters, Spark members, Spark accounts) of one
    small simulated world (`tests.worlds.pipeline_world`), scored once per test session."""
    from graphguard.spark.evidence import spark_evidence
    from graphguard.spark.scoring import spark_scores
    from tests.worlds import pipeline_world

    world, pipeline = pipeline_world(WORLD_SEED)
    frames = spark_frames(spark, pipeline.stages)
    clusters, members = spark_evidence(frames)
    accounts = spark_scores(frames, clusters, members).persist()
    yield world, pipeline, frames, clusters, members, accounts
    accounts.unpersist()
    members.unpersist()
