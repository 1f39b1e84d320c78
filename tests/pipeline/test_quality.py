"""Quality floors of unsupervised detection on small simulated worlds (seeds used nowhere else).

The floors sit below what the default config reaches on these seeds (12/12 and 11/12 campaigns,
benign false-positive rate 0.2% or less), so a change that breaks a kind of evidence fails here.
"""

from __future__ import annotations

import pytest

from graphguard.config import DetectConfig
from graphguard.evaluation.evaluate import evaluate
from graphguard.pipeline.detect import detect
from graphguard.simulate import SimulationConfig, simulate


@pytest.fixture(scope="module", params=[8, 9])
def metrics(request) -> dict:
    world = simulate(SimulationConfig(n_accounts=4000, seed=request.param, campaign_scale=3))
    result = detect(world.events, DetectConfig())
    return evaluate(result.accounts, world.truth)


def test_most_campaigns_caught_including_every_kind(metrics):
    campaigns = metrics["campaigns"]
    assert campaigns["caught_share"] >= 0.85
    for kind, stats in campaigns["by_kind"].items():
        assert stats["n_caught"] >= 1, kind


def test_account_ranking(metrics):
    assert metrics["accounts"]["auprc"] >= 0.98
    assert metrics["accounts"]["recall_at_1pct_fpr"] >= 0.95


def test_false_positive_rates(metrics):
    fpr = metrics["false_positive_rate"]
    assert fpr["benign_population"] <= 0.01
    for kind, stats in fpr["hard_negatives"].items():
        assert stats["fpr"] <= 0.05, kind
