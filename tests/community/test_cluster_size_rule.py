"""``community.max_cluster_size: auto``: 50 where the log has devices or IPs, 300 where not."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.community import leiden
from graphguard.config import CommunityConfig, DetectConfig
from graphguard.pipeline.detect import detect
from tests.worlds import bot_ring, frame, ordinary_users


def _never() -> bool:
    raise AssertionError("has_hardware asked for an integer setting")


def test_auto_resolves_by_hardware_and_an_integer_stays():
    auto = CommunityConfig()
    assert auto.max_cluster_size == "auto"
    assert leiden.resolve(auto, lambda: True).max_cluster_size == 50
    assert leiden.resolve(auto, lambda: False).max_cluster_size == 300
    assert leiden.resolve(CommunityConfig(max_cluster_size=120), _never).max_cluster_size == 120
    with pytest.raises(ValueError, match="has_hardware"):
        leiden.resolve(auto, None)


def _two_cliques_joined(size: int) -> pl.DataFrame:
    """Two cliques of ``size`` accounts joined by one edge: Leiden on a graph this small keeps
    them apart only when asked to split what is over max_cluster_size."""
    a, b = np.triu_indices(size, 1)
    src = np.r_[a, a + size, 0]
    dst = np.r_[b, b + size, size]
    return pl.DataFrame(
        {"src": src.astype(np.int32), "dst": dst.astype(np.int32), "weight": np.ones(src.size)}
    )


def test_the_resolved_size_is_the_one_applied_and_recorded():
    edges = _two_cliques_joined(40)
    with_hw = leiden.leiden(80, edges, CommunityConfig(), lambda: True)
    plain = leiden.leiden(80, edges, CommunityConfig(), lambda: False)
    assert with_hw.parameters["max_cluster_size"] == 50
    assert with_hw.parameters["max_cluster_size_rule"] == "auto: the log has devices or IPs"
    assert plain.parameters["max_cluster_size"] == 300
    assert plain.parameters["max_cluster_size_rule"] == "auto: no device or IP in the log"
    fixed = leiden.leiden(80, edges, CommunityConfig(max_cluster_size=50))
    assert "max_cluster_size_rule" not in fixed.parameters
    assert fixed.membership.tolist() == with_hw.membership.tolist()


def test_detect_resolves_auto_from_the_log():
    rng = np.random.default_rng(3)
    rows = ordinary_users(rng, 60) + bot_ring(rng, size=8, devices=2, waves=6)
    events = frame(rows)
    hardware = detect(events, DetectConfig())
    assert hardware.community["max_cluster_size"] == 50
    bare = events.with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in (schema.DEVICE, schema.IP)
    )
    plain = detect(bare, DetectConfig())
    assert plain.community["max_cluster_size"] == 300
