"""The dense-block evidence of detect (`graphguard.community.blocks`): a spread block is
flagged, the crowds the configuration null explains are not."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.community.blocks import BLOCK_COLUMNS, dense_applies, dense_measured, dense_scores
from graphguard.config import DetectConfig, GraphConfig, ScoringConfig
from graphguard.graph.build import index_events
from graphguard.pipeline.detect import detect
from tests.worlds import (
    bot_ring,
    fans_of_creator,
    frame,
    ordinary_users,
    spread_block,
    viral_burst,
    without_hardware,
)


def _ratings_log(seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = ordinary_users(rng, 400)
    rows += viral_burst(rng, 200)  # 200 of the ordinary users like one item within an hour
    rows += fans_of_creator(rng, 80, prefix="user")  # 80 of them are fans of one creator
    rows += spread_block(rng)
    return frame(without_hardware(rows))


@pytest.fixture(scope="module")
def ratings_run():
    return detect(_ratings_log(), DetectConfig())


def _flagged(result, prefix: str) -> pl.DataFrame:
    return result.accounts.filter(pl.col(schema.ACCOUNT).str.starts_with(prefix))


def test_a_spread_block_is_flagged_and_the_null_explains_the_crowds(ratings_run):
    fakes = _flagged(ratings_run, "fake")
    assert fakes.height == 30
    assert fakes.get_column("flagged").mean() >= 0.9
    users = _flagged(ratings_run, "user")
    # ordinary users, a viral item's crowd and a creator's fans: none flagged
    assert users.height == 400
    assert users.get_column("flagged").sum() == 0
    assert not ratings_run.accounts.filter(pl.col(schema.ACCOUNT) == "creator0")["flagged"].any()


def test_the_block_is_told_in_plain_words_with_its_columns(ratings_run):
    fakes = _flagged(ratings_run, "fake")
    cluster = fakes.get_column("cluster_id").mode()[0]
    row = ratings_run.clusters.filter(pl.col("cluster_id") == cluster).row(0, named=True)
    assert row["dense_lift"] >= 6.5 and row["dense_q"] < 0.001
    assert row["dense_score"] >= 0.5 and row["suspicion"] >= row["dense_score"]
    assert "the null expects" in row["evidence"]
    assert f"put {row['dense_block_edges']:,} engagements" in row["evidence"]
    assert set(BLOCK_COLUMNS) <= set(ratings_run.clusters.columns)
    assert (fakes.get_column("dense_part") > 0.5).mean() >= 0.9


def test_without_the_family_the_spread_block_goes_unflagged():
    config = DetectConfig(scoring=ScoringConfig(dense_evidence="off"))
    result = detect(_ratings_log(), config)
    assert _flagged(result, "fake").get_column("flagged").sum() == 0
    assert result.clusters.get_column("dense_score").max() == 0.0


def test_fans_of_one_creator_share_one_target_the_null_leaves_out():
    rng = np.random.default_rng(4)
    rows = without_hardware(ordinary_users(rng, 300) + fans_of_creator(rng, 100, posts=30))
    result = detect(frame(rows), DetectConfig(graph=GraphConfig(dense_cap="never")))
    fans = result.accounts.filter(pl.col(schema.ACCOUNT).str.starts_with("user"))
    assert fans.get_column("flagged").sum() == 0
    assert result.clusters.get_column("dense_score").max() < 0.1
    # counted post by post (no author events) the same fans form a block
    posts_only = [r for r in rows if r[2] != "post"]
    by_post = detect(frame(posts_only), DetectConfig(graph=GraphConfig(dense_cap="never")))
    assert (
        by_post.clusters.get_column("dense_lift").max()
        > result.clusters.get_column("dense_lift").max()
    )


def test_dense_scores_follow_lift_and_q():
    table = pl.DataFrame(
        {
            "dense_observed": [500.0, 10.0, 0.0],
            "dense_expected": [5.0, 9.0, 1e-12],
            "dense_variance": [5.0, 9.0, 1e-12],
            "dense_block_targets": [20, 2, 0],
            "dense_block_edges": [400, 4, 0],
            "dense_block_expected": [20.0, 2.0, 0.0],
            "dense_block_reach": [800, 40, 0],
        }
    )
    scored = dense_scores(table, fdr=0.01, midpoint=6.5)
    lift = scored.get_column("dense_lift").to_list()
    assert lift[:2] == pytest.approx([20.0, 2.0]) and lift[2] == 0.0
    score = scored.get_column("dense_score").to_list()
    assert score[0] > 0.9 and score[1] < 0.01 and score[2] == 0.0
    assert scored.get_column("dense_q")[0] < 1e-6
    off = dense_scores(table, fdr=0.01, midpoint=6.5, applies=False)
    assert off.get_column("dense_score").to_list() == [0.0, 0.0, 0.0]


def test_auto_measures_only_a_log_without_hardware(ratings_run):
    rng = np.random.default_rng(5)
    with_hardware = frame(ordinary_users(rng, 50))
    indexed, _ = index_events(with_hardware)
    assert not dense_measured(indexed, "auto") and dense_measured(indexed, "on")
    assert not dense_measured(indexed, "off")
    measured = ratings_run.clusters
    assert dense_applies(measured, "auto") and not dense_applies(measured, "off")
    # a log with devices and IPs: the blocks are not measured, their columns are null
    result = detect(frame(ordinary_users(rng, 300) + bot_ring(rng)), DetectConfig())
    clusters = result.clusters
    assert clusters.height >= 1
    assert clusters.get_column("dense_observed").null_count() == clusters.height
    assert clusters.get_column("dense_score").max() == 0.0
    assert not dense_applies(clusters, "auto")
    assert result.accounts.get_column("dense_part").max() == 0.0
