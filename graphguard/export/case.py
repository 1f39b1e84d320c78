"""A case as node and edge tables: what every export format is written from.

`case_tables` turns a case (`graphguard.rundir.cases`) into one node table and one edge table,
the single source every export format (GraphML, GEXF, Cytoscape.js, Parquet, HTML) is written
from; `cluster_attributes` gives the graph-level attributes.

Nothing here computes detection results: a case only selects and reshapes what `detect` wrote.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from graphguard.rundir import CLUSTER_ID, EVIDENCE_FACTS
from graphguard.rundir.cases import Case, entity_nodes
from graphguard.schema import ACCOUNT, ENTITY_KINDS, RELATIONS

#: Node types of a case graph; entity kinds as entity_edges.parquet names them.
ACCOUNT_NODE = "account"
NODE_TYPES: tuple[str, ...] = (ACCOUNT_NODE, *ENTITY_KINDS)
#: Edge types of a case graph.
ACCOUNT_ACCOUNT = "account-account"


def _node_id(kind: str, column: str) -> pl.Expr:
    """Node ids are typed ("account:<id>", "device:<id>"), so an IP string that equals an
    account id still names two different nodes; the raw value stays in ``label``."""
    return pl.concat_str([pl.lit(f"{kind}:"), pl.col(column)])


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
