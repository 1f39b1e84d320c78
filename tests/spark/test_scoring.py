"""Spark account scores, cluster labels and the run's tables equal the local engine's."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphguard import rundir, schema
from graphguard.community.scoring import score_accounts
from graphguard.config import ScoringConfig
from graphguard.pipeline.detect import detect
from graphguard.pipeline.fusion import fuse_scores
from graphguard.spark.evidence import to_polars
from graphguard.spark.scoring import collect_table, spark_finish, spark_fuse_scores
from tests.spark.conftest import to_spark

CLOSE = {"check_exact": False, "rel_tol": 0, "abs_tol": 1e-9}
#: added by the campaigns stage after these tables (`graphguard.campaigns`, the same local code
#: on both engines; tests/spark/test_engine.py compares whole run directories, campaigns included)
CAMPAIGN_COLUMNS = (
    rundir.CAMPAIGN_ID,
    rundir.CAMPAIGN_STATUS,
    rundir.PREVIOUS_CAMPAIGNS,
    rundir.CAMPAIGN_MATCH,
    rundir.PREVIOUS_SIZE,
)


def before_campaigns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop(CAMPAIGN_COLUMNS, strict=False)


@pytest.fixture(scope="module")
def world(scored_world):
    sim, pipeline, frames, clusters, _, accounts = scored_world
    return sim, pipeline.stages, frames, clusters, accounts


def test_account_scores_equal_the_local_engine(world):
    _, stages, _, _, accounts = world
    local = score_accounts(
        stages.n_accounts,
        stages.account_ids,
        stages.partition.membership,
        stages.members,
        stages.clusters,
        stages.config.scoring,
    )
    got = to_polars(accounts).sort("account")
    got = got.select([pl.col(c).cast(local.schema[c]) for c in local.columns])
    assert got.height == stages.n_accounts
    assert_frame_equal(got, local, **CLOSE)
    assert got.get_column("flagged").sum() > 20, "the world must have flagged accounts"


def test_the_run_tables_equal_the_local_run(world):
    sim, stages, frames, clusters, accounts = world
    result = detect(sim.events, stages.config, labels=sim.labels)
    labels = to_spark(frames.spark, sim.labels)
    tables = spark_finish(frames, clusters, accounts, labels=labels)
    assert_frame_equal(tables.clusters, before_campaigns(result.clusters), **CLOSE)
    got = collect_table(tables.accounts, rundir.ACCOUNTS_FILE)
    local = before_campaigns(result.accounts)
    assert got.columns == local.columns
    assert_frame_equal(got, local.sort(schema.ACCOUNT), **CLOSE)
    for name, spark_table, local in (
        (rundir.ACCOUNT_EDGES_FILE, tables.account_edges, result.account_edges),
        (rundir.ENTITY_EDGES_FILE, tables.entity_edges, result.entity_edges),
        (rundir.ACTIVITY_FILE, tables.cluster_activity, result.cluster_activity),
    ):
        got = collect_table(spark_table, name)
        assert got.columns == local.columns, name
        assert got.height > 0, name
        assert_frame_equal(got, local, **CLOSE)


@pytest.mark.parametrize("fusion", ["noisy_or", "model"])
@pytest.mark.parametrize("unseen", [(), (schema.FAKE_ENGAGEMENT,)])
def test_fusion_equals_the_local_engine(world, fusion, unseen):
    _, stages, frames, _, accounts = world
    local_accounts = to_polars(accounts).sort("account")
    rng = np.random.default_rng(5)
    proba = rng.dirichlet(np.ones(3), size=stages.n_accounts)
    proba[:50, 1:] = 0.0  # accounts the model calls benign outright
    proba[:50, 0] = 1.0
    cfg = ScoringConfig(fusion=fusion)
    local = fuse_scores(local_accounts, proba, cfg, unseen=unseen)
    table = pl.DataFrame({"account": np.arange(stages.n_accounts, dtype=np.int32)}).with_columns(
        pl.Series(c, proba[:, i]) for i, c in enumerate(schema.SCORE_COLUMNS)
    )
    fused = spark_fuse_scores(accounts, to_spark(frames.spark, table), cfg, unseen=unseen)
    got = to_polars(fused).sort("account").select(local.columns)
    got = got.select([pl.col(c).cast(local.schema[c]) for c in local.columns])
    assert_frame_equal(got, local, **CLOSE)


def test_a_log_without_communities(spark):
    """Nothing shared, no edge: empty tables with every column, every account benign."""
    from datetime import timedelta

    from graphguard.pipeline.stages import build_stages
    from tests.spark.conftest import spark_frames
    from tests.worlds import T0, frame

    rows = [
        (T0 + timedelta(hours=a, minutes=k), f"user{a}", "like", f"dev{a}", f"ip{a}", f"t{a}-{k}")
        for a in range(12)
        for k in range(3)
    ]
    events = frame(rows)
    stages = build_stages(events)
    assert stages.graph.edges.height == 0
    frames = spark_frames(spark, stages)
    from graphguard.spark.evidence import spark_evidence
    from graphguard.spark.scoring import spark_scores

    clusters, members = spark_evidence(frames)
    assert_frame_equal(clusters, stages.clusters)
    tables = spark_finish(frames, clusters, spark_scores(frames, clusters, members))
    result = detect(events)
    assert_frame_equal(tables.clusters, before_campaigns(result.clusters))
    got = collect_table(tables.accounts, rundir.ACCOUNTS_FILE)
    assert_frame_equal(got, before_campaigns(result.accounts))
    assert to_polars(tables.entity_edges).height == 0
