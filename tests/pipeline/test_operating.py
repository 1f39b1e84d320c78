"""Operating points of a run: scoring.target_fpr / target_precision, with and without a model."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard.config import ConfigError, ScoringConfig
from graphguard.pipeline.operating import resolve_operating_point


class _Model:
    """What `resolve_operating_point` reads of a trained detector."""

    def __init__(self, scores: dict | None) -> None:
        self.validation_scores_ = scores
        self.metadata_ = {"path": "m.pt"}


def _stored(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    model_risk = np.concatenate([rng.random(500) * 0.5, 0.3 + rng.random(50) * 0.7])
    evidence = np.where(np.arange(550) >= 520, 0.9, 0.0)
    return {
        "model_risk": model_risk.tolist(),
        "evidence_risk": evidence.tolist(),
        "abusive": (np.arange(550) >= 500).tolist(),
    }


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"target_fpr": 0.0}, "scoring.target_fpr"),
        ({"target_fpr": 1.0}, "scoring.target_fpr"),
        ({"target_precision": -0.5}, "scoring.target_precision"),
        ({"target_fpr": 0.01, "target_precision": 0.9}, "scoring.target_fpr"),
    ],
)
def test_bad_targets_are_refused(kwargs, key):
    with pytest.raises(ConfigError) as caught:
        ScoringConfig(**kwargs)
    assert caught.value.key == key


def test_a_model_threshold_follows_the_target_and_the_fusion():
    model = _Model(_stored())
    tight = resolve_operating_point(ScoringConfig(target_fpr=0.005), model=model)
    loose = resolve_operating_point(ScoringConfig(target_fpr=0.05), model=model)
    assert tight.method == "validation" and tight.threshold > loose.threshold
    assert tight.expected_fpr <= 0.005 and loose.expected_fpr <= 0.05
    assert loose.expected_recall >= tight.expected_recall
    fixed = resolve_operating_point(ScoringConfig(), model=model)
    assert fixed.method == "fixed" and fixed.threshold == 0.5 and fixed.expected_fpr is not None
    alone = resolve_operating_point(ScoringConfig(target_fpr=0.05, fusion="model"), model=model)
    assert alone.expected_recall <= loose.expected_recall


def test_targets_a_run_cannot_meet_are_clear_errors():
    with pytest.raises(ConfigError, match="validation scores"):
        resolve_operating_point(ScoringConfig(target_fpr=0.01), model=_Model({}))
    with pytest.raises(ConfigError, match="needs labels"):
        resolve_operating_point(ScoringConfig(target_precision=0.9))


def test_without_a_model_the_null_sets_the_threshold():
    accounts = pl.DataFrame(
        {
            "cluster_id": [0] * 10 + [1] * 10 + [None] * 80,
            "risk": [0.9] * 10 + [0.6] * 10 + [0.0] * 80,
        }
    )
    clusters = pl.DataFrame({"cluster": [0, 1], "evidence_q": [0.0, 0.5]})
    point = resolve_operating_point(
        ScoringConfig(target_fpr=0.01), accounts=accounts, clusters=clusters
    )
    assert point.method == "null" and point.threshold == 0.9 and point.expected_fpr == 0.0
    # community 1 (q 0.5, above scoring.fdr) is one the null does not single out: its ten
    # flagged accounts count as ten false positives of 90 negatives, over a 10% target
    loose = resolve_operating_point(
        ScoringConfig(target_fpr=0.1), accounts=accounts, clusters=clusters
    )
    assert loose.threshold == 0.9
    looser = resolve_operating_point(
        ScoringConfig(target_fpr=0.12), accounts=accounts, clusters=clusters
    )
    assert looser.threshold == 0.6 and looser.expected_fpr == 10 / 90


def test_the_q_gate_keeps_the_threshold_and_flags_only_unusual_communities():
    from graphguard.pipeline.operating import flag_accounts

    # a ring's community (q 0.001) and a family's on one tablet (q 0.5), both risky; the
    # loose target lets the family's risk through unless the gate stops it
    accounts = pl.DataFrame(
        {
            "cluster_id": [0] * 10 + [1] * 4 + [None] * 986,
            "risk": [0.9] * 10 + [0.6] * 4 + [0.0] * 986,
        }
    )
    clusters = pl.DataFrame({"cluster": [0, 1], "evidence_q": [0.001, 0.5]})
    plain = resolve_operating_point(
        ScoringConfig(target_fpr=0.005), accounts=accounts, clusters=clusters
    )
    gated = resolve_operating_point(
        ScoringConfig(target_fpr=0.005, q_gate=True), accounts=accounts, clusters=clusters
    )
    assert plain.threshold == gated.threshold == 0.6
    assert plain.q_gate is None and gated.q_gate == ScoringConfig().fdr
    assert gated.expected_fpr < plain.expected_fpr <= 0.005
    assert flag_accounts(accounts, clusters, plain).sum() == 14
    flags = flag_accounts(accounts, clusters, gated)
    assert flags.sum() == 10 and flags[:10].all()
    assert gated.to_dict()["q_gate"] == ScoringConfig().fdr
    # the gate is the null model's: a fixed threshold does not gate
    fixed = resolve_operating_point(
        ScoringConfig(q_gate=True), accounts=accounts, clusters=clusters
    )
    assert fixed.method == "fixed" and fixed.q_gate is None
