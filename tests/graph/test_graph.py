"""Projections: bounded on hubs, time-aware, and deaf to chance co-occurrence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphguard.config import GraphConfig, LocalConfig, RelationConfig
from graphguard.graph import build_account_graph, entity_edges, index_events, windowed_pairs
from graphguard.graph.projections import device_pairs, ip_pairs, sync_pairs
from tests.worlds import T0, bot_ring, frame, ordinary_users, viral_burst


def _occurrences(keys: list[str], accounts: list[int], times: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "key": keys,
            "account": pl.Series(accounts, dtype=pl.UInt32),
            "t": pl.Series(times, dtype=pl.Int64),
        }
    )


def test_windowed_pairs_is_bounded_on_a_hub():
    k, window = 5_000, 7
    occ = _occurrences(["hub"] * k, list(range(k)), list(range(k)))
    pairs = windowed_pairs(occ, key="key", window_rows=window)
    # A full projection would be k*(k-1)/2 = 12.5M pairs; the window keeps it linear.
    assert pairs.height == sum(k - lag for lag in range(1, window + 1))
    assert pairs.height <= k * window
    assert (pairs["src"] < pairs["dst"]).all()


def test_windowed_pairs_respects_gap_and_entity():
    occ = _occurrences(["a", "a", "a", "b"], [1, 2, 3, 4], [0, 10, 1_000, 5])
    pairs = windowed_pairs(occ, key="key", window_rows=5, max_gap_us=100)
    assert sorted(zip(pairs["src"], pairs["dst"], strict=True)) == [(1, 2)]


def test_windowed_pairs_on_small_groups_is_complete():
    occ = _occurrences(["a"] * 4, [1, 2, 3, 4], [0, 1, 2, 3])
    pairs = windowed_pairs(occ, key="key", window_rows=10)
    assert pairs.height == 6


def test_device_sharing_weighs_by_share_of_activity():
    rng = np.random.default_rng(1)
    rows = bot_ring(rng, size=6, devices=1)
    # a kiosk: 6 visitors used it once each and do everything else on their own phones
    rows += ordinary_users(rng, 6, prefix="visitor")
    rows += [(T0, f"visitor{a}", "view", "kiosk", "192.0.2.1", None) for a in range(6)]
    events = frame(rows)
    indexed, ids = index_events(events)
    pairs = device_pairs(indexed, RelationConfig(window_rows=20))
    lookup = dict(enumerate(ids.to_list()))
    named = pairs.with_columns(
        pl.col("src").replace_strict(lookup, return_dtype=pl.String).alias("a"),
    )
    ring_w = named.filter(pl.col("a").str.starts_with("ring"))["device_weight"]
    kiosk_w = named.filter(pl.col("a").str.starts_with("visitor"))["device_weight"]
    assert ring_w.min() == pytest.approx(1.0)
    assert kiosk_w.max() < 0.2


def test_nat_ip_does_not_link_strangers_but_a_ring_ip_does():
    rng = np.random.default_rng(2)
    rows = ordinary_users(rng, 400, prefix="mobile", nat_ip="100.64.0.1")
    rows += bot_ring(rng, size=8)
    indexed, ids = index_events(frame(rows))
    cfg = RelationConfig(max_gap_s=3600, window_rows=10, min_support=3, min_overlap=0.5)
    pairs = ip_pairs(indexed, cfg)
    names = ids.to_list()
    linked = {names[i] for i in pairs["src"].to_list() + pairs["dst"].to_list()}
    assert {f"ring{a}" for a in range(8)} <= linked
    strangers = [n for n in linked if n.startswith("mobile")]
    # 400 accounts share one NAT IP all month; chance repeat co-occurrence must stay rare
    assert len(strangers) <= 0.05 * 400


def test_viral_item_does_not_create_sync_ties():
    rng = np.random.default_rng(3)
    rows = ordinary_users(rng, 600) + viral_burst(rng, 600) + bot_ring(rng, size=10)
    indexed, ids = index_events(frame(rows))
    cfg = RelationConfig(max_gap_s=600, window_rows=10, min_support=2)
    pairs = sync_pairs(indexed, cfg, ("like",))
    names = ids.to_list()
    ring_pairs = pairs.filter(
        pl.col("src").map_elements(lambda i: names[i].startswith("ring"), return_dtype=pl.Boolean)
    )
    assert ring_pairs.height >= 10 * 9 // 2 * 0.8  # the ring is (nearly) fully linked
    users = pairs.height - ring_pairs.height
    assert users <= 0.05 * 600  # 600 strangers liking one item in an hour are not a ring


def test_combined_graph_and_entity_edges():
    rng = np.random.default_rng(4)
    events = frame(ordinary_users(rng, 50) + bot_ring(rng, size=6))
    indexed, ids = index_events(events)
    graph = build_account_graph(indexed, len(ids), GraphConfig())
    assert graph.edges.height > 0
    assert (graph.edges["weight"] > 0).all()
    assert graph.edges.select(pl.col("src") < pl.col("dst")).to_series().all()
    edges = entity_edges(indexed)
    assert set(edges["kind"].unique()) == {"device", "ip", "target"}
    assert (
        edges["n_events"].sum()
        == 3 * events.height
        - events["device_id"].null_count()
        - events["ip"].null_count()
        - events["target_id"].null_count()
    )


def test_partitioned_pairing_gives_the_same_graph_and_leaves_no_files(tmp_path):
    rng = np.random.default_rng(5)
    rows = ordinary_users(rng, 300, nat_ip="100.64.0.9") + bot_ring(rng, size=8)
    rows += viral_burst(rng, 300)
    indexed, ids = index_events(frame(rows))
    whole = build_account_graph(indexed, len(ids), GraphConfig())
    spill = tmp_path / "work"
    spill.mkdir()
    split = build_account_graph(
        indexed,
        len(ids),
        GraphConfig(),
        LocalConfig(partitions=8, memory_budget_mib=64, work_dir=str(spill)),
    )
    assert whole.edges.height > 0
    assert_frame_equal(split.edges, whole.edges)
    assert list(spill.iterdir()) == []


def test_a_killed_runs_spill_folder_is_removed_and_a_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from graphguard.graph.projections import all_relations, remove_stale_spills

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = tmp_path / f"graphguard-pairs-pid{int(gone.stdout)}-x1y2"
    live = tmp_path / f"graphguard-pairs-pid{os.getpid()}-a3b4"
    other = tmp_path / "graphguard-pairs-unrelated"
    for folder in (dead, live, other):
        folder.mkdir()
        (folder / "p0-000000.npy").write_bytes(b"0")
    rng = np.random.default_rng(5)
    indexed, _ = index_events(frame(ordinary_users(rng, 50) + bot_ring(rng, size=8)))
    notes: list[str] = []
    all_relations(indexed, GraphConfig(), LocalConfig(work_dir=str(tmp_path)), notes.append)
    assert not dead.exists() and live.exists() and other.exists()
    assert any("killed run" in note and dead.name in note for note in notes)
    assert remove_stale_spills(str(tmp_path)) == []


def _pairing_count(occ: pl.DataFrame, budget: int | None, window: int = 40) -> np.ndarray:
    from graphguard.graph.projections import _Pairing, _sorted

    occ = _sorted(occ, "target")
    pairing = _Pairing(occ, "target", window, None, budget)
    first = np.concatenate([f for f, _ in pairing.blocks(1 << 20)] or [np.zeros(0, np.int64)])
    return np.bincount(pairing.entity[first], minlength=pairing.entity.max() + 1)


def test_the_pair_budget_bounds_a_hub_and_keeps_a_moderate_target():
    # a hub engaged by 5,000 accounts and a target engaged by 200: without a budget the hub
    # makes 40 pairs per engagement; with 2,000 about one, and the moderate target ten
    hub = pl.DataFrame(
        {"target": ["a-hub"] * 5000, "account": np.arange(5000), "t": np.arange(5000)}
    )
    moderate = pl.DataFrame(
        {"target": ["b-moderate"] * 200, "account": np.arange(200), "t": np.arange(200)}
    )
    occ = pl.concat([hub, moderate]).with_columns(
        pl.col("account").cast(pl.UInt32), pl.col("t").cast(pl.Int64)
    )
    unbounded = _pairing_count(occ, None)
    bounded = _pairing_count(occ, 2000)
    assert unbounded[0] > 190_000 and bounded[0] <= 5000
    assert bounded[1] == sum(min(10, 199 - i) for i in range(200))
    assert bounded[1] <= 2000


def test_the_dense_cap_is_lifted_only_on_a_log_without_hardware():
    from graphguard.graph.projections import dense_capped

    cfg = GraphConfig()
    assert dense_capped(cfg, lambda: True) and not dense_capped(cfg, lambda: False)
    assert dense_capped(GraphConfig(dense_cap="always"), lambda: False)
    assert not dense_capped(GraphConfig(dense_cap="never"), lambda: True)


def test_bad_dense_settings_are_refused():
    from graphguard.config import ConfigError, ScoringConfig

    with pytest.raises(ConfigError, match="graph.dense_cap"):
        GraphConfig(dense_cap="sometimes")
    with pytest.raises(ConfigError, match="pair_budget"):
        RelationConfig(pair_budget=0)
    with pytest.raises(ConfigError, match="scoring.dense_evidence"):
        ScoringConfig(dense_evidence="maybe")
    with pytest.raises(ConfigError, match="scoring.dense_lift"):
        ScoringConfig(dense_lift=0.0)


def _grouped_reference(key, weight, distinct, min_support: int) -> pl.DataFrame:
    """What `_aggregate` computed with a hash group-by: distinct rows first, then support and
    weight per pair key, sorted."""
    frame = pl.DataFrame({"_key": key, "_w": weight})
    if distinct is not None:
        frame = frame.with_columns(pl.Series("_d", distinct)).unique(
            ["_key", "_d"], keep="first", maintain_order=True
        )
    return (
        frame.group_by("_key")
        .agg(pl.len().cast(pl.UInt32).alias("r_support"), pl.col("_w").sum().alias("r_weight"))
        .filter(pl.col("r_support") >= min_support)
        .sort("_key")
        .select(
            (pl.col("_key") // (1 << 32)).cast(pl.UInt32).alias("src"),
            (pl.col("_key") % (1 << 32)).cast(pl.UInt32).alias("dst"),
            "r_support",
            pl.col("r_weight").round(9),
        )
    )


@pytest.mark.parametrize("min_support", [1, 3])
@pytest.mark.parametrize("with_distinct", [False, True])
def test_aggregate_by_sorting_equals_a_group_by(min_support, with_distinct):
    from graphguard.graph.projections import _aggregate, _pair_key

    rng = np.random.default_rng(7)
    n = 20_000
    src = rng.integers(0, 400, n).astype(np.uint32)
    dst = src + 1 + rng.integers(0, 40, n).astype(np.uint32)
    key = _pair_key(src, dst)
    weight = rng.random(n)
    distinct = rng.integers(0, 5, n).astype(np.uint64) if with_distinct else None
    cfg = RelationConfig(min_support=min_support)
    got = _aggregate(key, weight, distinct, cfg, "r")
    want = _grouped_reference(key, weight, distinct, min_support)
    assert got.height > 100  # pairs of both kinds: kept and dropped for support
    assert got.height < _grouped_reference(key, weight, distinct, 1).height or min_support == 1
    assert_frame_equal(got, want, check_exact=False, rel_tol=0, abs_tol=1e-9)
    # the first of a key's rows with one distinct value counts: its weight, not a later one's
    if with_distinct:
        two = np.sort(key[:2])
        keys, weights = np.tile(two, 2), np.array([1.0, 2.0, 5.0, 7.0])
        dup = _aggregate(keys, weights, np.zeros(4, np.uint64), RelationConfig(), "r")
        assert dup.get_column("r_support").to_list() == [1, 1]
        assert dup.get_column("r_weight").to_list() == [1.0, 2.0]


def test_aggregate_of_no_pairs_is_an_empty_table():
    from graphguard.graph.projections import _aggregate

    out = _aggregate(np.zeros(0, np.uint64), np.zeros(0), None, RelationConfig(), "r")
    assert out.height == 0
    assert out.schema == {
        "src": pl.UInt32,
        "dst": pl.UInt32,
        "r_support": pl.UInt32,
        "r_weight": pl.Float64,
    }


@pytest.mark.parametrize("accounts", [3, 400, 2**31])
def test_packed_order_is_the_stable_sort_of_the_keys(accounts):
    """`_stable_order` gives what a stable sort of the keys gives (ties in row order), for
    keys with many repeats: in one pass where keys and row numbers fit 64 bits, in several
    where not (2 x 31 bits of accounts)."""
    from graphguard.graph.projections import _aggregate, _halves, _pair_key, _stable_order

    rng = np.random.default_rng(accounts)
    n = 5_000
    src = rng.integers(0, max(accounts - 1, 1), n).astype(np.uint32)
    dst = np.minimum(src + 1 + rng.integers(0, 3, n), accounts).astype(np.uint32)
    key = _pair_key(src, dst)
    order = _stable_order(_halves(key), n)
    assert np.array_equal(order, np.argsort(key, kind="stable"))
    # by the key, then a second column (the distinct values of `_aggregate`), then the row
    distinct = (rng.integers(0, 3, n).astype(np.uint64) << np.uint64(32)) | rng.integers(
        0, 2**31, n
    ).astype(np.uint64)
    both = _stable_order(_halves(key) + _halves(distinct), n)
    assert np.array_equal(both, np.lexsort((np.arange(n), distinct, key)))
    # the aggregate sums each pair's weights in row order: equal to the bit
    weight = rng.random(n)
    got = _aggregate(key, weight, None, RelationConfig(), "r")
    order = np.argsort(key, kind="stable")
    sk, sw = key[order], weight[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    sums = pl.Series(np.add.reduceat(sw, starts)).round(9)
    assert got.get_column("r_weight").to_list() == sums.to_list()
    assert got.get_column("r_support").sum() == n


def test_stable_order_of_no_rows_and_of_one():
    from graphguard.graph.projections import _halves, _stable_order

    assert _stable_order(_halves(np.zeros(0, np.uint64)), 0).size == 0
    assert _stable_order(_halves(np.array([7 << 32 | 9], np.uint64)), 1).tolist() == [0]


def test_entity_edges_sort_packed_is_the_four_column_sort():
    """`build._sort_edges`: one packed key where it fits, the four columns where not; the
    same order either way (ties in account, kind and first seen broken by the entity)."""
    from graphguard.graph.build import _sort_edges

    rng = np.random.default_rng(5)
    n = 5000
    frame = pl.DataFrame(
        {
            "account": rng.integers(1000, 1040, n).astype(np.uint32),
            "_kind": rng.integers(0, 3, n).astype(np.uint8),
            "_entity": rng.permutation(n).astype(np.uint32),
            "n_events": np.ones(n, dtype=np.uint32),
            "first_us": rng.integers(0, 6, n) * 1_000_000 + 1_700_000_000_000_000,
            "last_us": np.zeros(n, dtype=np.int64),
        }
    )
    keys = ["account", "_kind", "first_us", "_entity"]
    assert _sort_edges(frame).equals(frame.sort(keys))
    # a time span too wide for one 64-bit key with the accounts: the four-column sort
    wide = frame.with_columns(
        pl.when(pl.col("_entity") % 2 == 0)
        .then(pl.col("first_us") + (1 << 61))
        .otherwise(pl.col("first_us"))
    )
    assert _sort_edges(wide).equals(wide.sort(keys))
    assert _sort_edges(frame.head(1)).equals(frame.head(1))


def test_the_projections_count_the_devices_and_targets_as_the_evidence_would():
    """`AccountGraph.entity_use`: the devices' use and the targets' reach counted from the
    projections' own tables are the rows `evidence_context` counts from the log."""
    from graphguard.community.evidence import evidence_context

    rng = np.random.default_rng(8)
    rows = ordinary_users(rng, 200, nat_ip="100.64.0.9") + bot_ring(rng, size=8)
    rows += viral_burst(rng, 100)
    indexed, ids = index_events(frame(rows))
    cfg = GraphConfig()
    graph = build_account_graph(indexed, len(ids), cfg)
    use = graph.entity_use
    assert use is not None and use.device_use is not None and use.target_reach is not None
    membership = np.full(len(ids), -1, dtype=np.int64)
    counted = evidence_context(indexed, graph.edges, membership, cfg.engagement_types)
    assert use.device_use.height > 100 and use.target_reach.height > 10
    assert_frame_equal(use.device_use.sort("device"), counted.device_use.sort("device"))
    assert_frame_equal(use.target_reach.sort("target"), counted.target_reach.sort("target"))
    # and without the relations that count them, the evidence counts them itself
    off = GraphConfig(device=RelationConfig(enabled=False), sync=RelationConfig(enabled=False))
    off = build_account_graph(indexed, len(ids), replace(off, dense=RelationConfig(enabled=False)))
    assert off.entity_use.device_use is None and off.entity_use.target_reach is None
