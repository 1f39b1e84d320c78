"""Connected components of the account graph in DataFrames: alternating large-star and
small-star (Kiveris et al., "Connected Components in MapReduce and Beyond", 2014).

The edge set is rewritten until it is a forest of stars, each rooted at its component's smallest
account: large-star links every node's larger neighbours to its smallest neighbour (or itself),
small-star links a node and its smaller neighbours to the smallest of them. Both keep the
components and lower the labels; they converge in O(log^2 n) rounds. The lineage is cut with a
local checkpoint every round and a reliable one every ``spark.checkpoint_every`` rounds (the
session's checkpoint directory). No GraphFrames.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

#: a bound on the rounds, far above what O(log^2 n) needs for any real graph
MAX_ROUNDS = 200


def _large_star(edges: DataFrame) -> DataFrame:
    both = edges.select(F.col("u"), F.col("v")).unionByName(
        edges.select(F.col("v").alias("u"), F.col("u").alias("v"))
    )
    smallest = both.groupBy("u").agg(F.least(F.min("v"), F.col("u")).alias("m"))
    return (
        both.filter(F.col("v") > F.col("u"))
        .join(smallest, "u")
        .select(F.col("v").alias("u"), F.col("m").alias("v"))
        .filter(F.col("u") != F.col("v"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    oriented = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))  # v < u
    smallest = oriented.groupBy("u").agg(F.min("v").alias("m"))
    linked = oriented.join(smallest, "u")
    return (
        linked.select(F.col("v").alias("u"), F.col("m").alias("v"))
        .filter(F.col("u") != F.col("v"))
        .unionByName(linked.select("u", F.col("m").alias("v")))
        .distinct()
    )


def connected_components(edges: DataFrame, *, checkpoint_every: int = 4) -> DataFrame:
    """Component of every account that has an edge: columns account, component (the smallest
    account index of its component). ``edges``: src, dst (the account graph)."""
    current = edges.select(F.col("src").alias("u"), F.col("dst").alias("v")).filter(
        F.col("u") != F.col("v")
    )
    current = current.localCheckpoint(eager=True)
    for round_ in range(1, MAX_ROUNDS + 1):
        nxt = _small_star(_large_star(current))
        # every round cuts the query plan (a plan that grows with the rounds costs the driver
        # more than the work): in executor storage, and every few rounds to the reliable
        # checkpoint directory, from which a lost executor's work is recovered
        reliable = round_ % checkpoint_every == 0
        nxt = nxt.checkpoint(eager=True) if reliable else nxt.localCheckpoint(eager=True)
        _previous, current = current, nxt
        # a forest of stars: no node is both a leaf (u) and a root (v) of some edge
        if current.select("u").intersect(current.select(F.col("v").alias("u"))).isEmpty():
            break
    else:  # pragma: no cover - a bound no graph reaches
        raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    roots = current.select(F.col("v").alias("account"), F.col("v").alias("component"))
    leaves = current.select(F.col("u").alias("account"), F.col("v").alias("component"))
    return leaves.unionByName(roots).distinct()
