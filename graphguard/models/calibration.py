"""Calibrated probabilities and operating points: temperature scaling, ECE, NLL, thresholds.

Pure numpy (and sklearn's isotonic regression, for `log_check`). `fit_temperature` finds
the one temperature ``T`` that minimises the validation negative log-likelihood of
``softmax(logits / T)`` by a golden-section search on ``log T``
(deterministic: no draws, no starting point to choose). `operating_point` picks the flag
threshold of a score for a target false-positive rate or precision from labelled validation
scores, and says how sure that is: Wilson 95% intervals of the validation FPR and precision
behind it (they are binomial proportions of the validation counts).

`stratified_point` does the same for the noisy-OR fused risk ``r = 1 - (1 - m)(1 - e)`` of a
model risk ``m`` and a label-free evidence risk ``e``. Since ``r >= e``, the benign FPR at
``t`` splits exactly into ``P(e >= t) + P(e < t) * P(r >= t | e < t)``: the evidence term is
measured on many more benign accounts than the validation split holds (every labelled benign
account of the training world: ``e`` uses no labels, so the training accounts are as honest
for it as the validation ones), the model's term on the validation negatives with ``e < t``
only (the model's risk is honest only where it was not fitted). A post-stratified estimate: the
same decomposition, with the variance of the evidence's tail cut by the larger sample.

On a log without labels (``log_risk`` given: the fused risk of the accounts the evidence term
is measured on, each weighted by its probability of being benign) the model's term is *pooled*:
``q(t) = P(r >= t | e < t)`` is measured twice, as the count on the validation negatives with
``e < t`` (``n_v`` of them: unbiased, but one negative is ``1 / n_v`` of it, 0.4 points at
3,000 accounts) and as the weighted share on the log's accounts with ``e < t`` (effective
sample size ``n_l = (sum w)^2 / sum w^2``: thousands, biased only as far as the weights are),
and the two are averaged by their sample sizes, ``(n_v q_v + n_l q_l) / (n_v + n_l)``, the
pooled binomial proportion; its interval is the Wilson one of that pooled sample.

The log's weights (``log_weights``). ``1 - model_risk`` is the model's benign probability over
all accounts; the model term needs it among the accounts with ``e < t`` only, where abuse is
much rarer (the evidence catches most of it): weighted by ``1 - model_risk`` there, the benign
accounts the model is wrong about (model risk 0.2, 0.9, 0.999, none of them abusive) count as
a fraction of one, the share runs low and the threshold too low (the population FPR landed
0-0.17 points above the target on every new seed, `experiments/operating_points/`). The
``stratum`` weights (the default) are the benign probability given the model risk *and* the
stratum, by Bayes with the evidence taken as independent of the model risk given the class:
``odds(benign | m, e < t) = odds(benign | m) * P(e < t | benign) / P(e < t | abusive)``, the
denominator the validation positives' share with ``e < t`` (Jeffreys, ``(k + 1/2) / (n_pos +
1)``, never 0) and ``P(e < t | benign)`` taken as 1 (it is at least ``1 - FPR(t)``, above 0.95
wherever a target below 5% can be met: taking it as 1 raises the odds by at most that factor).
Where the validation positives lie above ``t`` the weights go to nearly 1 (``n_pos = 100``: a
model risk of 0.9 weighs 0.96 against 0.1); where they lie below, back towards
``1 - model_risk``. A weight of 0 or 1 stays as it is. ``model_risk`` keeps the weights as
they were.

The check (`log_check`, on every pooled point: run.json ``operating_point.reliable``). Both
weightings trust ``1 - model_risk`` as the model's benign probability. Where the model
separates poorly (the simulator's hard worlds: a checkpoint with validation AUPRC 0.72) it is
far from it, and the estimate runs low by a factor of 3-4 (a target of 1% flagged 3-4% of the
benign accounts). A second estimate needing no truth either: the same estimator with each
account's weight the isotonic fit of benign on the model risk of the checkpoint's labelled
validation accounts (``isotonic_stratum``; sklearn's `IsotonicRegression`). Where the model's
risks are honest the two agree (a factor of 1.00-1.05 at the chosen threshold on 32 runs of
the ordinary worlds); where they are not they part (3.8-5.0 on 24 runs of the hard ones), and
their thresholds err in opposite directions of the truth
(`experiments/operating_points/reliability11/`). When they differ by more
than `CHECK_RATIO` and by more than `CHECK_POINTS` at the chosen threshold the point is marked
``reliable: false``, and its FPR interval widened to the union of both estimators' intervals.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: the temperature search interval (log scale) and its iterations. The lower end is 1: scaling
#: only ever softens a model. A validation split the model separates perfectly (common on
#: simulated worlds, and on small splits anywhere) has its NLL fall as T -> 0, and sharpening
#: on it would push every probability to 0 or 1 and leave no threshold to choose between.
_LOG_T_RANGE = (0.0, math.log(20.0))
_ITERATIONS = 80
#: z of a two-sided 95% interval
_Z95 = 1.959963984540054
#: z of a two-sided 97.5% interval: two of them (Bonferroni) make a joint 95% box
_Z975 = 2.241402727604947


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of class codes ``y`` under ``softmax(logits / T)``."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    return float(-logp[np.arange(len(y)), y].mean())


def ece(proba: np.ndarray, y: np.ndarray, *, bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence, ``bins`` equal-width bins."""
    proba = np.asarray(proba, dtype=np.float64)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    hit_sum = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    return float(np.abs(conf_sum - hit_sum).sum() / max(len(y), 1))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [1, 20] minimising `nll` of ``y`` (1.0 with nothing to fit on, or when
    the model is not overconfident on it)."""
    y = np.asarray(y, dtype=np.int64)
    if y.size == 0:
        return 1.0
    logits = np.asarray(logits, dtype=np.float64)
    low, high = _LOG_T_RANGE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(logits, y, math.exp(a)), nll(logits, y, math.exp(b))
    for _ in range(_ITERATIONS):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(logits, y, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(logits, y, math.exp(b))
    return float(math.exp((low + high) / 2.0))


def wilson(successes: float, n: float, *, z: float = _Z95) -> tuple[float, float] | None:
    """Wilson interval (95% unless ``z`` says otherwise) of a binomial proportion; None
    without trials. ``n`` may be an effective sample size (weighted counts)."""
    if n <= 0:
        return None
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class OperatingPoint:
    """A flag threshold and what is expected of it.

    ``method``: ``"validation"`` (labelled validation scores of the model), ``"null"`` (the
    log's null model, no labels) or ``"fixed"`` (scoring.risk_threshold as set). The expected
    figures and intervals are None where the method has nothing to estimate them from.
    ``estimator`` (a model's points only): ``"validation"`` (the FPR counted on the validation
    negatives alone), ``"stratified"`` (`stratified_point`: the evidence's term on the
    ``n_evidence_negatives`` labelled benign accounts of the training world, ``evidence_fpr``
    of them at the threshold, the model's on the validation negatives) or ``"log"`` (the same,
    the evidence's term on the run's own log: its ``n_evidence_negatives`` accounts weighted
    by their model probability of being benign). ``validation_fpr`` / ``validation_threshold``:
    what the validation negatives alone say of this threshold / would have chosen.
    ``model_term`` (the post-stratified estimators): where the model's term ``P(r >= t | e < t)``
    was measured: ``"validation"`` (the validation negatives) or ``"pooled"`` (those pooled
    with the log's accounts weighted as benign, ``n_model_log`` their effective number; see
    the module), ``log_weights`` how those accounts were weighted as benign (`LOG_WEIGHTS`).
    ``precision_mix``: the class mix the expected precision is taken at: ``"validation"``
    (the validation split's, the training world's) or ``"log"`` (the log's own: its accounts'
    summed benign weights against the rest), ``abusive_share`` that mix's share of abuse.
    ``q_gate``: when set, an account is flagged only if its community's
    ``evidence_q`` is at most this as well (`pipeline.operating.flag_accounts`; ``scoring.q_gate``).
    """

    threshold: float
    method: str
    target_fpr: float | None = None
    target_precision: float | None = None
    expected_fpr: float | None = None
    fpr_interval: tuple[float, float] | None = None
    expected_precision: float | None = None
    precision_interval: tuple[float, float] | None = None
    expected_recall: float | None = None
    n_negatives: int | None = None
    n_positives: int | None = None
    q_gate: float | None = None
    estimator: str | None = None
    n_evidence_negatives: int | None = None
    evidence_fpr: float | None = None
    validation_fpr: float | None = None
    validation_threshold: float | None = None
    model_term: str | None = None
    n_model_log: float | None = None
    log_weights: str | None = None
    precision_mix: str | None = None
    abusive_share: float | None = None
    #: the check of a pooled point (`log_check`): False when it fired (the FPR interval is
    #: then widened), True when it held, None where it was not made
    reliable: bool | None = None
    #: what the check measured (`LogCheck.to_dict`); None where it was not made
    reliability: dict[str, Any] | None = None
    #: ``"bracket"`` where the check fired and the threshold was moved to the two estimates'
    #: mean (`stratified_point`'s ``unreliable``); None where it was chosen as ever
    threshold_rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("fpr_interval", "precision_interval"):
            if out[key] is not None:
                out[key] = [float(v) for v in out[key]]
        return out


def _counts(scores: np.ndarray, positive: np.ndarray, thresholds: np.ndarray):
    """False and true positives of flagging ``scores >= t`` for each threshold ``t``."""
    neg = np.sort(scores[~positive])
    pos = np.sort(scores[positive])
    fp = neg.size - np.searchsorted(neg, thresholds, side="left")
    tp = pos.size - np.searchsorted(pos, thresholds, side="left")
    return fp, tp


def validation_point(
    scores: np.ndarray,
    positive: np.ndarray,
    threshold: float,
    *,
    method: str,
    target_fpr: float | None = None,
    target_precision: float | None = None,
) -> OperatingPoint:
    """What flagging ``scores >= threshold`` does on labelled validation scores."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    fp, tp = (int(v[0]) for v in _counts(scores, positive, np.array([threshold])))
    n_neg, n_pos = int((~positive).sum()), int(positive.sum())
    flagged = fp + tp
    return OperatingPoint(
        threshold=float(threshold),
        method=method,
        target_fpr=target_fpr,
        target_precision=target_precision,
        expected_fpr=fp / n_neg if n_neg else None,
        fpr_interval=wilson(fp, n_neg),
        expected_precision=tp / flagged if flagged else None,
        precision_interval=wilson(tp, flagged),
        expected_recall=tp / n_pos if n_pos else None,
        n_negatives=n_neg,
        n_positives=n_pos,
        estimator="validation" if method == "validation" else None,
        validation_fpr=fp / n_neg if n_neg else None,
    )


def operating_point(
    scores: np.ndarray,
    positive: np.ndarray,
    *,
    target_fpr: float | None = None,
    target_precision: float | None = None,
) -> OperatingPoint:
    """The smallest threshold (most recall) meeting the target on labelled validation scores.

    ``target_fpr``: the validation FPR of ``scores >= t`` is at most it; ``target_precision``:
    the validation precision is at least it. Exactly one is given. Candidates are the scores
    themselves (and 1.0 + tiny, flagging nothing, when no score meets the target).
    """
    if (target_fpr is None) == (target_precision is None):
        raise ValueError("give exactly one of target_fpr and target_precision")
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if not (~positive).any() or not positive.any():
        raise ValueError(
            "the validation scores need both abusive and benign accounts to set an operating point"
        )
    candidates = np.unique(scores)
    fp, tp = _counts(scores, positive, candidates)
    if target_fpr is not None:
        ok = fp / (~positive).sum() <= target_fpr
    else:
        flagged = fp + tp
        ok = (flagged > 0) & (tp >= target_precision * np.maximum(flagged, 1))
    threshold = float(candidates[ok].min()) if ok.any() else float(np.nextafter(scores.max(), 2.0))
    return validation_point(
        scores,
        positive,
        threshold,
        method="validation",
        target_fpr=target_fpr,
        target_precision=target_precision,
    )


#: how the pooled model term weights a log's accounts as benign (`StratifiedFpr`):
#: ``"model_risk"``: by ``1 - model_risk``; ``"stratum"``: by their benign probability within
#: the evidence stratum ``e < t`` the term is measured on (the module)
LOG_WEIGHTS = ("stratum", "model_risk")
#: most weightings of the log `StratifiedFpr` computes under ``stratum`` weights (one pass over
#: the log each): past it the counts of validation positives below ``t`` share levels
MAX_WEIGHTINGS = 128


def _choose(candidates: np.ndarray, ok: np.ndarray, top: float) -> float:
    """The smallest candidate where ``ok`` holds, or just above ``top`` (flags nothing)."""
    return float(candidates[ok].min()) if ok.any() else float(np.nextafter(top, 2.0))


def _tail(sorted_values: np.ndarray, cum_weight: np.ndarray, thresholds: np.ndarray):
    """Weight of ``sorted_values >= t`` for each ``t`` (``cum_weight``: cumulative weights)."""
    below = np.searchsorted(sorted_values, thresholds, side="left")
    total = cum_weight[-1] if cum_weight.size else 0.0
    return total - np.where(below > 0, cum_weight[np.maximum(below - 1, 0)], 0.0)


class StratifiedFpr:
    """The post-stratified benign FPR of the fused risk (see the module), at any threshold.

    ``model_risk``, ``evidence_risk``, ``positive``: the labelled validation accounts;
    ``evidence_negatives``: the evidence risk of the benign accounts the evidence term is
    measured on, with ``evidence_weights`` (each account's weight as a benign one: 1 for a
    labelled benign account; a probability of being benign for an account of a log without
    labels) or unweighted. ``log_risk``: their fused risk (a log's accounts): the model's term
    is pooled with theirs, each weighted as ``log_weights`` says (`LOG_WEIGHTS`, the module).
    """

    def __init__(
        self,
        model_risk: np.ndarray,
        evidence_risk: np.ndarray,
        positive: np.ndarray,
        evidence_negatives: np.ndarray,
        evidence_weights: np.ndarray | None = None,
        log_risk: np.ndarray | None = None,
        log_weights: str = "stratum",
    ) -> None:
        if log_weights not in LOG_WEIGHTS:
            raise ValueError(f"log_weights must be one of {LOG_WEIGHTS}, not {log_weights!r}")
        model_risk = np.asarray(model_risk, dtype=np.float64)
        evidence = np.asarray(evidence_risk, dtype=np.float64)
        self.positive = np.asarray(positive, dtype=bool)
        self.risk = 1.0 - (1.0 - model_risk) * (1.0 - evidence)
        neg = ~self.positive
        self.neg_risk = np.sort(self.risk[neg])
        self.neg_evidence = np.sort(evidence[neg])
        self.pos_risk = np.sort(self.risk[self.positive])
        self.pos_evidence = np.sort(evidence[self.positive])
        e = np.asarray(evidence_negatives, dtype=np.float64)
        w = np.ones_like(e) if evidence_weights is None else np.asarray(evidence_weights, float)
        order = np.argsort(e, kind="stable")
        self.ev, self.ev_cum = e[order], np.cumsum(w[order])
        self.ev_total = float(w.sum())
        # effective sample size of the weighted evidence term (n itself when unweighted)
        self.ev_n = self.ev_total**2 / float((w**2).sum()) if w.size and w.any() else 0.0
        # the pooled model term (see the module): the log's fused risk and evidence sorted,
        # each with its weight as benign (1 - model_risk), in the two orders
        self.pooled = log_risk is not None
        self.log_weights = log_weights if self.pooled else None
        if self.pooled:
            r = np.asarray(log_risk, dtype=np.float64)
            r_order = np.argsort(r, kind="stable")
            self.lr = r[r_order]
            self.lw_r, self.lw_e = w[r_order], w[order]

    def _log_model_term(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The log's weighted share of ``r >= t`` among its accounts with ``e < t``, and their
        effective number: ``r >= e``, so the share's numerator is the weight of ``r >= t``
        less that of ``e >= t``. Under ``stratum`` weights each account's benign odds
        ``w / (1 - w)`` are divided by ``P(e < t | abusive)``, the validation positives' share
        below ``t`` (Jeffreys, ``(k + 1/2) / (n_pos + 1)``): one weighting per count ``k`` of
        positives below ``t``, so one pass over the log per distinct ``k`` among ``t``, at most
        `MAX_WEIGHTINGS`."""
        n_pos = self.pos_evidence.size
        k = np.searchsorted(self.pos_evidence, t, side="left")
        levels = np.unique(k)
        if levels.size > MAX_WEIGHTINGS:
            # a bound on the passes however many validation positives: each t takes the
            # weighting of the largest kept count at or below its own, which weighs every
            # account at least as benign as its own would; the accounts the model doubts,
            # most of them at r >= t, count more, so the estimate errs high (the safe side)
            levels = levels[np.linspace(0, levels.size - 1, MAX_WEIGHTINGS).round().astype(int)]
            k = levels[np.searchsorted(levels, k, side="right") - 1]
        share, ess = np.zeros(t.shape), np.zeros(t.shape)
        for kk in levels if self.log_weights == "stratum" else [None]:
            sel = np.ones(t.shape, dtype=bool) if kk is None else k == kk
            wr, we = self.lw_r, self.lw_e
            if kk is not None:
                below_abusive = (kk + 0.5) / (n_pos + 1.0)
                wr = wr / (wr + (1.0 - wr) * below_abusive)
                we = we / (we + (1.0 - we) * below_abusive)
            cum_e, cum_e2 = np.cumsum(we), np.cumsum(we**2)
            ts = t[sel]
            tail_e = _tail(self.ev, cum_e, ts)
            tail_r = _tail(self.lr, np.cumsum(wr), ts)
            below = cum_e[-1] - tail_e
            below2 = cum_e2[-1] - _tail(self.ev, cum_e2, ts)
            share[sel] = np.divide(
                np.maximum(tail_r - tail_e, 0.0), below, out=np.zeros(ts.shape), where=below > 0
            )
            ess[sel] = np.divide(below**2, below2, out=np.zeros(ts.shape), where=below2 > 0)
        return share, ess

    def parts(self, thresholds: np.ndarray) -> dict[str, np.ndarray]:
        """The estimate's parts at each threshold: ``evidence`` P(e >= t), ``model_hits`` /
        ``model_n`` the validation negatives with e < t that reach t / all of them, ``fpr``,
        ``validation_fp`` and ``tp`` (validation counts of the fused risk)."""
        t = np.asarray(thresholds, dtype=np.float64)
        a = _tail(self.ev, self.ev_cum, t) / self.ev_total if self.ev_total > 0 else 0.0 * t
        fp = self.neg_risk.size - np.searchsorted(self.neg_risk, t, side="left")
        fp_e = self.neg_evidence.size - np.searchsorted(self.neg_evidence, t, side="left")
        hits, n = fp - fp_e, self.neg_risk.size - fp_e  # r >= e: e >= t counts in fp too
        q = np.divide(hits, n, out=np.zeros(t.shape), where=n > 0)
        pooled_n = n.astype(np.float64)
        if self.pooled:
            q_log, n_log = self._log_model_term(t)
            pooled_n = n + n_log
            q = np.divide(hits + n_log * q_log, pooled_n, out=np.zeros(t.shape), where=pooled_n > 0)
        else:
            n_log = np.zeros(t.shape)
        tp = self.pos_risk.size - np.searchsorted(self.pos_risk, t, side="left")
        return {
            "evidence": a,
            "model_hits": hits,
            "model_n": n,
            "model_q": q,
            "model_pooled_n": pooled_n,
            "model_log_n": n_log,
            "fpr": a + (1.0 - a) * q,
            "validation_fp": fp,
            "tp": tp,
        }

    def fpr_interval(self, a: float, hits: float, n: float) -> tuple[float, float] | None:
        """A joint 95% interval of ``a + (1 - a) q``: each term's Wilson 97.5% interval
        (Bonferroni), the estimate rising in both, so the box's corners bound it (``hits`` of
        ``n``: the model term's, pooled or not)."""
        ia = wilson(a * self.ev_n, self.ev_n, z=_Z975)
        iq = wilson(hits, n, z=_Z975) if n > 0 else (0.0, 1.0)
        if ia is None:
            return None
        return (ia[0] + (1 - ia[0]) * iq[0], ia[1] + (1 - ia[1]) * iq[1])


#: what a pooled point does where its check fires (`stratified_point`, scoring.unreliable_threshold)
UNRELIABLE = ("keep", "bracket")
#: the check's limits (`log_check`): the pooled estimate is unreliable when the isotonic one
#: at the same threshold differs from it by more than this factor (either way) ...
CHECK_RATIO = 1.5
#: ... and by more than this much FPR (0.1 points: below it the two agree to within the
#: simulator's bar of 0.2 points however their ratio reads)
CHECK_POINTS = 0.001


def isotonic_benign(model_risk: np.ndarray, positive: np.ndarray):
    """P(benign | model risk) fitted on labelled accounts (isotonic, non-increasing, clipped
    outside their range): a function of model risks, or None without both classes."""
    from sklearn.isotonic import IsotonicRegression

    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return None
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=False, out_of_bounds="clip")
    fit.fit(np.asarray(model_risk, dtype=np.float64), (~positive).astype(np.float64))
    return lambda m: np.asarray(fit.predict(np.asarray(m, dtype=np.float64)), dtype=np.float64)


def isotonic_weights(
    model_risk: np.ndarray, positive: np.ndarray, evidence_weights: np.ndarray
) -> np.ndarray | None:
    """The log's accounts' weights as benign (``evidence_weights``, their ``1 - model_risk``)
    recalibrated: the isotonic benign probability of each one's model risk (`isotonic_benign`
    on the labelled validation accounts), what `log_check`'s second estimate weighs by. None
    where the validation accounts lack a class."""
    calibrate = isotonic_benign(model_risk, positive)
    if calibrate is None:
        return None
    return calibrate(1.0 - np.asarray(evidence_weights, dtype=np.float64))


@dataclass(frozen=True)
class LogCheck:
    """What `log_check` measured at one threshold: ``fpr`` / ``interval`` the run's estimate,
    ``isotonic_fpr`` / ``isotonic_interval`` the isotonic one's, ``ratio`` the larger over the
    smaller (1 where both are 0), ``weight_gap`` the log's mean isotonic benign probability
    less its mean ``1 - model_risk`` (how far the model's risks are from its validation
    split's calibration on this log: 0.000 on the simulator's ordinary worlds, 0.20 on the hard
    ones), ``reliable`` whether the two agree within `CHECK_RATIO` or `CHECK_POINTS`."""

    fpr: float
    interval: tuple[float, float] | None
    isotonic_fpr: float
    isotonic_interval: tuple[float, float] | None
    ratio: float
    weight_gap: float
    reliable: bool

    def union(self) -> tuple[float, float] | None:
        """The smallest interval holding both estimates' intervals (either, where one is
        missing)."""
        both = [iv for iv in (self.interval, self.isotonic_interval) if iv is not None]
        return (min(iv[0] for iv in both), max(iv[1] for iv in both)) if both else None

    def widened(self) -> tuple[float, float] | None:
        """The run's interval, and where the check fired, the union with the isotonic one."""
        if self.reliable or self.interval is None or self.isotonic_interval is None:
            return self.interval
        return self.union()

    def reason(self) -> str | None:
        """Why the estimate is not to be trusted, in words (None where it is)."""
        if self.reliable:
            return None
        return (
            f"this log's estimate of the false-positive rate ({100 * self.fpr:.2f}%) and the "
            f"same estimate with the model's risks recalibrated on its validation accounts "
            f"({100 * self.isotonic_fpr:.2f}%) differ {self.ratio:.1f}-fold: the model's risks "
            f"do not read as benign probabilities on this log (the recalibration counts "
            f"{100 * self.weight_gap:+.1f} points more of it benign)"
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "check": "isotonic_disagreement",
            "expected_fpr": self.fpr,
            "isotonic_fpr": self.isotonic_fpr,
            "ratio": self.ratio,
            "limit_ratio": CHECK_RATIO,
            "limit_points": CHECK_POINTS,
            "weight_gap": self.weight_gap,
            "sampling_interval": None if self.interval is None else list(self.interval),
            "isotonic_interval": (
                None if self.isotonic_interval is None else list(self.isotonic_interval)
            ),
            "reason": self.reason(),
        }
        return out


def log_check(
    model_risk: np.ndarray,
    evidence_risk: np.ndarray,
    positive: np.ndarray,
    evidence_negatives: np.ndarray,
    evidence_weights: np.ndarray,
    log_risk: np.ndarray,
    threshold: float,
    *,
    log_weights: str = "stratum",
    fpr: float | None = None,
    interval: tuple[float, float] | None = None,
) -> LogCheck | None:
    """Whether a pooled estimate (a log's accounts, ``evidence_weights`` their ``1 -
    model_risk``) can be trusted at ``threshold``: the same estimate with each weight
    replaced by the isotonic benign probability of its model risk (`isotonic_benign`, fitted
    on the labelled validation accounts) against it (see the module). ``fpr`` / ``interval``:
    the run's estimate there, when already computed. None where the validation accounts lack a
    class."""
    iso_w = isotonic_weights(model_risk, positive, evidence_weights)
    if iso_w is None:
        return None
    w = np.asarray(evidence_weights, dtype=np.float64)

    def estimate(weights: np.ndarray) -> tuple[float, tuple[float, float] | None]:
        est = StratifiedFpr(
            model_risk, evidence_risk, positive, evidence_negatives, weights, log_risk, log_weights
        )
        p = {k: float(v[0]) for k, v in est.parts(np.array([float(threshold)])).items()}
        n = p["model_pooled_n"]
        return p["fpr"], est.fpr_interval(p["evidence"], p["model_q"] * n, n)

    if fpr is None:
        fpr, interval = estimate(w)
    iso_fpr, iso_interval = estimate(iso_w)
    lo, hi = sorted((float(fpr), iso_fpr))
    ratio = hi / lo if lo > 0 else (1.0 if hi == 0 else math.inf)
    reliable = ratio <= CHECK_RATIO or hi - lo <= CHECK_POINTS
    return LogCheck(
        fpr=float(fpr),
        interval=None if interval is None else (float(interval[0]), float(interval[1])),
        isotonic_fpr=iso_fpr,
        isotonic_interval=None if iso_interval is None else tuple(map(float, iso_interval)),
        ratio=float(ratio),
        weight_gap=float(iso_w.mean() - w.mean()) if w.size else 0.0,
        reliable=bool(reliable),
    )


def stratified_point(
    model_risk: np.ndarray,
    evidence_risk: np.ndarray,
    positive: np.ndarray,
    evidence_negatives: np.ndarray,
    *,
    evidence_weights: np.ndarray | None = None,
    log_risk: np.ndarray | None = None,
    log_weights: str = "stratum",
    target_fpr: float | None = None,
    target_precision: float | None = None,
    threshold: float | None = None,
    method: str = "validation",
    estimator: str = "stratified",
    check_log: bool = True,
    unreliable: str = "keep",
) -> OperatingPoint:
    """The operating point of the noisy-OR fused risk, its FPR post-stratified on the evidence.

    ``model_risk``, ``evidence_risk``, ``positive``: the labelled validation accounts;
    ``evidence_negatives`` (``evidence_weights``): the benign accounts the evidence term
    ``P(e >= t)`` is measured on (`StratifiedFpr`). Exactly one of ``target_fpr`` (the
    smallest threshold whose estimated FPR, and that of every higher one, is at most it),
    ``target_precision`` (the smallest threshold whose estimated precision, validation true
    positives over those plus the estimated FPR times the validation negatives, reaches it) and
    ``threshold`` (a fixed one, only described; ``method`` names how it was chosen;
    ``estimator`` where the evidence's term was measured, `OperatingPoint.estimator`).
    ``log_risk``: the fused risk of the ``evidence_negatives`` (a log's accounts, weighted):
    the model's term is then pooled from them and the validation negatives (the module), the
    log's accounts weighted as benign as ``log_weights`` says (`LOG_WEIGHTS`).
    Candidates are the validation risks and the evidence values (and the log's risks, pooled).
    The expected recall is the validation positives'. The expected precision is the recall
    times the abusive accounts over that plus the FPR times the benign ones, counted in the
    log's own class mix when its accounts are at hand (pooled: the sum of their weights as
    benign against the rest; a world with less abuse than the training world gets a lower
    precision at the same threshold), else in the validation split's (the training world's).
    ``check_log`` (pooled points): check the estimate against its isotonic twin at the chosen
    threshold (`log_check`; ``reliable``, ``reliability``), the FPR interval (and the
    precision's, from it) widened where it fires. ``unreliable`` (`UNRELIABLE`): ``"keep"``
    the threshold chosen where the check fires; ``"bracket"`` (a target FPR) move it to the
    smallest threshold from which up the mean of the two estimates meets the target, its
    expected FPR that mean and its interval the union of both (``threshold_rule: "bracket"``,
    ``reliability.log_threshold`` the one it replaced).
    """
    if unreliable not in UNRELIABLE:
        raise ValueError(f"unreliable must be one of {UNRELIABLE}, not {unreliable!r}")
    if sum(v is not None for v in (target_fpr, target_precision, threshold)) != 1:
        raise ValueError("give exactly one of target_fpr, target_precision and threshold")
    est = StratifiedFpr(
        model_risk,
        evidence_risk,
        positive,
        evidence_negatives,
        evidence_weights,
        log_risk,
        log_weights,
    )
    n_neg, n_pos = int(est.neg_risk.size), int(est.pos_risk.size)
    if threshold is None and (n_neg == 0 or n_pos == 0):
        raise ValueError(
            "the validation scores need both abusive and benign accounts to set an operating point"
        )
    # the class mix of the precision: the log's own where its accounts are at hand
    if est.pooled and est.ev.size:
        mix, mix_neg = "log", est.ev_total
        mix_pos = max(float(est.ev.size) - est.ev_total, 0.0)
    else:
        mix, mix_neg, mix_pos = "validation", float(n_neg), float(n_pos)
    top = float(max(est.risk.max(initial=0.0), est.ev.max(initial=0.0)))
    if threshold is None:
        # the log's own fused risks too when its accounts are at hand (pooled): its benign FPR
        # steps there, and many accounts can share nearly one risk
        own = est.lr if est.pooled else np.empty(0)
        candidates = np.unique(np.concatenate([est.risk, est.ev, own]))
        parts = est.parts(candidates)
        if target_fpr is not None:
            # the estimate is not monotone in t (its model term is a ratio): every threshold
            # from the chosen one up must meet the target
            worst_above = np.maximum.accumulate(parts["fpr"][::-1])[::-1]
            ok = worst_above <= target_fpr
        else:
            tp_mix = parts["tp"] / n_pos * mix_pos
            fp = parts["fpr"] * mix_neg
            ok = (parts["tp"] > 0) & (tp_mix >= target_precision * (tp_mix + fp))
        threshold = _choose(candidates, ok, top)
        old = operating_point(
            est.risk, est.positive, target_fpr=target_fpr, target_precision=target_precision
        )
        old_threshold = old.threshold
    else:
        old_threshold = None
    p = {k: v[0] for k, v in est.parts(np.array([float(threshold)])).items()}
    fpr, tp = float(p["fpr"]), int(p["tp"])
    pooled_n = float(p["model_pooled_n"])
    interval = est.fpr_interval(float(p["evidence"]), float(p["model_q"]) * pooled_n, pooled_n)
    # the check of a pooled estimate (the module): where it fires the interval covers both
    check = None
    weights = np.ones(est.ev.size) if evidence_weights is None else evidence_weights
    if est.pooled and check_log:
        check = log_check(
            model_risk,
            evidence_risk,
            positive,
            evidence_negatives,
            weights,
            log_risk,
            float(threshold),
            log_weights=log_weights,
            fpr=fpr,
            interval=interval,
        )
        if check is not None:
            interval = check.widened()
    rule = None
    if (
        unreliable == "bracket"
        and check is not None
        and not check.reliable
        and target_fpr is not None
        and old_threshold is not None
    ):
        # opt-in (scoring.unreliable_threshold: bracket): the two estimates err in opposite
        # directions where they part (experiments/operating_points/reliability11/): the
        # smallest threshold from which up their mean meets the target
        iso = StratifiedFpr(
            model_risk,
            evidence_risk,
            positive,
            evidence_negatives,
            isotonic_weights(model_risk, positive, weights),
            log_risk,
            log_weights,
        )
        mid = (parts["fpr"] + iso.parts(candidates)["fpr"]) / 2.0
        log_threshold = float(threshold)
        threshold = _choose(candidates, np.maximum.accumulate(mid[::-1])[::-1] <= target_fpr, top)
        p = {k: v[0] for k, v in est.parts(np.array([float(threshold)])).items()}
        tp = int(p["tp"])
        check = log_check(
            model_risk,
            evidence_risk,
            positive,
            evidence_negatives,
            weights,
            log_risk,
            float(threshold),
            log_weights=log_weights,
        )
        fpr = (check.fpr + check.isotonic_fpr) / 2.0
        interval = check.union()
        rule = {"rule": "bracket", "log_threshold": log_threshold}
    tp_mix = tp / n_pos * mix_pos if n_pos else 0.0
    fp = fpr * mix_neg
    precision = tp_mix / (tp_mix + fp) if tp_mix + fp > 0 else None
    # the precision's interval: the corners of the FPR's box and the recall's Wilson 97.5%
    # interval (at least 92.5% jointly, by Bonferroni over the three), in the same mix
    precision_interval = None
    recall_interval = wilson(tp, n_pos, z=_Z975)
    if precision is not None and interval is not None and recall_interval is not None:
        lo_tp, hi_tp = recall_interval[0] * mix_pos, recall_interval[1] * mix_pos
        lo_fp, hi_fp = interval[1] * mix_neg, interval[0] * mix_neg
        precision_interval = (
            lo_tp / (lo_tp + lo_fp) if lo_tp + lo_fp > 0 else 0.0,
            hi_tp / (hi_tp + hi_fp) if hi_tp + hi_fp > 0 else 1.0,
        )
    return OperatingPoint(
        threshold=float(threshold),
        method=method,
        target_fpr=target_fpr,
        target_precision=target_precision,
        expected_fpr=fpr,
        fpr_interval=interval,
        expected_precision=precision,
        precision_interval=precision_interval,
        expected_recall=tp / n_pos if n_pos else None,
        n_negatives=n_neg,
        n_positives=n_pos,
        estimator=estimator,
        n_evidence_negatives=int(est.ev.size),
        evidence_fpr=float(p["evidence"]),
        validation_fpr=float(p["validation_fp"]) / n_neg if n_neg else None,
        validation_threshold=old_threshold,
        model_term="pooled" if est.pooled else "validation",
        n_model_log=float(p["model_log_n"]) if est.pooled else None,
        log_weights=est.log_weights,
        precision_mix=mix,
        abusive_share=mix_pos / (mix_pos + mix_neg) if mix_pos + mix_neg > 0 else None,
        reliable=None if check is None else check.reliable,
        reliability=None if check is None else {**check.to_dict(), **(rule or {})},
        threshold_rule=None if rule is None else rule["rule"],
    )
