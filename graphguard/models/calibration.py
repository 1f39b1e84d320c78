"""Calibrated probabilities and operating points: temperature scaling, ECE, NLL, thresholds.

Pure numpy. `fit_temperature` finds the one temperature ``T`` that minimises the validation
negative log-likelihood of ``softmax(logits / T)`` by a golden-section search on ``log T``
(deterministic: no draws, no starting point to choose). `operating_point` picks the flag
threshold of a score for a target false-positive rate or precision from labelled validation
scores, and says how sure that is: Wilson 95% intervals of the validation FPR and precision
behind it (they are binomial proportions of the validation counts).
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


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """Wilson 95% interval of a binomial proportion; None without trials."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1.0 + _Z95**2 / n
    centre = (p + _Z95**2 / (2 * n)) / denom
    half = _Z95 * math.sqrt(p * (1 - p) / n + _Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class OperatingPoint:
    """A flag threshold and what is expected of it.

    ``method``: ``"validation"`` (labelled validation scores of the model), ``"null"`` (the
    log's null model, no labels) or ``"fixed"`` (scoring.risk_threshold as set). The expected
    figures and intervals are None where the method has nothing to estimate them from.
    ``q_gate``: when set, an account is flagged only if its community's ``evidence_q`` is at
    most this as well (`pipeline.operating.flag_accounts`; ``scoring.q_gate``).
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
