"""A cluster's case: its members, their ties, and the devices, IPs and targets they used.

`load_cases` reads a run directory once and cuts out the cases of many clusters with vectorised
Polars joins, so exporting or rendering the twenty most suspicious clusters of a large run costs
one pass over each file. The case files (`graphguard.report.html`), explanations and exports all
read a run through it. Nothing here computes detection results: a case only selects what `detect`
wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from graphguard.rundir import (
    ACCOUNT_EDGES_FILE,
    ACTIVITY_FILE,
    CLUSTER_ID,
    ENTITY_EDGES_FILE,
    RISK,
    SUSPICION,
    Run,
    load_run,
    read_table,
)
from graphguard.schema import ACCOUNT, RELATIONS
from graphguard.scores import name_of_max


@dataclass
class Case:
    """One cluster as an investigator sees it.

    Args:
        cluster: the cluster's row of clusters.parquet (suspicion, evidence columns, ...), plus
            ``rank``: its place in the run's suspicion order, 1 = most suspicious.
        members: the members' rows of accounts.parquet, riskiest first.
        entity_edges: the members' rows of entity_edges.parquet: account_id, kind (device, ip,
            target), entity, n_events, first_seen, last_seen.
        account_edges: rows of account_edges.parquet touching a member, with ``relation`` (the
            relation with the largest weight) and ``internal`` (both ends are members).
        activity: the cluster's rows of cluster_activity.parquet: hour, event_type, n_events,
            n_accounts.
        meta: the run's run.json.
        pseudonyms: None, or what `pseudonymize` replaced (never the key).
    """

    cluster: dict[str, Any]
    members: pl.DataFrame
    entity_edges: pl.DataFrame
    account_edges: pl.DataFrame
    activity: pl.DataFrame
    meta: dict[str, Any]
    pseudonyms: dict[str, Any] | None = field(default=None)

    @property
    def cluster_id(self) -> int:
        return int(self.cluster[CLUSTER_ID])

    def with_frames(self, **frames: pl.DataFrame) -> Case:
        return replace(self, **frames)


def top_cluster_ids(run: Run, n: int) -> list[int]:
    """The ids of the ``n`` most suspicious clusters, in the run's order."""
    if n < 1:
        raise ValueError(f"the number of clusters must be at least 1, got {n}")
    ranked = run.clusters.sort(SUSPICION, descending=True, nulls_last=True, maintain_order=True)
    return ranked.get_column(CLUSTER_ID).head(n).to_list()


def strongest_relation() -> pl.Expr:
    """Name of the relation with the largest weight in an account_edges row."""
    return name_of_max([pl.col(f"{r}_weight").fill_null(0.0) for r in RELATIONS], RELATIONS)


def load_cases(run: Run | str | Path, cluster_ids: Sequence[int]) -> list[Case]:
    """The cases of ``cluster_ids``, in the order given.

    Raises:
        ValueError: a cluster id is not in clusters.parquet, or a file lacks a column.
        FileNotFoundError: the run directory lacks one of the files a case is cut from.
    """
    run = run if isinstance(run, Run) else load_run(run)
    wanted = list(dict.fromkeys(int(c) for c in cluster_ids))
    ranked = run.clusters.sort(
        SUSPICION, descending=True, nulls_last=True, maintain_order=True
    ).with_row_index("rank", offset=1)
    clusters = ranked.filter(pl.col(CLUSTER_ID).is_in(wanted))
    known = set(clusters.get_column(CLUSTER_ID).to_list())
    absent = [c for c in wanted if c not in known]
    if absent:
        raise ValueError(
            f"cluster {absent[0]} is not in clusters.parquet "
            f"({run.clusters.height} clusters reported)"
        )
    wanted_ids = pl.Series(wanted, dtype=pl.Int64).implode()
    members = run.accounts.filter(pl.col(CLUSTER_ID).is_in(wanted_ids)).sort(
        [RISK, ACCOUNT], descending=[True, False]
    )
    membership = members.select(ACCOUNT, CLUSTER_ID)

    entities = (
        read_table(run, ENTITY_EDGES_FILE)
        .join(membership, on=ACCOUNT)
        .sort(CLUSTER_ID, "kind", "entity", ACCOUNT)
    )
    edges = read_table(run, ACCOUNT_EDGES_FILE)
    for relation in RELATIONS:  # older or smaller runs may lack a relation; treat it as 0
        for column in (f"{relation}_support", f"{relation}_weight"):
            if column not in edges.columns:
                edges = edges.with_columns(pl.lit(0.0).alias(column))
    edges = (
        edges.join(
            membership.rename({ACCOUNT: "src_id", CLUSTER_ID: "_src_c"}), on="src_id", how="left"
        )
        .join(membership.rename({ACCOUNT: "dst_id", CLUSTER_ID: "_dst_c"}), on="dst_id", how="left")
        .filter(pl.col("_src_c").is_not_null() | pl.col("_dst_c").is_not_null())
        .with_columns(
            strongest_relation().alias("relation"),
            (pl.col("_src_c") == pl.col("_dst_c")).fill_null(False).alias("internal"),
        )
    )
    # An edge between members of two wanted clusters belongs to both cases.
    edges = (
        pl.concat(
            [
                edges.filter(pl.col("_src_c").is_not_null()).with_columns(
                    pl.col("_src_c").alias(CLUSTER_ID)
                ),
                edges.filter(pl.col("_dst_c").is_not_null() & ~pl.col("internal")).with_columns(
                    pl.col("_dst_c").alias(CLUSTER_ID)
                ),
            ]
        )
        .drop("_src_c", "_dst_c")
        .sort([CLUSTER_ID, "weight", "src_id", "dst_id"], descending=[False, True, False, False])
    )
    activity = read_table(run, ACTIVITY_FILE).filter(pl.col(CLUSTER_ID).is_in(wanted_ids))

    def split(frame: pl.DataFrame) -> dict[int, pl.DataFrame]:
        parts = frame.partition_by(CLUSTER_ID, as_dict=True, maintain_order=True)
        return {key[0]: part for key, part in parts.items()}

    by_members, by_entities = split(members), split(entities)
    by_edges, by_activity = split(edges), split(activity)
    rows = {row[CLUSTER_ID]: row for row in clusters.to_dicts()}
    return [
        Case(
            cluster=rows[cid],
            members=by_members.get(cid, members.clear()),
            entity_edges=by_entities.get(cid, entities.clear()),
            account_edges=by_edges.get(cid, edges.clear()),
            activity=by_activity.get(cid, activity.clear()),
            meta=run.meta,
        )
        for cid in wanted
    ]


def entity_nodes(case: Case) -> pl.DataFrame:
    """One row per device, IP and target the members used: how many members, events, when."""
    return (
        case.entity_edges.group_by("kind", "entity", maintain_order=True)
        .agg(
            pl.col(ACCOUNT).n_unique().cast(pl.Int64).alias("n_members"),
            pl.col("n_events").sum().cast(pl.Int64).alias("n_events"),
            pl.col("first_seen").min(),
            pl.col("last_seen").max(),
        )
        .sort(["n_members", "kind", "entity"], descending=[True, False, False])
    )
