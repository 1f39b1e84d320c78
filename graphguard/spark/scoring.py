"""Account risk, cluster labels, the run's tables and model fusion on Spark.

The twins of `graphguard.community.scoring.score_accounts` and `label_clusters`, of what
`graphguard.pipeline.detect.detect` does after them (contract columns, the evidence in words,
the subgraph tables) and of `graphguard.pipeline.fusion.fuse_scores`. Per-account work stays in
DataFrames; what is one row per community (labels, the evidence in words) is collected and put
through the local engine's own functions. Every formula is written in the same order of
floating-point operations as its Polars twin, so the scores are the same to the last bit
wherever the inputs are (means over a community's members add in another order: 1e-15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from graphguard import rundir, schema
from graphguard.community.evidence import LOCKSTEP_MIN_TARGETS
from graphguard.config import FUSIONS, DetectConfig, ScoringConfig
from graphguard.graph.context import HOUR_US
from graphguard.schema import RELATIONS
from graphguard.scores import predicted_label
from graphguard.spark.evidence import first_of_max, floor_div, polars_to_spark, to_polars

__all__ = [
    "SparkRunTables",
    "FILE_ORDER",
    "collect_table",
    "contract",
    "account_base",
    "spark_finish",
    "spark_fuse_scores",
    "spark_label_clusters",
    "spark_score_accounts",
    "spark_scores",
]


def _clip01(column: Column) -> Column:
    """Polars' ``clip(0.0, 1.0)``."""
    return F.least(F.greatest(column, F.lit(0.0)), F.lit(1.0))


def _noisy_or(a: Column, b: Column) -> Column:
    """`graphguard.scores.noisy_or` of two parts, in its order of operations."""
    return F.lit(1.0) - (F.lit(1.0) - a) * (F.lit(1.0) - b)


def _predicted_label() -> Column:
    """`graphguard.scores.predicted_label`."""
    return first_of_max([F.col(c) for c in schema.SCORE_COLUMNS], list(schema.LABELS))


def account_base(account_ids: DataFrame, membership: DataFrame) -> DataFrame:
    """Every account index with its id and cluster (-1: none): the base of `score_accounts`."""
    clusters = membership.select(
        F.col("account").cast("int").alias("account"), F.col("cluster").cast("long")
    )
    return (
        account_ids.select(
            F.col("account").cast("int").alias("account"),
            F.col("account_id").alias(schema.ACCOUNT),
        )
        .join(clusters, on="account", how="left")
        .withColumn("cluster", F.coalesce(F.col("cluster"), F.lit(-1).cast("long")))
    )


def spark_score_accounts(
    base: DataFrame,
    members: DataFrame,
    clusters: DataFrame,
    cfg: ScoringConfig,
) -> DataFrame:
    """`score_accounts` on Spark: the same columns, one row per account.

    Args:
        base: `account_base` (account, account_id, cluster).
        members: `spark.evidence` members.
        clusters: the scored clusters (cluster, behaviour_score, infrastructure_score,
            bot_likeness) as a Spark DataFrame (small: broadcast).
    """
    saturation = float(cfg.participation_saturation)

    def part(column: str) -> Column:
        return _clip01(F.coalesce(F.col(column), F.lit(0.0)) / F.lit(saturation))

    synced = F.coalesce(F.col("n_synced_targets"), F.lit(0)).cast("long")
    repeated = _clip01((synced - F.lit(LOCKSTEP_MIN_TARGETS - 2)) / F.lit(4))
    sync_part = F.greatest(part("p_sync"), repeated)
    scores = F.broadcast(
        clusters.select(
            "cluster", "behaviour_score", "infrastructure_score", "dense_score", "bot_likeness"
        )
    )
    table = (
        base.join(members.drop("cluster"), on="account", how="left")
        .join(scores, on="cluster", how="left")
        .fillna(
            0.0, subset=["behaviour_score", "infrastructure_score", "dense_score", "bot_likeness"]
        )
        .withColumn(
            "participation",
            F.coalesce(F.greatest("p_shared_device", "p_sync"), F.lit(0.0)),
        )
        .withColumn("behaviour_part", F.col("behaviour_score") * sync_part)
        .withColumn(
            "infrastructure_part",
            F.col("infrastructure_score")
            * F.greatest(part("p_shared_device"), part("p_shared_ip")),
        )
        .withColumn("dense_part", F.col("dense_score") * part("p_dense"))
        .withColumn("n_synced_targets", F.coalesce(F.col("n_synced_targets"), F.lit(0)))
        .withColumn(
            "risk",
            _clip01(
                _noisy_or(
                    _noisy_or(F.col("behaviour_part"), F.col("infrastructure_part")),
                    F.col("dense_part"),
                )
            ),
        )
        .withColumn("score_benign", F.lit(1.0) - F.col("risk"))
        .withColumn("score_bot_ring", F.col("risk") * F.col("bot_likeness"))
        .withColumn("score_fake_engagement", F.col("risk") * (F.lit(1.0) - F.col("bot_likeness")))
    )
    return (
        table.withColumn(
            "cluster_id",
            F.when(F.col("cluster") >= 0, F.col("cluster")).cast("long"),
        )
        .withColumn("predicted_label", _predicted_label())
        .withColumn("flagged", F.col("risk") >= F.lit(float(cfg.risk_threshold)))
    )


def spark_scores(stages: Any, clusters: pl.DataFrame, members: DataFrame) -> DataFrame:
    """The scoring stage of the Spark engine: `score_accounts` of every account.

    Args:
        stages: an `engine.SparkStages` (``spark``, ``config``, ``account_ids``,
            ``membership``).
        clusters: `spark_evidence`'s scored clusters (Polars).
        members: `spark_evidence`'s members (Spark).
    """
    return spark_score_accounts(
        account_base(stages.account_ids, stages.membership),
        members,
        polars_to_spark(stages.spark, clusters),
        stages.config.scoring,
    )


def spark_label_clusters(clusters: pl.DataFrame, accounts: DataFrame) -> pl.DataFrame:
    """`label_clusters`: the members' mean scores are taken in Spark, one row per community
    comes back, and the label is the local engine's own `predicted_label`."""
    means = to_polars(
        accounts.filter(F.col("cluster_id").isNotNull())
        .groupBy("cluster_id")
        .agg(
            *[F.avg(c).alias(c) for c in schema.SCORE_COLUMNS],
            F.sum(F.col("flagged").cast("long")).alias("n_flagged"),
            F.avg("risk").alias("mean_risk"),
        )
    )
    if means.height == 0:
        means = pl.DataFrame(
            schema={
                "cluster_id": pl.Int64,
                **{c: pl.Float64 for c in schema.SCORE_COLUMNS},
                "n_flagged": pl.UInt32,
                "mean_risk": pl.Float64,
            }
        )
    means = means.with_columns(
        pl.col("cluster_id").cast(pl.Int64), pl.col("n_flagged").cast(pl.UInt32)
    )
    return clusters.join(
        means.with_columns(predicted_label().alias("predicted_label")).select(
            "cluster_id", "predicted_label", "n_flagged", "mean_risk"
        ),
        left_on="cluster",
        right_on="cluster_id",
        how="left",
    )


def spark_fuse_scores(
    accounts: DataFrame,
    proba: DataFrame,
    scoring: ScoringConfig,
    *,
    unseen: tuple[str, ...] = (),
) -> DataFrame:
    """`graphguard.pipeline.fusion.fuse_scores` on Spark.

    Args:
        accounts: `spark_score_accounts` output.
        proba: account, then the model's probabilities as `schema.SCORE_COLUMNS` (double), one
            row per account (`spark.model.spark_model_scores`).
    """
    if scoring.fusion not in FUSIONS:
        raise ValueError(f"scoring.fusion must be one of {', '.join(FUSIONS)}")
    p = proba.select(
        F.col("account").cast("int").alias("account"),
        *[F.col(c).cast("double").alias(f"_p_{c}") for c in schema.SCORE_COLUMNS],
    )
    benign, bot, fake = (F.col(f"_p_{c}") for c in schema.SCORE_COLUMNS)
    table = accounts.join(p, on="account", how="left")
    if unseen:
        # as fuse_scores: inside a community the evidence says which kind of abuse
        likeness = F.coalesce(F.col("bot_likeness"), F.lit(0.5))
        abuse = bot + fake
        own = F.when(abuse > 0, bot / abuse).otherwise(F.lit(0.5))
        split = F.when(F.col("cluster_id").isNotNull(), likeness).otherwise(own)
        table = table.withColumn("_split", split).withColumn("_abuse", abuse)
        bot = F.col("_abuse") * F.col("_split")
        fake = F.col("_abuse") * (F.lit(1.0) - F.col("_split"))
    evidence = _clip01(F.coalesce(F.col("risk"), F.lit(0.0)))
    table = table.withColumn("evidence_risk", evidence).withColumn(
        "model_risk", F.lit(1.0) - benign
    )
    if scoring.fusion == "noisy_or":
        likeness = F.coalesce(F.col("bot_likeness"), F.lit(0.5))
        moved = benign * F.col("evidence_risk")
        new = {
            "score_benign": benign - moved,
            "score_bot_ring": bot + moved * likeness,
            "score_fake_engagement": fake + moved * (F.lit(1.0) - likeness),
        }
    else:
        new = {"score_benign": benign, "score_bot_ring": bot, "score_fake_engagement": fake}
    table = table.withColumns(new)
    return (
        table.withColumn("risk", _clip01(F.lit(1.0) - F.col("score_benign")))
        .withColumn("predicted_label", _predicted_label())
        .withColumn("flagged", F.col("risk") >= F.lit(float(scoring.risk_threshold)))
        .drop("_split", "_abuse", *[f"_p_{c}" for c in schema.SCORE_COLUMNS])
    )


# --------------------------------------------------------------------------------------------
# The run's tables (what detect does after scoring)


@dataclass
class SparkRunTables:
    """The tables of a run directory, as the Spark engine computes them.

    ``clusters`` is collected (one row per community: `rundir.CLUSTER_COLUMNS` first, most
    suspicious first, exactly the local table); the others are Spark DataFrames with the
    contract's columns in order, in no row order (`collect_table` sorts them), where Spark's
    long stands for the contract's UInt32 and its timestamp for Datetime(us, UTC): the writer
    casts to the `rundir` dtypes (`contract`).
    """

    accounts: DataFrame
    clusters: pl.DataFrame
    account_edges: DataFrame
    entity_edges: DataFrame
    cluster_activity: DataFrame


def _epoch_us_to_timestamp(column: Column) -> Column:
    return F.timestamp_micros(column)


def spark_finish(
    stages: Any,
    clusters: pl.DataFrame,
    accounts: DataFrame,
    *,
    labels: DataFrame | None = None,
) -> SparkRunTables:
    """Everything `detect` does after the scores, on Spark: cluster labels and the evidence in
    words (`detect.finish_clusters`, the local code), the accounts table's contract columns,
    and the subgraph tables (account edges touching a community, the members' entity edges,
    the communities' hourly activity).

    Args:
        stages: an `engine.SparkStages`.
        clusters: `spark_evidence`'s scored clusters.
        accounts: `spark_scores` (or `spark_fuse_scores`) output.
        labels: account_id, label (known labels given to detect), or None.
    """
    from graphguard.pipeline.detect import finish_clusters

    config: DetectConfig = stages.config
    finished = finish_clusters(spark_label_clusters(clusters, accounts), config)
    if labels is not None:
        accounts = accounts.join(
            labels.select(F.col(schema.ACCOUNT), F.col(schema.LABEL).alias(rundir.KNOWN_LABEL)),
            on=schema.ACCOUNT,
            how="left",
        )
    names = [c.name for c in rundir.ACCOUNT_COLUMNS if c.name in accounts.columns]
    final_accounts = (
        accounts.fillna(0.0, subset=list(rundir.PARTICIPATION_COLUMNS))
        .fillna(0, subset=["n_events"])
        .select(*names)
    )
    lookup = stages.account_ids.select(
        F.col("account").cast("int").alias("account"), F.col("account_id").alias("id")
    )
    clustered = stages.membership.filter(F.col("cluster") >= 0).select(
        F.col("account").cast("int").alias("account"), F.col("cluster").cast("long")
    )
    return SparkRunTables(
        accounts=final_accounts,
        clusters=finished,
        account_edges=_account_edges(stages.edges, clustered, lookup),
        entity_edges=_entity_edges(stages.indexed, clustered, lookup),
        cluster_activity=_cluster_activity(stages.indexed, clustered),
    )


def _account_edges(edges: DataFrame, clustered: DataFrame, lookup: DataFrame) -> DataFrame:
    """The account graph's edges with an end in a community, by account id."""
    ends = clustered.select("account")
    touching = edges.join(
        ends.select(F.col("account").alias("src")), on="src", how="left_semi"
    ).unionByName(edges.join(ends.select(F.col("account").alias("dst")), on="dst", how="left_semi"))
    touching = touching.dropDuplicates(["src", "dst"])
    rest = [c for c in edges.columns if c not in ("src", "dst")]
    return (
        touching.join(
            lookup.select(F.col("account").alias("src"), F.col("id").alias("src_id")), "src"
        )
        .join(lookup.select(F.col("account").alias("dst"), F.col("id").alias("dst_id")), "dst")
        .select("src_id", "dst_id", *rest)
    )


def _entity_edges(indexed: DataFrame, clustered: DataFrame, lookup: DataFrame) -> DataFrame:
    """`graphguard.graph.build.entity_edges` of the community members, by account id."""
    member_events = indexed.join(clustered.select("account"), on="account", how="left_semi")
    parts = [
        member_events.filter(F.col(kind).isNotNull())
        .groupBy("account", F.col(kind).alias("entity"))
        .agg(
            F.count(F.lit(1)).alias("n_events"),
            F.min("t").alias("first_us"),
            F.max("t").alias("last_us"),
        )
        .withColumn("kind", F.lit(kind))
        for kind in schema.ENTITY_KINDS
    ]
    edges = parts[0]
    for part in parts[1:]:
        edges = edges.unionByName(part)
    return edges.join(lookup, on="account").select(
        F.col("id").alias(schema.ACCOUNT),
        "kind",
        "entity",
        "n_events",
        _epoch_us_to_timestamp(F.col("first_us")).alias("first_seen"),
        _epoch_us_to_timestamp(F.col("last_us")).alias("last_seen"),
    )


def _cluster_activity(indexed: DataFrame, clustered: DataFrame) -> DataFrame:
    """`detect._cluster_activity`: events and accounts per community, hour and event type."""
    return (
        indexed.join(clustered, on="account")
        .withColumn("_hour", floor_div("t", HOUR_US))
        .groupBy(F.col("cluster").alias("cluster_id"), "_hour", "event_type")
        .agg(
            F.count(F.lit(1)).alias("n_events"),
            F.countDistinct("account").alias("n_accounts"),
        )
        .select(
            "cluster_id",
            _epoch_us_to_timestamp(F.col("_hour") * F.lit(HOUR_US)).alias("hour"),
            "event_type",
            "n_events",
            "n_accounts",
        )
    )


#: the row order of each run file the Spark engine collects: the local engine's order (by
#: account index, which is the order of the account ids, then the table's own keys; every key
#: is unique, so the order is total). The tables are sorted on the driver once collected,
#: not by a global sort in Spark (a sampling job and a range shuffle per table).
FILE_ORDER: dict[str, tuple[str, ...]] = {
    rundir.ACCOUNTS_FILE: (schema.ACCOUNT,),
    rundir.ACCOUNT_EDGES_FILE: ("src_id", "dst_id"),
    rundir.ENTITY_EDGES_FILE: (schema.ACCOUNT, "kind", "first_seen", "entity"),
    rundir.ACTIVITY_FILE: ("cluster_id", "hour", "event_type"),
}


def collect_table(frame: DataFrame, name: str) -> pl.DataFrame:
    """One of `SparkRunTables`' Spark tables, collected through Arrow, in the run file
    ``name``'s row order (`FILE_ORDER`) and dtypes (`contract`)."""
    collected = to_polars(frame).sort(list(FILE_ORDER[name]))
    return contract(collected, name)


def contract(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """A collected table of the Spark engine in the dtypes of the local engine's run file
    ``name``: the `rundir` declaration (long -> UInt32, timestamps -> Datetime(us, UTC)), and
    for the account edges the relation supports as the account graph holds them (UInt32)."""
    declared: dict[str, pl.DataType] = {c.name: c.dtype for c in rundir.TABLES[name]}
    if name == rundir.ACCOUNT_EDGES_FILE:
        declared.update({f"{r}_support": pl.UInt32() for r in RELATIONS})
        declared.update({f"{r}_weight": pl.Float64() for r in RELATIONS})
    return frame.with_columns(pl.col(n).cast(declared[n]) for n in frame.columns if n in declared)
