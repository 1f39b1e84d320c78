"""The evidence and subgraph stages a chunk of communities at a time: the memory follows
``local.memory_budget_mib``, the tables do not change."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import polars as pl

from graphguard import rundir
from graphguard.community import evidence
from graphguard.community.evidence import (
    community_chunks,
    community_evidence,
    community_evidence_in_chunks,
    member_account_ranges,
)
from graphguard.config import DetectConfig, LocalConfig
from graphguard.graph.build import IndexedEvents, index_events
from graphguard.pipeline import detect as detect_module
from graphguard.pipeline.detect import detect, run_detection
from tests.worlds import pipeline_world

SETTINGS = dict(
    engagement_types=("like", "comment", "share", "follow"),
    signup_types=("signup",),
    sync_window_s=600.0,
    sync_min_share=0.3,
    creation_burst_window_s=3600.0,
)


def test_chunks_cover_every_community_once_and_follow_the_budget():
    _, pipe = pipeline_world(11)
    indexed, membership = pipe.stages.indexed, pipe.membership
    one = community_chunks(indexed, membership, budget_mib=100_000)
    assert len(one) == 1 and one[0] is not None
    many = community_chunks(indexed, membership, budget_mib=1)
    assert len(many) > 3
    owners = np.stack([c >= 0 for c in many])
    # every clustered account in exactly one chunk, with its own community id
    assert (owners.sum(axis=0) == (membership >= 0)).all()
    for chunk in many:
        kept = chunk >= 0
        assert (chunk[kept] == membership[kept]).all()
    # a community is never split between chunks
    for chunk in many:
        inside = np.unique(chunk[chunk >= 0])
        assert (np.isin(membership, inside) == (chunk >= 0)).all()


def test_evidence_in_chunks_equals_one_pass():
    _, pipe = pipeline_world(11)
    args = (pipe.stages.indexed, pipe.membership, pipe.edges)
    clusters, members = community_evidence(*args, **SETTINGS)
    chunked = community_evidence_in_chunks(*args, budget_mib=1, **SETTINGS)
    assert len(community_chunks(args[0], args[1], 1)) > 3
    assert clusters.height > 10
    assert chunked[0].equals(clusters)
    assert chunked[1].equals(members)


def small_budget(monkeypatch) -> DetectConfig:
    """A 64 MiB budget, with every size estimate so large that each chunked stage splits."""
    # as if each member event took 100 kB: the 64 MiB budget then needs many chunks
    monkeypatch.setattr(evidence, "EVIDENCE_BYTES_PER_MEMBER_EVENT", 100_000)
    monkeypatch.setattr(evidence, "CONTEXT_BYTES_PER_EVENT", 100_000)
    monkeypatch.setattr(detect_module, "ACCOUNT_EDGE_ROW_BYTES", 2**20)
    return DetectConfig(local=LocalConfig(memory_budget_mib=64))


def test_a_run_with_a_small_budget_gives_the_same_tables(monkeypatch):
    world, pipe = pipeline_world(11)
    small = small_budget(monkeypatch)
    assert len(community_chunks(pipe.stages.indexed, pipe.membership, 64)) > 3
    assert len(member_account_ranges(pipe.stages.indexed, pipe.membership, 64)) > 3
    b = detect(world.events, small)
    monkeypatch.undo()
    a = detect(world.events)
    # past the budget the edge tables are decoded a chunk at a time, when written
    assert isinstance(b.entity_edges, rundir.ChunkedTable)
    assert isinstance(b.account_edges, rundir.ChunkedTable)
    assert isinstance(a.entity_edges, pl.DataFrame)
    for name in ("accounts", "clusters", "account_edges", "entity_edges", "cluster_activity"):
        left, right = getattr(a, name), rundir.whole(getattr(b, name))
        assert left.height > 0, name
        assert left.equals(right), name


def test_account_ranges_cover_the_members_in_order():
    _, pipe = pipeline_world(11)
    indexed, membership = pipe.stages.indexed, pipe.membership
    assert member_account_ranges(indexed, membership, 100_000) == [(0, membership.size)]
    ranges = member_account_ranges(indexed, membership, 1)
    assert len(ranges) > 3
    assert ranges[0][0] == 0 and ranges[-1][1] == membership.size
    assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:], strict=True))
    assert all(hi > lo for lo, hi in ranges)


def test_the_context_in_partitions_has_the_rows_of_one_pass(monkeypatch):
    _, pipe = pipeline_world(11)
    args = (pipe.stages.indexed, pipe.edges, pipe.membership, SETTINGS["engagement_types"])
    one = evidence.evidence_context(*args)
    monkeypatch.setattr(evidence, "CONTEXT_BYTES_PER_EVENT", 100_000)
    assert evidence.context_partitions(args[0], 64) > 3
    parts = evidence.evidence_context(*args, budget_mib=64)
    assert one.target_reach.height > 100 and one.device_use.height > 100
    assert parts.target_reach.sort("target").equals(one.target_reach.sort("target"))
    assert parts.device_use.sort("device").equals(one.device_use.sort("device"))
    assert parts.internal.equals(one.internal)


def test_a_run_written_in_chunks_is_the_run_written_whole(monkeypatch, tmp_path):
    world, _ = pipeline_world(11)
    events = tmp_path / "events.parquet"
    world.events.write_parquet(events)
    small = small_budget(monkeypatch)
    run_detection(events, tmp_path / "chunked", small)
    monkeypatch.undo()
    run_detection(events, tmp_path / "whole", small)
    assert rundir.check_run(tmp_path / "chunked") == []
    for name in rundir.TABLES:
        left = pl.read_parquet(tmp_path / "whole" / name)
        right = pl.read_parquet(tmp_path / "chunked" / name)
        assert left.height > 0, name
        assert left.equals(right), name


def test_dense_blocks_in_chunks_equal_one_pass():
    """The dense-block family reads the whole log's degrees in every chunk: the same rows."""
    _, pipe = pipeline_world(11)
    args = (pipe.stages.indexed, pipe.membership, pipe.edges)
    dense = dict(SETTINGS, dense_evidence="on")
    clusters, members = community_evidence(*args, **dense)
    chunked = community_evidence_in_chunks(*args, budget_mib=1, **dense)
    assert clusters.get_column("dense_observed").null_count() == 0
    assert chunked[0].equals(clusters)
    assert chunked[1].equals(members)


def test_chunked_entity_edges_hold_codes_not_the_events(monkeypatch):
    """Past one range the entity edges are kept as codes from the subgraph stage: the table
    writes the same rows every time it is read, after the events are gone."""
    world, _ = pipeline_world(11)
    small = small_budget(monkeypatch)
    events = index_events(world.events)
    frame = weakref.ref(events[0])
    result = detect(IndexedEvents(*events), small)
    del events
    gc.collect()
    assert frame() is None  # nothing of the result refers to the events any more
    table = result.entity_edges
    assert isinstance(table, rundir.ChunkedTable)
    first, again = table.collect(), table.collect()
    assert first.height > 100 and first.equals(again)
    monkeypatch.undo()
    assert first.equals(rundir.whole(detect(world.events).entity_edges))


def test_chunked_entity_edges_spill_to_the_work_dir_and_go_with_the_table(monkeypatch, tmp_path):
    """Past one range each range's coded edges wait in a spill folder of ``local.work_dir``
    (one file a range), not in memory; the folder is removed once the table is gone."""
    from dataclasses import replace

    world, _ = pipeline_world(11)
    small = small_budget(monkeypatch)
    small = replace(small, local=replace(small.local, work_dir=str(tmp_path)))
    result = detect(world.events, small)
    files = sorted(tmp_path.glob("*/entity-edges-*.arrow"))
    assert len(files) > 3
    table = result.entity_edges
    assert isinstance(table, rundir.ChunkedTable)
    assert sum(frame.height for frame in table.chunks()) == table.collect().height > 100
    del result, table
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_events_by_owner_are_the_filters_of_each_group():
    """Each group's events, gathered from one group-ordered list of rows, are the rows a filter
    of the log by the group's accounts keeps, in log order; accounts of no group are left out."""
    _, pipe = pipeline_world(11)
    indexed = pipe.stages.indexed
    n = int(indexed.get_column("account").max()) + 1
    owner = np.random.default_rng(3).integers(-1, 4, n)
    groups = list(evidence.events_by_owner(indexed, owner, 4))
    assert len(groups) == 4
    for k, events in enumerate(groups):
        mine = pl.Series(np.flatnonzero(owner == k), dtype=pl.UInt32)
        want = indexed.filter(pl.col("account").is_in(mine.implode()))
        assert events.height > 0
        assert events.equals(want)
    (one,) = evidence.events_by_owner(indexed, np.where(owner >= 0, 0, -1), 1)
    assert one.height == sum(g.height for g in groups)
