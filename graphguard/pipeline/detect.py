"""The detection pipeline: events -> graphs -> communities -> evidence -> scores -> run directory.

`detect` works on a validated frame and returns values; `run_detection` adds reading and writing.
Neither knows about Hydra or the terminal: progress goes to an optional callback.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import psutil

from graphguard import __version__, schema
from graphguard.community.evidence import community_evidence
from graphguard.community.leiden import Partition, leiden
from graphguard.community.scoring import label_clusters, score_accounts, score_clusters
from graphguard.config import DetectConfig, to_dict
from graphguard.features.account import account_features
from graphguard.pipeline.fusion import (
    MODEL_COLUMNS,
    fuse_scores,
    model_inputs,
    model_summary,
    unseen_classes,
)
from graphguard.graph.build import AccountGraph, build_account_graph, entity_edges, index_events
from graphguard.io import (
    IngestReport,
    atomic_directory,
    load_events,
    load_labels,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

if TYPE_CHECKING:
    from graphguard.models.detector import GraphSAGEDetector

Progress = Callable[[str], None]

#: an account's own part in its community's coordination (0 for accounts in no community)
PARTICIPATION_COLUMNS = (
    "participation",
    "p_shared_device",
    "p_shared_ip",
    "p_sync",
    "p_exclusive",
    "p_single_use_device",
)
ACCOUNT_COLUMNS = (
    schema.ACCOUNT,
    "cluster_id",
    *schema.SCORE_COLUMNS,
    "risk",
    "predicted_label",
    "flagged",
    *PARTICIPATION_COLUMNS,
    "n_events",
)


@dataclass
class StageTimer:
    """Wall time, resident memory and the process's peak memory after each stage."""

    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, progress: Progress | None = None) -> Iterator[None]:
        if progress:
            progress(name)
        start = time.perf_counter()
        yield
        rss = psutil.Process().memory_info().rss
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.stages[name] = {
            "seconds": round(time.perf_counter() - start, 4),
            "rss_mib": round(rss / 2**20, 1),
            "peak_rss_mib": round(peak_kib / 1024, 1),
        }

    def seconds(self) -> dict[str, float]:
        return {k: v["seconds"] for k, v in self.stages.items()}


@dataclass
class DetectionResult:
    """Everything a run produces; `write_run` lays it out on disk."""

    accounts: pl.DataFrame
    clusters: pl.DataFrame
    account_edges: pl.DataFrame
    entity_edges: pl.DataFrame
    cluster_activity: pl.DataFrame
    community: dict[str, Any]
    config: DetectConfig
    timer: StageTimer
    ingest: IngestReport | None = None
    rejected: pl.DataFrame | None = None
    label_stats: dict[str, int] | None = None
    #: the supervised model that scored the accounts (`model_summary`), None without one
    model: dict[str, Any] | None = None


@dataclass
class Stages:
    """What the pipeline holds once communities are scored: the input of every later step.

    ``indexed`` are the events with integer account/entity indices (`index_events`),
    ``account_ids`` maps an account index to its id, ``graph`` is the account graph,
    ``partition`` the Leiden communities, ``clusters`` their scored evidence (column
    ``cluster``) and ``members`` each member's participation.
    """

    indexed: pl.DataFrame
    account_ids: pl.Series
    graph: AccountGraph
    partition: Partition
    clusters: pl.DataFrame
    members: pl.DataFrame
    config: DetectConfig

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    def features(self) -> pl.DataFrame:
        """`account_features` of every account index (one row each, sorted)."""
        return account_features(
            self.indexed,
            self.n_accounts,
            self.graph.edges,
            self.partition.membership,
            self.clusters,
            self.members,
            engagement_types=self.config.graph.engagement_types,
            signup_types=self.config.scoring.signup_types,
        )


def build_stages(
    events: pl.DataFrame,
    config: DetectConfig | None = None,
    *,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
) -> Stages:
    """Validated events -> index -> projections -> Leiden -> community evidence, scored."""
    config = config or DetectConfig()
    timer = timer or StageTimer()
    with timer.stage("index", progress):
        indexed, account_ids = index_events(events)
        n_accounts = len(account_ids)
    with timer.stage("projections", progress):
        graph = build_account_graph(indexed, n_accounts, config.graph)
    with timer.stage("communities", progress):
        partition = leiden(n_accounts, graph.edges, config.community)
    sync_window_s = config.graph.sync.max_gap_s or 600.0
    with timer.stage("evidence", progress):
        clusters, members = community_evidence(
            indexed,
            partition.membership,
            graph.edges,
            engagement_types=config.graph.engagement_types,
            signup_types=config.scoring.signup_types,
            sync_window_s=sync_window_s,
            sync_min_share=config.scoring.sync_min_share,
            creation_burst_window_s=config.scoring.creation_burst_window_s,
        )
        clusters = score_clusters(clusters, sync_window_s=sync_window_s, cfg=config.scoring)
    return Stages(indexed, account_ids, graph, partition, clusters, members, config)


def detect(
    events: pl.DataFrame,
    config: DetectConfig | None = None,
    *,
    labels: pl.DataFrame | None = None,
    model: GraphSAGEDetector | None = None,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
) -> DetectionResult:
    """Find and score coordinated communities in validated events (`schema.EVENT_SCHEMA`).

    Without ``model`` the class scores come from the community evidence alone. With a fitted
    `GraphSAGEDetector` they are the model's probabilities, combined with the evidence as
    ``config.scoring.fusion`` says (`graphguard.pipeline.fusion`); risk is then 1 - score_benign.
    """
    config = config or DetectConfig()
    timer = timer or StageTimer()
    stages = build_stages(events, config, progress=progress, timer=timer)
    n_accounts = stages.n_accounts
    account_ids = stages.account_ids
    graph = stages.graph
    partition = stages.partition
    indexed = stages.indexed
    with timer.stage("scoring", progress):
        accounts = score_accounts(
            n_accounts,
            account_ids,
            partition.membership,
            stages.members,
            stages.clusters,
            config.scoring,
        )
    if model is not None:
        with timer.stage("features", progress):
            features = stages.features()
        with timer.stage("model", progress):
            proba = model.predict_proba(model_inputs(model, features, graph.edges))
            accounts = fuse_scores(accounts, proba, config.scoring, unseen=unseen_classes(model))
    with timer.stage("clusters", progress):
        clusters = label_clusters(stages.clusters, accounts)
        if labels is not None:
            accounts = accounts.join(
                labels.rename({schema.LABEL: "known_label"}), on=schema.ACCOUNT, how="left"
            )
        clusters = _finish_clusters(clusters)
        account_cols = [
            c for c in (*ACCOUNT_COLUMNS, *MODEL_COLUMNS, "known_label") if c in accounts.columns
        ]
        accounts = (
            accounts.select(account_cols)
            .with_columns(pl.col(c).fill_null(0.0) for c in PARTICIPATION_COLUMNS)
            .with_columns(pl.col("n_events").fill_null(0))
        )
    with timer.stage("subgraphs", progress):
        # What investigators need later (exports, explanations) without re-reading the log:
        # the account graph and the account-entity edges around clustered accounts.
        lookup = pl.DataFrame(
            {"account": pl.arange(0, n_accounts, dtype=pl.UInt32, eager=True), "id": account_ids}
        )
        clustered = lookup.filter(pl.Series(partition.membership >= 0)).select("account")
        in_cluster = partition.membership >= 0
        touches_cluster = (
            in_cluster[graph.edges.get_column("src").to_numpy()]
            | in_cluster[graph.edges.get_column("dst").to_numpy()]
        )
        account_edges = (
            graph.edges.filter(pl.Series(touches_cluster, dtype=pl.Boolean))
            .join(lookup.rename({"account": "src", "id": "src_id"}), on="src")
            .join(lookup.rename({"account": "dst", "id": "dst_id"}), on="dst")
            .drop("src", "dst")
            .select("src_id", "dst_id", pl.exclude("src_id", "dst_id"))
        )
        member_events = indexed.join(clustered, on="account", how="semi")
        member_entities = (
            entity_edges(member_events)
            .join(lookup, on="account")
            .select(
                pl.col("id").alias(schema.ACCOUNT),
                "kind",
                "entity",
                "n_events",
                *[
                    pl.from_epoch(f"{edge}_us", time_unit="us")
                    .dt.replace_time_zone("UTC")
                    .alias(f"{edge}_seen")
                    for edge in ("first", "last")
                ],
            )
        )
        cluster_activity = _cluster_activity(member_events, partition.membership)
    community = dict(partition.parameters)
    community["modularity"] = partition.quality
    community["n_communities"] = int(clusters.height)
    return DetectionResult(
        accounts=accounts,
        clusters=clusters,
        account_edges=account_edges,
        entity_edges=member_entities,
        cluster_activity=cluster_activity,
        community=community,
        config=config,
        timer=timer,
        model=None if model is None else model_summary(model),
    )


def _cluster_activity(member_events: pl.DataFrame, membership) -> pl.DataFrame:
    """Events per community, hour and event type: the timeline of a case file."""
    clusters = pl.DataFrame(
        {
            "account": pl.arange(0, len(membership), dtype=pl.UInt32, eager=True),
            "cluster_id": membership,
        }
    )
    return (
        member_events.join(clusters, on="account")
        .with_columns(
            pl.from_epoch(pl.col("t") // 3_600_000_000 * 3600, time_unit="s")
            .dt.replace_time_zone("UTC")
            .alias("hour")
        )
        .group_by("cluster_id", "hour", "event_type")
        .agg(pl.len().alias("n_events"), pl.col("account").n_unique().alias("n_accounts"))
        .sort("cluster_id", "hour", "event_type")
    )


def _finish_clusters(clusters: pl.DataFrame) -> pl.DataFrame:
    """Contract names and order: cluster_id, size, suspicion, predicted_label, then evidence."""
    if clusters.height == 0:
        return pl.DataFrame(
            schema={
                "cluster_id": pl.Int64,
                "size": pl.Int64,
                "suspicion": pl.Float64,
                "predicted_label": pl.String,
            }
        )
    first = [
        "cluster_id",
        "size",
        "suspicion",
        "predicted_label",
        "n_flagged",
        "mean_risk",
        "evidence",
    ]
    out = (
        clusters.rename({"cluster": "cluster_id"})
        .with_columns(
            pl.col("cluster_id").cast(pl.Int64),
            pl.col("size").cast(pl.Int64),
            pl.from_epoch("first_us", time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("first_seen"),
            pl.from_epoch("last_us", time_unit="us").dt.replace_time_zone("UTC").alias("last_seen"),
        )
        .drop("first_us", "last_us")
    )
    rest = [c for c in out.columns if c not in first]
    return out.select(first + rest).sort(["suspicion", "cluster_id"], descending=[True, False])


def run_detection(
    events_path: str | Path,
    out_dir: str | Path,
    config: DetectConfig | None = None,
    *,
    labels_path: str | Path | None = None,
    model: GraphSAGEDetector | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DetectionResult:
    """Read ``events_path``, detect (scoring with ``model`` if given), write ``out_dir``.

    The run directory is written atomically: all of it or nothing.
    """
    config = config or DetectConfig()
    timer = StageTimer()
    with timer.stage("read", progress):
        events, rejected, ingest = load_events(events_path, config.data)
    labels = label_stats = None
    if labels_path is not None:
        with timer.stage("labels", progress):
            labels, label_stats = load_labels(
                labels_path, known_accounts=events.get_column(schema.ACCOUNT).unique()
            )
    result = detect(events, config, labels=labels, model=model, progress=progress, timer=timer)
    result.ingest = ingest
    result.rejected = rejected
    result.label_stats = label_stats
    with timer.stage("write", progress):
        write_run(
            result, out_dir, overwrite=overwrite, events_path=events_path, labels_path=labels_path
        )
    return result


def run_metadata(
    result: DetectionResult, *, events_path: Any = None, labels_path: Any = None
) -> dict[str, Any]:
    """The run.json document."""
    flagged = int(result.accounts.get_column("flagged").sum())
    return {
        "graphguard_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "events": None if events_path is None else str(events_path),
            "labels": None if labels_path is None else str(labels_path),
        },
        "ingest": None if result.ingest is None else result.ingest.to_dict(),
        "labels": result.label_stats,
        "config": to_dict(result.config),
        "community": result.community,
        "model": result.model,
        "timings_s": result.timer.seconds(),
        "stages": result.timer.stages,
        "summary": {
            "accounts": result.accounts.height,
            "clusters_reported": result.clusters.height,
            "accounts_flagged": flagged,
            "clusters_flagged": int(
                (
                    result.clusters.get_column("suspicion") >= result.config.scoring.risk_threshold
                ).sum()
            )
            if result.clusters.height
            else 0,
            "risk_threshold": result.config.scoring.risk_threshold,
        },
    }


def write_run(
    result: DetectionResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    events_path: Any = None,
    labels_path: Any = None,
) -> Path:
    """Write accounts/clusters/edges Parquet, run.json and report.md; all or nothing."""
    from graphguard.report.render import render_markdown
    from graphguard.rundir import Run

    meta = run_metadata(result, events_path=events_path, labels_path=labels_path)
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        write_parquet_atomic(result.accounts, tmp / "accounts.parquet")
        write_parquet_atomic(result.clusters, tmp / "clusters.parquet")
        write_parquet_atomic(result.account_edges, tmp / "account_edges.parquet")
        write_parquet_atomic(result.entity_edges, tmp / "entity_edges.parquet")
        write_parquet_atomic(result.cluster_activity, tmp / "cluster_activity.parquet")
        if result.config.data.keep_rejected and result.rejected is not None:
            write_parquet_atomic(result.rejected, tmp / "rejected_rows.parquet")
        write_json_atomic(meta, tmp / "run.json")
        run = Run(path=Path(out_dir), accounts=result.accounts, clusters=result.clusters, meta=meta)
        write_text_atomic(render_markdown(run), tmp / "report.md")
    return Path(out_dir)
