"""The hardware relations are paired on a second thread beside the synchrony relation
(`graph.projections.relation_tables`); with too small a budget to halve, all run in turn. The
tables, their order and the entity use are the same either way, spilled or not."""

from __future__ import annotations

import numpy as np
from polars.testing import assert_frame_equal

from graphguard.config import GraphConfig, LocalConfig
from graphguard.graph import index_events
from graphguard.graph.projections import relation_tables
from tests.worlds import bot_ring, frame, ordinary_users, viral_burst


def test_pairing_beside_the_synchrony_relation_gives_the_same_tables(tmp_path):
    rng = np.random.default_rng(11)
    rows = ordinary_users(rng, 300, nat_ip="100.64.0.9") + bot_ring(rng, size=8)
    rows += bot_ring(rng, size=6) + viral_burst(rng, 200)
    indexed, _ = index_events(frame(rows))
    notes: list[str] = []
    # 64 MiB cannot be halved: every relation in turn, on this thread
    alone, alone_use = relation_tables(indexed, GraphConfig(), LocalConfig(memory_budget_mib=64))
    for local in (
        LocalConfig(),
        LocalConfig(partitions=8, work_dir=str(tmp_path)),  # spilled, on both threads
    ):
        together, use = relation_tables(indexed, GraphConfig(), local, notes.append)
        assert list(together) == ["device", "ip", "sync", "dense"] == list(alone)
        for name, table in alone.items():
            assert_frame_equal(together[name], table)
        # per-entity aggregates from the streaming engine: their row order is not fixed
        pairs = [(use.device_use, alone_use.device_use), (use.target_reach, alone_use.target_reach)]
        for mine, theirs in pairs:
            assert_frame_equal(mine.sort(mine.columns), theirs.sort(theirs.columns))
    assert all(alone[name].height > 0 for name in ("device", "ip", "sync"))
    assert sorted(n.split(",")[0] for n in notes[:4]) == [
        "projections: dense",
        "projections: device",
        "projections: ip",
        "projections: sync",
    ]
    assert list(tmp_path.iterdir()) == []
