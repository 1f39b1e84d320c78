"""A stand-in for a trained model as `pipeline.operating.resolve_operating_point` reads it: its
stored validation scores (what `pipeline.train.validation_scores` keeps in a checkpoint)."""

from __future__ import annotations

import numpy as np


class StoredModel:
    def __init__(self, scores: dict) -> None:
        self.validation_scores_ = scores
        self.metadata_ = {"path": "m.pt"}


def stored_model(model_risk: np.ndarray, evidence: np.ndarray, positive: np.ndarray):
    """A model whose validation accounts have these risks and labels, and whose training
    world's labelled benign accounts are the validation's benign ones."""
    return StoredModel(
        {
            "model_risk": model_risk.tolist(),
            "evidence_risk": evidence.tolist(),
            "abusive": positive.tolist(),
            "benign_evidence_risk": np.sort(evidence[~positive]).tolist(),
        }
    )
