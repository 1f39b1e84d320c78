"""The stratum weights of the pooled model term (`models.calibration.StratifiedFpr`,
``log_weights="stratum"``): each of the log's accounts counts as benign by its probability given
its model risk *and* the stratum ``e < t`` the term is measured on, not by ``1 - model_risk``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from graphguard.config import ScoringConfig
from graphguard.models.calibration import StratifiedFpr, stratified_point
from graphguard.pipeline.operating import resolve_operating_point
from graphguard.report.summary import estimator_words, operating_point_words
from tests.pipeline.operating_models import stored_model


def _world(rng: np.random.Generator, n_benign: int, n_abusive: int, wrong: float = 0.003):
    """Model risk, evidence risk and abusiveness of a world like the simulator's: the evidence
    catches every campaign (abusive accounts at e >= 0.95) and the model is sure of them (1 -
    model risk 10^-5.5 to 10^-3, as the simulator's: their weights 1 - model_risk sum to
    under 0.1 account); benign accounts mostly low on both, 2% in suspicious-looking groups,
    and a share ``wrong`` the model is wrong about (model risk anywhere in 0.05-1, at low
    evidence), none of them abusive."""
    m = rng.beta(1.0, 300.0, n_benign)
    hesitant = rng.random(n_benign) < wrong
    m = np.where(hesitant, rng.uniform(0.05, 1.0, n_benign), m)
    suspicious = rng.random(n_benign) < 0.02
    e = np.where(suspicious, rng.uniform(0.05, 0.3, n_benign), 0.1 * rng.random(n_benign) ** 2)
    e = np.where(hesitant, 0.05 * rng.random(n_benign), e)
    sure = 1.0 - 10.0 ** rng.uniform(-5.5, -3.0, n_abusive)
    model = np.concatenate([m, sure])
    evidence = np.concatenate([e, rng.uniform(0.95, 1.0, n_abusive)])
    positive = np.arange(n_benign + n_abusive) >= n_benign
    return model, evidence, positive


def _fused(m, e):
    return 1.0 - (1.0 - m) * (1.0 - e)


@pytest.mark.parametrize("target", [0.005, 0.01])
def test_the_stratum_weights_hold_the_target_where_one_minus_model_risk_runs_high(target):
    """3,000 benign accounts, 240 validation negatives and 38 positives (the 3,000-account
    simulator world's split), 12 draws: weighted by 1 - model_risk the FPR lands above the
    target (the benign accounts the model is wrong about count as a fraction of one); the
    default, stratum weights, centres on it."""
    errors = {"stratum": [], "model_risk": []}
    for seed in range(12):
        rng = np.random.default_rng(300 + seed)
        m, e, positive = _world(rng, 240, 38)
        lm, le, lpos = _world(rng, 3000, 300)
        lr = _fused(lm, le)
        default = stratified_point(
            m, e, positive, le, evidence_weights=1.0 - lm, log_risk=lr, target_fpr=target
        )
        before = stratified_point(
            m,
            e,
            positive,
            le,
            evidence_weights=1.0 - lm,
            log_risk=lr,
            log_weights="model_risk",
            target_fpr=target,
        )
        assert default.log_weights == "stratum" and before.log_weights == "model_risk"
        for name, point in (("stratum", default), ("model_risk", before)):
            errors[name].append((lr[~lpos] >= point.threshold).mean() - target)
        lo, hi = default.fpr_interval
        assert lo <= (lr[~lpos] >= default.threshold).mean() <= hi
    # the world has the bias the simulator showed: 1 - model_risk lands high on average
    assert np.mean(errors["model_risk"]) > 0.0006
    assert np.mean(np.abs(errors["stratum"])) < 0.5 * np.mean(np.abs(errors["model_risk"]))
    assert abs(np.mean(errors["stratum"])) < 0.0004
    assert max(abs(x) for x in errors["stratum"]) <= 0.002


def test_the_weights_follow_the_validation_positives_below_the_threshold():
    """Where every validation positive lies below ``t`` (evidence that misses the abuse) the
    stratum weights are back near 1 - model_risk; where none does, each account's benign odds
    are its model odds over (1/2) / (n_pos + 1): the share is that weighted count."""
    rng = np.random.default_rng(5)
    m, e, positive = _world(rng, 1500, 100)
    e = np.where(positive, rng.uniform(0.0, 0.3, e.size), e)  # positives the evidence misses
    lm, le, lpos = _world(rng, 8000, 800)
    le = np.where(lpos, rng.uniform(0.0, 0.3, le.size), le)
    lr, w = _fused(lm, le), 1.0 - lm
    stratum = StratifiedFpr(m, e, positive, le, w, lr)
    plain = StratifiedFpr(m, e, positive, le, w, lr, log_weights="model_risk")
    t = np.array([0.35, 0.5])  # above every positive's evidence
    stratum_parts = stratum.parts(t)
    plain_parts = plain.parts(t)
    # k = n_pos: P(e < t | abusive) = 100.5 / 101, the weights within half a percent of w
    np.testing.assert_allclose(
        stratum_parts["model_q"], plain_parts["model_q"], rtol=0.01, atol=1e-5
    )
    # below every positive's evidence (k = 0) the weights are w / (w + (1 - w) / 202)
    mine = StratifiedFpr(m, np.where(positive, 0.9, e), positive, le, w, lr)
    ti = 0.2
    pi = 0.5 / 101.0
    ws = w / (w + (1.0 - w) * pi)
    below = le < ti
    expected = ws[below & (lr >= ti)].sum() / ws[below].sum()
    got = mine._log_model_term(np.array([ti]))[0][0]
    assert got == pytest.approx(expected, rel=1e-12)
    # certain weights stay as they are
    certain = (~lpos).astype(np.float64)
    a = StratifiedFpr(m, e, positive, le, certain, lr).parts(t)
    b = StratifiedFpr(m, e, positive, le, certain, lr, log_weights="model_risk").parts(t)
    np.testing.assert_allclose(a["model_q"], b["model_q"], rtol=1e-12)
    with pytest.raises(ValueError, match="log_weights"):
        StratifiedFpr(m, e, positive, le, w, lr, log_weights="isotonic")


def test_a_run_records_its_log_weights_and_the_report_names_them():
    rng = np.random.default_rng(13)
    m, e, positive = _world(rng, 1500, 150)
    lm, le, _ = _world(rng, 8000, 800)
    accounts = pl.DataFrame({"evidence_risk": le, "model_risk": lm})
    point = resolve_operating_point(
        ScoringConfig(target_fpr=0.01), model=stored_model(m, e, positive), accounts=accounts
    )
    data = point.to_dict()
    assert data["estimator"] == "log" and data["model_term"] == "pooled"
    assert data["log_weights"] == "stratum"
    words = estimator_words(data)
    assert words == (
        "estimated from this log's evidence and model risk of its 8,800 accounts, weighted as "
        "benign by evidence stratum, and 1,500 validation negatives"
    )
    # without the log's accounts nothing is weighted: no log_weights
    trained = resolve_operating_point(
        ScoringConfig(target_fpr=0.01), model=stored_model(m, e, positive)
    )
    assert trained.estimator == "stratified" and trained.log_weights is None
    assert "weighted" not in (estimator_words(trained.to_dict()) or "")


def test_many_validation_positives_share_a_bounded_number_of_weightings(monkeypatch):
    """2,000 validation positives spread over every evidence value give hundreds of distinct
    counts below the candidates, one pass over the log each; past `MAX_WEIGHTINGS` they share
    levels, and the threshold and expected FPR stay those of every count weighted on its own."""
    from graphguard.models import calibration

    rng = np.random.default_rng(41)
    m, e, positive = _world(rng, 3000, 2000)
    e = np.where(positive, rng.uniform(0.0, 1.0, e.size), e)
    lm, le, _ = _world(rng, 20000, 1000)
    lr = _fused(lm, le)
    calls = []
    tail = calibration._tail

    def counted(*args):
        calls.append(1)
        return tail(*args)

    monkeypatch.setattr(calibration, "_tail", counted)

    def point():
        calls.clear()
        chosen = stratified_point(
            m, e, positive, le, evidence_weights=1.0 - lm, log_risk=lr, target_fpr=0.005
        )
        return chosen, len(calls)

    cap = calibration.MAX_WEIGHTINGS
    capped, capped_calls = point()
    monkeypatch.setattr(calibration, "MAX_WEIGHTINGS", 10**9)
    exact, exact_calls = point()
    # three tails per weighting (hundreds of counts among the candidates), a few outside them
    assert exact_calls > 3 * 3 * cap
    assert capped_calls < 3 * cap + 50
    assert capped.expected_fpr == pytest.approx(exact.expected_fpr, abs=5e-5)
    assert capped.threshold >= exact.threshold - 1e-9


def test_the_target_precision_is_taken_at_the_logs_own_class_mix():
    """A log with a third of the training world's share of abuse (4.8% against 13.7%): at a
    target precision the threshold is chosen, and the precision expected, in the log's own mix
    (its accounts' summed benign weights against the rest), so the precision the log realises is
    the target; taken in the validation split's mix it would be promised too high."""
    realised, validation_mix = [], []
    for seed in range(8):
        rng = np.random.default_rng(700 + seed)
        m, e, positive = _world(rng, 240, 38)
        lm, le, lpos = _world(rng, 3000, 150)
        lr = _fused(lm, le)
        point = stratified_point(
            m, e, positive, le, evidence_weights=1.0 - lm, log_risk=lr, target_precision=0.9
        )
        assert point.precision_mix == "log"
        # the summed model risks: the benign accounts' own (mean 1/301, and the doubted ones)
        # add about 0.004 to the true share
        assert 0.0 <= point.abusive_share - lpos.mean() < 0.008
        flagged = lr >= point.threshold
        realised.append((flagged & lpos).sum() / flagged.sum())
        # the same threshold's precision in the validation split's mix
        recall = (point.expected_recall or 0.0) * positive.sum()
        validation_mix.append(recall / (recall + point.expected_fpr * (~positive).sum()))
        lo, hi = point.precision_interval
        assert lo <= realised[-1] <= hi
    run = SimpleNamespace(meta={"operating_point": point.to_dict()})
    assert "in this log's class mix" in operating_point_words(run)
    assert abs(np.mean(realised) - 0.9) < 0.02
    assert np.mean(validation_mix) - np.mean(realised) > 0.03
    # without the log's accounts the mix is the validation split's, as before
    plain = stratified_point(m, e, positive, le, target_precision=0.9)
    assert plain.precision_mix == "validation"
    assert plain.abusive_share == pytest.approx(positive.mean())
