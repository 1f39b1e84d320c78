"""The evidence and subgraph stages a chunk of communities at a time: the memory follows
``local.memory_budget_mib``, the tables do not change."""

from __future__ import annotations

import numpy as np

from graphguard.community import evidence
from graphguard.community.evidence import (
    community_chunks,
    community_evidence,
    community_evidence_in_chunks,
)
from graphguard.config import DetectConfig, LocalConfig
from graphguard.pipeline.detect import detect
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


def test_a_run_with_a_small_budget_writes_the_same_tables(monkeypatch):
    world, pipe = pipeline_world(11)
    small = DetectConfig(local=LocalConfig(memory_budget_mib=64))
    # as if each member event took 100 kB: the 64 MiB budget then needs many chunks
    monkeypatch.setattr(evidence, "EVIDENCE_BYTES_PER_MEMBER_EVENT", 100_000)
    assert len(community_chunks(pipe.stages.indexed, pipe.membership, 64)) > 3
    b = detect(world.events, small)
    monkeypatch.undo()
    a = detect(world.events)
    for name in ("accounts", "clusters", "account_edges", "entity_edges", "cluster_activity"):
        left, right = getattr(a, name), getattr(b, name)
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
