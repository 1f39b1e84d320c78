"""The null when campaigns are a large share of the log: distinct campaigns of one size and
activity outnumber the organic communities of their stratum (the 10M-event world: 7% of the
accounts, 80% of some strata). The null is estimated without the communities it singles out,
round after round, against the stratum's null or the whole log's."""

from __future__ import annotations

import numpy as np

from graphguard.community.calibration import NULL_ROUNDS, calibrate
from tests.community.evidence_frames import community_evidence as _clusters


def _crowded_log(n_campaigns: int, seed: int = 0):
    """400 organic communities of 5-59 accounts, and distinct campaigns (each its own Leiden
    community) of 16-31 accounts at the same activity: with 200 of them they are two thirds of
    their stratum, and of their size stratum too."""
    rng = np.random.default_rng(seed)
    sync = np.r_[rng.beta(1, 30, 400), rng.uniform(0.6, 0.95, n_campaigns)]
    size = np.r_[rng.integers(5, 60, 400), rng.integers(16, 32, n_campaigns)]
    campaign = np.r_[np.zeros(400, dtype=bool), np.ones(n_campaigns, dtype=bool)]
    return sync, size, campaign


def test_campaigns_that_outnumber_their_stratum_are_still_singled_out():
    organic_share = []
    for seed in range(10):
        sync, size, campaign = _crowded_log(200, seed)
        out = calibrate(_clusters(sync, size), fdr=0.01)
        q = out.get_column("behaviour_q").to_numpy()
        # every campaign a discovery
        assert (q[campaign] <= 0.01).all()
        # the null of the crowded stratum is the organic communities', not the campaigns'
        null = out.get_column("behaviour_null").to_numpy()
        assert null[campaign].max() < 0.05
        organic_share.append((q[~campaign] <= 0.01).mean())
    # the organic communities rarely: with 200 true discoveries among 600 BH's p cut is a third
    # of the fdr, not a 600th, so a few of the 400 organic ones pass it (0.5-2.5% of them)
    assert np.mean(organic_share) < 0.015
    assert max(organic_share) < 0.03


def test_the_null_of_an_organic_log_moves_little():
    """Without campaigns the rounds only drop the few organic discoveries: the null is the
    organic median, and the discoveries stay under the FDR."""
    sync, size, _ = _crowded_log(0)
    out = calibrate(_clusters(sync, size), fdr=0.01)
    q = out.get_column("behaviour_q").to_numpy()
    assert (q <= 0.01).mean() < 0.01
    null = out.get_column("behaviour_null").to_numpy()
    assert np.abs(null - np.median(sync)).max() < 0.02


def test_the_rounds_are_bounded_and_deterministic():
    assert 1 <= NULL_ROUNDS <= 20
    sync, size, _ = _crowded_log(200, 5)
    a = calibrate(_clusters(sync, size), fdr=0.01)
    b = calibrate(_clusters(sync, size), fdr=0.01)
    assert a.equals(b)
