"""Large-star/small-star components against scipy's, and Leiden per component on Spark."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.community import leiden
from graphguard.config import CommunityConfig, SparkConfig
from graphguard.spark.communities import ComponentTooLarge, spark_communities
from graphguard.spark.components import connected_components


def _random_graph(seed: int, n: int = 400, m: int = 420) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    # a long path too: the worst case of label propagation, log rounds here
    path = np.arange(n, n + 150)
    a = np.r_[a, path[:-1]]
    b = np.r_[b, path[1:]]
    keep = a != b
    src, dst = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    return (
        pl.DataFrame({"src": src.astype(np.int32), "dst": dst.astype(np.int32)})
        .unique()
        .with_columns(weight=pl.lit(1.0) + pl.col("src") % 3)
        .sort("src", "dst")
    )


def test_components_are_scipys(spark):
    edges = _random_graph(3)
    got = pl.from_arrow(
        connected_components(spark.createDataFrame(edges.to_arrow()), checkpoint_every=2).toArrow()
    ).sort("account")
    n = int(edges.select(pl.max_horizontal("src", "dst").max()).item()) + 1
    src = edges["src"].to_numpy().astype(np.int64)
    dst = edges["dst"].to_numpy().astype(np.int64)
    want = leiden.components(n, src, dst)
    has_edge = np.zeros(n, dtype=bool)
    has_edge[src] = has_edge[dst] = True
    assert got["account"].to_numpy().tolist() == np.nonzero(has_edge)[0].tolist()
    assert got["component"].to_numpy().tolist() == want[has_edge].tolist()


def test_communities_are_the_local_ones(spark):
    edges = _random_graph(5)
    n = int(edges.select(pl.max_horizontal("src", "dst").max()).item()) + 1
    cfg = CommunityConfig(max_cluster_size=20)
    local = leiden.leiden(n, edges, cfg)
    # the driver path for the larger components, executors for the rest
    membership, params, quality = spark_communities(
        spark.createDataFrame(edges.to_arrow()), cfg, SparkConfig(executor_component_limit=50)
    )
    got = pl.from_arrow(membership.toArrow()).sort("account")
    cluster = np.full(n, -1)
    cluster[got["account"].to_numpy()] = got["cluster"].to_numpy()
    assert (local.membership >= 0).sum() > 0
    assert cluster.tolist() == local.membership.tolist()
    assert quality == np.float64(local.quality) or abs(quality - local.quality) < 1e-9
    assert params["components_partitioned"] == local.parameters["components_partitioned"]


def test_a_component_past_the_driver_limit_is_named(spark):
    edges = _random_graph(5)
    try:
        spark_communities(
            spark.createDataFrame(edges.to_arrow()),
            CommunityConfig(),
            SparkConfig(driver_component_limit=10),
            lambda: False,
        )
    except ComponentTooLarge as exc:
        assert "spark.driver_component_limit=10" in str(exc)
    else:
        raise AssertionError("no error for a component past spark.driver_component_limit")
