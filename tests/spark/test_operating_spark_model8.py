"""With a model, the Spark engine's operating point is the local one: the same two columns
(evidence risk, model risk) of every account reach `resolve_operating_point` (``log``)."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.config import ScoringConfig
from graphguard.pipeline.operating import resolve_operating_point
from graphguard.spark.engine import spark_operating_point
from tests.spark.conftest import to_spark


class _Model:
    def __init__(self, scores: dict) -> None:
        self.validation_scores_ = scores
        self.metadata_ = {"path": "m.pt"}


def test_spark_chooses_the_local_threshold_with_a_model(spark):
    rng = np.random.default_rng(0)
    n = 3000
    positive = rng.random(n) < 0.06
    model_risk = np.where(positive, rng.beta(40, 1, n), rng.beta(1, 60, n))
    evidence = np.where(positive, rng.beta(6, 2, n), rng.beta(1, 40, n))
    stored = {
        "model_risk": model_risk[:1500].tolist(),
        "evidence_risk": evidence[:1500].tolist(),
        "abusive": positive[:1500].tolist(),
        "benign_evidence_risk": np.sort(evidence[~positive]).tolist(),
    }
    accounts = pl.DataFrame(
        {
            "account": np.arange(n),
            "cluster_id": np.zeros(n, dtype=np.int64),
            "risk": 1 - (1 - model_risk) * (1 - evidence),
            "evidence_risk": evidence,
            "model_risk": model_risk,
        }
    )
    scoring = ScoringConfig(target_fpr=0.01)
    local = resolve_operating_point(scoring, model=_Model(stored), accounts=accounts)
    on_spark = spark_operating_point(
        scoring, to_spark(spark, accounts), pl.DataFrame(), _Model(stored)
    )
    assert local.estimator == on_spark.estimator == "log"
    assert on_spark.to_dict() == local.to_dict()
