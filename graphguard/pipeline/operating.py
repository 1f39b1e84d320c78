"""The run's operating point: which risk threshold flags an account, and what it promises.

``scoring.target_fpr`` / ``scoring.target_precision`` (at most one set) choose the threshold;
neither set keeps ``scoring.risk_threshold``. With a model (``detect --model``) the threshold
is chosen on the model's labelled validation scores stored in its checkpoint
(`pipeline.train.validation_scores`), fused with the evidence as this run's
``scoring.fusion`` says, so one trained model serves any target without retraining. Under
``noisy_or`` the FPR is post-stratified (`models.calibration.stratified_point`): the model's
term on the validation negatives, the evidence's term ``P(e >= t)`` (it needs no labels) on

- ``log`` (when the run's accounts come with ``evidence_risk`` and ``model_risk``): every
  account of *this* log, each weighted by the model's probability that it is benign
  (``1 - model_risk``), so the log's abusive accounts drop out of the evidence's tail. The
  evidence's benign tail is a property of the log (its communities), not of the model, and it
  varies from log to log more than the validation split can tell
  (`experiments/operating_points/README.md`). The model's term is pooled from the validation
  negatives and the same weighted accounts (their fused risk), by their effective sample
  sizes (``operating_point.model_term: "pooled"``): on a small log one validation negative
  is too coarse a step (0.4 points of FPR at 3,000 accounts). There each account is weighted
  by its benign probability within the evidence stratum ``e < t`` the term is measured on
  (``log_weights: "stratum"``; `models.calibration`), not by ``1 - model_risk``, which counts
  the benign accounts the model is wrong about as a fraction of one;
- ``stratified``: else every labelled benign account of the model's training world, when the
  checkpoint keeps their evidence risk (``benign_evidence_risk``);
- ``validation``: else (an older checkpoint), and under ``fusion: model`` (no evidence term),
  the FPR counted on the validation negatives alone (`models.calibration.operating_point`).

run.json's ``operating_point.estimator`` says which. A ``log`` point is checked
(`models.calibration.log_check`): where the same estimate with the model's risks recalibrated
on its validation accounts disagrees with it, ``operating_point.reliable`` is false, its
``reliability`` says by how much and why, the FPR interval covers both, and the run warns
(`operating_warnings`). Without a
model it comes from the log's null model (`community.calibration.threshold_for_fpr`); a
target precision needs labels, so it is refused there. With ``scoring.q_gate`` the null
model's point also gates: an account is flagged only when its community's ``evidence_q`` is at
most ``scoring.fdr`` (the point's ``q_gate``; `flag_accounts` applies it, for both engines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from graphguard.config import ConfigError, ScoringConfig
from graphguard.models.calibration import (
    OperatingPoint,
    operating_point,
    stratified_point,
    validation_point,
)

if TYPE_CHECKING:
    from graphguard.models.detector import GraphSAGEDetector


def validation_risk(model: GraphSAGEDetector, fusion: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored validation accounts' risk under ``fusion`` and whether each is abusive."""
    stored = getattr(model, "validation_scores_", {}) or {}
    if not stored.get("abusive"):
        path = (getattr(model, "metadata_", {}) or {}).get("path", "the model")
        raise ConfigError(
            "scoring.target_fpr",
            f"needs the model's validation scores, and {path} has none (trained by an older "
            "graphguard, or without validation accounts): retrain it, or unset the target",
        )
    model_risk = np.asarray(stored["model_risk"], dtype=np.float64)
    evidence = np.asarray(stored["evidence_risk"], dtype=np.float64)
    risk = model_risk if fusion == "model" else 1.0 - (1.0 - model_risk) * (1.0 - evidence)
    return risk, np.asarray(stored["abusive"], dtype=bool)


def benign_evidence(model: GraphSAGEDetector, fusion: str) -> np.ndarray | None:
    """The evidence risk of every labelled benign account of the model's training world, when
    its checkpoint keeps it and ``fusion`` has an evidence term (``noisy_or``); else None."""
    stored = getattr(model, "validation_scores_", {}) or {}
    values = stored.get("benign_evidence_risk")
    if fusion != "noisy_or" or values is None or len(values) == 0:
        return None
    return np.asarray(values, dtype=np.float64)


#: the columns of a run's accounts the ``log`` estimator reads
LOG_COLUMNS = ("evidence_risk", "model_risk")


def log_evidence(
    accounts: pl.DataFrame | None, fusion: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """This log's evidence risk of every account, its weight as a benign one
    (``1 - model_risk``) and its noisy-OR fused risk, when ``accounts`` has both columns and
    ``fusion`` an evidence term."""
    if fusion != "noisy_or" or accounts is None or accounts.height == 0:
        return None
    if not all(c in accounts.columns for c in LOG_COLUMNS):
        return None
    evidence = accounts.get_column("evidence_risk").fill_null(0.0).clip(0.0, 1.0).to_numpy()
    weights = 1.0 - accounts.get_column("model_risk").fill_null(0.0).clip(0.0, 1.0).to_numpy()
    if not weights.sum() > 0:
        return None
    evidence = np.asarray(evidence, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    return evidence, weights, 1.0 - weights * (1.0 - evidence)


def model_point(
    scoring: ScoringConfig, model: GraphSAGEDetector, accounts: pl.DataFrame | None = None
) -> OperatingPoint:
    """The operating point from the model's stored validation scores, the evidence's term
    from this log's ``accounts`` or the training world's benign accounts (see the module)."""
    risk, abusive = validation_risk(model, scoring.fusion)
    on_log = log_evidence(accounts, scoring.fusion)
    evidence, weights, log_risk, estimator = None, None, None, "stratified"
    if on_log is not None:
        (evidence, weights, log_risk), estimator = on_log, "log"
    else:
        evidence = benign_evidence(model, scoring.fusion)
    fixed = scoring.target_fpr is None and scoring.target_precision is None
    if evidence is None:
        if fixed:
            return validation_point(risk, abusive, scoring.risk_threshold, method="fixed")
        return operating_point(
            risk, abusive, target_fpr=scoring.target_fpr, target_precision=scoring.target_precision
        )
    stored = model.validation_scores_
    return stratified_point(
        np.asarray(stored["model_risk"], dtype=np.float64),
        np.asarray(stored["evidence_risk"], dtype=np.float64),
        abusive,
        evidence,
        evidence_weights=weights,
        log_risk=log_risk,
        target_fpr=scoring.target_fpr,
        target_precision=scoring.target_precision,
        threshold=float(scoring.risk_threshold) if fixed else None,
        method="fixed" if fixed else "validation",
        estimator=estimator,
        unreliable=scoring.unreliable_threshold,
    )


def operating_warnings(point: dict | None) -> list[str]:
    """The run's warnings about its operating point (run.json ``operating_point``): one when
    its FPR estimate failed its check (``reliable: false``, `models.calibration.log_check`)."""
    if not point or point.get("reliable") is not False:
        return []
    check = point.get("reliability") or {}
    interval = point.get("fpr_interval") or []
    said = ""
    if len(interval) == 2:
        said = f" (widened to [{100 * interval[0]:.2f}%, {100 * interval[1]:.2f}%])"
    return [
        "the flag threshold's expected false-positive rate is unreliable on this log"
        f"{said}: {check.get('reason') or 'its check failed'}"
    ]


def null_point(
    scoring: ScoringConfig, accounts: pl.DataFrame, clusters: pl.DataFrame
) -> OperatingPoint:
    """The null model's threshold for ``scoring.target_fpr`` (or its estimate of the fixed
    threshold), with the expected FPR and precision; no interval (the null gives none).
    With ``scoring.q_gate`` (and a target) the threshold is chosen as without it and the
    expected figures are those of the gated flags."""
    from graphguard.community.calibration import null_fpr, threshold_for_fpr

    if "evidence_q" not in clusters.columns:
        raise ConfigError("scoring.target_fpr", "needs the clusters' evidence_q (the null model)")
    q_gate = None
    if scoring.target_fpr is not None:
        threshold = threshold_for_fpr(accounts, clusters, scoring.target_fpr, fdr=scoring.fdr)
        q_gate = scoring.fdr if scoring.q_gate else None
    else:
        threshold = scoring.risk_threshold
    fpr = float(null_fpr(accounts, clusters, [threshold], q_gate=q_gate, fdr=scoring.fdr)[0])
    gate = OperatingPoint(threshold=float(threshold), method="null", q_gate=q_gate)
    flagged = int(flag_accounts(accounts, clusters, gate).sum())
    negatives_est = None
    precision = None
    if flagged:
        # expected false positives = fpr * negatives, negatives = n - flagged + fp
        n = accounts.height
        fp = fpr * (n - flagged) / (1.0 - fpr) if fpr < 1 else flagged
        precision = max(0.0, 1.0 - fp / flagged)
        negatives_est = int(round(n - flagged + fp))
    return OperatingPoint(
        threshold=float(threshold),
        method="null" if scoring.target_fpr is not None else "fixed",
        target_fpr=scoring.target_fpr,
        expected_fpr=fpr,
        expected_precision=precision,
        n_negatives=negatives_est,
        q_gate=q_gate,
    )


def flag_accounts(
    accounts: pl.DataFrame, clusters: pl.DataFrame | None, point: OperatingPoint
) -> pl.Series:
    """Whether each account is flagged at ``point`` (the one rule of both engines): risk at or
    above its threshold and, with a ``q_gate``, its community's ``evidence_q`` at most the gate
    (``accounts``: ``risk``, and ``cluster_id`` when gated; ``clusters``: ``cluster`` or
    ``cluster_id``, and ``evidence_q``)."""
    from graphguard import rundir

    flagged = accounts.get_column("risk") >= point.threshold
    if point.q_gate is None:
        return flagged.alias(rundir.FLAGGED)
    if clusters is None or "evidence_q" not in clusters.columns:
        raise ConfigError("scoring.q_gate", "needs the clusters' evidence_q (the null model)")
    key = "cluster" if "cluster" in clusters.columns else "cluster_id"
    passing = clusters.filter(pl.col("evidence_q") <= point.q_gate).get_column(key)
    in_gate = (
        accounts.get_column("cluster_id").cast(pl.Int64).is_in(passing.cast(pl.Int64).implode())
    )
    return (flagged & in_gate.fill_null(False)).alias(rundir.FLAGGED)


def resolve_operating_point(
    scoring: ScoringConfig,
    *,
    model: GraphSAGEDetector | None = None,
    accounts: pl.DataFrame | None = None,
    clusters: pl.DataFrame | None = None,
) -> OperatingPoint:
    """The threshold this run flags at, and what is expected of it (see the module)."""
    if model is not None and getattr(model, "validation_scores_", None):
        return model_point(scoring, model, accounts)
    if model is not None and (scoring.target_fpr is not None or scoring.target_precision):
        validation_risk(model, scoring.fusion)  # raises: the model has no validation scores
    if scoring.target_precision is not None:
        raise ConfigError(
            "scoring.target_precision",
            "needs labels: a model trained by `graphguard train` (detect --model); without one "
            "use scoring.target_fpr (from the null model) or scoring.risk_threshold",
        )
    if (
        model is None
        and accounts is not None
        and clusters is not None
        and (scoring.target_fpr is not None or "evidence_q" in clusters.columns)
    ):
        return null_point(scoring, accounts, clusters)
    return OperatingPoint(threshold=float(scoring.risk_threshold), method="fixed")
