"""Per-account loss weights (`GraphSAGEDetector.fit(sample_weight=)`, `fit_predict_gbt`), what
the hard-worlds harness's confidence-weighted self-training arms train with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphguard.graph.inputs import GraphInputs
from graphguard.metrics import auprc
from graphguard.models.baselines import fit_predict_gbt
from graphguard.models.detector import GraphSAGEDetector


def _graph(seed: int = 0) -> tuple[GraphInputs, np.ndarray]:
    """600 accounts, a noisy feature that says the class, a ring of neighbours."""
    rng = np.random.default_rng(seed)
    n = 600
    y = (rng.random(n) < 0.2).astype(np.int64)
    x = (y[:, None] + rng.normal(0, 0.7, size=(n, 2))).astype(np.float32)
    src = np.arange(n)
    pairs = np.stack([np.concatenate([src, (src + 1) % n]), np.concatenate([(src + 1) % n, src])])
    return GraphInputs(torch.from_numpy(x), {"sync": torch.from_numpy(pairs)}, ("a", "b")), y


def _fit(inputs, y, train, **kwargs) -> np.ndarray:
    torch.set_num_threads(1)
    model = GraphSAGEDetector(epochs=15, patience=15, seed=1, hidden=8)
    model.fit(inputs, y, train_mask=train, val_mask=np.zeros_like(train), **kwargs)
    return model.decision_function(inputs)


def test_zero_weight_rows_labels_do_not_matter_and_ones_train_as_unweighted():
    inputs, y = _graph()
    train = np.arange(y.size) < 400
    silent = np.arange(y.size) < 100
    weight = np.where(silent, 0.0, 1.0)
    # (the rows stay in the feature normalisation, so this is not the same as leaving them out)
    zeroed = _fit(inputs, y, train, sample_weight=weight)
    flipped = _fit(inputs, np.where(silent, 1 - y, y), train, sample_weight=weight)
    np.testing.assert_allclose(flipped, zeroed, rtol=0, atol=1e-6)
    plain = _fit(inputs, y, train)
    ones = _fit(inputs, y, train, sample_weight=np.ones(y.size))
    np.testing.assert_allclose(ones, plain, rtol=0, atol=1e-4)
    assert np.abs(zeroed - plain).max() > 1e-3


def test_weights_change_the_fit_and_wrong_weights_are_refused():
    inputs, y = _graph()
    train = np.arange(y.size) < 400
    # the abusive rows all but silenced: the model learns far less about them
    quiet = np.where(y == 1, 1e-3, 1.0)
    assert np.abs(_fit(inputs, y, train, sample_weight=quiet) - _fit(inputs, y, train)).max() > 0.05
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        _fit(inputs, y, train, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        _fit(inputs, y, train, sample_weight=-np.ones(y.size))


def test_gbt_reads_the_weights():
    inputs, y = _graph(2)
    x = inputs.x.numpy()
    train = np.arange(y.size) < 400
    val = (np.arange(y.size) >= 400) & (np.arange(y.size) < 500)
    test = np.arange(y.size) >= 500
    plain = fit_predict_gbt(x, y, train, val, seed=0)
    # flipped labels on half the training rows, weighted to nothing: as good as clean labels
    flipped = np.where(train & (np.arange(y.size) % 2 == 0), 1 - y, y)
    weight = np.where(flipped != y, 1e-6, 1.0)
    noisy = fit_predict_gbt(x, flipped, train, val, seed=0)
    weighted = fit_predict_gbt(x, flipped, train, val, seed=0, sample_weight=weight)
    assert auprc(y[test] == 1, weighted[test]) > auprc(y[test] == 1, noisy[test]) + 0.1
    assert auprc(y[test] == 1, weighted[test]) > auprc(y[test] == 1, plain[test]) - 0.05
