"""The pooled model term of the ``log`` estimator (`models.calibration.StratifiedFpr` with
``log_risk``): P(r >= t | e < t) from the validation negatives and the scored log's accounts
weighted as benign, averaged by their effective sample sizes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard.config import ScoringConfig
from graphguard.models.calibration import StratifiedFpr, stratified_point
from graphguard.pipeline.operating import resolve_operating_point
from tests.pipeline.operating_models import stored_model


def _world(rng: np.random.Generator, n_benign: int, n_abusive: int):
    """Model risk, evidence risk and abusiveness of a world where the model is calibrated
    (each account abusive with probability its model risk, whatever its evidence): about
    ``n_benign`` benign accounts, mostly low on the evidence, a few in suspicious-looking
    groups; ``n_abusive`` drawn high."""
    n = n_benign + n_abusive
    m = np.where(np.arange(n) < n_benign, rng.beta(1.0, 25.0, n), rng.beta(40.0, 1.0, n))
    positive = rng.random(n) < m
    suspicious = rng.random(n) < 0.01
    e = np.where(suspicious, rng.uniform(0.1, 0.5, n), 0.1 * rng.random(n))
    # the abusive-looking component high on the evidence too; given m, an account's class
    # does not depend on e, so 1 - m is its benign probability given both
    e = np.where(np.arange(n) >= n_benign, rng.uniform(0.3, 0.9, n), e)
    return m, e, positive


def _fused(m, e):
    return 1.0 - (1.0 - m) * (1.0 - e)


def test_the_pooled_model_term_is_the_size_weighted_mean_of_the_two_counts():
    rng = np.random.default_rng(11)
    m, e, positive = _world(rng, 300, 40)
    lm, le, lpos = _world(rng, 5000, 500)
    weights = (~lpos).astype(np.float64)  # a model that knows the log's classes
    est = StratifiedFpr(m, e, positive, le, weights, _fused(lm, le))
    t = np.array([0.08, 0.12, 0.2, 0.35])
    parts = est.parts(t)
    r, lr = _fused(m, e), _fused(lm, le)
    for i, ti in enumerate(t):
        nv_mask = ~positive & (e < ti)
        nl_mask = ~lpos & (le < ti)
        hits_v, n_v = (r[nv_mask] >= ti).sum(), nv_mask.sum()
        q_l = (lr[nl_mask] >= ti).mean()
        expected = (hits_v + nl_mask.sum() * q_l) / (n_v + nl_mask.sum())
        assert parts["model_q"][i] == pytest.approx(expected, rel=1e-12)
        assert parts["model_log_n"][i] == pytest.approx(nl_mask.sum())
        # with the log's true classes the pooled FPR is near the log's benign FPR itself
        truth = (lr[~lpos] >= ti).mean()
        assert abs(parts["fpr"][i] - truth) < 0.3 * abs(parts["fpr"][i] - truth) + 0.002
    # without log_risk the model term is the validation count alone, as before
    plain = StratifiedFpr(m, e, positive, le, weights).parts(t)
    assert not np.allclose(plain["model_q"], parts["model_q"])


def test_on_small_worlds_the_pooled_term_holds_the_target_where_the_count_cannot():
    """3,000 benign accounts, 240 validation negatives (the 3,000-account simulator world's
    split): one negative is 0.4 points of FPR. Over 12 draws the pooled estimator's threshold
    keeps the log's benign FPR within 0.2 points of 1% in most, the validation count in few."""
    gaps_pooled, gaps_count = [], []
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        m, e, positive = _world(rng, 240, 38)
        lm, le, lpos = _world(rng, 3000, 300)
        lr = _fused(lm, le)
        w = 1.0 - lm
        pooled = stratified_point(
            m, e, positive, le, evidence_weights=w, log_risk=lr, target_fpr=0.01
        )
        count = stratified_point(m, e, positive, le, evidence_weights=w, target_fpr=0.01)
        assert pooled.model_term == "pooled" and count.model_term == "validation"
        assert pooled.n_model_log > 2500
        benign = lr[~lpos]
        gaps_pooled.append(abs((benign >= pooled.threshold).mean() - 0.01))
        gaps_count.append(abs((benign >= count.threshold).mean() - 0.01))
        lo, hi = pooled.fpr_interval
        assert lo <= pooled.expected_fpr <= hi
    pooled_within = sum(g <= 0.002 for g in gaps_pooled)
    count_within = sum(g <= 0.002 for g in gaps_count)
    # the realised FPR of 3,000 benign accounts is itself about +-0.18 points (one sd) around
    # what any estimator can know, so not every draw: most of them, and far more than the count
    assert pooled_within >= 10 and count_within <= 6
    assert max(gaps_pooled) <= 0.003
    assert np.mean(gaps_pooled) < 0.5 * np.mean(gaps_count)


def test_a_run_with_its_accounts_records_the_pooled_model_term():
    rng = np.random.default_rng(12)
    m, e, positive = _world(rng, 1500, 150)
    lm, le, _ = _world(rng, 8000, 800)
    accounts = pl.DataFrame({"evidence_risk": le, "model_risk": lm})
    point = resolve_operating_point(
        ScoringConfig(target_fpr=0.01), model=stored_model(m, e, positive), accounts=accounts
    )
    assert point.estimator == "log" and point.model_term == "pooled"
    assert 7000 < point.n_model_log <= 8800
    data = point.to_dict()
    assert data["model_term"] == "pooled" and data["n_model_log"] == point.n_model_log
    trained = resolve_operating_point(
        ScoringConfig(target_fpr=0.01), model=stored_model(m, e, positive)
    )
    assert trained.estimator == "stratified" and trained.model_term == "validation"
    assert trained.n_model_log is None
