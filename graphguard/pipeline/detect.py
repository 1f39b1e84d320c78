"""The detection pipeline: events -> graphs -> communities -> evidence -> scores -> run directory.

`detect` works on a validated frame and returns values; `run_detection` adds reading the log and
writing the run directory (`graphguard.rundir`). Neither renders nor knows about Hydra or the
terminal: progress goes to an optional callback, and a caller that wants a report written into
the run passes a renderer (`extra_files`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from graphguard import __version__, metrics, rundir, schema
from graphguard.campaigns import PreviousRun, load_previous, track_campaigns
from graphguard.community.evidence import events_by_owner, member_account_ranges, with_cluster
from graphguard.community.scoring import label_clusters
from graphguard.community.wording import evidence_facts, summary_line
from graphguard.config import DetectConfig, to_dict
from graphguard.graph.build import (
    IndexedEvents,
    decode_entity_edges,
    entity_edge_codes,
    entity_names,
    entity_offsets,
)
from graphguard.graph.context import HOUR_US
from graphguard.graph.projections import spill_folder
from graphguard.io import IngestReport, load_indexed, load_labels
from graphguard.outputs import check_output
from graphguard.pipeline.fusion import fuse_scores, model_inputs, model_summary, unseen_classes
from graphguard.pipeline.operating import (
    flag_accounts,
    operating_warnings,
    resolve_operating_point,
)
from graphguard.pipeline.stages import (
    Progress,
    StageTimer,
    build_stages,
    label_warnings,
    sync_window_s,
)

if TYPE_CHECKING:
    from graphguard.models.detector import GraphSAGEDetector


@dataclass
class DetectionResult:
    """Everything a run produces; `write_run` lays it out on disk."""

    accounts: pl.DataFrame
    clusters: pl.DataFrame
    #: the two edge tables: whole, or (past ``local.memory_budget_mib``) a `rundir.ChunkedTable`
    #: decoded a chunk at a time when written (`rundir.whole` gives the frame)
    account_edges: rundir.Table
    entity_edges: rundir.Table
    cluster_activity: pl.DataFrame
    community: dict[str, Any]
    config: DetectConfig
    timer: StageTimer
    ingest: IngestReport | None = None
    rejected: pl.DataFrame | None = None
    label_stats: dict[str, int] | None = None
    #: the supervised model that scored the accounts (`model_summary`), None without one
    model: dict[str, Any] | None = None
    #: run.json's operating_point (`pipeline.operating`): the flag threshold, how it was
    #: chosen, the expected FPR and precision behind it and their intervals
    operating_point: dict[str, Any] | None = None
    #: the run.json document, once `run_detection` has written the run
    meta: dict[str, Any] | None = None
    #: what the user should know about the input to read the result right (run.json
    #: ``warnings``; the CLI prints them); the library never prints
    warnings: list[str] = field(default_factory=list)
    #: run.json's campaigns section (`graphguard.campaigns`): the previous run, counts per status
    campaigns: dict[str, Any] | None = None


def detect(
    events: pl.DataFrame | IndexedEvents,
    config: DetectConfig | None = None,
    *,
    labels: pl.DataFrame | None = None,
    model: GraphSAGEDetector | None = None,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
    previous: PreviousRun | None = None,
) -> DetectionResult:
    """Find and score coordinated communities in validated events (`schema.EVENT_SCHEMA`).

    Every reported cluster gets a campaign id and status (`graphguard.campaigns`), matched to
    the ``previous`` run's campaigns when given (`graphguard.campaigns.load_previous`).

    Without ``model`` the class scores come from the community evidence alone. With a fitted
    `GraphSAGEDetector` they are the model's probabilities, combined with the evidence as
    ``config.scoring.fusion`` says (`graphguard.pipeline.fusion`); risk is then 1 - score_benign.
    ``events`` may come indexed already (`IndexedEvents`, what `run_detection` reads).
    """
    config = config or DetectConfig()
    timer = timer or StageTimer()
    stages = build_stages(events, config, progress=progress, timer=timer)
    del events
    account_ids = stages.account_ids
    graph = stages.graph
    partition = stages.partition
    indexed = stages.indexed
    with timer.stage("scoring", progress):
        accounts = stages.scores()
    if model is not None:
        with timer.stage("features", progress):
            features = stages.features()
        with timer.stage("model", progress):
            proba = model.predict_proba(model_inputs(model, features, graph.edges))
            del features
            accounts = fuse_scores(accounts, proba, config.scoring, unseen=unseen_classes(model))
    # the flag threshold: scoring.target_fpr / target_precision, or risk_threshold as set
    point = resolve_operating_point(
        config.scoring, model=model, accounts=accounts, clusters=stages.clusters
    )
    accounts = accounts.with_columns(flag_accounts(accounts, stages.clusters, point))
    with timer.stage("clusters", progress):
        clusters = label_clusters(stages.clusters, accounts)
        if labels is not None:
            accounts = accounts.join(
                labels.rename({schema.LABEL: rundir.KNOWN_LABEL}), on=schema.ACCOUNT, how="left"
            )
        clusters = finish_clusters(clusters, config)
        names = [c.name for c in rundir.ACCOUNT_COLUMNS if c.name in accounts.columns]
        accounts = (
            accounts.select(names)
            .with_columns(pl.col(c).fill_null(0.0) for c in rundir.PARTICIPATION_COLUMNS)
            .with_columns(pl.col("n_events").fill_null(0))
        )
    # what is left to do needs the events, the graph's edges and the membership: the members'
    # evidence and the unlabelled clusters go now, the edges once the kept ones are taken
    warnings = list(stages.warnings)
    del stages
    with timer.stage("subgraphs", progress):
        # What investigators need later (exports, explanations) without re-reading the log:
        # the account graph and the account-entity edges around clustered accounts. Past the
        # memory budget both stay integer codes here and are decoded a chunk at a time as the
        # run is written (`rundir.ChunkedTable`); the tables are the same.
        in_cluster = partition.membership >= 0
        touches_cluster = (
            in_cluster[graph.edges.get_column("src").to_numpy()]
            | in_cluster[graph.edges.get_column("dst").to_numpy()]
        )
        kept = graph.edges.filter(pl.Series(touches_cluster, dtype=pl.Boolean))
        del touches_cluster, graph
        budget = config.local.memory_budget_mib
        account_edges = _account_edges(kept, account_ids, budget)
        del kept
        member_entities, cluster_activity = _member_tables(
            indexed, partition.membership, account_ids, budget, config.local.work_dir
        )
        del indexed
    with timer.stage("campaigns", progress):
        campaigns = track_campaigns(accounts, clusters, member_entities, previous)
    community = dict(partition.parameters)
    community["modularity"] = partition.quality
    community["n_communities"] = int(clusters.height)
    return DetectionResult(
        accounts=campaigns.accounts,
        clusters=campaigns.clusters,
        account_edges=account_edges,
        entity_edges=member_entities,
        cluster_activity=cluster_activity,
        community=community,
        config=config,
        timer=timer,
        model=None if model is None else model_summary(model),
        operating_point=point.to_dict(),
        warnings=warnings,
        campaigns=campaigns.section,
    )


#: what a decoded row of account_edges holds (two account ids and the relations' columns), for
#: cutting the table into chunks of ``local.memory_budget_mib``
ACCOUNT_EDGE_ROW_BYTES = 160


def _account_edges(kept: pl.DataFrame, account_ids: pl.Series, budget_mib: int) -> rundir.Table:
    """account_edges.parquet from the coded edges ``kept`` (src, dst account indices): the ids
    gathered by index, whole when it fits ``budget_mib``, else a chunk of rows at a time."""

    def decode(edges: pl.DataFrame) -> pl.DataFrame:
        return edges.select(
            account_ids.gather(edges.get_column("src")).alias("src_id"),
            account_ids.gather(edges.get_column("dst")).alias("dst_id"),
            pl.exclude("src", "dst"),
        )

    rows = max(1, budget_mib * 2**20 // ACCOUNT_EDGE_ROW_BYTES)
    if kept.height <= rows:
        return decode(kept)

    def chunks() -> Iterator[pl.DataFrame]:
        for start in range(0, kept.height, rows):
            yield decode(kept.slice(start, rows))

    return rundir.ChunkedTable(chunks)


def _member_tables(
    indexed: pl.DataFrame,
    membership,
    account_ids: pl.Series,
    budget_mib: int,
    work_dir: str | None = None,
) -> tuple[rundir.Table, pl.DataFrame]:
    """The clustered accounts' entity edges (entity_edges.parquet) and the communities'
    timelines (`_cluster_activity`), a range of accounts at a time (`member_account_ranges`)
    so that the stage's working memory follows ``budget_mib``, not the log. Both equal the
    tables of one pass: the entity edges are sorted by account first, so the ranges' tables
    follow each other in order; past one range each range's edges are made as integer codes
    (`entity_edge_codes`, 29 bytes a row), spilled to a temporary folder of ``work_dir``
    (`projections.spill_folder`: one Arrow file a range, so the stage holds one range's edges
    beside the events, not all of them) and read back and decoded a range at a time as the run
    is written (a `rundir.ChunkedTable` that holds no reference to the events, so they can go
    before the write; the folder goes with the table). An account is in one range, so the
    ranges' counts of events and of distinct accounts per (community, hour, type) add up."""
    ranges = member_account_ranges(indexed, membership, budget_mib)
    member = np.asarray(membership) >= 0
    # the schema once: each reading of it makes every Enum's categories Python objects
    coded = indexed.schema
    names = entity_names(coded)
    offsets = entity_offsets(coded)
    types = pl.Series(coded["event_type"].categories, dtype=pl.String)  # type: ignore[attr-defined]
    del coded
    spill = spill_folder(work_dir) if len(ranges) > 1 else None
    codes: list[pl.DataFrame | Path] = []
    counts = []
    for events in _range_events(indexed, member, ranges):
        part = entity_edge_codes(events, offsets)
        counts.append(_activity_counts(events, membership))
        del events
        if spill is None:
            codes.append(part)
        else:
            path = Path(spill.name) / f"entity-edges-{len(codes):05d}.arrow"
            part.write_ipc(path, compression="lz4")
            codes.append(path)
        del part

    def decoded(part: pl.DataFrame) -> pl.DataFrame:
        edges = decode_entity_edges(part, names)
        return edges.select(
            account_ids.gather(edges.get_column("account")).alias(schema.ACCOUNT),
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

    if spill is None:
        return decoded(codes[0]), _cluster_activity(counts[0], types)
    summed = (
        pl.concat(counts)
        .group_by("_ce", "_hour")
        .agg(pl.col("n_events").sum(), pl.col("n_accounts").sum())
        .with_columns(pl.col("n_events", "n_accounts").cast(pl.UInt32))
    )
    del counts

    def chunks() -> Iterator[pl.DataFrame]:
        assert spill is not None  # held by this closure: the folder lives as long as the table
        for path in codes:
            yield decoded(pl.read_ipc(path))

    return rundir.ChunkedTable(chunks), _cluster_activity(summed, types)


def _range_events(
    indexed: pl.DataFrame, member: np.ndarray, ranges: list[tuple[int, int]]
) -> Iterator[pl.DataFrame]:
    """The clustered accounts' events of each account range in turn, each in log order
    (`evidence.events_by_owner`: the log is read once, not once a range)."""
    owner = np.full(member.size, -1, dtype=np.int64)
    for k, (lo, hi) in enumerate(ranges):
        owner[lo:hi] = k
    owner[~member] = -1
    return events_by_owner(indexed, owner, len(ranges))


def _activity_counts(member_events: pl.DataFrame, membership) -> pl.DataFrame:
    """Events and distinct accounts per (community, event type) key ``_ce`` and hour.

    Where (community, hour, event type, account), each less its minimum, fit one 64-bit
    integer, by one sort of those integers (`_packed_activity`): a hash group-by of the
    million-odd (community, hour, type) groups of a 10M-event log, with a distinct count in
    each, cost three times the sort. Otherwise by that group-by; the table is the same."""
    framed = with_cluster(member_events, membership).select(
        # (community, event type) as one 64-bit key, and the hour: integer keys group fastest
        (
            pl.col("cluster").cast(pl.UInt64) * (1 << 32)
            + pl.col("event_type").to_physical().cast(pl.UInt64)
        ).alias("_ce"),
        (pl.col("t") // HOUR_US).alias("_hour"),
        "account",
    )
    packed = _packed_activity(framed)
    if packed is not None:
        return packed
    return framed.group_by("_ce", "_hour").agg(
        pl.len().alias("n_events"), pl.col("account").n_unique().alias("n_accounts")
    )


def _packed_activity(framed: pl.DataFrame) -> pl.DataFrame | None:
    """`_activity_counts` by sorting (community, hour, event type, account) packed in one
    UInt64 (None where they do not fit): each run of one (community, hour, type) is a group,
    its length the events and its changes of account the distinct accounts."""
    if framed.height == 0:
        return None
    span = framed.select(
        (pl.col("_ce") // (1 << 32)).max().alias("c"),
        (pl.col("_ce") % (1 << 32)).max().alias("e"),
        pl.col("_hour").min().alias("h0"),
        pl.col("_hour").max().alias("h1"),
        pl.col("account").max().alias("a"),
    ).row(0, named=True)
    type_bits = max(int(span["e"]), 1).bit_length()
    hour_bits = max(int(span["h1"] - span["h0"]), 1).bit_length()
    account_bits = max(int(span["a"]), 1).bit_length()
    cluster_bits = max(int(span["c"]), 1).bit_length()
    if cluster_bits + hour_bits + type_bits + account_bits > 64:
        return None
    h0 = int(span["h0"])
    shift = {"e": account_bits, "h": account_bits + type_bits}
    shift["c"] = shift["h"] + hour_bits
    u64 = pl.UInt64
    key = (
        (pl.col("_ce") // (1 << 32)) * pl.lit(1 << shift["c"], dtype=u64)
        + (pl.col("_hour") - h0).cast(u64) * pl.lit(1 << shift["h"], dtype=u64)
        + (pl.col("_ce") % (1 << 32)) * pl.lit(1 << shift["e"], dtype=u64)
        + pl.col("account").cast(u64)
    )
    ordered = framed.select(key.alias("_s")).to_series().sort().to_numpy()
    group = ordered >> np.uint64(account_bits)
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    new_account = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    del ordered
    n_events = np.diff(np.append(starts, group.size)).astype(np.uint32)
    n_accounts = np.add.reduceat(new_account.astype(np.uint32), starts).astype(np.uint32)
    group = group[starts]
    event_type = group & np.uint64((1 << type_bits) - 1)
    hour = (group >> np.uint64(type_bits)) & np.uint64((1 << hour_bits) - 1)
    cluster = group >> np.uint64(type_bits + hour_bits)
    count = pl.get_index_type()  # what the group-by's counts are
    return pl.DataFrame(
        {
            "_ce": cluster * np.uint64(1 << 32) + event_type,
            "_hour": hour.astype(np.int64) + h0,
            "n_events": pl.Series(n_events).cast(count),
            "n_accounts": pl.Series(n_accounts).cast(count),
        }
    )


def _cluster_activity(counts: pl.DataFrame, types: pl.Series) -> pl.DataFrame:
    """Events per community, hour and event type (`_activity_counts`; ``types``: the event
    types by code): the timeline of a case file."""
    # sorted by community, hour and event type (the event type's code sorts as its text,
    # `graphguard.io.encode_ids`): each row is one (_ce, _hour), so the order is total and
    # one packed integer key gives it where the three fit 64 bits
    counts = counts.sort(_activity_order(counts))
    cluster = (counts.get_column("_ce") // (1 << 32)).cast(pl.Int64)
    event_type = types.gather((counts.get_column("_ce") % (1 << 32)).cast(pl.UInt32))
    return counts.select(
        cluster.alias("cluster_id"),
        pl.from_epoch(pl.col("_hour") * 3600, time_unit="s")
        .dt.replace_time_zone("UTC")
        .alias("hour"),
        event_type.alias("event_type"),
        "n_events",
        "n_accounts",
    )


def _activity_order(counts: pl.DataFrame) -> list[pl.Expr]:
    """What `_cluster_activity` sorts its rows by: (community, hour, event type) packed in one
    UInt64 where they fit, else the three."""
    cluster = pl.col("_ce") // (1 << 32)
    keys = [cluster, pl.col("_hour"), pl.col("_ce")]
    if counts.height < 2:
        return keys
    span = counts.select(
        cluster.max().alias("c"),
        (pl.col("_ce") % (1 << 32)).max().alias("e"),
        pl.col("_hour").min().alias("h0"),
        pl.col("_hour").max().alias("h1"),
    ).row(0, named=True)
    type_bits = max(int(span["e"]), 1).bit_length()
    hour_bits = max(int(span["h1"] - span["h0"]), 1).bit_length()
    if max(int(span["c"]), 1).bit_length() + hour_bits + type_bits > 64:
        return keys
    packed = (
        cluster * pl.lit(1 << (hour_bits + type_bits), dtype=pl.UInt64)
        + (pl.col("_hour") - span["h0"]).cast(pl.UInt64) * pl.lit(1 << type_bits, dtype=pl.UInt64)
        + pl.col("_ce") % (1 << 32)
    )
    return [packed]


def finish_clusters(clusters: pl.DataFrame, config: DetectConfig) -> pl.DataFrame:
    """Contract names and order (`rundir.CLUSTER_COLUMNS` first, then the evidence measures),
    the evidence in words, most suspicious first."""
    leading = list(rundir.CLUSTER_LEADING)
    out = (
        clusters.rename({"cluster": rundir.CLUSTER_ID})
        .with_columns(
            pl.col(rundir.CLUSTER_ID).cast(pl.Int64),
            pl.col(rundir.SIZE).cast(pl.Int64),
            *[
                pl.from_epoch(f"{edge}_us", time_unit="us")
                .dt.replace_time_zone("UTC")
                .alias(f"{edge}_seen")
                for edge in ("first", "last")
            ],
        )
        .drop("first_us", "last_us")
    )
    summaries, facts = [], []
    for row in out.iter_rows(named=True):  # one row per community, not per event
        row_facts = evidence_facts(
            row,
            sync_window_s=sync_window_s(config),
            burst_window_s=config.scoring.creation_burst_window_s,
            engagement_types=config.graph.engagement_types,
        )
        summaries.append(summary_line(row, row_facts))
        facts.append([{"text": f.sentence, "level": f.level} for f in row_facts])
    out = out.with_columns(
        pl.Series(rundir.EVIDENCE, summaries, dtype=pl.String),
        pl.Series(rundir.EVIDENCE_FACTS, facts, dtype=rundir.FACT_DTYPE),
    )
    rest = [c for c in out.columns if c not in leading]
    return out.select(leading + rest).sort(
        [rundir.SUSPICION, rundir.CLUSTER_ID], descending=[True, False]
    )


#: the source name of the curve against the labels given to detect (run.json label_curve)
DETECT_LABELS = "labels given to detect"


def label_curve(accounts: pl.DataFrame) -> dict[str, Any] | None:
    """How the run's risk ranks the accounts whose labels were given to detect
    (`metrics.flag_curve`); None without labels of both kinds."""
    if rundir.KNOWN_LABEL not in accounts.columns:
        return None
    known = accounts.filter(pl.col(rundir.KNOWN_LABEL).is_not_null())
    return metrics.flag_curve(
        (known.get_column(rundir.KNOWN_LABEL) != schema.BENIGN).to_numpy(),
        known.get_column(rundir.RISK).to_numpy(),
        known.get_column(rundir.FLAGGED).to_numpy(),
        source=DETECT_LABELS,
    )


def run_detection(
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
    engine: str | None = None,
    timer: StageTimer | None = None,
) -> DetectionResult:
    """Read ``events_path``, detect (scoring with ``model`` if given), write ``out_dir``.

    The run directory is written atomically: all of it or nothing. ``extra_files`` (file name
    -> renderer of the finished run) are written into it before it is published. ``previous``:
    the run directory of the previous run, whose campaigns this run's clusters continue.
    ``engine`` (default ``config.engine``): local, or spark (`graphguard.spark.engine`, the same
    run). ``timer``: where the local engine's stages are timed (run.json ``stages``), which
    may hold some already (the CLI's ``start-up``).
    """
    config = config or DetectConfig()
    if engine is not None:
        config = replace(config, engine=engine)
    if config.engine == "spark":
        from graphguard.spark.session import require_spark

        require_spark()  # before pyspark is imported: one clear error without it or Java
        from graphguard.spark.engine import run_detection_spark

        return run_detection_spark(
            events_path,
            out_dir,
            config,
            labels_path=labels_path,
            model=model,
            overwrite=overwrite,
            progress=progress,
            extra_files=extra_files,
            previous=previous,
        )
    timer = timer or StageTimer()
    # before any work: a run that would replace its own input, or cannot be written, fails now
    check_output(out_dir, inputs=(events_path, labels_path, previous), overwrite=overwrite)
    prior = None if previous is None else load_previous(previous)
    with timer.stage("read", progress):
        indexed, account_ids, rejected, ingest = load_indexed(events_path, config.data)
        events = IndexedEvents(indexed, account_ids)
        del indexed
    if progress:
        progress(
            f"read: {ingest.rows_read:,} rows, {ingest.rows_used:,} events used, "
            f"{ingest.accounts:,} accounts"
        )
    labels = label_stats = None
    if labels_path is not None:
        with timer.stage("labels", progress):
            labels, label_stats = load_labels(labels_path, known_accounts=account_ids)
    result = detect(
        events, config, labels=labels, model=model, progress=progress, timer=timer, previous=prior
    )
    del events
    result.ingest = ingest
    result.rejected = rejected
    result.label_stats = label_stats
    return publish_run(
        result,
        out_dir,
        overwrite=overwrite,
        events_path=events_path,
        labels_path=labels_path,
        extra_files=extra_files,
        progress=progress,
    )


def publish_run(
    result: DetectionResult,
    out_dir: str | Path,
    *,
    overwrite: bool,
    events_path: Any,
    labels_path: Any,
    extra_files: Mapping[str, rundir.Renderer] | None,
    progress: Progress | None,
) -> DetectionResult:
    """The end of a run on either engine: the labels' warnings, then `write_result`, timed as
    the ``write`` stage (run.json's ``write`` is the tables' part of it: run.json is written
    after them, `write_result`)."""
    result.warnings.extend(
        label_warnings(result.label_stats, "they are left out of known_label and the label curve")
    )
    result.warnings.extend(operating_warnings(result.operating_point))
    with result.timer.stage("write", progress):
        write_result(
            result,
            out_dir,
            overwrite=overwrite,
            events_path=events_path,
            labels_path=labels_path,
            extra_files=extra_files,
        )
    return result


def run_metadata(
    result: DetectionResult, *, events_path: Any = None, labels_path: Any = None
) -> dict[str, Any]:
    """The run.json document."""
    point = result.operating_point or {}
    threshold = point.get("threshold", result.config.scoring.risk_threshold)
    suspicion = result.clusters.get_column(rundir.SUSPICION)
    clusters_flagged = suspicion >= threshold
    if point.get("q_gate") is not None:  # scoring.q_gate: the community's q passes it too
        clusters_flagged &= result.clusters.get_column("evidence_q") <= point["q_gate"]
    return {
        "graphguard_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "events": None if events_path is None else str(events_path),
            "labels": None if labels_path is None else str(labels_path),
        },
        "ingest": None if result.ingest is None else result.ingest.to_dict(),
        "labels": result.label_stats,
        "label_curve": label_curve(result.accounts),
        "config": to_dict(result.config),
        "community": result.community,
        "model": result.model,
        rundir.OPERATING_POINT_META: result.operating_point,
        "timings_s": result.timer.seconds(),
        "stages": result.timer.stages,
        "warnings": list(result.warnings),
        rundir.CAMPAIGNS_META: result.campaigns,
        "summary": {
            "accounts": result.accounts.height,
            "clusters_reported": result.clusters.height,
            "accounts_flagged": int(result.accounts.get_column(rundir.FLAGGED).sum()),
            "clusters_flagged": int(clusters_flagged.sum()),
            "risk_threshold": threshold,
        },
    }


def write_result(
    result: DetectionResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    events_path: Any = None,
    labels_path: Any = None,
    extra_files: Mapping[str, rundir.Renderer] | None = None,
) -> Path:
    """Lay ``result`` out as a run directory (`rundir.write_run`); all or nothing. run.json
    comes last: its ``write`` stage is the time the tables took."""
    started = time.perf_counter()

    def meta() -> dict[str, Any]:
        result.timer.record("write", time.perf_counter() - started)
        result.meta = run_metadata(result, events_path=events_path, labels_path=labels_path)
        return result.meta

    keep_rejected = result.config.data.keep_rejected and result.rejected is not None
    contents = rundir.RunContents(
        accounts=result.accounts,
        clusters=result.clusters,
        account_edges=result.account_edges,
        entity_edges=result.entity_edges,
        cluster_activity=result.cluster_activity,
        meta=meta,
        rejected=result.rejected if keep_rejected else None,
    )
    return rundir.write_run(contents, out_dir, overwrite=overwrite, extra_files=extra_files)
