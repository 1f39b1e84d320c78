"""A cluster's case: its members, their ties, and the devices, IPs and targets they used.

`load_cases` reads a run directory once and cuts out the cases of many clusters with vectorised
Polars joins, so exporting the twenty most suspicious clusters of a large run costs one pass over
each file. `case_tables` turns a case into one node table and one edge table, the single source
every export format (GraphML, GEXF, Cytoscape.js, Parquet, HTML) is written from.

Nothing here computes detection results: a case only selects and reshapes what `detect` wrote.
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
    EVIDENCE_FACTS,
    RISK,
    SUSPICION,
    Run,
    load_run,
    read_table,
)
from graphguard.schema import ACCOUNT, ENTITY_KINDS, RELATIONS
from graphguard.scores import name_of_max

#: Node types of a case graph; entity kinds as entity_edges.parquet names them.
ACCOUNT_NODE = "account"
NODE_TYPES: tuple[str, ...] = (ACCOUNT_NODE, *ENTITY_KINDS)
#: Edge types of a case graph.
ACCOUNT_ACCOUNT = "account-account"


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
            f"({run.clusters.height} clusters reported; `graphguard report` lists them)"
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


# --------------------------------------------------------------------------------------------
# Node and edge tables


def _node_id(kind: str, column: str) -> pl.Expr:
    """Node ids are typed ("account:<id>", "device:<id>"), so an IP string that equals an
    account id still names two different nodes; the raw value stays in ``label``."""
    return pl.concat_str([pl.lit(f"{kind}:"), pl.col(column)])


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


def case_tables(case: Case) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The case as a node table and an edge table.

    Nodes: ``node_id`` (typed, unique), ``type`` (account, device, ip, target), ``label`` (the
    raw id), then the account columns of accounts.parquet (account nodes) or ``n_members``,
    ``n_events``, ``first_seen``, ``last_seen`` (entity nodes); null where a column does not apply.

    Edges: ``edge_id``, ``source``, ``target``, ``edge_type`` (account-device, account-ip,
    account-target, account-account), ``weight``, then ``n_events``, ``first_seen``,
    ``last_seen`` (account-entity edges) or ``relation`` and the per-relation supports and
    weights (account-account edges between two members).
    """
    cid = case.cluster_id
    accounts = case.members.select(
        _node_id(ACCOUNT_NODE, ACCOUNT).alias("node_id"),
        pl.lit(ACCOUNT_NODE).alias("type"),
        pl.col(ACCOUNT).alias("label"),
        pl.all().exclude(ACCOUNT),
    ).with_columns(pl.col("n_events").cast(pl.Int64), pl.lit(cid, pl.Int64).alias(CLUSTER_ID))
    entities = entity_nodes(case).select(
        pl.concat_str([pl.col("kind"), pl.lit(":"), pl.col("entity")]).alias("node_id"),
        pl.col("kind").alias("type"),
        pl.col("entity").alias("label"),
        pl.lit(cid, pl.Int64).alias(CLUSTER_ID),
        "n_members",
        "n_events",
        "first_seen",
        "last_seen",
    )
    nodes = pl.concat([accounts, entities], how="diagonal_relaxed")

    uses = case.entity_edges.select(
        _node_id(ACCOUNT_NODE, ACCOUNT).alias("source"),
        pl.concat_str([pl.col("kind"), pl.lit(":"), pl.col("entity")]).alias("target"),
        pl.concat_str([pl.lit("account-"), pl.col("kind")]).alias("edge_type"),
        pl.col("n_events").cast(pl.Float64).alias("weight"),
        pl.col("n_events").cast(pl.Int64),
        "first_seen",
        "last_seen",
    )
    relation_columns = [f"{r}_{m}" for r in RELATIONS for m in ("support", "weight")]
    ties = case.account_edges.filter(pl.col("internal")).select(
        _node_id(ACCOUNT_NODE, "src_id").alias("source"),
        _node_id(ACCOUNT_NODE, "dst_id").alias("target"),
        pl.lit(ACCOUNT_ACCOUNT).alias("edge_type"),
        pl.col("weight").cast(pl.Float64),
        "relation",
        *[
            pl.col(c).cast(pl.Int64 if c.endswith("support") else pl.Float64)
            for c in relation_columns
        ],
    )
    edges = pl.concat([uses, ties], how="diagonal_relaxed")
    edges = edges.select(
        pl.concat_str([pl.lit("e"), pl.int_range(pl.len()).cast(pl.String)]).alias("edge_id"),
        pl.all(),
    )
    return nodes, edges


def cluster_attributes(case: Case) -> dict[str, Any]:
    """The cluster's row (suspicion, evidence, measures) plus where it came from, as plain
    scalars: what a graph-level attribute of an export carries."""
    attributes: dict[str, Any] = {}
    for key, value in case.cluster.items():
        if key == EVIDENCE_FACTS:  # sentences for a case file; `evidence` sums them up
            continue
        attributes[key] = value.isoformat() if hasattr(value, "isoformat") else value
    attributes["graphguard_version"] = case.meta.get("graphguard_version")
    attributes["run_created_at"] = case.meta.get("created_at")
    attributes["pseudonymized"] = case.pseudonyms is not None
    if case.pseudonyms is not None:
        attributes["pseudonymized_kinds"] = ",".join(case.pseudonyms["kinds"])
        attributes["pseudonym_scheme"] = case.pseudonyms["scheme"]
    return attributes
