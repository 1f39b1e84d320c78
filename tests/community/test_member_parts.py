"""An account carries its community's infrastructure score as far as it used the shared
hardware that scored the community: devices, or IPs in the same hour."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard.community.scoring import score_accounts
from graphguard.config import ScoringConfig


def _scored(p_device: list[float], p_ip: list[float]) -> pl.DataFrame:
    n = len(p_device)
    members = pl.DataFrame(
        {
            "account": np.arange(n, dtype=np.uint32),
            "cluster": np.zeros(n, dtype=np.int64),
            "p_shared_device": p_device,
            "p_shared_ip": p_ip,
            "p_sync": [0.0] * n,
            "n_synced_targets": np.zeros(n, dtype=np.uint32),
            "p_dense": [0.0] * n,
        }
    )
    clusters = pl.DataFrame(
        {
            "cluster": [0],
            "behaviour_score": [0.0],
            "infrastructure_score": [0.8],
            "dense_score": [0.0],
            "bot_likeness": [0.5],
        },
        schema_overrides={"cluster": pl.Int64},
    )
    ids = pl.Series("account_id", [f"a{i}" for i in range(n)])
    return score_accounts(n, ids, np.zeros(n, dtype=np.int64), members, clusters, ScoringConfig())


def test_a_member_on_the_shared_ip_carries_the_infrastructure_score():
    # a ring on one proxy IP, each member on a device of its own
    out = _scored(p_device=[0.0, 0.0, 0.0], p_ip=[0.6, 0.2, 0.0])
    part = out.get_column("infrastructure_part").to_list()
    saturation = ScoringConfig().participation_saturation
    assert part[0] == pytest.approx(0.8)
    assert part[1] == pytest.approx(0.8 * 0.2 / saturation)
    assert part[2] == 0.0
    assert out.get_column("flagged").to_list() == [True, False, False]


def test_the_larger_of_device_and_ip_sharing_counts():
    out = _scored(p_device=[0.3, 0.1], p_ip=[0.1, 0.3])
    part = out.get_column("infrastructure_part").to_list()
    assert part[0] == pytest.approx(part[1])
    assert part[0] == pytest.approx(0.8 * 0.3 / ScoringConfig().participation_saturation)
