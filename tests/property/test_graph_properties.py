"""Properties of the account graph on any small log: canonical pairs (src < dst, one row per
pair), no self-loops, the hub bounds (``window_rows``, ``max_accounts``) and invariance to the
order of the rows."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from graphguard.config import GraphConfig, RelationConfig
from graphguard.graph.build import build_account_graph, index_events
from graphguard.graph.context import engagements
from graphguard.graph.projections import all_relations, windowed_pairs
from tests.property.strategies import event_frames, frame_and_shuffle

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True)

# Tight caps, so that the bounds bite on logs of a few accounts.
SMALL_CAPS = st.builds(
    lambda w, m: GraphConfig(
        device=RelationConfig(window_rows=w, min_support=1, max_accounts=m),
        ip=RelationConfig(max_gap_s=3600.0, window_rows=w, min_support=1, max_accounts=m),
        sync=RelationConfig(max_gap_s=600.0, window_rows=w, min_support=1, max_accounts=m),
        dense=RelationConfig(window_rows=w, min_support=1, max_accounts=m),
    ),
    st.integers(1, 3),
    st.integers(1, 4),
)
CONFIGS = st.just(GraphConfig()) | SMALL_CAPS


def assert_canonical(edges: pl.DataFrame, n_accounts: int) -> None:
    src, dst = edges.get_column("src"), edges.get_column("dst")
    assert (src < dst).all(), "pairs are stored once, src < dst (hence no self-loop)"
    assert edges.select("src", "dst").is_duplicated().sum() == 0
    if edges.height:
        assert dst.max() < n_accounts


@PROPERTY
@given(event_frames(), CONFIGS)
def test_relations_and_graph_are_canonical(events: pl.DataFrame, cfg: GraphConfig) -> None:
    indexed, account_ids = index_events(events)
    n = len(account_ids)
    relations = all_relations(indexed, cfg)
    for name, table in relations.items():
        assert_canonical(table, n)
        rel_cfg = getattr(cfg, name)
        assert (table.get_column(f"{name}_support") >= rel_cfg.min_support).all()
        assert (table.get_column(f"{name}_weight") > 0).all()
    graph = build_account_graph(indexed, n, cfg)
    assert_canonical(graph.edges, n)
    assert (graph.edges.get_column("weight") > 0).all()
    # The combined graph holds exactly the pairs some relation linked.
    linked = pl.concat([t.select("src", "dst") for t in relations.values()]).unique()
    assert graph.edges.height <= linked.height


@PROPERTY
@given(event_frames(), st.integers(1, 4), st.integers(0, 10**9) | st.none())
def test_windowed_pairs_bound(events: pl.DataFrame, window_rows: int, gap: int | None) -> None:
    """An entity with k occurrences yields at most k * window_rows candidate pairs (in fact
    sum over i of min(window_rows, k - 1 - i)), each of two different accounts."""
    indexed, _ = index_events(events)
    for key in ("device", "ip", "target"):
        occ = (
            indexed.filter(pl.col(key).is_not_null())
            .group_by(key, "account")
            .agg(pl.col("t").min())
        )
        pairs = windowed_pairs(occ, key=key, window_rows=window_rows, max_gap_us=gap)
        assert (pairs.get_column("src") < pairs.get_column("dst")).all()
        sizes = occ.group_by(key).len().get_column("len").to_list()
        bound = sum(min(window_rows, k - 1 - i) for k in sizes for i in range(k))
        assert pairs.height <= bound <= occ.height * window_rows
        per_entity = pairs.group_by("entity").len()
        assert per_entity.height <= len(sizes)
        if gap is not None and pairs.height:
            assert (pairs.get_column("dt_us") <= gap).all()


def _null_crowded(events: pl.DataFrame, column: str, crowded: list[str]) -> pl.DataFrame:
    return events.with_columns(
        pl.when(pl.col(column).is_in(crowded)).then(None).otherwise(pl.col(column)).alias(column)
    )


@PROPERTY
@given(event_frames(), st.integers(1, 3), st.integers(1, 3))
def test_entities_above_max_accounts_contribute_nothing(
    events: pl.DataFrame, max_accounts: int, window_rows: int
) -> None:
    """Removing the entities used by more than max_accounts accounts changes nothing."""
    rel = RelationConfig(window_rows=window_rows, min_support=1, max_accounts=max_accounts)
    cfg = GraphConfig(
        device=rel,
        ip=RelationConfig(max_gap_s=3600.0, window_rows=window_rows, max_accounts=max_accounts),
        sync=RelationConfig(enabled=False),
        dense=rel,
    )
    indexed, _ = index_events(events)
    before = all_relations(indexed, cfg)
    for relation, column in (("device", "device"), ("ip", "ip"), ("dense", "target")):
        source = (
            engagements(indexed, cfg.engagement_types)
            if relation == "dense"
            else indexed.filter(pl.col(column).is_not_null())
        )
        crowd = source.group_by(column).agg(pl.col("account").n_unique().alias("n"))
        crowded = crowd.filter(pl.col("n") > max_accounts).get_column(column).to_list()
        after = all_relations(_null_crowded(indexed, column, crowded), cfg)[relation]
        assert_frame_equal(before[relation], after, check_exact=False)


@PROPERTY
@given(frame_and_shuffle(), CONFIGS)
def test_graph_does_not_depend_on_row_order(
    pair: tuple[pl.DataFrame, pl.DataFrame], cfg: GraphConfig
) -> None:
    events, shuffled = pair
    indexed, ids = index_events(events)
    indexed2, ids2 = index_events(shuffled)
    assert ids.to_list() == ids2.to_list()
    graph = build_account_graph(indexed, len(ids), cfg)
    graph2 = build_account_graph(indexed2, len(ids2), cfg)
    assert_frame_equal(graph.edges, graph2.edges, check_exact=False, rel_tol=1e-9)
