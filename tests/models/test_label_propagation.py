"""Label propagation as a feature: it never reads a node's own label, it finds the side of a
graph a node sits on from labels several hops away, and it repeats itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphguard.models.baselines import label_propagation


def _both(pairs):
    pairs = np.asarray(pairs)
    return torch.from_numpy(np.concatenate([pairs, pairs[:, ::-1]]).T.copy())


def _random_graph(seed: int, n: int = 300, m: int = 900):
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, n, size=(m, 2))
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
    return rng, {"link": _both(pairs)}


def test_propagation_never_reads_the_nodes_own_label():
    rng, edges = _random_graph(1)
    n = 300
    y = rng.integers(0, 2, size=n)
    known = rng.random(n) < 0.5
    base = label_propagation(y, known, edges, seed=3)
    for node in np.flatnonzero(known)[:20]:
        flipped = y.copy()
        flipped[node] = 1 - flipped[node]
        np.testing.assert_array_equal(
            label_propagation(flipped, known, edges, seed=3)[node], base[node]
        )
    unknown = np.flatnonzero(~known)[0]
    flipped = y.copy()
    flipped[unknown] = 1 - flipped[unknown]
    np.testing.assert_array_equal(label_propagation(flipped, known, edges, seed=3), base)


def test_propagation_reaches_past_the_neighbours_and_repeats_itself():
    # two paths of 12 nodes, joined by one edge in the middle (5-17); labels only at the far
    # ends (nodes 0 and 12 abusive, 11 and 23 benign): the unlabelled nodes near node 0 and 12
    # have no labelled neighbour, yet lean abusive, those near 11 and 23 benign
    path = [[i, i + 1] for i in range(11)] + [[i, i + 1] for i in range(12, 23)]
    edges = {"a": _both(path), "b": _both([[5, 17]])}
    y = np.full(24, -1)
    y[[0, 12]] = 1
    y[[11, 23]] = 0
    known = y >= 0
    out = label_propagation(y, known, edges, alpha=0.9, iterations=40, folds=2, seed=0)
    assert out.shape == (24, 2) and out.dtype == np.float32
    share = out[:, 0]
    assert (share[[2, 3, 14, 15]] > 0.5).all()
    assert (share[[8, 9, 20, 21]] < 0.5).all()
    # a node with no edges at all gets no mass and the neutral share
    lonely = label_propagation(
        np.array([1, 0, -1]), np.array([True, True, False]), {"a": _both([[0, 1]])}, folds=2
    )
    assert lonely[2, 0] == pytest.approx(0.5) and lonely[2, 1] == 0.0
    np.testing.assert_array_equal(
        label_propagation(y, known, edges, alpha=0.9, iterations=40, folds=2, seed=0), out
    )


def test_propagation_checks_its_settings():
    _, edges = _random_graph(2)
    y = np.zeros(300, dtype=np.int64)
    with pytest.raises(ValueError, match="folds"):
        label_propagation(y, y >= 0, edges, folds=1)
    with pytest.raises(ValueError, match="alpha"):
        label_propagation(y, y >= 0, edges, alpha=1.0)
