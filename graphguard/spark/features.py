"""The account features of `graphguard.features.account` (`account_features`), as DataFrames.

One aggregation per account over its own events (with the per-event context of
`graphguard.graph.context`: gaps, device usage, accounts on the IP that hour), one over its hour
histogram, one over its engaged targets, its part in its community (the members table), its
degrees in the account graph and its community's evidence. Each column is its Polars twin's
expression written in Spark; the result is one Float32 row per account index, with the local
names, order and zero for what is undefined, so a model trained on either engine's features
scores the other's.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from graphguard.features.account import (
    CLUSTER_COLUMNS,
    EVENT_VOCABULARY,
    FEATURE_NAMES,
    NIGHT_HOURS,
    SHORT_GAP_S,
)
from graphguard.graph.context import DAY_US, HOUR_US, US
from graphguard.schema import RELATIONS
from graphguard.spark.evidence import (
    device_usage,
    floor_div,
    hour_key,
    is_engagement,
    polars_to_spark,
    share,
    single_use_device,
)

__all__ = ["spark_account_features", "spark_features"]


def _with_event_context(indexed: DataFrame) -> DataFrame:
    """`with_event_context`, `with_device_context` and `with_ip_hour_context` in one frame."""
    by_account = Window.partitionBy("account").orderBy("t")
    events = (
        indexed.withColumn("gap_s", (F.col("t") - F.lag("t").over(by_account)) / F.lit(US))
        .withColumn("hour", F.pmod(floor_div("t", HOUR_US), F.lit(24)))
        .withColumn("day", floor_div("t", DAY_US))
        .withColumn("_ip_hour", hour_key())
    )
    ip_hours = (
        indexed.filter(F.col("ip").isNotNull())
        .groupBy("ip", hour_key().alias("_ip_hour"))
        .agg(F.countDistinct("account").alias("_ip_hour_accounts"))
    )
    return (
        events.join(device_usage(indexed), on="device", how="left")
        .withColumn("_single_use_device", single_use_device())
        .join(ip_hours, on=["ip", "_ip_hour"], how="left")
    )


def _event_features(
    indexed: DataFrame,
    log_start_us: int,
    engagement_types: tuple[str, ...],
    signup_types: tuple[str, ...],
) -> list[DataFrame]:
    """`event_features`: per-account aggregations of its events, hours and engaged targets."""
    events = _with_event_context(indexed)
    gap = F.col("gap_s")
    days = F.countDistinct("day")
    n_devices = F.countDistinct("device")
    n_ips = F.countDistinct("ip")
    n = F.count(F.lit(1))
    gap_mean, gap_std = F.avg(gap), F.stddev_samp(gap)
    kind = F.col("event_type")
    per_account = events.groupBy("account").agg(
        # activity
        F.log1p(n).alias("log_events"),
        F.log1p(days).alias("log_active_days"),
        F.log1p(n / days).alias("log_events_per_active_day"),
        ((F.max("t") - F.min("t")) / F.lit(DAY_US)).alias("active_span_days"),
        # regularity (nulls, the first event's gap, are left out of every aggregate)
        F.coalesce(
            F.when(gap_mean > 0, gap_std / gap_mean).otherwise(F.lit(0.0)), F.lit(0.0)
        ).alias("gap_cv"),
        F.coalesce(share(gap < SHORT_GAP_S), F.lit(0.0)).alias("short_gap_share"),
        F.coalesce(F.log1p(F.percentile(gap, 0.5)), F.lit(0.0)).alias("log_median_gap_s"),
        share(F.col("hour").between(*NIGHT_HOURS)).alias("night_share"),
        # action mix
        *[share(kind == t).alias(f"share_{t}") for t in EVENT_VOCABULARY],
        share(~kind.isin(list(EVENT_VOCABULARY))).alias("share_other"),
        share(kind.isin(list(engagement_types))).alias("engagement_share"),
        # devices and IPs
        F.log1p(n_devices).alias("log_devices"),
        F.log1p(n_ips).alias("log_ips"),
        (n_devices / n).alias("devices_per_event"),
        (n_ips / n).alias("ips_per_event"),
        share(F.col("device").isNull()).alias("no_device_share"),
        share(F.coalesce(F.col("_dev_accounts"), F.lit(0)) >= 2).alias("shared_device_event_share"),
        F.log1p(F.coalesce(F.max("_dev_accounts"), F.lit(0))).alias("log_max_device_accounts"),
        share(F.col("_single_use_device")).alias("single_use_device_event_share"),
        share(F.coalesce(F.col("_ip_hour_accounts"), F.lit(0)) >= 2).alias(
            "shared_ip_hour_event_share"
        ),
        F.avg(F.log1p(F.coalesce(F.col("_ip_hour_accounts"), F.lit(1)))).alias(
            "log_mean_ip_hour_accounts"
        ),
        # age
        ((F.min("t") - F.lit(log_start_us)) / F.lit(DAY_US)).alias("first_seen_days"),
        F.max(kind.isin(list(signup_types)).cast("double")).alias("has_signup"),
    )
    # hour-of-day entropy in base 24 of the normalised histogram, as Polars' entropy
    hour_counts = (
        events.groupBy("account", "hour")
        .agg(F.count(F.lit(1)).alias("n_hour"))
        .withColumn("_p", F.col("n_hour") / F.sum("n_hour").over(Window.partitionBy("account")))
    )
    hours = hour_counts.groupBy("account").agg(
        (-F.sum(F.col("_p") * F.log(24.0, F.col("_p")))).alias("hour_entropy")
    )
    engaged = indexed.filter(is_engagement(engagement_types)).select("account", "target").distinct()
    reach = engaged.groupBy("target").agg(F.count(F.lit(1)).alias("_reach"))
    targets = (
        engaged.join(reach, on="target")
        .groupBy("account")
        .agg(
            F.log1p(F.count(F.lit(1))).alias("log_engaged_targets"),
            F.avg(F.log1p("_reach")).alias("log_mean_target_reach"),
        )
    )
    return [per_account, hours, targets]


def _participation_features(members: DataFrame) -> DataFrame:
    """`participation_features`: each member's own share in its community's coordination."""
    return members.select(
        "account",
        F.col("p_sync").cast("double").alias("sync_burst_share"),
        F.log1p(F.col("n_synced_targets").cast("double")).alias("log_sync_burst_targets"),
        F.col("p_shared_device").cast("double").alias("community_shared_device_share"),
        F.col("p_shared_ip").cast("double").alias("community_shared_ip_share"),
        F.col("p_exclusive").cast("double").alias("community_exclusive_target_share"),
    )


def _degree_features(edges: DataFrame) -> DataFrame:
    """`degree_features`: degree and weighted degree per relation and combined."""
    carried = ["weight", *[f"{r}_{s}" for r in RELATIONS for s in ("weight", "support")]]
    both_ways = edges.select(F.col("src").alias("account"), *carried).unionAll(
        edges.select(F.col("dst").alias("account"), *carried)
    )
    exprs: list[Column] = []
    for r in RELATIONS:
        exprs.append(
            F.log1p(F.sum((F.col(f"{r}_support") > 0).cast("long")).cast("double")).alias(
                f"log_degree_{r}"
            )
        )
        exprs.append(F.log1p(F.sum(f"{r}_weight")).alias(f"log_weighted_degree_{r}"))
    return both_ways.groupBy("account").agg(
        *exprs,
        F.log1p(F.count(F.lit(1)).cast("double")).alias("log_degree"),
        F.log1p(F.sum("weight")).alias("log_weighted_degree"),
    )


def _cluster_features(membership: DataFrame, clusters: DataFrame) -> DataFrame:
    """`cluster_features`: each member's community statistics."""
    stats = clusters.select(
        F.col("cluster").cast("long").alias("cluster"),
        F.lit(1.0).alias("in_cluster"),
        F.log1p(F.col("size").cast("double")).alias("log_cluster_size"),
        F.log1p(F.col("size") / F.greatest(F.col("n_devices"), F.lit(1))).alias(
            "log_cluster_accounts_per_device"
        ),
        *[F.col(c).cast("double").alias(f"cluster_{c}") for c in CLUSTER_COLUMNS],
    )
    return (
        membership.filter(F.col("cluster") >= 0)
        .select(F.col("account").cast("int").alias("account"), F.col("cluster").cast("long"))
        .join(F.broadcast(stats), on="cluster", how="inner")
        .drop("cluster")
    )


def _finite_float(name: str) -> Column:
    """The local engine's last step: non-finite and missing values are 0, then Float32."""
    value = F.col(name).cast("double")
    bad = value.isNull() | F.isnan(value) | (F.abs(value) == float("inf"))
    return F.when(bad, F.lit(0.0)).otherwise(value).cast("float").alias(name)


def spark_account_features(
    indexed: DataFrame,
    account_ids: DataFrame,
    edges: DataFrame,
    membership: DataFrame,
    clusters: DataFrame,
    members: DataFrame,
    *,
    engagement_types: tuple[str, ...],
    signup_types: tuple[str, ...],
) -> DataFrame:
    """`account_features` on Spark: ``account`` (int) and every `FEATURE_NAMES` column (float),
    one row per account index.

    Args:
        indexed, account_ids, edges, membership: the frames of `graphguard.spark`.
        clusters: the scored community evidence as a Spark DataFrame (small).
        members: `spark.evidence` members.
    """
    start = indexed.agg(F.min("t").alias("t")).collect()[0]["t"]
    parts: list[DataFrame] = []
    if start is not None:
        parts += _event_features(indexed, int(start), engagement_types, signup_types)
    parts += [
        _participation_features(members),
        _degree_features(edges),
        _cluster_features(membership, clusters),
    ]
    table = account_ids.select(F.col("account").cast("int").alias("account"))
    for part in parts:
        table = table.join(
            part.withColumn("account", F.col("account").cast("int")), on="account", how="left"
        )
    present = set(table.columns)
    return table.select(
        "account",
        *[
            _finite_float(name) if name in present else F.lit(0.0).cast("float").alias(name)
            for name in FEATURE_NAMES
        ],
    )


def spark_features(stages: Any, clusters: pl.DataFrame, members: DataFrame) -> DataFrame:
    """The features stage of the Spark engine (`Stages.features` of the local one).

    Args:
        stages: an `engine.SparkStages`.
        clusters: `spark_evidence`'s scored clusters (Polars).
        members: `spark_evidence`'s members (Spark).
    """
    config = stages.config
    return spark_account_features(
        stages.indexed,
        stages.account_ids,
        stages.edges,
        stages.membership,
        polars_to_spark(stages.spark, clusters),
        members,
        engagement_types=tuple(config.graph.engagement_types),
        signup_types=tuple(config.scoring.signup_types),
    )
