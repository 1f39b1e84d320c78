"""The Spark community evidence equals the local engine's, column by column."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from graphguard.community.evidence import community_evidence
from graphguard.pipeline.stages import sync_window_s
from graphguard.spark.evidence import evidence_schemas, spark_evidence, to_polars
from tests.spark.conftest import spark_frames
from tests.worlds import bot_ring, frame, ordinary_users, run_pipeline, viral_burst


def _local_members(stages) -> pl.DataFrame:
    config = stages.config
    _, members = community_evidence(
        stages.indexed,
        stages.partition.membership,
        stages.graph.edges,
        engagement_types=config.graph.engagement_types,
        signup_types=config.scoring.signup_types,
        sync_window_s=sync_window_s(config),
        sync_min_share=config.scoring.sync_min_share,
        creation_burst_window_s=config.scoring.creation_burst_window_s,
    )
    return members


def test_clusters_and_members_equal_the_local_engine(scored_world):
    _, pipeline, _, clusters, members, _ = scored_world
    stages = pipeline.stages
    assert stages.clusters.height > 5, "the world must have communities to compare"
    assert_frame_equal(clusters, stages.clusters, check_exact=False, rel_tol=0, abs_tol=1e-9)
    _, member_schema = evidence_schemas()
    got = to_polars(members, member_schema).sort("account")
    assert got.height == stages.members.height
    assert_frame_equal(got, _local_members(stages), check_exact=False, rel_tol=0, abs_tol=1e-9)
    # the world exercises every measure, so equality means something
    for column in ("sync_engagement_share", "shared_device_event_share", "creation_burst_share"):
        assert clusters.get_column(column).max() > 0.2, column


def test_a_planted_ring_with_a_viral_burst(spark):
    import numpy as np

    rng = np.random.default_rng(3)
    rows = ordinary_users(rng, 150) + bot_ring(rng, size=9, devices=3) + viral_burst(rng, 60)
    stages = run_pipeline(frame(rows)).stages
    clusters, _ = spark_evidence(spark_frames(spark, stages))
    assert clusters.height >= 1
    assert_frame_equal(clusters, stages.clusters, check_exact=False, rel_tol=0, abs_tol=1e-9)


def test_a_ratings_log_with_a_dense_block(spark):
    """The dense-block family (`community.blocks`) on a log without devices or IPs: the Spark
    evidence, members and account scores equal the local engine's, and the block is flagged."""
    from graphguard.spark.scoring import spark_scores
    from tests.community.test_dense_blocks import _ratings_log

    stages = run_pipeline(_ratings_log()).stages
    frames = spark_frames(spark, stages)
    clusters, members = spark_evidence(frames)
    assert_frame_equal(clusters, stages.clusters, check_exact=False, rel_tol=0, abs_tol=1e-9)
    assert clusters.get_column("dense_score").max() >= 0.5
    _, member_schema = evidence_schemas()
    got = to_polars(members, member_schema).sort("account")
    assert_frame_equal(got, _local_members(stages), check_exact=False, rel_tol=0, abs_tol=1e-9)
    local = stages.scores()
    accounts = to_polars(spark_scores(frames, clusters, members)).sort("account")
    accounts = accounts.select([pl.col(c).cast(local.schema[c]) for c in local.columns])
    assert_frame_equal(accounts, local, check_exact=False, rel_tol=0, abs_tol=1e-9)
    assert accounts.filter(pl.col("flagged")).height >= 27


def test_a_ring_that_reuses_its_targets_and_a_group_chat(spark):
    """Synchrony over engagement occasions (`community.evidence.engagement_occasions`): a ring
    back on its posts wave after wave, a group chat back on its thread, fans who re-like; the
    Spark clusters and members equal the local engine's, and the ring's posts are synced."""
    from tests.community.test_repeat_sync import RING_TARGETS, _world

    stages = run_pipeline(_world()).stages
    clusters, members = spark_evidence(spark_frames(spark, stages))
    assert_frame_equal(clusters, stages.clusters, check_exact=False, rel_tol=0, abs_tol=1e-9)
    _, member_schema = evidence_schemas()
    got = to_polars(members, member_schema).sort("account")
    assert_frame_equal(got, _local_members(stages), check_exact=False, rel_tol=0, abs_tol=1e-9)
    assert got.get_column("n_synced_targets").max() == RING_TARGETS
