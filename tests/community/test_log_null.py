"""Evidence against the log's own communities: p/q per family, the significance weight, the
unlabelled false-positive estimate, and what it does to suspicion."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard.community.calibration import FAMILIES, calibrate, null_fpr, threshold_for_fpr
from graphguard.community.scoring import score_clusters
from graphguard.community.wording import evidence_facts
from graphguard.config import ConfigError, ScoringConfig
from graphguard.rundir import CLUSTER_COLUMNS
from tests.community.evidence_frames import community_evidence as _clusters


def _organic(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.beta(1, 30, n), rng.integers(5, 60, n)


def test_a_coordinated_community_stands_out_and_organic_ones_do_not():
    sync, size = _organic()
    sync = np.append(sync, 0.8)
    size = np.append(size, 30)
    out = calibrate(_clusters(sync, size), fdr=0.01)
    q = out.get_column("behaviour_q").to_numpy()
    assert q[-1] < 1e-6
    # BH at 1%: essentially none of the organic communities is a discovery
    assert (q[:-1] <= 0.01).mean() < 0.01
    assert out.get_column("behaviour_weight")[-1] > 0.99
    for family in FAMILIES:
        for part in ("stat", "null", "z", "p", "q", "weight"):
            assert out.get_column(f"{family}_{part}").is_finite().all()


def test_a_platform_where_everyone_syncs_a_little_raises_the_bar():
    """The same share that stands out on a quiet platform is ordinary where every community
    shows it (trending bursts): "how unusual for this platform", not a fixed midpoint."""
    rng = np.random.default_rng(1)
    size = rng.integers(10, 60, 401)
    quiet = np.append(rng.beta(1, 30, 400), 0.35)
    busy = np.append(np.clip(rng.normal(0.35, 0.05, 400), 0, 1), 0.35)
    q_quiet = calibrate(_clusters(quiet, size), 0.01).get_column("behaviour_q")[-1]
    q_busy = calibrate(_clusters(busy, size), 0.01).get_column("behaviour_q")[-1]
    assert q_quiet < 1e-4
    assert q_busy > 0.5
    weighted = ScoringConfig(calibrated_weights=True)
    s_quiet = score_clusters(_clusters(quiet, size), weighted).get_column("behaviour_score")[-1]
    s_busy = score_clusters(_clusters(busy, size), weighted).get_column("behaviour_score")[-1]
    assert s_quiet > 0.6 > 0.05 > s_busy
    # by default the weights are computed but not applied: the same share scores the same
    plain = [
        score_clusters(_clusters(x, size)).get_column("behaviour_score")[-1] for x in (quiet, busy)
    ]
    assert plain[0] == pytest.approx(plain[1])


def test_the_null_resists_a_stratum_full_of_campaigns():
    """The median and MAD ignore the coordinated minority of a stratum."""
    sync, size = _organic()
    campaigns = np.full(60, 0.9)
    out = calibrate(
        _clusters(np.concatenate([sync, campaigns]), np.concatenate([size, np.full(60, 30)])),
        0.01,
    )
    assert (out.get_column("behaviour_q").to_numpy()[-60:] < 1e-6).all()


def test_calibration_is_deterministic_and_keeps_scores_in_unit_range():
    sync, size = _organic(seed=3)
    frame = _clusters(sync, size, device=np.random.default_rng(4).uniform(0, 1, sync.size))
    a, b = score_clusters(frame), score_clusters(frame)
    assert a.equals(b)
    for column in ("behaviour_score", "infrastructure_score", "suspicion", "bot_likeness"):
        values = a.get_column(column).to_numpy()
        assert ((values >= 0) & (values <= 1)).all()


def test_an_empty_table_gains_the_columns():
    out = score_clusters(_clusters(np.zeros(0), np.zeros(0)))
    assert out.height == 0
    assert "evidence_q" in out.columns


def test_every_new_column_is_declared_optional_in_the_run_contract():
    sync, size = _organic()
    added = set(score_clusters(_clusters(sync, size)).columns) - set(_clusters(sync, size).columns)
    declared = {c.name: c for c in CLUSTER_COLUMNS}
    calibration = {c for c in added if c.endswith(("_stat", "_null", "_z", "_p", "_q", "_weight"))}
    assert calibration | {"evidence_q"} <= set(declared)
    assert not any(declared[c].required for c in calibration | {"evidence_q"})


def test_the_fdr_setting_is_checked():
    with pytest.raises(ConfigError, match="scoring.fdr"):
        ScoringConfig(fdr=0.0)
    with pytest.raises(ConfigError, match="scoring.fdr"):
        ScoringConfig(fdr=1.5)


def test_null_fpr_counts_flags_in_ordinary_communities_as_false():
    clusters = pl.DataFrame({"cluster": [0, 1], "evidence_q": [1e-6, 1.0]})
    # 10 accounts in a significant community at risk 0.9, 10 in an ordinary one at 0.4, 80 alone
    accounts = pl.DataFrame(
        {
            "cluster_id": [0] * 10 + [1] * 10 + [None] * 80,
            "risk": [0.9] * 10 + [0.4] * 10 + [0.0] * 80,
        },
        schema={"cluster_id": pl.Int64, "risk": pl.Float64},
    )
    fpr = null_fpr(accounts, clusters, [0.95, 0.5, 0.3])
    assert fpr[0] == 0.0
    assert fpr[1] == pytest.approx(10 * 1e-6 / 90, rel=1e-6)
    assert fpr[2] == pytest.approx((10 + 10 * 1e-6) / 90, rel=1e-6)
    assert threshold_for_fpr(accounts, clusters, 0.005) == 0.9
    assert threshold_for_fpr(accounts, clusters, 0.2) == 0.4


def test_the_words_say_how_unusual_the_community_is():
    sync, size = _organic()
    row = score_clusters(_clusters(np.append(sync, 0.8), np.append(size, 30))).row(-1, named=True)
    row.update(n_events=600, n_devices=10, n_ips=10, n_targets=5)
    facts = evidence_facts(row, sync_window_s=600, burst_window_s=3600, engagement_types=("like",))
    text = " ".join(f.sentence for f in facts)
    assert "same size and activity" in text
    assert "q < 0.001" in text
    ordinary = score_clusters(_clusters(sync, size)).row(0, named=True)
    ordinary.update(n_events=600, n_devices=10, n_ips=10, n_targets=5)
    words = " ".join(
        f.sentence
        for f in evidence_facts(
            ordinary, sync_window_s=600, burst_window_s=3600, engagement_types=("like",)
        )
    )
    assert "same size and activity" not in words
