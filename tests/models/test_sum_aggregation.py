"""`model.aggr=sum` (conf/model/sum.yaml): the neighbour count reaches the model, which a mean
cannot see; same seed, same scores."""

from __future__ import annotations

import numpy as np
import torch

from graphguard.compose import compose_config, settings
from graphguard.graph.inputs import GraphInputs
from graphguard.metrics import auprc
from graphguard.models.detector import GraphSAGEDetector


def _stars(seed: int = 0) -> tuple[GraphInputs, np.ndarray, np.ndarray]:
    """200 hubs, each linked to 2-12 leaves; a hub is abusive (code 1) when it has 10 or more.
    Every leaf has feature 1 and every hub 0, so every hub's neighbours look alike on average:
    only their number tells the classes apart."""
    rng = np.random.default_rng(seed)
    hubs = 200
    degree = rng.integers(2, 13, size=hubs)
    leaves = int(degree.sum())
    hub_of_leaf = np.repeat(np.arange(hubs), degree)
    leaf = hubs + np.arange(leaves)
    pairs = np.stack([np.concatenate([hub_of_leaf, leaf]), np.concatenate([leaf, hub_of_leaf])])
    x = np.zeros((hubs + leaves, 1), dtype=np.float32)
    x[hubs:] = 1.0
    y = np.zeros(hubs + leaves, dtype=np.int64)
    y[:hubs] = (degree >= 10).astype(np.int64)
    inputs = GraphInputs(torch.from_numpy(x), {"sync": torch.from_numpy(pairs).long()}, ("leaf",))
    split = rng.random(hubs + leaves)
    train = split < 0.6
    test = np.zeros(hubs + leaves, dtype=bool)
    test[:hubs] = ~train[:hubs]
    return inputs, y, train, test


def _fit_score(aggr: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    torch.set_num_threads(1)
    inputs, y, train, test = _stars()
    model = GraphSAGEDetector(aggr=aggr, epochs=100, patience=100, seed=seed, hidden=16)
    model.fit(inputs, y, train_mask=train, val_mask=np.zeros_like(train))
    return model.decision_function(inputs), y, test


def test_sum_sees_how_many_neighbours_mean_does_not():
    mean_score, y, test = _fit_score("mean")
    sum_score, _, _ = _fit_score("sum")
    abusive = y[test] > 0
    # every test hub has the same inputs and neighbour mean: one score for all of them
    assert np.ptp(mean_score[test]) < 1e-6
    assert auprc(abusive, sum_score[test]) > 0.95 > 2 * abusive.mean()


def test_sum_is_deterministic_under_a_seed_and_the_config_option_selects_it():
    first, _, _ = _fit_score("sum", seed=3)
    again, _, _ = _fit_score("sum", seed=3)
    np.testing.assert_array_equal(first, again)
    assert settings(compose_config(["model=sum"])).params.aggr == "sum"
    assert settings(compose_config([])).params.aggr == "mean"
