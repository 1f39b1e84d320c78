"""Node index, account-entity edges and the combined account-account graph.

Accounts get a dense integer index (their sorted ids), so every later stage works on integers and
the same input always gives the same index. Event types, devices, IPs and targets become codes
too (`graphguard.io.encode_ids`: an Enum whose categories are the sorted distinct values), so
grouping, sorting and tie-breaking on them give what their text would; the text comes back only
where a run-directory table shows it (`entity_edges`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from graphguard import schema
from graphguard.config import GraphConfig, LocalConfig
from graphguard.graph.projections import EntityUse, relation_tables
from graphguard.io import INDEXED_COLUMNS, index_columns
from graphguard.schema import ENTITY_KINDS, RELATIONS


@dataclass
class IndexedEvents:
    """Events already indexed (`index_events`, or `graphguard.io.load_indexed` straight from a
    log): ``frame[account]`` indexes ``account_ids``."""

    frame: pl.DataFrame
    account_ids: pl.Series


def index_events(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Replace account ids by their index, times by int64 microseconds and the other ids by
    codes (`graphguard.io.index_columns`, what `graphguard.io.load_indexed` reads a log into).

    Returns ``(indexed, account_ids)`` where ``indexed`` has columns account (uint32), t (int64
    us since epoch), event_type, device, ip, target (Enums of their sorted values), and
    ``account_ids[i]`` is account i's id.
    """
    coded, account_ids = index_columns({name: events.get_column(name) for name in INDEXED_COLUMNS})
    indexed = coded.select(
        "account",
        events.get_column(schema.TIME).dt.epoch("us").alias("t"),
        "event_type",
        "device",
        "ip",
        "target",
    )
    return indexed, account_ids


def entity_edges(indexed: pl.DataFrame) -> pl.DataFrame:
    """Account-device, account-IP and account-target edges with counts and first/last times.

    Columns: account, kind (device|ip|target), entity, n_events, first_us, last_us; sorted by
    account, kind, first_us, entity. (`entity_edge_codes` decoded by `decode_entity_edges`.)
    """
    return decode_entity_edges(entity_edge_codes(indexed), entity_names(indexed.schema))


def entity_names(schema_: pl.Schema) -> pl.Series:
    """Every entity's text by its ``_entity`` code in `entity_edge_codes` (the kinds' sorted
    values one after another, in the kinds' sorted order)."""
    return pl.concat(
        [pl.Series(schema_[kind].categories) for kind in sorted(ENTITY_KINDS)]  # type: ignore[attr-defined]
    )


def entity_offsets(schema_: pl.Schema) -> list[int]:
    """Where each kind's codes start in `entity_names` (the kinds in sorted order). Reading an
    Enum's categories builds all its strings, so a caller that codes many slices of one log
    asks once and passes the offsets to `entity_edge_codes`."""
    sizes = [len(schema_[kind].categories) for kind in sorted(ENTITY_KINDS)]  # type: ignore[attr-defined]
    return [sum(sizes[:i]) for i in range(len(sizes))]


def entity_edge_codes(indexed: pl.DataFrame, offsets: list[int] | None = None) -> pl.DataFrame:
    """`entity_edges` before its text: account, _kind (UInt8, the kind's rank among the sorted
    kinds), _entity (UInt32 index into `entity_names`), n_events, first_us, last_us; sorted as
    `entity_edges`. What the subgraph stage keeps (29 bytes a row) until the run is written.
    ``offsets``: `entity_offsets` of ``indexed``'s schema (computed here when not given)."""
    if offsets is None:
        offsets = entity_offsets(indexed.schema)
    parts = []
    for rank, kind in enumerate(sorted(ENTITY_KINDS)):
        column = kind  # the indexed events name each entity column by its kind
        code = pl.col(column).to_physical().cast(pl.UInt64)
        parts.append(
            indexed.lazy()
            .select(
                "account", "t", (pl.col("account").cast(pl.UInt64) * (1 << 32) + code).alias("_k")
            )
            .filter(pl.col("_k").is_not_null())
            # (account, entity) as one 64-bit key: one integer column groups fastest
            .group_by("_k")
            .agg(
                pl.len().alias("n_events"),
                pl.col("t").min().alias("first_us"),
                pl.col("t").max().alias("last_us"),
            )
            .select(
                (pl.col("_k") // (1 << 32)).cast(pl.UInt32).alias("account"),
                pl.lit(rank, dtype=pl.UInt8).alias("_kind"),
                # the entity's code, made unique across kinds by an offset per kind
                ((pl.col("_k") % (1 << 32)) + offsets[rank]).cast(pl.UInt32).alias("_entity"),
                "n_events",
                "first_us",
                "last_us",
            )
        )
    # the streaming engine groups in any order: the sort below makes the order (account, kind,
    # entity is unique, so the sort is total). Sorted on the codes, which rank as their text
    # (`io.encode_ids`), before the text is decoded (one gather at the end): sorting millions
    # of decoded strings is what cost memory
    return _sort_edges(pl.concat(parts).collect(engine="streaming"))


def _bits(span: int) -> int:
    return max(int(span).bit_length(), 1)


def _sort_edges(codes: pl.DataFrame) -> pl.DataFrame:
    """``codes`` sorted by account, _kind, first_us, _entity. Where (account, kind, first_us),
    each less its minimum, fit one 64-bit key together, by that key and _entity (the same
    order, a two-column sort of integers instead of four); otherwise by the four columns."""
    keys = ["account", "_kind", "first_us", "_entity"]
    if codes.height < 2:
        return codes.sort(keys)
    span = codes.select(
        pl.col("account").min().alias("a0"),
        pl.col("account").max().alias("a1"),
        pl.col("first_us").min().alias("t0"),
        pl.col("first_us").max().alias("t1"),
    ).row(0, named=True)
    account_bits = _bits(span["a1"] - span["a0"])
    time_bits = _bits(span["t1"] - span["t0"])
    kind_bits = _bits(len(ENTITY_KINDS) - 1)
    if account_bits + kind_bits + time_bits > 64:
        return codes.sort(keys)
    packed = (
        (pl.col("account") - span["a0"]).cast(pl.UInt64)
        * pl.lit(1 << (kind_bits + time_bits), dtype=pl.UInt64)
        + pl.col("_kind").cast(pl.UInt64) * pl.lit(1 << time_bits, dtype=pl.UInt64)
        + (pl.col("first_us") - span["t0"]).cast(pl.UInt64)
    )
    return codes.sort(packed, pl.col("_entity"))


def decode_entity_edges(codes: pl.DataFrame, names: pl.Series) -> pl.DataFrame:
    """`entity_edge_codes` with the kind and entity as text (``names``: `entity_names`)."""
    kinds = pl.Series("kind", sorted(ENTITY_KINDS), dtype=pl.String)
    return codes.select(
        "account",
        kinds.gather(codes.get_column("_kind")),
        names.gather(codes.get_column("_entity")).alias("entity"),
        "n_events",
        "first_us",
        "last_us",
    )


@dataclass
class AccountGraph:
    """The account-account graph: one row per linked pair, a column pair per relation.

    ``edges`` columns: src, dst (account indices, src < dst), ``{relation}_weight`` and
    ``{relation}_support`` for each relation (0 where the relation does not link the pair), and
    ``weight``, the combined weight used for community detection.
    """

    n_accounts: int
    edges: pl.DataFrame
    relations: tuple[str, ...]
    #: the devices' use and the targets' reach, counted by the projections on the way
    #: (`projections.EntityUse`), for the evidence stage; None where the graph came otherwise
    entity_use: EntityUse | None = None


def build_account_graph(
    indexed: pl.DataFrame,
    n_accounts: int,
    cfg: GraphConfig,
    local: LocalConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> AccountGraph:
    """Build every enabled projection and combine them into one weighted graph.

    Relations are combined as sum(relation weight * log1p(evidence)): log1p keeps one very
    heavy tie (two accounts sharing a device for a year) from drowning every other signal.
    ``local`` bounds the memory of pairing (`LocalConfig`); ``progress`` hears each relation.
    """
    tables, use = relation_tables(indexed, cfg, local, progress)
    relations = tuple(r for r in RELATIONS if r in tables)
    edges: pl.DataFrame | None = None
    for name in relations:
        table = tables[name]
        edges = (
            table
            if edges is None
            else edges.join(table, on=["src", "dst"], how="full", coalesce=True)
        )
    if edges is None:
        edges = pl.DataFrame(schema={"src": pl.UInt32, "dst": pl.UInt32})
    fill = []
    for name in RELATIONS:
        for stat, dtype in (("weight", pl.Float64), ("support", pl.UInt32)):
            col = f"{name}_{stat}"
            if col in edges.columns:
                fill.append(pl.col(col).fill_null(0).cast(dtype))
            else:
                fill.append(pl.lit(0, dtype=dtype).alias(col))
    edges = edges.with_columns(fill)
    relation_cfg = {"device": cfg.device, "ip": cfg.ip, "sync": cfg.sync, "dense": cfg.dense}
    combined = pl.sum_horizontal(
        [relation_cfg[r].weight * pl.col(f"{r}_weight").log1p() for r in RELATIONS]
    ).alias("weight")
    edges = (
        edges.with_columns(combined)
        .filter(pl.col("weight") > max(cfg.min_edge_weight, 0.0))
        .sort("src", "dst")
    )
    return AccountGraph(n_accounts=n_accounts, edges=edges, relations=relations, entity_use=use)
