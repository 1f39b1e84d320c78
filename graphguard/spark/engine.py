"""The Spark engine's pipeline: `run_detection_spark`, the twin of
`graphguard.pipeline.detect.run_detection` (same arguments, same run directory).

Stages, each timed by the local engine's `StageTimer` (run.json ``stages``):
read (`read.read_events`), index and projections (`graph`), communities (`components` then
`communities`: Leiden per component on the executors), evidence, scoring, features and model
(the Spark scoring modules, called from `score_stages`), then the run's tables are collected to
the driver and written by `graphguard.rundir.write_run` through the local engine's
`publish_run` (`write_result`), so run.json and the files are laid out by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from graphguard import rundir, schema
from graphguard.campaigns import load_previous, track_campaigns
from graphguard.config import DetectConfig
from graphguard.io import load_labels
from graphguard.outputs import check_output
from graphguard.pipeline.stages import Progress, StageTimer
from graphguard.spark.communities import spark_communities, spark_dense_block_communities
from graphguard.spark.graph import account_graph, index_events
from graphguard.spark.read import read_events
from graphguard.spark.session import require_spark, spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from graphguard.config import ScoringConfig
    from graphguard.models.calibration import OperatingPoint
    from graphguard.models.detector import GraphSAGEDetector
    from graphguard.pipeline.detect import DetectionResult


@dataclass
class SparkStages:
    """What the Spark pipeline holds once communities are found (the frames of
    `graphguard.spark`'s docstring): the input of the scoring stages."""

    spark: SparkSession
    config: DetectConfig
    indexed: DataFrame
    account_ids: DataFrame
    edges: DataFrame
    membership: DataFrame
    n_accounts: int
    #: `leiden.parameters` plus the component counts, and the whole-graph modularity
    community: dict[str, Any] = field(default_factory=dict)
    modularity: float | None = None


def build_spark_stages(
    spark: SparkSession,
    events: DataFrame,
    config: DetectConfig,
    *,
    timer: StageTimer,
    progress: Progress | None = None,
) -> SparkStages:
    """Validated events (`read.read_events`) -> index -> projections -> communities."""
    with timer.stage("index", progress):
        indexed, account_ids, n_accounts = index_events(events)
        # each stage's result is checkpointed (executor storage): later plans start from it,
        # not from its whole lineage (plans that nest the projections' windows several times
        # cost the driver more memory than the data)
        indexed = indexed.localCheckpoint(eager=True)
    with timer.stage("projections", progress):
        edges = account_graph(indexed, config.graph, config.spark.salt_above)
        edges = edges.localCheckpoint(eager=True)
    with timer.stage("communities", progress):
        on_hardware = F.col("device").isNotNull() | F.col("ip").isNotNull()

        def hardware() -> bool:
            return bool(indexed.filter(on_hardware).limit(1).count())

        membership, params, quality = spark_communities(
            edges, config.community, config.spark, hardware
        )
        membership, params = spark_dense_block_communities(
            membership,
            params,
            indexed,
            n_accounts,
            config.community,
            config.graph.engagement_types,
            hardware,
        )
        membership = membership.localCheckpoint(eager=True)
    return SparkStages(
        spark, config, indexed, account_ids, edges, membership, n_accounts, params, quality
    )


def score_stages(
    stages: SparkStages,
    *,
    model: GraphSAGEDetector | None = None,
    labels: pl.DataFrame | None = None,
    timer: StageTimer,
    progress: Progress | None = None,
):
    """Evidence, scores (and the model's, fused), then the run's tables: the Spark scoring
    modules' `spark_evidence`, `spark_scores`, `spark_features`, `spark_model_scores`,
    `spark_fuse_scores` and `spark_finish`, flagging at the run's operating point
    (`spark_operating_point`). Returns ``(scoring.SparkRunTables, OperatingPoint)``."""
    from graphguard.spark.evidence import polars_to_spark, spark_evidence
    from graphguard.spark.scoring import spark_finish, spark_fuse_scores, spark_scores

    with timer.stage("evidence", progress):
        clusters, members = spark_evidence(stages)
    with timer.stage("scoring", progress):
        accounts = spark_scores(stages, clusters, members).persist()
    if model is not None:
        from graphguard.pipeline.fusion import unseen_classes
        from graphguard.spark.features import spark_features
        from graphguard.spark.model import spark_model_scores

        with timer.stage("features", progress):
            features = spark_features(stages, clusters, members).persist()
        with timer.stage("model", progress):
            proba = spark_model_scores(stages, features, model)
            accounts = spark_fuse_scores(
                accounts, proba, stages.config.scoring, unseen=unseen_classes(model)
            ).persist()
    with timer.stage("clusters", progress):
        point = spark_operating_point(stages.config.scoring, accounts, clusters, model)
        accounts = spark_flag_accounts(stages.spark, accounts, clusters, point)
        known = None if labels is None else polars_to_spark(stages.spark, labels)
        tables = spark_finish(stages, clusters, accounts, labels=known)
    return tables, point


def spark_operating_point(
    scoring: ScoringConfig,
    accounts: DataFrame,
    clusters: pl.DataFrame,
    model: GraphSAGEDetector | None = None,
) -> OperatingPoint:
    """The run's flag threshold (`pipeline.operating.resolve_operating_point`, the local code,
    which decides): from the model's stored validation scores and every account's evidence and
    model risk (the ``log`` estimator), or from the null model over every account's community
    and risk: two columns per account come to the driver, a small part of what the run
    collects for accounts.parquet anyway."""
    from graphguard.pipeline.operating import LOG_COLUMNS, resolve_operating_point

    if model is None:
        table = pl.from_arrow(accounts.select("cluster_id", "risk").toArrow())
    elif all(c in accounts.columns for c in LOG_COLUMNS) and scoring.fusion == "noisy_or":
        table = pl.from_arrow(accounts.select(*LOG_COLUMNS).toArrow())
    else:
        table = None
    return resolve_operating_point(scoring, model=model, accounts=table, clusters=clusters)


def spark_flag_accounts(
    spark: SparkSession, accounts: DataFrame, clusters: pl.DataFrame, point: OperatingPoint
) -> DataFrame:
    """``accounts`` with ``flagged``: `pipeline.operating.flag_accounts`'s rule, risk at or
    above the point's threshold and, with a ``q_gate``, the community's ``evidence_q`` at most
    it (the passing communities, one row each from the collected clusters table, broadcast)."""
    from graphguard.spark.evidence import polars_to_spark

    risky = F.col("risk") >= F.lit(float(point.threshold))
    if point.q_gate is None:
        return accounts.withColumn("flagged", risky)
    passing = clusters.filter(pl.col("evidence_q") <= point.q_gate).select(
        pl.col("cluster").cast(pl.Int64).alias("_gate_cluster")
    )
    if passing.height == 0:
        return accounts.withColumn("flagged", F.lit(False))
    gate = F.broadcast(polars_to_spark(spark, passing))
    return (
        accounts.join(gate, accounts["cluster_id"] == gate["_gate_cluster"], "left")
        .withColumn("flagged", risky & F.col("_gate_cluster").isNotNull())
        .drop("_gate_cluster")
    )


def _collect(frame: DataFrame, name: str) -> pl.DataFrame:
    from graphguard.spark.scoring import collect_table

    return collect_table(frame, name)


def run_detection_spark(
    events_path: str | Path,
    out_dir: str | Path,
    config: DetectConfig | None = None,
    *,
    labels_path: str | Path | None = None,
    model: GraphSAGEDetector | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    extra_files: Mapping[str, rundir.Renderer] | None = None,
    previous: str | Path | None = None,
) -> DetectionResult:
    """`run_detection` on Spark: read ``events_path``, detect, write ``out_dir`` (all of it or
    nothing). The session comes from ``config.spark`` (or is the one already running, under
    spark-submit); a session started here is stopped before returning."""
    from graphguard.pipeline.detect import DetectionResult, publish_run

    config = config or DetectConfig()
    scoring = config.scoring
    if scoring.target_precision is not None or (
        model is not None and scoring.target_fpr is not None
    ):
        # what needs no data is refused before any work, as the local code would refuse it
        # after the scores: a target precision without a model's labels, a target with a model
        # that kept no validation scores
        from graphguard.pipeline.operating import resolve_operating_point

        resolve_operating_point(scoring, model=model)
    require_spark()
    check_output(out_dir, inputs=(events_path, labels_path, previous), overwrite=overwrite)
    prior = None if previous is None else load_previous(previous)
    timer = StageTimer()
    with spark_session(config.spark) as spark:
        with timer.stage("read", progress):
            events, rejected, ingest = read_events(spark, events_path, config.data)
        labels = label_stats = None
        if labels_path is not None:
            with timer.stage("labels", progress):
                known = events.select(schema.ACCOUNT).distinct().toArrow()
                labels, label_stats = load_labels(
                    labels_path, known_accounts=pl.from_arrow(known).to_series()
                )
        stages = build_spark_stages(spark, events, config, timer=timer, progress=progress)
        tables, point = score_stages(
            stages, model=model, labels=labels, timer=timer, progress=progress
        )
        with timer.stage("collect", progress):
            accounts = _collect(tables.accounts, rundir.ACCOUNTS_FILE)
            account_edges = _collect(tables.account_edges, rundir.ACCOUNT_EDGES_FILE)
            entity_edges = _collect(tables.entity_edges, rundir.ENTITY_EDGES_FILE)
            activity = _collect(tables.cluster_activity, rundir.ACTIVITY_FILE)
            warnings = spark_input_warnings(stages)
    with timer.stage("campaigns", progress):
        # one row per clustered account and per cluster, on the driver: the local matching
        campaigns = track_campaigns(accounts, tables.clusters, entity_edges, prior)
    community = dict(stages.community)
    community["engine"] = "spark"
    community["modularity"] = stages.modularity
    community["n_communities"] = int(tables.clusters.height)
    result = DetectionResult(
        accounts=campaigns.accounts,
        clusters=campaigns.clusters,
        account_edges=account_edges,
        entity_edges=entity_edges,
        cluster_activity=activity,
        community=community,
        config=config,
        timer=timer,
        ingest=ingest,
        rejected=rejected,
        label_stats=label_stats,
        model=None if model is None else _model_summary(model),
        warnings=warnings,
        campaigns=campaigns.section,
        operating_point=point.to_dict(),
    )
    return publish_run(
        result,
        out_dir,
        overwrite=overwrite,
        events_path=events_path,
        labels_path=labels_path,
        extra_files=extra_files,
        progress=progress,
    )


def _model_summary(model: GraphSAGEDetector) -> dict[str, Any]:
    from graphguard.pipeline.fusion import model_summary

    return model_summary(model)


def spark_input_warnings(stages: SparkStages) -> list[str]:
    """`graphguard.pipeline.stages.input_warnings` of the indexed events: the local rule, on
    the same `event_summary` (one row per event type and whether it has a target) built in
    DataFrames."""
    from graphguard.pipeline.stages import summary_warnings

    rows = (
        stages.indexed.groupBy("event_type", F.col("target").isNotNull().alias("has_target"))
        .agg(F.count("*").alias("n"))
        .collect()
    )
    summary = pl.DataFrame(
        [(r["event_type"], r["has_target"], r["n"]) for r in rows],
        schema={"event_type": pl.String, "has_target": pl.Boolean, "n": pl.UInt32},
        orient="row",
    )
    return summary_warnings(summary, stages.config)
