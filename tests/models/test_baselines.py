"""Feature baselines: neighbour aggregates computed right, label shares that never read a node's
own label, and models that find a signal only where it is (raw vs aggregated features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphguard.metrics import auroc
from graphguard.models.baselines import (
    fit_predict_gbt,
    fit_predict_mlp,
    neighbour_aggregate,
    neighbour_label_share,
)


def _both(pairs):
    pairs = np.asarray(pairs)
    return torch.from_numpy(np.concatenate([pairs, pairs[:, ::-1]]).T.copy())


def _masks(n, rng, train=0.5, val=0.2):
    order = rng.permutation(n)
    train_mask = np.zeros(n, bool)
    val_mask = np.zeros(n, bool)
    train_mask[order[: int(train * n)]] = True
    val_mask[order[int(train * n) : int((train + val) * n)]] = True
    return train_mask, val_mask, ~(train_mask | val_mask)


@pytest.fixture(scope="module")
def neighbour_signal():
    """Labels set by the neighbours' feature alone: a node's own features carry nothing."""
    rng = np.random.default_rng(0)
    n, k = 1500, 6
    x = rng.normal(size=(n, 3)).astype(np.float32)
    src = np.repeat(np.arange(n), k)
    dst = rng.integers(0, n, size=n * k)
    keep = src != dst
    edges = {"link": _both(np.stack([src[keep], dst[keep]], axis=1))}
    e = edges["link"].numpy()
    neighbour_mean = np.bincount(e[1], weights=x[e[0], 0], minlength=n) / np.maximum(
        np.bincount(e[1], minlength=n), 1
    )
    y = (neighbour_mean > np.quantile(neighbour_mean, 0.7)).astype(np.int64)
    return x, edges, y, _masks(n, rng)


def test_aggregate_on_a_hand_graph():
    x = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0], [7.0, 6.0]], dtype=np.float32)
    # 0-1, 0-2 in relation a; 2-3 in relation b; node 3 has no a-neighbours
    edges = {"a": _both([[0, 1], [0, 2]]), "b": _both([[2, 3]])}
    out = neighbour_aggregate(x, edges, aggregations=("mean", "max"), hops=1, degree=True)
    assert out.shape == (4, 2 + 2 * 2 * 2 + 2)
    np.testing.assert_allclose(out[:, :2], x)
    a_mean, a_max, b_mean, b_max = out[:, 2:4], out[:, 4:6], out[:, 6:8], out[:, 8:10]
    np.testing.assert_allclose(a_mean[0], [4.0, 3.0])  # mean of nodes 1 and 2
    np.testing.assert_allclose(a_max[0], [5.0, 4.0])
    np.testing.assert_allclose(a_mean[3], [0.0, 0.0])  # no a-neighbours: zeros
    np.testing.assert_allclose(b_mean[3], x[2])
    np.testing.assert_allclose(b_max[2], x[3])
    np.testing.assert_allclose(out[:, -2:], np.log1p([[2, 0], [1, 0], [1, 1], [0, 1]]))


def test_two_hop_mean_reaches_the_other_side_of_a_bipartite_graph():
    # users 0, 1 both use item 2; user 3 uses item 4 alone
    x = np.array([[1.0], [3.0], [0.0], [9.0], [0.0]], dtype=np.float32)
    uses = torch.tensor([[0, 1, 3], [2, 2, 4]])
    edges = {"uses": uses, "used_by": uses.flip(0)}
    out = neighbour_aggregate(x, edges, aggregations=("mean",), hops=2, degree=False)
    two_hop = out[:, -2:].sum(axis=1)  # the used_by block holds the users' view
    np.testing.assert_allclose(two_hop[[0, 1, 3]], [2.0, 2.0, 9.0])


def test_label_share_never_reads_the_nodes_own_label():
    rng = np.random.default_rng(1)
    n = 300
    pairs = rng.integers(0, n, size=(900, 2))
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
    edges = {"link": _both(pairs)}
    y = rng.integers(0, 2, size=n)
    known = rng.random(n) < 0.5
    base = neighbour_label_share(y, known, edges, seed=3)
    for node in np.flatnonzero(known)[:20]:
        flipped = y.copy()
        flipped[node] = 1 - flipped[node]
        again = neighbour_label_share(flipped, known, edges, seed=3)
        np.testing.assert_array_equal(again[node], base[node])
    # an unknown node's own label is never read at all
    unknown = np.flatnonzero(~known)[0]
    flipped = y.copy()
    flipped[unknown] = 1 - flipped[unknown]
    np.testing.assert_array_equal(neighbour_label_share(flipped, known, edges, seed=3), base)


def test_label_share_of_unknown_nodes_reads_every_known_neighbour():
    y = np.array([1, 0, 1, 0])
    known = np.array([True, True, True, False])
    edges = {"link": _both([[3, 0], [3, 1], [3, 2]])}
    share = neighbour_label_share(y, known, edges, prior=0.0)
    assert share[3, 0] == pytest.approx(2 / 3)
    assert share[3, 1] == pytest.approx(np.log1p(3))


def test_trees_need_the_aggregates_to_see_a_neighbour_signal(neighbour_signal):
    x, edges, y, (train, val, test) = neighbour_signal
    raw = fit_predict_gbt(x, y, train, val, seed=0)
    aggregated = fit_predict_gbt(neighbour_aggregate(x, edges), y, train, val, seed=0)
    assert auroc(y[test] > 0, raw[test]) < 0.62
    assert auroc(y[test] > 0, aggregated[test]) > 0.9


def test_gbt_is_seeded_and_checks_masks(neighbour_signal):
    x, edges, y, (train, val, _) = neighbour_signal
    features = neighbour_aggregate(x, edges)
    first = fit_predict_gbt(features, y, train, val, seed=4, max_iter=30)
    again = fit_predict_gbt(features, y, train, val, seed=4, max_iter=30)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (x.shape[0],)
    with pytest.raises(ValueError, match="overlap"):
        fit_predict_gbt(features, y, train, train, seed=0)


def test_mlp_finds_a_feature_signal_and_repeats_itself():
    rng = np.random.default_rng(2)
    n = 800
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = np.where(x[:, 0] + 0.5 * x[:, 1] + 0.3 * rng.normal(size=n) > 0.8, 1, 0)
    # a third class, as in the simulated worlds: the abuse score is 1 - p(class 0)
    y = np.where((y == 1) & (x[:, 2] > 0), 2, y)
    train, val, test = _masks(n, rng)
    score = fit_predict_mlp(x, y, train, val, seed=0, hidden=32, epochs=100, patience=20)
    assert auroc(y[test] > 0, score[test]) > 0.9
    again = fit_predict_mlp(x, y, train, val, seed=0, hidden=32, epochs=100, patience=20)
    np.testing.assert_allclose(score, again)
