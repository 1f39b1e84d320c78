"""``community.dense_blocks``: refined dense blocks carved out as communities of their own on
logs without devices or IPs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.community import leiden
from graphguard.config import CommunityConfig, DetectConfig
from graphguard.pipeline.detect import detect
from tests.worlds import ratings_block_log


def test_carve_makes_each_block_a_community_first_block_first():
    membership = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, 0])
    has_edge = np.array([True] * 8 + [False, True])
    blocks = [np.array([1, 2, 5, 8]), np.array([2, 3, 6, 7]), np.array([0, 9])]
    out, carved = leiden.carve(membership, blocks, has_edge, 3)
    # block one: 1, 2, 5 (8 has no edge); block two: 3, 6, 7 (2 is taken); block three too
    # small; what is left of 0 (accounts 0, 9) and of 1 (account 4) is below the floor
    assert carved == 2
    assert out.tolist() == [-1, 0, 0, 1, -1, 0, 1, 1, -1, -1]


def test_a_block_mostly_inside_a_carved_one_joins_it():
    membership = np.zeros(12, dtype=np.int64)
    has_edge = np.ones(12, dtype=bool)
    blocks = [np.arange(0, 6), np.arange(2, 9), np.array([8, 9, 10, 11])]
    out, carved = leiden.carve(membership, blocks, has_edge, 3)
    # the second block has 4 of its 7 accounts in the first: 6-8 join it; the third has one
    # of 4 inside, so its free accounts 9-11 are a community of their own
    assert carved == 2
    assert out.tolist() == [0] * 9 + [1] * 3


def _fake(frame: pl.DataFrame) -> pl.Expr:
    return pl.col(schema.ACCOUNT).str.starts_with("fake")


@pytest.fixture(scope="module")
def block_run():
    return detect(ratings_block_log(), DetectConfig())


def test_the_block_is_one_flagged_community_and_no_real_user_is_flagged(block_run):
    accounts = block_run.accounts
    assert block_run.community["dense_block_communities"] == 1
    fakes = accounts.filter(_fake(accounts))
    assert fakes["cluster_id"].n_unique() == 1
    cluster = accounts.filter(pl.col("cluster_id") == fakes["cluster_id"][0])
    assert cluster.height == 40  # the fakes alone
    assert fakes["flagged"].all()
    assert not accounts.filter(~_fake(accounts))["flagged"].any()


def test_leiden_alone_mixes_a_real_user_in():
    config = DetectConfig(community=CommunityConfig(dense_blocks="off"))
    accounts = detect(ratings_block_log(), config).accounts
    fakes = accounts.filter(_fake(accounts))
    cluster = accounts.filter(pl.col("cluster_id") == fakes["cluster_id"][0])
    assert cluster.height > 40


def test_no_block_nothing_carved_nothing_flagged():
    result = detect(ratings_block_log(block=False), DetectConfig())
    assert result.community["dense_block_communities"] == 0
    assert not result.accounts["flagged"].any()


def test_auto_does_not_carve_where_the_log_has_devices():
    events = ratings_block_log().with_columns(pl.lit("dev").alias(schema.DEVICE))
    result = detect(events, DetectConfig())
    assert result.community["dense_blocks"] == "auto"
    assert "dense_block_communities" not in result.community
