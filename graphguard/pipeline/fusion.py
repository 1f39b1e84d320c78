"""Where a supervised model meets the pipeline: its inputs, and its scores fused with the evidence.

`detect` calls these when it is given a fitted `GraphSAGEDetector`. The model scores every
account from its features and its relations; the community evidence scores it from the
coordination it takes part in. Fusion ``noisy_or`` reads "abusive if the model says so, or
else if the coordination evidence says so": with model probabilities ``p`` and evidence risk
``u`` (the unsupervised risk, whose abusive share splits into bot ring and fake engagement
by the community's ``bot_likeness`` ``b``)::

    score_benign          = p_benign * (1 - u)
    score_bot_ring        = p_bot_ring + p_benign * u * b
    score_fake_engagement = p_fake_engagement + p_benign * u * (1 - b)

so the scores still sum to 1, risk = 1 - score_benign = 1 - (1 - model risk)(1 - u), and a
model that has never seen a kind of campaign cannot talk the evidence out of it. Fusion
``model`` keeps the model's probabilities alone. The inputs of both are kept as
``model_risk`` and ``evidence_risk`` columns.

A model trained without a single account of one kind of abuse (`unseen_classes`) still
says how likely an account is abusive, but it calls every abusive account by the kind it
knows; then the model's abuse probability is split between the kinds by the community's
``bot_likeness``, as the evidence alone would split it.

Torch is imported inside the functions, so an unsupervised run never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.config import FUSIONS, ScoringConfig
from graphguard.scores import predicted_label

if TYPE_CHECKING:
    from graphguard.graph.inputs import GraphInputs
    from graphguard.models.detector import GraphSAGEDetector


def model_inputs(
    model: GraphSAGEDetector, features: pl.DataFrame, edges: pl.DataFrame
) -> GraphInputs:
    """`GraphInputs` with the model's own feature columns and relations (and the edges'
    attributes where the model gates its messages by them, ``model.edge_gate``)."""
    from graphguard.graph.inputs import graph_inputs

    return graph_inputs(
        features,
        edges,
        feature_names=model.feature_names_,
        relations=model.relations_,
        edge_attrs=bool(getattr(model, "edge_gate", False)),
    )


def unseen_classes(model: GraphSAGEDetector) -> tuple[str, ...]:
    """Abuse classes the model had no training account of (it cannot tell them apart)."""
    counts = list(getattr(model, "class_counts_", []) or [])
    if len(counts) != len(schema.LABELS):
        return ()
    return tuple(
        label
        for label, n in zip(schema.LABELS, counts, strict=True)
        if label != schema.BENIGN and n == 0
    )


def fuse_scores(
    accounts: pl.DataFrame,
    proba: np.ndarray,
    scoring: ScoringConfig,
    *,
    unseen: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Replace the evidence-only class scores of ``accounts`` by model-based ones.

    Args:
        accounts: `score_accounts` output, one row per account index (columns account, risk,
            bot_likeness and the score columns).
        proba: ``[n, 3]`` model probabilities in `schema.LABELS` order, same row order.
        scoring: its ``fusion`` picks the rule and ``risk_threshold`` the flag.
        unseen: abuse classes the model never saw in training (`unseen_classes`). Its
            probability of abuse is then kept, but for accounts in a community which kind of
            abuse is left to the evidence: the model's abuse mass is split by the
            community's ``bot_likeness``.
    """
    if scoring.fusion not in FUSIONS:
        raise ValueError(f"scoring.fusion must be one of {', '.join(FUSIONS)}")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (accounts.height, len(schema.LABELS)):
        raise ValueError(
            f"model probabilities have shape {proba.shape}, expected "
            f"({accounts.height}, {len(schema.LABELS)})"
        )
    # model rows are account indices 0..n-1; joins upstream need not keep that order
    accounts = accounts.sort("account")
    benign, bot, fake = (pl.Series(proba[:, i]) for i in range(len(schema.LABELS)))
    evidence = pl.col("risk").fill_null(0.0).clip(0.0, 1.0)
    if unseen and "cluster_id" in accounts.columns:
        # a model that never saw one kind of abuse puts all abuse in the kind it knows; inside
        # a community the evidence says which kind (outside one there is nothing better)
        in_community = accounts.get_column("cluster_id").is_not_null().to_numpy()
        likeness = accounts.get_column("bot_likeness").fill_null(0.5).to_numpy()
        abuse = proba[:, 1] + proba[:, 2]
        own = np.divide(proba[:, 1], abuse, out=np.full_like(abuse, 0.5), where=abuse > 0)
        share = np.where(in_community, likeness, own)
        bot, fake = pl.Series(abuse * share), pl.Series(abuse * (1.0 - share))
    if scoring.fusion == "noisy_or":
        likeness = pl.col("bot_likeness").fill_null(0.5)
        moved = pl.lit(benign) * evidence
        scores = [
            (pl.lit(benign) - moved).alias("score_benign"),
            (pl.lit(bot) + moved * likeness).alias("score_bot_ring"),
            (pl.lit(fake) + moved * (1.0 - likeness)).alias("score_fake_engagement"),
        ]
    else:
        scores = [
            pl.lit(benign).alias("score_benign"),
            pl.lit(bot).alias("score_bot_ring"),
            pl.lit(fake).alias("score_fake_engagement"),
        ]
    return (
        accounts.with_columns(
            evidence.alias("evidence_risk"), (1.0 - pl.lit(benign)).alias("model_risk")
        )
        .with_columns(scores)
        .with_columns((1.0 - pl.col("score_benign")).clip(0.0, 1.0).alias("risk"))
        .with_columns(
            predicted_label().alias("predicted_label"),
            (pl.col("risk") >= scoring.risk_threshold).alias("flagged"),
        )
    )


def model_summary(model: GraphSAGEDetector) -> dict[str, Any]:
    """What run.json records about the model that scored a run."""
    metadata = getattr(model, "metadata_", {}) or {}
    return {
        "kind": "graphsage",
        "relations": list(model.relations_),
        "n_features": len(model.feature_names_),
        "params": model.get_params(),
        "best_epoch": int(getattr(model, "best_epoch_", 0)),
        "trained": metadata.get("trained"),
        "path": metadata.get("path"),
        "temperature": float(getattr(model, "temperature_", 1.0)),
        "calibration": dict(getattr(model, "calibration_", {}) or {}),
    }
