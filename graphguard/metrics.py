"""Ranking metrics of a score against a binary truth: the one place they are computed.

AUROC, average precision (AUPRC), recall at a false-positive budget and thinned
precision-recall points for drawing. Every function returns ``None`` where the metric is
undefined (one class absent) instead of raising or returning NaN, so results go straight to
JSON. Used by the model's epoch selection, the pipeline (curves against the labels given to
detect), evaluation and the experiments alike. scikit-learn is imported when a metric is first
computed, not with the module: it costs detection half a second of start-up it rarely needs.
"""

from __future__ import annotations

import math

import numpy as np

#: the false-positive budget of `recall_at_fpr` unless one is given
FPR_BUDGET = 0.01


def _ranked(truth: np.ndarray) -> bool:
    """Ranking metrics compare two classes; with either missing they have no meaning."""
    truth = np.asarray(truth, dtype=bool)
    return bool(truth.any()) and not bool(truth.all())


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def auroc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC-AUC of ``score`` for boolean ``truth``; None when one class is absent."""
    if not _ranked(truth):
        return None
    from sklearn.metrics import roc_auc_score

    return _finite(roc_auc_score(np.asarray(truth, dtype=bool), score))


def auprc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision of ``score`` for boolean ``truth``; None when one class is absent."""
    if not _ranked(truth):
        return None
    from sklearn.metrics import average_precision_score

    # sklearn sums precision x recall steps and can land a rounding above 1 on a perfect ranking
    value = _finite(average_precision_score(np.asarray(truth, dtype=bool), score))
    return None if value is None else min(1.0, value)


def recall_at_fpr(truth: np.ndarray, score: np.ndarray, budget: float = FPR_BUDGET) -> float | None:
    """The highest recall reachable while at most ``budget`` of the negatives score above the
    cut; None when one class is absent."""
    if not _ranked(truth):
        return None
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(truth, dtype=bool), score, drop_intermediate=False)
    # fpr starts at 0, so the budget always admits at least the first point.
    return float(tpr[fpr <= budget].max())


def pr_points(
    truth: np.ndarray, score: np.ndarray, *, max_points: int = 300
) -> dict[str, object] | None:
    """Precision-recall curve thinned to at most ``max_points`` points, with its average
    precision and the base rate; None when one class is absent."""
    if not _ranked(truth):
        return None
    from sklearn.metrics import precision_recall_curve

    truth = np.asarray(truth, dtype=bool)
    precision, recall, _ = precision_recall_curve(truth, score)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(len(recall), max_points)).astype(int))
    return {
        "recall": recall[keep].tolist(),
        "precision": precision[keep].tolist(),
        "average_precision": auprc(truth, score),
        "base_rate": float(truth.mean()),
    }


def flag_curve(
    truth: np.ndarray, score: np.ndarray, flagged: np.ndarray, *, source: str
) -> dict[str, object] | None:
    """What a report draws for one source of labels: `pr_points` of ``score``, and the
    precision and recall of the ``flagged`` accounts; None when one class is absent."""
    truth = np.asarray(truth, dtype=bool)
    curve = pr_points(truth, score)
    if curve is None:
        return None
    flagged = np.asarray(flagged, dtype=bool)
    true_positives = int((flagged & truth).sum())
    return {
        "source": source,
        "n_accounts": int(truth.size),
        "n_abusive": int(truth.sum()),
        **curve,
        "precision_at_flag": true_positives / int(flagged.sum()) if flagged.any() else 0.0,
        "recall_at_flag": true_positives / int(truth.sum()),
    }
