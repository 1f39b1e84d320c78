"""The stages every use of the pipeline shares: index, projections, communities, evidence.

`build_stages` runs them on validated events and returns `Stages`, the input of everything
later (`detect` scores accounts from it, `train` fits a model on its features, the experiments
score baselines on it). Each stage is a plain function of the layer that owns it; this module only
says in which order they run, and times them.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import psutil

from graphguard import schema
from graphguard.community.evidence import community_evidence_in_chunks
from graphguard.community.leiden import (
    Partition,
    dense_block_communities,
    leiden,
    pre_split_communities,
)
from graphguard.community.scoring import score_accounts, score_clusters
from graphguard.config import DetectConfig
from graphguard.errors import OutOfMemoryError
from graphguard.features.account import account_features
from graphguard.graph.build import AccountGraph, IndexedEvents, build_account_graph, index_events
from graphguard.graph.context import has_hardware

#: narration of what the pipeline is doing, one line per stage (stderr in the CLI)
Progress = Callable[[str], None]


@dataclass
class StageTimer:
    """Wall time, CPU time (``cpu_seconds``: user + system of every thread of the process, the
    steadier figure on a shared machine), resident memory and the process's peak memory after
    each stage.

    With ``stage_peaks`` also each stage's own peak (``stage_peak_rss_mib``, what the stage
    itself reached, not the process's peak so far): the kernel's peak counter is reset at each
    stage's start (Linux ``/proc/self/clear_refs``), which ``getrusage`` reads too, so only for a
    process that runs one detection, as the CLI's worker does; ``peak_rss_mib`` keeps its meaning.
    """

    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    stage_peaks: bool = False
    #: the process's peak so far (MiB) and the peaks of the stages now open, folded in
    #: whenever the kernel's counter is read and reset
    _peak: float = field(default=0.0, repr=False, compare=False)
    _open: list[float] = field(default_factory=list, repr=False, compare=False)

    @contextmanager
    def stage(self, name: str, progress: Progress | None = None) -> Iterator[None]:
        """Run one stage, timed. A `MemoryError` inside it becomes `OutOfMemoryError`
        naming the stage. (An allocation that fails inside Polars' Rust code may abort the
        process instead of raising: that cannot be caught here.)"""
        if progress:
            progress(name)
        self._fold()
        self._open.append(0.0)
        start = time.perf_counter()
        cpu_start = _cpu_seconds()
        try:
            yield
        except MemoryError as exc:
            self._fold()
            self._open.pop()
            if isinstance(exc, OutOfMemoryError):  # a stage inside this one named itself
                raise
            raise OutOfMemoryError(name, self._peak) from exc
        self._fold()
        own = self._open.pop()
        self.record(
            name,
            time.perf_counter() - start,
            stage_peak_mib=own,
            cpu_seconds=_cpu_seconds() - cpu_start,
        )

    def record(
        self,
        name: str,
        seconds: float,
        *,
        stage_peak_mib: float | None = None,
        cpu_seconds: float | None = None,
    ) -> None:
        """Note stage ``name`` as ended now after ``seconds`` (what `stage` does at its end;
        for a stage timed elsewhere: its own peak is that of the stage open now, such as the
        ``write`` recorded inside the write stage, else the process's so far, as for the
        command's start-up)."""
        self._fold()
        rss = psutil.Process().memory_info().rss
        self.stages[name] = {
            "seconds": round(seconds, 4),
            "rss_mib": round(rss / 2**20, 1),
            "peak_rss_mib": self._peak,
        }
        if cpu_seconds is not None:
            self.stages[name]["cpu_seconds"] = round(cpu_seconds, 3)
        if self.stage_peaks:
            own = stage_peak_mib
            if own is None:
                own = self._open[-1] if self._open else self._peak
            self.stages[name]["stage_peak_rss_mib"] = own

    def _fold(self) -> None:
        """Read the kernel's peak into the process's and the open stages' peaks; with
        ``stage_peaks``, reset it."""
        peak = _peak_rss_mib()
        self._peak = max(self._peak, peak)
        self._open = [max(p, peak) for p in self._open]
        if self.stage_peaks:
            _reset_peak()

    def seconds(self) -> dict[str, float]:
        return {k: v["seconds"] for k, v in self.stages.items()}


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, all its threads together."""
    times = os.times()
    return times.user + times.system


def _peak_rss_mib() -> float:
    """The process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _reset_peak() -> None:
    """Reset the kernel's peak resident memory of this process (Linux; elsewhere nothing)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


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
    #: what the caller should tell the user about the input (`input_warnings`)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    def scores(self) -> pl.DataFrame:
        """`score_accounts` of every account index (the evidence-only risk and class scores),
        in account-index order."""
        return score_accounts(
            self.n_accounts,
            self.account_ids,
            self.partition.membership,
            self.members,
            self.clusters,
            self.config.scoring,
        )

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


def sync_window_s(config: DetectConfig) -> float:
    """Seconds within which members' engagement on one target counts as together: the sync
    relation's gap, or 10 minutes when that relation has none."""
    return config.graph.sync.max_gap_s or 600.0


def event_summary(indexed: pl.DataFrame) -> pl.DataFrame:
    """Events per (event_type, has a target): all `input_warnings` reads, small whatever the
    log's size (the Spark engine builds the same table in DataFrames)."""
    kind = indexed.get_column("event_type").dtype
    if isinstance(kind, pl.Enum) and not indexed.get_column("event_type").null_count():
        # coded events: one count of (code, has a target) pairs, no hashing of the rows
        code = indexed.get_column("event_type").to_physical().to_numpy().astype(np.int64)
        has = indexed.get_column("target").is_not_null().to_numpy()
        counts = np.bincount(2 * code + has, minlength=2 * len(kind.categories))
        cell = np.flatnonzero(counts)
        return pl.DataFrame(
            {
                "event_type": pl.Series(kind.categories.gather(cell // 2)).cast(kind),
                "has_target": cell % 2 == 1,
                "n": counts[cell].astype(np.uint32),
            }
        )
    return (
        indexed.group_by(pl.col("event_type"), pl.col("target").is_not_null().alias("has_target"))
        .agg(pl.len().alias("n"))
        .sort("event_type", "has_target", nulls_last=True)
    )


def input_warnings(indexed: pl.DataFrame, config: DetectConfig) -> list[str]:
    """What about the events makes the result mean less than it seems (`summary_warnings` of
    their `event_summary`)."""
    return summary_warnings(event_summary(indexed), config)


def summary_warnings(summary: pl.DataFrame, config: DetectConfig) -> list[str]:
    """No event engages a target (`is_engagement`), so the synchronized and dense relations
    and every engagement measure are empty. ``summary``: `event_summary` of the events."""
    if summary.height == 0 or summary.get_column("n").sum() == 0:
        return []
    types = list(config.graph.engagement_types)
    typed = summary.filter(pl.col("event_type").is_in(types))
    if typed.filter(pl.col("has_target")).height:
        return []
    relations = "the synchronized and dense relations and the engagement evidence are empty"
    named = ", ".join(types)
    n_typed = int(typed.get_column("n").sum())
    if n_typed:
        return [
            f"no engagement event ({named}) in the log has a target ({schema.TARGET} is empty "
            f"in all {n_typed:,} of them), so {relations}"
        ]
    seen = summary.get_column("event_type").drop_nulls().unique().sort()
    shown = ", ".join(seen.head(8).to_list()) + (", ..." if seen.len() > 8 else "")
    return [
        f"no event type in the log is an engagement type (graph.engagement_types: {named}; "
        f"the log has: {shown}), so {relations}; set graph.engagement_types to the types "
        "that engage a target"
    ]


def label_warnings(label_stats: Mapping[str, int] | None, consequence: str) -> list[str]:
    """Labels given for accounts the events never mention (`load_labels` counts them in
    ``accounts_not_in_events``): ``consequence`` says what that means for the caller."""
    stats = label_stats or {}
    missing = stats.get("accounts_not_in_events", 0)
    if not missing:
        return []
    rows = stats.get("rows", missing)
    return [
        f"{missing:,} of {rows:,} labelled accounts do not appear in the events; {consequence} "
        "(run.json labels.accounts_not_in_events)"
    ]


def build_stages(
    events: pl.DataFrame | IndexedEvents,
    config: DetectConfig | None = None,
    *,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
) -> Stages:
    """Validated events -> index -> projections -> Leiden -> community evidence, scored.

    ``events`` may come indexed already (`IndexedEvents`, as `graphguard.io.load_indexed` reads
    a log): the index stage then has nothing to do."""
    config = config or DetectConfig()
    timer = timer or StageTimer()
    with timer.stage("index", progress):
        if isinstance(events, IndexedEvents):
            indexed, account_ids = events.frame, events.account_ids
        else:
            indexed, account_ids = index_events(events)
        del events
        n_accounts = len(account_ids)
    with timer.stage("projections", progress):
        graph = build_account_graph(indexed, n_accounts, config.graph, config.local, progress)
    with timer.stage("communities", progress):
        hardware = lambda: has_hardware(indexed)  # noqa: E731
        partition = leiden(n_accounts, graph.edges, config.community, hardware)
        partition = dense_block_communities(
            partition,
            indexed,
            graph.edges,
            config.community,
            config.graph.engagement_types,
            hardware,
        )
    with timer.stage("evidence", progress):
        clusters, members = community_evidence_in_chunks(
            indexed,
            partition.membership,
            graph.edges,
            budget_mib=config.local.memory_budget_mib,
            progress=progress,
            entity_use=graph.entity_use,
            engagement_types=config.graph.engagement_types,
            signup_types=config.scoring.signup_types,
            sync_window_s=sync_window_s(config),
            sync_min_share=config.scoring.sync_min_share,
            creation_burst_window_s=config.scoring.creation_burst_window_s,
            post_types=config.scoring.post_types,
            dense_evidence=config.scoring.dense_evidence,
        )
        parents = pre_split_communities(partition.membership, partition.pre_split)
        parents = parents.with_columns(pl.col("cluster").cast(clusters.schema["cluster"]))
        clusters = clusters.join(parents, on="cluster", how="left", maintain_order="left")
        clusters = score_clusters(clusters, config.scoring)
    warnings = input_warnings(indexed, config)
    return Stages(indexed, account_ids, graph, partition, clusters, members, config, warnings)
