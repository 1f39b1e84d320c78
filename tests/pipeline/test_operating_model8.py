"""The post-stratified operating point of a model run (`models.calibration.stratified_point`):
the evidence's share of the FPR measured on every labelled benign account, the model's on the
validation negatives; older checkpoints and ``fusion: model`` keep the validation-only count."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.config import ScoringConfig
from graphguard.models.calibration import (
    StratifiedFpr,
    operating_point,
    stratified_point,
)
from graphguard.pipeline.operating import resolve_operating_point
from graphguard.pipeline.train import validation_scores


def _population(rng: np.random.Generator, n: int, abusive_share: float = 0.06):
    """Model risk, evidence risk and truth of a population where a small benign share reaches
    a moderate evidence risk (the tail the validation split under-samples)."""
    positive = rng.random(n) < abusive_share
    model = np.where(positive, rng.beta(8, 1, n), rng.beta(1, 60, n))
    evidence = np.where(positive, rng.beta(6, 2, n), rng.beta(1, 40, n))
    tail = ~positive & (rng.random(n) < 0.006)  # benign accounts in suspicious-looking groups
    evidence = np.where(tail, 0.15 + 0.3 * rng.random(n), evidence)
    return model, evidence, positive


def _fused(model: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - model) * (1.0 - evidence)


def test_the_decomposition_is_exact_on_the_validation_negatives_themselves():
    rng = np.random.default_rng(3)
    model, evidence, positive = _population(rng, 3000)
    est = StratifiedFpr(model, evidence, positive, evidence[~positive])
    thresholds = np.linspace(0.01, 0.9, 60)
    counted = (_fused(model, evidence)[~positive][:, None] >= thresholds).mean(axis=0)
    np.testing.assert_allclose(est.parts(thresholds)["fpr"], counted, atol=1e-12)


def test_every_threshold_above_the_chosen_one_meets_the_target():
    rng = np.random.default_rng(4)
    model, evidence, positive = _population(rng, 2000)
    benign = _population(rng, 20000, abusive_share=0.0)[1]
    point = stratified_point(model, evidence, positive, benign, target_fpr=0.005)
    assert point.estimator == "stratified" and point.method == "validation"
    assert point.n_evidence_negatives == benign.size
    est = StratifiedFpr(model, evidence, positive, benign)
    above = np.unique(np.concatenate([_fused(model, evidence), benign]))
    above = above[above >= point.threshold]
    assert (est.parts(above)["fpr"] <= 0.005 + 1e-15).all()
    # the smallest such: the candidate just below it fails somewhere at or above it
    below = np.unique(np.concatenate([_fused(model, evidence), benign]))
    below = below[below < point.threshold]
    assert below.size and est.parts(np.array([below.max()]))["fpr"][0] > 0.005
    lo, hi = point.fpr_interval
    assert lo <= point.expected_fpr <= hi
    # the validation negatives alone would choose their own threshold: reported beside
    old = operating_point(_fused(model, evidence), positive, target_fpr=0.005)
    assert point.validation_threshold == old.threshold


def test_the_stratified_threshold_lands_nearer_the_target_on_the_population():
    """Many validation draws from one population, the evidence term on 5x more benign
    accounts: the population FPR at the stratified threshold is closer to the target (mean
    absolute error) than at the validation-only one, and its interval covers it."""
    rng = np.random.default_rng(11)
    model, evidence, positive = _population(rng, 200_000)
    fused = _fused(model, evidence)
    benign_fused = np.sort(fused[~positive])

    def population_fpr(t: float) -> float:
        return 1.0 - np.searchsorted(benign_fused, t, side="left") / benign_fused.size

    target, errors_old, errors_new, covered = 0.005, [], [], 0
    draws = 60
    for _ in range(draws):
        idx = rng.choice(positive.size, 10_000, replace=False)
        val, train = idx[:1700], idx[1700:]
        benign_all = evidence[idx][~positive[idx]]
        new = stratified_point(
            model[val], evidence[val], positive[val], benign_all, target_fpr=target
        )
        old = operating_point(fused[val], positive[val], target_fpr=target)
        errors_new.append(abs(population_fpr(new.threshold) - target))
        errors_old.append(abs(population_fpr(old.threshold) - target))
        lo, hi = new.fpr_interval
        covered += lo <= population_fpr(new.threshold) <= hi
        assert train.size  # the training accounts' evidence is in benign_all, never their model
    assert np.mean(errors_new) < 0.8 * np.mean(errors_old)
    assert covered >= 0.9 * draws


def test_target_precision_is_met_by_the_estimate():
    rng = np.random.default_rng(5)
    model, evidence, positive = _population(rng, 2000)
    benign = _population(rng, 10000, abusive_share=0.0)[1]
    point = stratified_point(model, evidence, positive, benign, target_precision=0.95)
    assert point.expected_precision >= 0.95 and point.target_precision == 0.95
    lo, hi = point.precision_interval
    assert lo <= point.expected_precision <= hi
    with pytest.raises(ValueError, match="exactly one"):
        stratified_point(model, evidence, positive, benign, target_fpr=0.01, threshold=0.5)


def test_weighted_evidence_negatives_drop_the_abusive_accounts():
    """The evidence term measured on a log without labels: accounts weighted by their chance
    of being benign; with weights 0/1 it is the benign accounts' term exactly."""
    rng = np.random.default_rng(6)
    model, evidence, positive = _population(rng, 2000)
    log_model, log_evidence, log_positive = _population(rng, 20000)
    weights = (~log_positive).astype(np.float64)
    weighted = StratifiedFpr(model, evidence, positive, log_evidence, weights)
    plain = StratifiedFpr(model, evidence, positive, log_evidence[~log_positive])
    t = np.linspace(0.05, 0.8, 30)
    np.testing.assert_allclose(weighted.parts(t)["fpr"], plain.parts(t)["fpr"], atol=1e-12)
    assert weighted.ev_n == pytest.approx(float((~log_positive).sum()))


class _Model:
    def __init__(self, scores: dict) -> None:
        self.validation_scores_ = scores
        self.metadata_ = {"path": "m.pt"}


def _stored(with_benign: bool) -> dict:
    rng = np.random.default_rng(7)
    model, evidence, positive = _population(rng, 2000)
    out = {
        "model_risk": model.tolist(),
        "evidence_risk": evidence.tolist(),
        "abusive": positive.tolist(),
    }
    if with_benign:
        out["benign_evidence_risk"] = np.sort(
            _population(rng, 12000, abusive_share=0.0)[1]
        ).tolist()
    return out


def test_the_run_says_which_estimator_chose_its_threshold():
    scoring = ScoringConfig(target_fpr=0.005)
    new = resolve_operating_point(scoring, model=_Model(_stored(True)))
    old = resolve_operating_point(scoring, model=_Model(_stored(False)))
    assert new.estimator == "stratified" and new.n_evidence_negatives == 12000
    assert old.estimator == "validation" and old.n_evidence_negatives is None
    # an old checkpoint chooses exactly what it chose before the stratified estimator
    stored = _stored(False)
    fused = _fused(np.asarray(stored["model_risk"]), np.asarray(stored["evidence_risk"]))
    before = operating_point(fused, np.asarray(stored["abusive"]), target_fpr=0.005)
    assert old.threshold == before.threshold and old.expected_fpr == before.expected_fpr
    # fusion: model has no evidence term: the validation count, on the model risk alone
    alone = resolve_operating_point(
        ScoringConfig(target_fpr=0.005, fusion="model"), model=_Model(_stored(True))
    )
    assert alone.estimator == "validation"
    model_only = operating_point(
        np.asarray(stored["model_risk"]), np.asarray(stored["abusive"]), target_fpr=0.005
    )
    assert alone.threshold == model_only.threshold
    # a fixed threshold with a model is described by the same estimator
    fixed = resolve_operating_point(ScoringConfig(), model=_Model(_stored(True)))
    assert fixed.method == "fixed" and fixed.estimator == "stratified"
    assert fixed.threshold == ScoringConfig().risk_threshold
    data = new.to_dict()
    for key in ("threshold", "expected_fpr", "fpr_interval", "expected_precision", "estimator"):
        assert key in data


class _Detector:
    """What `validation_scores` reads of a fitted detector."""

    def __init__(self, n: int, val: np.ndarray) -> None:
        self._val = val
        self._n = n

    def validation_split(self, y: np.ndarray) -> np.ndarray:
        mask = np.zeros(y.size, dtype=bool)
        mask[self._val] = True
        return mask

    def predict_proba(self, inputs) -> np.ndarray:
        benign = np.linspace(0.99, 0.01, self._n)
        return np.column_stack([benign, (1 - benign) / 2, (1 - benign) / 2])


class _Stages:
    def __init__(self, risk: list) -> None:
        self._risk = risk

    def scores(self) -> pl.DataFrame:
        n = len(self._risk)
        return pl.DataFrame({"account": list(range(n))[::-1], "risk": self._risk[::-1]})


def test_the_checkpoint_keeps_the_evidence_of_every_labelled_benign_account():
    benign, bot = schema.LABELS.index(schema.BENIGN), schema.LABELS.index(schema.BOT_RING)
    y = np.array([benign, benign, -1, bot, benign, benign, -1, bot])
    risk = [0.1, 0.5, 0.9, 0.8, None, 0.2, 0.3, 0.7]
    out = validation_scores(_Detector(8, np.array([0, 3, 5])), _Stages(risk), None, y)
    assert out["evidence_risk"] == [0.1, 0.8, 0.2]
    assert out["abusive"] == [False, True, False]
    # training and validation benign alike (accounts 0, 1, 4, 5), unlabelled ones never
    assert out["benign_evidence_risk"] == [0.0, 0.1, 0.2, 0.5]


def test_a_run_with_its_accounts_measures_the_evidence_on_its_own_log():
    rng = np.random.default_rng(8)
    stored = _stored(True)
    model, evidence, positive = _population(rng, 15000)
    # a model that knows this log's abusive accounts (the weights 1 - model_risk assume that
    # the model's benign probability holds where the evidence is high)
    model = np.where(positive, rng.beta(60, 1, positive.size), model)
    # a log whose benign tail is twice the training world's: more benign accounts in
    # suspicious-looking groups
    heavier = ~positive & (rng.random(positive.size) < 0.008)
    evidence = np.where(heavier, 0.15 + 0.3 * rng.random(positive.size), evidence)
    accounts = pl.DataFrame({"evidence_risk": evidence, "model_risk": model})
    scoring = ScoringConfig(target_fpr=0.01)
    on_log = resolve_operating_point(scoring, model=_Model(stored), accounts=accounts)
    trained = resolve_operating_point(scoring, model=_Model(stored))
    assert on_log.estimator == "log" and on_log.n_evidence_negatives == accounts.height
    assert trained.estimator == "stratified"
    # accounts without the two columns (the null path's table) leave the training world's term
    plain = resolve_operating_point(
        scoring, model=_Model(stored), accounts=accounts.select("evidence_risk")
    )
    assert plain.threshold == trained.threshold and plain.estimator == "stratified"
    benign = np.sort(_fused(model, evidence)[~positive])

    def population_fpr(t: float) -> float:
        return 1.0 - np.searchsorted(benign, t, side="left") / benign.size

    assert abs(population_fpr(on_log.threshold) - 0.01) < abs(
        population_fpr(trained.threshold) - 0.01
    )
    assert population_fpr(trained.threshold) > 0.01 + 0.002  # the training world's misleads
    assert abs(population_fpr(on_log.threshold) - 0.01) <= 0.002
    model_only = resolve_operating_point(
        ScoringConfig(target_fpr=0.01, fusion="model"), model=_Model(stored), accounts=accounts
    )
    assert model_only.estimator == "validation"


def test_abuse_the_model_misses_makes_the_log_estimate_err_high():
    """Abusive accounts the model calls benign but the evidence catches count as benign in the
    log's evidence tail: the estimate is too high, so the threshold flags fewer (the FPR falls
    below the target, never above it, from this cause)."""
    rng = np.random.default_rng(9)
    stored = _stored(True)
    model, evidence, positive = _population(rng, 15000)
    missed = positive & (rng.random(positive.size) < 0.3)
    model = np.where(positive & ~missed, rng.beta(60, 1, positive.size), model)
    model = np.where(missed, rng.beta(1, 60, positive.size), model)
    accounts = pl.DataFrame({"evidence_risk": evidence, "model_risk": model})
    point = resolve_operating_point(
        ScoringConfig(target_fpr=0.01), model=_Model(stored), accounts=accounts
    )
    benign_tail = float((evidence[~positive] >= point.threshold).mean())
    assert point.estimator == "log" and point.evidence_fpr > benign_tail
    fused = np.sort(_fused(model, evidence)[~positive])
    assert 1.0 - np.searchsorted(fused, point.threshold, side="left") / fused.size < 0.01
