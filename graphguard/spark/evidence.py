"""The community evidence of `graphguard.community.evidence.community_evidence`, as DataFrames.

Every per-event and per-account step (shared devices, IPs in the same hour, engagement occasions,
synchronized bursts, signup bursts, internal edges) runs in Spark; only the one-row-per-community
table comes back to the driver, where the local engine's own `score_clusters` scores it. The
members table stays a Spark DataFrame.

The member events are moved once: joined with the membership (broadcast when small), hashed by
community and checkpointed with that partitioning known, so every grouping, window and join
keyed by (community, ...) after it runs inside the partitions. Each measure is first reduced to
its grain, (member, device), (member, ip, hour), (community, target, member), one row per
member, and only those tables meet the whole log's tables (devices' accounts and span,
targets' reach) or each other; the shares are exact counts over counts, so they equal the
local engine's means of 0/1 values to the last bit.

The windows of the local code (`_window_counts`, `_densest_window`: binary searches over sorted
integer seconds) are range windows over the same integer seconds here: an engagement at second s
is together with every other one of its (community, target) in [s - w, s + w], w the window
rounded down to whole seconds, which is what the local comparison of integers with a float
window counts. Shares are means of 0/1 values (exact sums), so they are equal to the last bit;
the weight sums of the internal structure are order-dependent only in their last bits.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from graphguard.community.blocks import BLOCK_COLUMNS, COUNT_COLUMNS, block_members, log_weight
from graphguard.community.evidence import (
    LOCKSTEP_MIN_TARGETS,
    OCCASION_GAP_WINDOWS,
    community_evidence,
)
from graphguard.community.scoring import score_clusters
from graphguard.graph.context import HOUR_US, US
from graphguard.schema import RELATIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "community_evidence_spark",
    "evidence_schemas",
    "first_of_max",
    "floor_div",
    "spark_evidence",
    "to_polars",
]


# --------------------------------------------------------------------------------------------
# Expressions shared by the Spark scoring modules (the twins of graph/context.py's)


def floor_div(column: str | Column, divisor: int) -> Column:
    """``column // divisor`` on longs, rounding down as Polars does (also below zero)."""
    c = F.col(column) if isinstance(column, str) else column
    return ((c - F.pmod(c, F.lit(divisor))) / F.lit(divisor)).cast("long")


def hour_key() -> Column:
    """`graphguard.graph.context.hour_key`: the event's clock hour."""
    return floor_div("t", HOUR_US)


def is_engagement(engagement_types: tuple[str, ...]) -> Column:
    """`graphguard.graph.context.is_engagement`."""
    return F.col("event_type").isin(list(engagement_types)) & F.col("target").isNotNull()


def engagements(indexed: DataFrame, engagement_types: tuple[str, ...]) -> DataFrame:
    """`graphguard.graph.context.engagements`: first engagement per (target, account)."""
    return (
        indexed.filter(is_engagement(engagement_types))
        .groupBy("target", "account")
        .agg(F.min("t").alias("t"))
    )


def device_usage(indexed: DataFrame) -> DataFrame:
    """`graphguard.graph.context.device_usage`: ``_dev_accounts`` and ``_dev_span_us``."""
    return (
        indexed.filter(F.col("device").isNotNull())
        .groupBy("device")
        .agg(
            F.countDistinct("account").alias("_dev_accounts"),
            (F.max("t") - F.min("t")).alias("_dev_span_us"),
        )
    )


def single_use_device() -> Column:
    """`graphguard.graph.context.single_use_device`."""
    return F.coalesce(
        (F.col("_dev_accounts") == 1) & (F.col("_dev_span_us") <= HOUR_US), F.lit(False)
    )


def share(condition: Column) -> Column:
    """Mean of a boolean (Polars' ``.mean()`` of a bool column): an exact count over a count."""
    return F.avg(condition.cast("double"))


def first_of_max(columns: list[Column], names: list[str]) -> Column:
    """`graphguard.scores.name_of_max`: the name of the largest column, the first on ties."""
    top = F.greatest(*columns)
    out = F.lit(names[-1])
    for column, name in reversed(list(zip(columns[:-1], names[:-1], strict=True))):
        out = F.when(column == top, F.lit(name)).otherwise(out)
    return out


def whole_seconds(window_s: float) -> int:
    """The window in whole seconds: integer times t' lie within +-w of t exactly when they lie
    within +-floor(w)."""
    return int(math.floor(window_s))


# --------------------------------------------------------------------------------------------
# Types: the local tables' dtypes, so both engines hand on identical frames


def evidence_schemas() -> tuple[pl.Schema, pl.Schema]:
    """(clusters, members) schemas of `community_evidence`, read off a run on no events, so
    they follow the local code wherever it goes."""
    indexed = pl.DataFrame(
        schema={
            "account": pl.UInt32,
            "t": pl.Int64,
            "event_type": pl.String,
            "device": pl.String,
            "ip": pl.String,
            "target": pl.String,
        }
    )
    edge_schema: dict[str, Any] = {"src": pl.UInt32, "dst": pl.UInt32}
    for relation in RELATIONS:
        edge_schema[f"{relation}_weight"] = pl.Float64
        edge_schema[f"{relation}_support"] = pl.UInt32
    edge_schema["weight"] = pl.Float64
    clusters, members = community_evidence(
        indexed,
        np.zeros(0, dtype=np.int64),
        pl.DataFrame(schema=edge_schema),
        engagement_types=("like",),
        signup_types=("signup",),
        sync_window_s=600.0,
        sync_min_share=0.25,
        creation_burst_window_s=3600.0,
    )
    return clusters.schema, members.schema


def to_polars(frame: DataFrame, schema: pl.Schema | None = None) -> pl.DataFrame:
    """Collect a (small) Spark DataFrame through Arrow; cast to ``schema`` (its column order)
    when given."""
    out = pl.from_arrow(frame.toArrow())
    assert isinstance(out, pl.DataFrame)
    if schema is None:
        return out
    return out.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


# --------------------------------------------------------------------------------------------
# The evidence


def community_evidence_spark(
    indexed: DataFrame,
    membership: DataFrame,
    edges: DataFrame,
    *,
    engagement_types: tuple[str, ...],
    signup_types: tuple[str, ...],
    sync_window_s: float,
    sync_min_share: float,
    creation_burst_window_s: float,
    post_types: tuple[str, ...] = ("post",),
    dense_evidence: str = "auto",
) -> tuple[pl.DataFrame, DataFrame]:
    """`community_evidence` on Spark: ``(clusters, members)``.

    Args:
        indexed, membership, edges: the frames of `graphguard.spark` (membership: account,
            cluster, -1 or no row for none).
        the rest: as `community_evidence`.

    Returns:
        ``clusters`` collected, with the local table's columns and dtypes (one row per
        community, sorted), and ``members`` as a persisted Spark DataFrame with the local
        members table's columns (account int, cluster long, counts long, shares double).
    """
    cluster_schema, _ = evidence_schemas()
    member_map = _join_side(
        membership.filter(F.col("cluster") >= 0).select(
            F.col("account").cast("int").alias("account"), F.col("cluster").cast("long")
        )
    )
    # the member events, hashed by community once: every grouping below starts with the
    # community (and an account is in one), so none of them moves the events again
    ev = _checkpoint_partitioned(
        indexed.join(member_map, on="account", how="inner")
        .select("cluster", "account", "t", "event_type", "device", "ip", "target")
        .repartition("cluster")
    )

    # --- shared infrastructure, at the grain of (member, device) and (member, ip, hour) ------
    on_device = (
        ev.filter(F.col("device").isNotNull())
        .groupBy("cluster", "account", "device")
        .agg(F.count(F.lit(1)).alias("_n"))
    )
    device_flags = (
        on_device.groupBy("cluster", "device")
        .agg(F.count(F.lit(1)).alias("_dev_members"))
        .join(device_usage(indexed), on="device", how="left")
        .select(
            "cluster",
            "device",
            (F.col("_dev_members") >= 2).alias("_shared"),
            single_use_device().alias("_single"),
        )
    )
    member_device = (
        on_device.join(device_flags, on=["cluster", "device"], how="inner")
        .groupBy("cluster", "account")
        .agg(
            F.sum(F.when(F.col("_shared"), F.col("_n")).otherwise(0)).alias("_dev_shared"),
            F.sum(F.when(F.col("_single"), F.col("_n")).otherwise(0)).alias("_dev_single"),
        )
    )
    on_ip = (
        ev.filter(F.col("ip").isNotNull())
        .groupBy("cluster", "account", "ip", hour_key().alias("_hour"))
        .agg(F.count(F.lit(1)).alias("_n"))
    )
    member_ip = (
        on_ip.withColumn(
            "_ip_members", F.count(F.lit(1)).over(Window.partitionBy("cluster", "ip", "_hour"))
        )
        .groupBy("cluster", "account")
        .agg(F.sum(F.when(F.col("_ip_members") >= 2, F.col("_n")).otherwise(0)).alias("_ip_shared"))
    )
    signup = F.col("event_type").isin(list(signup_types))
    member_base = ev.groupBy("cluster", "account").agg(
        F.count(F.lit(1)).alias("n_events"),
        F.min("t").alias("_first"),
        F.max("t").alias("_last"),
        F.min(F.when(signup, F.col("t"))).alias("_signup"),
    )

    # --- engagement: synchrony and exclusivity ---------------------------------------------
    on_target = Window.partitionBy("cluster", "target")
    window = whole_seconds(sync_window_s)
    # the members' engagement occasions (`community.evidence.engagement_occasions`): an
    # account's engagement of a target starts one where it is its first, or more than
    # OCCASION_GAP_WINDOWS windows (in whole seconds) after its previous one
    seconds = floor_div("t", US)
    previous = F.lag(seconds).over(Window.partitionBy("cluster", "target", "account").orderBy("t"))
    occasions = (
        ev.filter(is_engagement(engagement_types))
        .select("cluster", "target", "account", "t")
        .withColumn("_s", seconds)
        .withColumn("_prev", previous)
        .filter(
            F.col("_prev").isNull()
            | (F.col("_s") - F.col("_prev") > F.lit(OCCASION_GAP_WINDOWS * float(sync_window_s)))
        )
        .withColumn(
            "_members_on_target",
            F.sum(F.col("_prev").isNull().cast("long")).over(on_target),
        )
        .withColumn(
            "_together",
            F.count(F.lit(1)).over(on_target.orderBy("_s").rangeBetween(-window, window)) - 1,
        )
    )
    needed = F.greatest(
        F.lit(2.0), F.ceil(F.lit(float(sync_min_share)) * (F.col("_members_on_target") - 1))
    )
    # one row per (community, target, member): synchronized when any of its occasions was
    engage = occasions.groupBy("cluster", "target", "account").agg(
        F.first("_members_on_target").alias("_members_on_target"),
        F.max(F.col("_together") >= needed).alias("_synced"),
    )
    # exclusivity needs every account's engagements with the target: decided per (community,
    # target), the grain of the one table that meets the whole log's reach
    reach = (
        indexed.filter(is_engagement(engagement_types))
        .groupBy("target")
        .agg(F.countDistinct("account").alias("_target_accounts"))
    )
    targets = (
        engage.groupBy("cluster", "target")
        .agg(
            F.first("_members_on_target").alias("_k"),
            F.max(F.col("_synced").cast("int")).alias("_any_synced"),
        )
        .join(reach, on="target", how="inner")
        .select(
            "cluster",
            "target",
            "_any_synced",
            ((F.col("_k") >= 3) & (F.col("_k") / F.col("_target_accounts") >= 0.5)).alias(
                "_exclusive"
            ),
        )
        .repartition("cluster")
    )
    member_engage = (
        engage.join(targets.drop("_any_synced"), on=["cluster", "target"], how="inner")
        .groupBy("cluster", "account")
        .agg(
            F.count(F.lit(1)).alias("n_engaged_targets"),
            F.sum(F.col("_synced").cast("long")).alias("n_synced_targets"),
            F.sum(F.col("_exclusive").cast("long")).alias("_n_exclusive"),
        )
    )

    # --- per member ------------------------------------------------------------------------
    per_member = (
        member_base.join(member_device, on=["cluster", "account"], how="left")
        .join(member_ip, on=["cluster", "account"], how="left")
        .join(member_engage, on=["cluster", "account"], how="left")
        .fillna(0, subset=["_dev_shared", "_dev_single", "_ip_shared"])
        .fillna(0, subset=["n_engaged_targets", "n_synced_targets", "_n_exclusive"])
        .persist()
    )
    # every member has events (the account graph is built from them): the member rows are
    # the members table (a join back to the membership would meet its own columns again)
    members = per_member.select(
        "account",
        "cluster",
        "n_events",
        _ratio("_dev_shared", "n_events").alias("p_shared_device"),
        _ratio("_ip_shared", "n_events").alias("p_shared_ip"),
        _ratio("_dev_single", "n_events").alias("p_single_use_device"),
        "n_engaged_targets",
        "n_synced_targets",
        _ratio("n_synced_targets", "n_engaged_targets", 0.0).alias("p_sync"),
        _ratio("_n_exclusive", "n_engaged_targets", 0.0).alias("p_exclusive"),
    ).persist()

    # --- per community: one aggregate of the members, the distinct counts beside it ----------
    infra = per_member.groupBy("cluster").agg(
        F.count(F.lit(1)).alias("size"),
        F.sum("n_events").alias("n_events"),
        F.sum("_dev_shared").alias("_dev_shared"),
        F.sum("_ip_shared").alias("_ip_shared"),
        F.sum("_dev_single").alias("_dev_single"),
        F.min("_first").alias("first_us"),
        F.max("_last").alias("last_us"),
        F.sum("n_engaged_targets").alias("n_engagements"),
        F.sum("n_synced_targets").alias("_n_synced"),
        F.sum("_n_exclusive").alias("_n_exclusive"),
        share(F.col("n_synced_targets") >= LOCKSTEP_MIN_TARGETS).alias("lockstep_member_share"),
    )
    # distinct values per community: each a grouping inside the community's partition
    n_devices = device_flags.groupBy("cluster").agg(F.count(F.lit(1)).alias("n_devices"))
    n_ips = (
        on_ip.select("cluster", "ip")
        .distinct()
        .groupBy("cluster")
        .agg(F.count(F.lit(1)).alias("n_ips"))
    )
    n_targets = (
        ev.filter(F.col("target").isNotNull())
        .select("cluster", "target")
        .distinct()
        .groupBy("cluster")
        .agg(F.count(F.lit(1)).alias("n_targets"))
    )
    synced_targets = targets.groupBy("cluster").agg(
        F.sum("_any_synced").cast("long").alias("n_synced_targets")
    )
    clusters = (
        infra.join(n_devices, on="cluster", how="left")
        .join(n_ips, on="cluster", how="left")
        .join(n_targets, on="cluster", how="left")
        .join(synced_targets, on="cluster", how="left")
        .join(_creation_bursts(per_member, creation_burst_window_s), "cluster", "left")
        .join(_internal_structure(edges, member_map), on="cluster", how="left")
        .fillna(0, subset=["n_devices", "n_ips", "n_targets", "n_synced_targets"])
        .fillna(0, subset=["n_signups", "signup_burst_size"])
        .withColumn("shared_device_event_share", _ratio("_dev_shared", "n_events"))
        .withColumn("shared_ip_event_share", _ratio("_ip_shared", "n_events"))
        .withColumn("single_use_device_event_share", _ratio("_dev_single", "n_events"))
        .withColumn("sync_engagement_share", _ratio("_n_synced", "n_engagements", 0.0))
        .withColumn("target_exclusivity", _ratio("_n_exclusive", "n_engagements", 0.0))
        .withColumn("accounts_per_device", F.col("size") / F.greatest("n_devices", F.lit(1)))
        .withColumn("creation_burst_share", F.col("signup_burst_size") / F.col("size"))
    )
    hardware = F.col("device").isNotNull() | F.col("ip").isNotNull()
    measured = dense_evidence == "on" or (
        dense_evidence == "auto" and not indexed.filter(hardware).limit(1).count()
    )
    if measured:  # `community.blocks.dense_measured`
        block_clusters, block_members = _block_evidence(
            indexed, member_map, engagement_types, post_types
        )
        members = members.join(block_members, on="account", how="left")
        clusters = (
            clusters.join(block_clusters, on="cluster", how="left")
            .fillna(0, subset=list(COUNT_COLUMNS))
            .fillna(0.0, subset=[c for c in BLOCK_COLUMNS if c not in COUNT_COLUMNS])
        )
    else:
        members = members.withColumn("p_dense", F.lit(None).cast("double"))
        for name in BLOCK_COLUMNS:
            kind = "long" if name in COUNT_COLUMNS else "double"
            clusters = clusters.withColumn(name, F.lit(None).cast(kind))
    members = members.fillna(0.0, subset=["p_dense"])
    local = to_polars(clusters, cluster_schema).sort("cluster")
    # per_member stays cached (one row per member): the members table is made from it later
    return local, members


def _block_evidence(
    indexed: DataFrame,
    member_map: DataFrame,
    engagement_types: tuple[str, ...],
    post_types: tuple[str, ...],
) -> tuple[DataFrame, DataFrame]:
    """`community.blocks.block_evidence` as DataFrames: (clusters with `BLOCK_COLUMNS`,
    members with p_dense). A unit is an authored target's author or the target; ties of the
    strongest target break as the local engine's unit codes order (authors, larger first,
    then targets by text)."""
    engaged = engagements(indexed, engagement_types).select("account", "target")
    authors = (
        indexed.filter(F.col("event_type").isin(list(post_types)) & F.col("target").isNotNull())
        .groupBy("target")
        .agg(F.min("account").alias("_author"))
    )
    edges = (
        engaged.join(authors, on="target", how="left")
        .select(
            "account",
            F.col("_author"),
            F.when(F.col("_author").isNull(), F.col("target")).alias("_target"),
        )
        .withColumn(
            "unit",
            F.when(
                F.col("_author").isNotNull(), F.concat(F.lit("a:"), F.col("_author").cast("string"))
            ).otherwise(F.concat(F.lit("t:"), F.col("_target"))),
        )
        .distinct()
        .persist()
    )
    n_edges = float(max(edges.count(), 1))
    weight = pandas_udf(lambda d: pd.Series(log_weight(d.to_numpy())), "double")
    d_unit = (
        edges.groupBy("unit")
        .agg(F.count(F.lit(1)).cast("double").alias("dt"))
        .withColumn("w", weight(F.col("dt")))
    )
    c2, v3, v2 = d_unit.agg(
        F.sum(F.col("w") * F.col("dt") * F.col("dt")),
        F.sum(F.col("w") * F.col("w") * F.pow(F.col("dt"), 3)),
        F.sum(F.col("w") * F.col("w") * F.col("dt") * F.col("dt")),
    ).first()
    c2, v3, v2 = (float(x or 0.0) for x in (c2, v3, v2))
    d_acc = edges.groupBy("account").agg(F.count(F.lit(1)).cast("double").alias("da"))
    member_edges = edges.join(member_map, on="account", how="inner").join(d_acc, on="account")
    per_cluster = (
        member_edges.select("account", "cluster", "da")
        .distinct()
        .groupBy("cluster")
        .agg(F.sum("da").alias("D"), F.sum(F.col("da") * F.col("da")).alias("Q"))
    )
    e = n_edges
    lam = F.col("dt") * F.col("D") / F.lit(e)
    in_block = pandas_udf(
        lambda k, lam_, touched: pd.Series(
            block_members(k.to_numpy(), lam_.to_numpy(), touched.to_numpy())
        ),
        "boolean",
    )
    per_unit = (
        member_edges.groupBy("cluster", "unit", "_author", "_target")
        .agg(F.count(F.lit(1)).cast("double").alias("k"))
        .join(d_unit, on="unit")
        .join(per_cluster, on="cluster")
        .withColumn("lam", lam)
        .withColumn(
            "lam_out",
            (F.col("dt") - F.col("k")) * F.col("D") / F.greatest(F.lit(e) - F.col("D"), F.lit(1.0)),
        )
        .withColumn("s", F.col("dt") * F.col("dt") * F.col("Q") / F.lit(e * e))
        .withColumn("obs_t", F.col("w") * F.col("k") * (F.col("k") - 1) / 2)
        .withColumn("mean_t", F.col("w") * (F.col("lam") * F.col("lam") - F.col("s")) / 2)
        .withColumn(
            "var_t",
            F.col("w") * F.col("w") * (F.pow(F.col("lam"), 3) + F.col("lam") * F.col("lam") / 2),
        )
        .withColumn("_touched", F.count(F.lit(1)).over(Window.partitionBy("cluster")))
        .withColumn("excess_t", F.col("obs_t") - F.col("mean_t"))
    )
    per_unit = per_unit.withColumn("in_block", in_block("k", "lam_out", "_touched"))
    rank = Window.partitionBy("cluster").orderBy(
        F.desc("excess_t"), F.col("_author").isNull(), F.desc("_author"), F.asc("_target")
    )
    per_unit = (
        per_unit.withColumn("_top", F.row_number().over(rank) == 1)
        .withColumn("in_block", F.col("in_block") & ~F.col("_top"))
        .persist()
    )
    top = per_unit.filter(F.col("_top")).select(
        "cluster",
        F.col("obs_t").alias("_drop_obs"),
        F.col("mean_t").alias("_drop_mean"),
        F.col("var_t").alias("_drop_var"),
    )
    block = F.col("in_block")
    totals = per_unit.groupBy("cluster").agg(
        F.sum("obs_t").alias("_obs"),
        F.sum(F.when(block, F.col("dt")).otherwise(0.0)).alias("dense_block_reach"),
        F.sum(block.cast("long")).alias("dense_block_targets"),
        F.sum(F.when(block, F.col("k")).otherwise(0.0)).alias("dense_block_edges"),
        F.sum(F.when(block, F.greatest("lam_out", F.lit(1.0))).otherwise(0.0)).alias(
            "dense_block_expected"
        ),
    )
    clusters = (
        per_cluster.join(totals, on="cluster", how="left")
        .join(top, on="cluster", how="left")
        .fillna(0.0)
        .select(
            "cluster",
            F.round(F.greatest(F.col("_obs") - F.col("_drop_obs"), F.lit(0.0)), 6).alias(
                "dense_observed"
            ),
            F.round(
                F.greatest(
                    (F.col("D") * F.col("D") - F.col("Q")) * F.lit(c2 / (2 * e * e))
                    - F.col("_drop_mean"),
                    F.lit(1e-12),
                ),
                6,
            ).alias("dense_expected"),
            F.round(
                F.greatest(
                    F.pow(F.col("D"), 3) * F.lit(v3 / e**3)
                    + F.col("D") * F.col("D") * F.lit(v2 / (2 * e * e))
                    - F.col("_drop_var"),
                    F.lit(1e-12),
                ),
                6,
            ).alias("dense_expected_var"),
            F.col("dense_block_targets").cast("long"),
            F.col("dense_block_edges").cast("long"),
            F.round("dense_block_expected", 6).alias("dense_block_expected"),
            F.col("dense_block_reach").cast("long"),
        )
        .withColumnRenamed("dense_expected_var", "dense_variance")
    )
    members = (
        member_edges.join(per_unit.select("cluster", "unit", "in_block"), on=["cluster", "unit"])
        .groupBy("account")
        .agg(F.avg(F.col("in_block").cast("double")).alias("p_dense"))
    )
    return clusters, members


def _creation_bursts(per_member: DataFrame, window_s: float) -> DataFrame:
    """`community.evidence._creation_bursts`: n_signups and the densest burst per community,
    from each member's first signup (``_signup``)."""
    window = whole_seconds(window_s)
    signups = per_member.filter(F.col("_signup").isNotNull()).select(
        "cluster", floor_div("_signup", US).alias("_s")
    )
    ahead = Window.partitionBy("cluster").orderBy("_s").rangeBetween(0, window)
    return (
        signups.withColumn("_burst", F.count(F.lit(1)).over(ahead))
        .groupBy("cluster")
        .agg(F.count(F.lit(1)).alias("n_signups"), F.max("_burst").alias("signup_burst_size"))
    )


def _ratio(numerator: str, denominator: str, empty: float | None = None) -> Column:
    """``numerator / denominator`` as doubles (a share of counts: the mean of a 0/1 column,
    to the last bit), ``empty`` where the denominator is 0 or missing."""
    den = F.col(denominator)
    return F.when(den > 0, F.col(numerator).cast("double") / den.cast("double")).otherwise(
        F.lit(empty).cast("double")
    )


_ADAPTIVE = "spark.sql.adaptive.enabled"


def _checkpoint_partitioned(frame: DataFrame) -> DataFrame:
    """``frame.localCheckpoint()`` keeping its hash partitioning known to the plans that read
    it, so that their groupings, windows and joins by keys that start with the same key need
    no shuffle. Adaptive execution would coalesce the partitions and hide the partitioning, so
    it is off while the checkpoint is made (only for that job)."""
    conf = frame.sparkSession.conf
    before = conf.get(_ADAPTIVE, None)
    conf.set(_ADAPTIVE, "false")
    try:
        return frame.localCheckpoint(eager=True)
    finally:
        if before is None:
            conf.unset(_ADAPTIVE)
        else:
            conf.set(_ADAPTIVE, before)


#: membership tables up to this many rows are broadcast to the joins with events and edges
#: (12 bytes a row); larger ones are joined by shuffle
BROADCAST_MEMBERS_MAX = 10_000_000


def _join_side(member_map: DataFrame) -> DataFrame:
    """The membership table, marked for broadcast when it is small enough (one small job)."""
    return F.broadcast(member_map) if member_map.count() <= BROADCAST_MEMBERS_MAX else member_map


def _internal_structure(edges: DataFrame, member_map: DataFrame) -> DataFrame:
    """`community.evidence._internal_structure`: internal edges, density, weight share and the
    relation that carries most internal weight."""
    left = member_map.select(F.col("account").alias("src"), F.col("cluster").alias("_c_src"))
    right = member_map.select(F.col("account").alias("dst"), F.col("cluster").alias("_c_dst"))
    tagged = edges.join(left, on="src", how="left").join(right, on="dst", how="left")
    internal = tagged.filter(F.col("_c_src") == F.col("_c_dst"))
    sizes = member_map.groupBy("cluster").agg(F.count(F.lit(1)).alias("_size"))
    stats = internal.groupBy(F.col("_c_src").alias("cluster")).agg(
        F.count(F.lit(1)).alias("internal_edges"),
        F.sum("weight").alias("_w_in"),
        *[F.sum(F.log1p(f"{r}_weight")).alias(f"_{r}_w") for r in RELATIONS],
    )
    outward = [
        tagged.filter(
            F.col(mine).isNotNull() & (F.col(mine) != F.coalesce(F.col(other), F.lit(-1)))
        ).select(F.col(mine).alias("cluster"), "weight")
        for mine, other in (("_c_src", "_c_dst"), ("_c_dst", "_c_src"))
    ]
    boundary = (
        outward[0].unionAll(outward[1]).groupBy("cluster").agg(F.sum("weight").alias("_w_out"))
    )
    names = list(RELATIONS)
    total = F.col("_w_in") + F.col("_w_out")
    return (
        sizes.join(stats, on="cluster", how="left")
        .join(boundary, on="cluster", how="left")
        .fillna(0, subset=["internal_edges"])
        .fillna(0.0, subset=["_w_in", "_w_out", *[f"_{r}_w" for r in names]])
        .select(
            "cluster",
            "internal_edges",
            (2 * F.col("internal_edges") / (F.col("_size") * (F.col("_size") - 1))).alias(
                "internal_density"
            ),
            F.when(total == 0, F.lit(0.0))
            .otherwise(F.col("_w_in") / total)
            .alias("internal_weight_share"),
            first_of_max([F.col(f"_{r}_w") for r in names], names).alias("dominant_relation"),
        )
    )


def spark_evidence(stages: Any) -> tuple[pl.DataFrame, DataFrame]:
    """The evidence stage of the Spark engine, scored: ``(clusters, members)``.

    ``clusters`` is the local engine's ``Stages.clusters`` (`community_evidence` then
    `score_clusters`, a Polars frame, one row per community); ``members`` the members table
    as a Spark DataFrame (persisted: scores and features both read it).

    Args:
        stages: an `engine.SparkStages` (reads ``config``, ``indexed``, ``membership``,
            ``edges``).
    """
    from graphguard.pipeline.stages import sync_window_s

    config = stages.config
    clusters, members = community_evidence_spark(
        stages.indexed,
        stages.membership,
        stages.edges,
        engagement_types=tuple(config.graph.engagement_types),
        signup_types=tuple(config.scoring.signup_types),
        sync_window_s=sync_window_s(config),
        sync_min_share=config.scoring.sync_min_share,
        creation_burst_window_s=config.scoring.creation_burst_window_s,
        post_types=tuple(config.scoring.post_types),
        dense_evidence=config.scoring.dense_evidence,
    )
    from graphguard.spark.communities import spark_pre_split_communities

    parents = spark_pre_split_communities(stages.membership)
    parents = parents.with_columns(pl.col("cluster").cast(clusters.schema["cluster"]))
    clusters = clusters.join(parents, on="cluster", how="left", maintain_order="left")
    return score_clusters(clusters, config.scoring), members


def polars_to_spark(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    """A small Polars frame (one row per community) as a Spark DataFrame, through Arrow.
    Spark has no unsigned integers: they are widened to long first."""
    casts = {name: pl.Int64 for name, dtype in frame.schema.items() if dtype.is_unsigned_integer()}
    return spark.createDataFrame(frame.cast(casts).to_arrow())  # type: ignore[arg-type]
