"""Leiden per connected component on the executors: the local engine's own function.

Every component of at least ``community.min_cluster_size`` accounts is partitioned by
`graphguard.community.leiden.partition_component`, with the same seed (`component_seed`), the
same edge order ((src, dst)), the same local numbering (accounts in index order) and the same
whole-graph weight (`total_weight`) as the local engine, so each component's communities are
the same; canonical ids are then given as `leiden.canonical_ids` gives them (ordered by smallest
member account index).

Where a component is partitioned:

* up to ``spark.executor_component_limit`` accounts: on an executor,
  ``groupBy(component).applyInPandas``: one task holds one component's edges;
* up to ``spark.driver_component_limit`` accounts: on the driver (its edges collected), where
  the driver's memory is the bound (about 100 bytes per edge in igraph);
* larger: `ComponentTooLarge`, naming the component and the settings that bound it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from graphguard.community import leiden
from graphguard.config import CommunityConfig, DenseConfig, SparkConfig
from graphguard.errors import GraphguardError
from graphguard.spark.components import connected_components


class ComponentTooLarge(GraphguardError):
    """A connected component larger than ``spark.driver_component_limit`` accounts."""


_PART_SCHEMA = "account int, component long, part long, refined int, pre_split long"


def _partition_group(cfg: CommunityConfig, total: float):
    """The applyInPandas function: one component's edges -> each account's community."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values(["src", "dst"], kind="stable")
        src = frame["src"].to_numpy(dtype=np.int64)
        dst = frame["dst"].to_numpy(dtype=np.int64)
        nodes = np.unique(np.concatenate([src, dst]))
        parts, refined, unsplit = leiden.partition_component(
            nodes.shape[0],
            np.searchsorted(nodes, src),
            np.searchsorted(nodes, dst),
            frame["weight"].to_numpy(dtype=np.float64),
            cfg,
            leiden.component_seed(cfg.seed, int(nodes[0])),
            total,
        )
        return pd.DataFrame(
            {
                "account": nodes.astype(np.int32),
                "component": np.full(nodes.shape[0], nodes[0], dtype=np.int64),
                "part": parts,
                "refined": np.r_[refined, np.zeros(nodes.shape[0] - 1, dtype=np.int32)].astype(
                    np.int32
                ),
                "pre_split": leiden.named_by_first(unsplit, nodes.astype(np.int64)),
            }
        )

    return run


def spark_communities(
    edges: DataFrame,
    cfg: CommunityConfig,
    spark_cfg: SparkConfig,
    has_hardware: Callable[[], bool] | None = None,
) -> tuple[DataFrame, dict[str, Any], float | None]:
    """Components and Leiden communities: ``(membership, parameters, modularity)``;
    ``has_hardware`` resolves ``community.max_cluster_size: auto`` (`leiden.resolve`).

    ``membership``: account int, component long, cluster long (-1: in no reported community),
    pre_split long (the account's Leiden community before the ``max_cluster_size`` split,
    named by its smallest account index, as `leiden.Partition.pre_split`; -1: in no
    partitioned component), one row per account with an edge. ``parameters`` is what run.json
    records (the local engine's `leiden.parameters`, plus the component counts);
    ``modularity`` is the partition's over the whole graph (None without edges).
    """
    setting = cfg.max_cluster_size
    cfg = leiden.resolve(cfg, has_hardware)
    params = leiden.parameters(cfg, setting)
    spark = edges.sparkSession
    edges = edges.select("src", "dst", "weight").persist()
    # one job for the edge count, the exact total (`leiden.total_weight`) and modularity's m
    totals = edges.agg(
        F.count("*").alias("n"), _weight_units().alias("units"), F.sum("weight").alias("m")
    ).first()
    if totals["n"] == 0:
        empty = spark.createDataFrame([], MEMBERSHIP_SCHEMA)
        return empty, params, None
    total = int(totals["units"]) / leiden.WEIGHT_UNITS
    comp = connected_components(edges, checkpoint_every=spark_cfg.checkpoint_every)
    comp = comp.localCheckpoint(eager=True)
    sizes = comp.groupBy("component").agg(F.count("*").alias("size")).persist()
    eligible = sizes.filter(F.col("size") >= cfg.min_cluster_size)
    size_stats = sizes.agg(
        F.max("size").alias("largest"),
        F.count(F.when(F.col("size") >= cfg.min_cluster_size, 1)).alias("eligible"),
    ).first()
    # the components not partitioned on an executor, in one job: on the driver, or too big
    large = eligible.filter(
        F.col("size") > min(spark_cfg.executor_component_limit, spark_cfg.driver_component_limit)
    ).collect()
    too_big = min(
        (r for r in large if r["size"] > spark_cfg.driver_component_limit),
        key=lambda r: r["component"],
        default=None,
    )
    if too_big is not None:
        raise ComponentTooLarge(
            f"a connected component of {too_big['size']:,} accounts (the one of account index "
            f"{too_big['component']}) is larger than spark.driver_component_limit="
            f"{spark_cfg.driver_component_limit:,}; raise it with the driver's memory "
            "(spark.driver_memory), or cut the graph (graph.<relation>.max_accounts, "
            "graph.min_edge_weight)"
        )
    on_driver = sorted(
        r["component"] for r in large if r["size"] > spark_cfg.executor_component_limit
    )
    comp_of = comp.select(F.col("account").alias("src"), "component")
    tagged = edges.join(comp_of, "src").join(eligible.select("component"), "component", "left_semi")
    small = tagged.filter(~F.col("component").isin(on_driver)) if on_driver else tagged
    parts = small.groupBy("component").applyInPandas(_partition_group(cfg, total), _PART_SCHEMA)
    for component in on_driver:
        local = pl.from_arrow(tagged.filter(F.col("component") == component).toArrow())
        frame = _partition_group(cfg, total)(local.to_pandas())
        parts = parts.unionByName(spark.createDataFrame(frame, _PART_SCHEMA))
    parts = parts.localCheckpoint(eager=True)
    if cfg.max_cluster_size > 0:
        params["refined_communities"] = int(parts.agg(F.sum("refined")).first()[0] or 0)
    params["components_partitioned"] = int(size_stats["eligible"])
    params["largest_component"] = int(size_stats["largest"])
    membership = _canonical(comp, parts, cfg.min_cluster_size)
    quality = _modularity(edges, comp, parts, float(totals["m"]))
    return membership, params, quality


#: the membership table's columns (`spark_communities`)
MEMBERSHIP_SCHEMA = "account int, component long, cluster long, pre_split long"


def _weight_units() -> Column:
    """The sum of `leiden.total_weight`: the weights in units of 1e-9, summed exactly."""
    units = F.rint(F.col("weight") * leiden.WEIGHT_UNITS).cast("long").cast("decimal(38,0)")
    return F.sum(units)


def _canonical(comp: DataFrame, parts: DataFrame, min_cluster_size: int) -> DataFrame:
    """Cluster ids as `leiden.canonical_ids` gives them: communities of at least
    ``min_cluster_size`` accounts numbered 0.. by their smallest account index; -1 otherwise."""
    communities = (
        parts.groupBy("component", "part")
        .agg(F.count("*").alias("size"), F.min("account").alias("first"))
        .filter(F.col("size") >= min_cluster_size)
    )
    numbered = communities.withColumn(
        "cluster", (F.row_number().over(Window.orderBy("first")) - 1).cast("long")
    ).select("component", "part", "cluster")
    return (
        comp.join(parts.select("account", "part", "pre_split"), "account", "left")
        .join(numbered, ["component", "part"], "left")
        .select(
            F.col("account").cast("int"),
            F.col("component").cast("long"),
            F.coalesce(F.col("cluster"), F.lit(-1)).cast("long").alias("cluster"),
            F.coalesce(F.col("pre_split"), F.lit(-1)).cast("long").alias("pre_split"),
        )
    )


def _modularity(edges: DataFrame, comp: DataFrame, parts: DataFrame, m: float) -> float:
    """Modularity (resolution 1) over the whole graph, as `leiden.modularity` computes it: a
    component too small to be partitioned counts as one community."""
    community = comp.join(parts.select("account", "part"), "account", "left").select(
        "account",
        F.concat_ws(
            ":", F.col("component").cast("string"), F.coalesce(F.col("part"), F.lit(-1))
        ).alias("c"),
    )
    src = community.select(F.col("account").alias("src"), F.col("c").alias("cs"))
    dst = community.select(F.col("account").alias("dst"), F.col("c").alias("cd"))
    labelled = edges.join(src, "src").join(dst, "dst")
    inside = labelled.filter(F.col("cs") == F.col("cd")).agg(F.sum("weight")).first()[0] or 0.0
    strength = labelled.select(F.col("cs").alias("c"), "weight").unionByName(
        labelled.select(F.col("cd").alias("c"), "weight")
    )
    per = strength.groupBy("c").agg(F.sum("weight").alias("d"))
    penalty = per.agg(F.sum((F.col("d") / (2 * m)) ** 2)).first()[0]
    return float(inside / m - penalty)


def spark_pre_split_communities(membership: DataFrame) -> pl.DataFrame:
    """`leiden.pre_split_communities` of the Spark membership: per reported community, the
    pre-split community of its smallest member account (one row per community, collected).
    A membership without ``pre_split`` (made elsewhere) makes each community its own."""
    if "pre_split" not in membership.columns:
        membership = membership.withColumn("pre_split", F.lit(-1).cast("long"))
    first = (
        membership.filter(F.col("cluster") >= 0)
        .groupBy("cluster")
        .agg(F.min(F.struct("account", "pre_split")).alias("_first"))
        .select(
            F.col("cluster").cast("long"),
            F.when(F.col("_first.pre_split") >= 0, F.col("_first.pre_split"))
            .otherwise(F.col("_first.account"))
            .cast("long")
            .alias("pre_split_community"),
        )
    )
    return pl.from_arrow(first.toArrow()).sort("cluster")


def spark_dense_block_communities(
    membership: DataFrame,
    params: dict[str, Any],
    indexed: DataFrame,
    n_accounts: int,
    cfg: CommunityConfig,
    engagement_types: tuple[str, ...],
    has_hardware: Callable[[], bool],
) -> tuple[DataFrame, dict[str, Any]]:
    """`leiden.dense_block_communities` on Spark: where ``community.dense_blocks`` applies,
    the distinct (account, target) engagements and the membership are collected to the driver
    (a log without devices or IPs: ratings, reviews) and carved by the local engine's own
    functions (`dense.seeded.dense_block_members`, `leiden.carve`); the accounts keep their
    component."""
    from graphguard.dense.bipartite import pairs_bipartite
    from graphguard.dense.seeded import dense_block_members
    from graphguard.spark.evidence import engagements

    params = dict(params)
    params["dense_blocks"] = cfg.dense_blocks
    if not leiden.dense_blocks_apply(cfg, has_hardware):
        return membership, params
    pairs = pl.from_arrow(
        engagements(indexed, tuple(engagement_types)).select("account", "target").toArrow()
    )
    ids = pl.Series("account", np.arange(n_accounts, dtype=np.int64))
    blocks = dense_block_members(pairs_bipartite(ids, pairs), DenseConfig())
    rows = pl.from_arrow(membership.toArrow()).sort("account")
    account = rows.get_column("account").to_numpy().astype(np.int64)
    current = np.full(n_accounts, -1, dtype=np.int64)
    current[account] = rows.get_column("cluster").to_numpy()
    has_edge = np.zeros(n_accounts, dtype=bool)
    has_edge[account] = True  # membership has one row per account with an edge
    carved_ids, carved = leiden.carve(current, blocks, has_edge, cfg.min_cluster_size)
    params["dense_block_communities"] = carved
    if not carved:
        return membership, params
    frame = rows.with_columns(pl.Series("cluster", carved_ids[account], dtype=pl.Int64))
    spark = membership.sparkSession
    out = spark.createDataFrame(
        frame.select(
            pl.col("account").cast(pl.Int32),
            pl.col("component").cast(pl.Int64),
            "cluster",
            pl.col("pre_split").cast(pl.Int64),
        )
        .to_arrow()
        .to_pandas(),
        MEMBERSHIP_SCHEMA,
    )
    return out, params
