"""Temperature scaling, ECE / NLL and operating points from validation scores."""

from __future__ import annotations

import numpy as np
import pytest

from graphguard.models.calibration import (
    ece,
    fit_temperature,
    log_softmax,
    nll,
    operating_point,
    validation_point,
    wilson,
)


def _overconfident(n: int = 4000, true_t: float = 2.5, seed: int = 0):
    """Logits whose labels were drawn from softmax(z / true_t): a model ``true_t`` too sharp."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, size=(n, 3))
    p = np.exp(log_softmax(z / true_t))
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return z, y


def test_temperature_recovers_how_overconfident_a_model_is():
    z, y = _overconfident()
    t = fit_temperature(z, y)
    assert 2.2 < t < 2.8
    assert nll(z, y, t) < nll(z, y)
    before, after = np.exp(log_softmax(z)), np.exp(log_softmax(z / t))
    assert ece(after, y) < ece(before, y) / 2
    # deterministic, and the minimum: nearby temperatures are no better
    assert fit_temperature(z, y) == t
    assert nll(z, y, t) <= min(nll(z, y, t * 1.05), nll(z, y, t / 1.05))


def test_temperature_never_sharpens_a_separable_validation_split():
    # perfectly separated validation labels: the NLL keeps falling as T shrinks, and a fit
    # below 1 would turn every score into 0 or 1
    z = np.zeros((200, 3))
    y = np.arange(200) % 3
    z[np.arange(200), y] = 4.0
    assert nll(z, y, 0.5) < nll(z, y, 1.0)
    assert fit_temperature(z, y) == pytest.approx(1.0, abs=1e-6)
    # an underconfident model is left as it is too (no sharpening)
    assert fit_temperature(z / 10.0, y) == pytest.approx(1.0, abs=1e-6)


def test_temperature_without_validation_is_one():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)) == 1.0


def test_target_fpr_takes_the_smallest_threshold_within_it():
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.random(1000) * 0.6, 0.4 + rng.random(100) * 0.6])
    positive = np.arange(1100) >= 1000
    point = operating_point(scores, positive, target_fpr=0.01)
    flagged = scores >= point.threshold
    assert (flagged & ~positive).sum() <= 10
    # one step lower breaks the promise
    lower = scores[scores < point.threshold].max()
    assert ((scores >= lower) & ~positive).sum() > 10
    assert point.expected_fpr == (flagged & ~positive).sum() / 1000
    assert point.fpr_interval[0] <= point.expected_fpr <= point.fpr_interval[1]
    assert point.expected_recall == (flagged & positive).sum() / 100
    assert point.method == "validation" and point.n_negatives == 1000


def test_target_precision_and_a_target_nothing_meets():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])
    positive = np.array([False, False, True, False, True, True])
    point = operating_point(scores, positive, target_precision=0.75)
    assert point.threshold == 0.3 and point.expected_precision == 0.75
    # all benign share the top score: no threshold meets the FPR, so nothing is flagged
    tied = operating_point(
        np.array([0.5, 0.5, 0.2]), np.array([False, False, True]), target_fpr=0.1
    )
    assert tied.threshold > 0.5 and tied.expected_fpr == 0.0


def test_operating_point_refuses_one_sided_validation():
    with pytest.raises(ValueError, match="both abusive and benign"):
        operating_point(np.array([0.1, 0.2]), np.array([False, False]), target_fpr=0.01)
    with pytest.raises(ValueError, match="exactly one"):
        operating_point(np.array([0.1]), np.array([True]), target_fpr=0.1, target_precision=0.9)


def test_wilson_interval_and_a_fixed_point():
    low, high = wilson(5, 100)
    assert low < 0.05 < high and low >= 0 and high <= 1
    assert wilson(0, 0) is None
    point = validation_point(np.array([0.2, 0.7]), np.array([False, True]), 0.5, method="fixed")
    assert point.expected_fpr == 0.0 and point.expected_precision == 1.0
