"""Account features: one finite row per account, and planted campaigns stand out in them.

Worlds come from `tests.worlds.pipeline_world` (the stages `graphguard.pipeline.detect.build_stages`
builds, plus features); the model tests use the same worlds.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.community.evidence import community_evidence
from graphguard.community.scoring import score_clusters
from graphguard.config import DetectConfig
from graphguard.features import FEATURE_NAMES, FEATURES, account_features
from graphguard.features.account import EVENT_VOCABULARY
from graphguard.graph.build import build_account_graph, index_events
from graphguard.simulate import World
from tests.worlds import Pipeline, bot_ring, frame, ordinary_users, pipeline_world, run_pipeline


def with_truth(world: World, pipeline: Pipeline) -> pl.DataFrame:
    """Features with each account's truth columns (label, campaign_kind, hard_negative)."""
    return pipeline.features.with_columns(pl.Series(schema.ACCOUNT, pipeline.account_ids)).join(
        world.truth, on=schema.ACCOUNT, how="left"
    )


@pytest.fixture(scope="module")
def simulated() -> tuple[World, Pipeline]:
    return pipeline_world(31)


def test_one_finite_float_row_per_account(simulated):
    _, pipeline = simulated
    features = pipeline.features
    n = len(pipeline.account_ids)
    assert features.columns == ["account", *FEATURE_NAMES]
    assert features.schema["account"] == pl.UInt32
    assert features.get_column("account").to_list() == list(range(n))
    assert all(features.schema[name] == pl.Float32 for name in FEATURE_NAMES)
    values = features.select(FEATURE_NAMES).to_numpy()
    assert np.isfinite(values).all()
    assert len(FEATURES) == len(FEATURE_NAMES) == len(set(FEATURE_NAMES))


def test_action_mix_shares_sum_to_one(simulated):
    _, pipeline = simulated
    shares = [f"share_{t}" for t in EVENT_VOCABULARY] + ["share_other"]
    total = pipeline.features.select(pl.sum_horizontal(shares)).to_series().to_numpy()
    assert np.allclose(total, 1.0, atol=1e-5)


def test_device_farm_accounts_share_devices_and_sit_in_suspicious_clusters(simulated):
    table = with_truth(*simulated)
    farm = table.filter(pl.col("campaign_kind") == "device_farm")
    benign = table.filter(
        (pl.col(schema.LABEL) == schema.BENIGN) & pl.col("hard_negative").is_null()
    )
    assert farm.height >= 20 and benign.height >= 1000
    for name in (
        "shared_device_event_share",
        "log_max_device_accounts",
        "log_degree_device",
        "cluster_shared_device_event_share",
        "cluster_suspicion",
        "cluster_bot_likeness",
    ):
        # the typical farm account beats nearly every ordinary account
        assert farm[name].median() > benign[name].quantile(0.95), name
    assert farm["in_cluster"].mean() > 0.9


def test_accounts_outside_communities_have_zero_cluster_features(simulated):
    _, pipeline = simulated
    outside = pipeline.features.filter(pl.Series(pipeline.membership < 0))
    cluster_columns = [c for c in FEATURE_NAMES if "cluster" in c or c.startswith("community_")]
    assert outside.height > 0
    assert (outside.select(cluster_columns).to_numpy() == 0).all()


def test_hand_built_ring_against_ordinary_users():
    rng = np.random.default_rng(3)
    events = frame(ordinary_users(rng, 60) + bot_ring(rng, size=10, devices=2, waves=8))
    pipeline = run_pipeline(events)
    table = pipeline.features.with_columns(pl.Series(schema.ACCOUNT, pipeline.account_ids))
    ring = table.filter(pl.col(schema.ACCOUNT).str.starts_with("ring"))
    users = table.filter(pl.col(schema.ACCOUNT).str.starts_with("user"))
    assert ring["shared_device_event_share"].min() == 1.0
    assert users["shared_device_event_share"].max() == 0.0
    assert ring["in_cluster"].min() == 1.0
    assert ring["sync_burst_share"].min() > users["sync_burst_share"].max()
    # every ring event is a like; ordinary users here only like too
    assert ring["share_like"].min() == 1.0
    assert ring["engagement_share"].min() == 1.0


def test_no_communities_and_a_one_event_account():
    rng = np.random.default_rng(4)
    rows = ordinary_users(rng, 20)
    rows.append((rows[0][0], "lonely", "signup", None, None, None))
    events = frame(rows)
    indexed, account_ids = index_events(events)
    n = len(account_ids)
    config = DetectConfig()
    graph = build_account_graph(indexed, n, config.graph)
    membership = np.full(n, -1, dtype=np.int64)
    clusters, members = community_evidence(
        indexed,
        membership,
        graph.edges,
        engagement_types=config.graph.engagement_types,
        signup_types=config.scoring.signup_types,
        sync_window_s=600.0,
        sync_min_share=0.25,
        creation_burst_window_s=3600.0,
    )
    clusters = score_clusters(clusters)
    features = account_features(
        indexed,
        n,
        graph.edges,
        membership,
        clusters,
        members,
        engagement_types=config.graph.engagement_types,
        signup_types=config.scoring.signup_types,
    )
    assert features.height == n
    assert np.isfinite(features.select(FEATURE_NAMES).to_numpy()).all()
    lonely = features.row(account_ids.to_list().index("lonely"), named=True)
    assert lonely["has_signup"] == 1.0
    assert lonely["gap_cv"] == 0.0 and lonely["short_gap_share"] == 0.0
    assert lonely["log_devices"] == 0.0 and lonely["no_device_share"] == 1.0
    assert features["in_cluster"].sum() == 0.0
