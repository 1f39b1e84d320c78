"""`model.edge_gate`: messages scaled by a gate learned from the edge's attributes
(`EdgeGatedConv`), the attributes built from the account graph (`graph_inputs(edge_attrs=True)`,
`edge_attributes`) and carried to a gated model by the detector's own input path."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from graphguard.graph.inputs import EDGE_ATTR_NAMES, GraphInputs, edge_attributes, graph_inputs
from graphguard.metrics import auprc
from graphguard.models.detector import GraphSAGEDetector
from graphguard.models.sage import EdgeGatedConv, GatedEdges
from graphguard.pipeline.fusion import model_inputs

SUPPORT = EDGE_ATTR_NAMES.index("sync_log_support")


def _real_and_noise(seed: int = 0) -> tuple[GraphInputs, np.ndarray, np.ndarray, np.ndarray]:
    """300 accounts to classify (feature 0) and 200 helpers (feature +1 or -1, unlabelled).

    An abusive account (code 1) has 4 real links to +1 helpers and 4 noise links to -1
    helpers; a benign one (code 0) 4 real links to -1 helpers and 4 noise links to +1 helpers.
    Real links have sync support 3, noise links 1 (`sync_log_support`). Every account thus has
    4 neighbours of each sign: their sum, mean and count are the same for both classes, and
    only the edge attribute says which neighbours count."""
    rng = np.random.default_rng(seed)
    accounts, helpers = 300, 200
    y = np.full(accounts + helpers, -1, dtype=np.int64)
    y[:accounts] = rng.permutation(np.arange(accounts) % 2)
    plus = accounts + np.arange(helpers // 2)
    minus = accounts + helpers // 2 + np.arange(helpers // 2)
    src, dst, real = [], [], []
    for i in range(accounts):
        same, other = (plus, minus) if y[i] == 1 else (minus, plus)
        for pool, is_real in ((same, True), (other, False)):
            for h in rng.choice(pool, size=4, replace=False):
                src.append(i)
                dst.append(h)
                real.append(is_real)
    pairs = np.array([src + dst, dst + src], dtype=np.int64)
    attr = np.zeros((pairs.shape[1], len(EDGE_ATTR_NAMES)), dtype=np.float32)
    attr[:, SUPPORT] = np.log1p(np.where(np.array(real + real), 3.0, 1.0))
    x = np.zeros((accounts + helpers, 1), dtype=np.float32)
    x[plus] = 1.0
    x[minus] = -1.0
    inputs = GraphInputs(
        torch.from_numpy(x),
        {"sync": torch.from_numpy(pairs)},
        ("sign",),
        edge_attr_dict={"sync": torch.from_numpy(attr)},
    )
    train = np.zeros(accounts + helpers, dtype=bool)
    train[:accounts] = rng.random(accounts) < 0.6
    test = np.zeros_like(train)
    test[:accounts] = ~train[:accounts]
    return inputs, y, train, test


def _fit_score(edge_gate: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    torch.set_num_threads(1)
    inputs, y, train, test = _real_and_noise()
    model = GraphSAGEDetector(
        aggr="sum", edge_gate=edge_gate, epochs=150, patience=150, seed=seed, hidden=16
    )
    model.fit(inputs, y, train_mask=train, val_mask=np.zeros_like(train))
    return model.decision_function(inputs), y, test


def test_the_gate_separates_classes_only_the_edge_attribute_tells_apart():
    plain, y, test = _fit_score(False)
    gated, _, _ = _fit_score(True)
    abusive = y[test] > 0
    # without the gate every account sees the same neighbourhood: one score for all
    assert np.ptp(plain[test]) < 1e-6
    assert auprc(abusive, gated[test]) > 0.95 > 1.8 * abusive.mean()


def test_the_gate_is_deterministic_under_a_seed_and_off_by_default():
    first, _, _ = _fit_score(True, seed=5)
    again, _, _ = _fit_score(True, seed=5)
    np.testing.assert_array_equal(first, again)
    assert GraphSAGEDetector().edge_gate is False


def test_a_gated_model_needs_the_edges_attributes():
    inputs, y, train, _ = _real_and_noise()
    bare = GraphInputs(inputs.x, inputs.edge_index_dict, inputs.feature_names)
    with pytest.raises(ValueError, match="edge_attrs=True"):
        GraphSAGEDetector(edge_gate=True, epochs=2).fit(bare, y, train_mask=train)


def test_layer_wise_scoring_gives_the_full_graph_scores():
    """Scoring a graph above ``full_batch_max_nodes`` runs layer by layer over batches of
    targets, each batch slicing its edges' attributes: the same logits."""
    torch.set_num_threads(1)
    inputs, y, train, _ = _real_and_noise()
    model = GraphSAGEDetector(aggr="sum", edge_gate=True, epochs=20, patience=20, hidden=8)
    model.fit(inputs, y, train_mask=train, val_mask=np.zeros_like(train))
    full = model.logits(inputs)
    model.full_batch_max_nodes, model.inference_batch_size = 10, 64
    np.testing.assert_allclose(model.logits(inputs), full, rtol=1e-5, atol=1e-5)


def test_edge_gated_conv_sums_gated_messages():
    torch.manual_seed(0)
    conv = EdgeGatedConv(2, 3, edge_dim=1, aggr="sum")
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    edges = GatedEdges(torch.tensor([[0, 1], [2, 2]]), torch.tensor([[0.0], [5.0]]))
    out = conv((x, x), edges)
    h = x @ conv.lin_l.weight.T
    gate = torch.sigmoid(conv.gate(edges.edge_attr))
    expected = torch.zeros(3, 3)
    expected[2] = h[0] * gate[0] + h[1] * gate[1]
    torch.testing.assert_close(out, expected + conv.lin_l.bias)


def test_edge_attributes_of_a_small_graph():
    """A triangle 0-1-2 through sync (0-1 twice) and a pendant 2-3 through a device: support,
    inverse mean weight, common neighbours (per relation and in the whole graph), Jaccard."""
    edges = pl.DataFrame(
        {
            "src": [0, 0, 1, 2],
            "dst": [1, 2, 2, 3],
            "device_support": [0, 0, 0, 1],
            "device_weight": [0.0, 0.0, 0.0, 0.5],
            "sync_support": [2, 1, 1, 0],
            "sync_weight": [0.5, 0.5, 0.25, 0.0],
            "weight": [1.0, 1.0, 1.0, 1.0],
        },
        schema_overrides={"src": pl.UInt32, "dst": pl.UInt32},
    )
    attr = edge_attributes(edges)
    col = {name: attr[:, i] for i, name in enumerate(EDGE_ATTR_NAMES)}
    np.testing.assert_allclose(col["sync_linked"], [1, 1, 1, 0])
    np.testing.assert_allclose(col["sync_log_support"], np.log1p([2, 1, 1, 0]), rtol=1e-6)
    np.testing.assert_allclose(
        col["sync_log_inverse_weight"], np.log([4.0, 2.0, 4.0, 1.0]), rtol=1e-6
    )
    np.testing.assert_allclose(col["device_log_inverse_weight"], [0, 0, 0, np.log(2.0)], rtol=1e-6)
    # each triangle edge has the third corner in common, in sync and in the whole graph
    np.testing.assert_allclose(col["sync_log_common_neighbours"], np.log1p([1, 1, 1, 0]), rtol=1e-6)
    np.testing.assert_allclose(col["log_common_neighbours"], np.log1p([1, 1, 1, 0]), rtol=1e-6)
    # 0-2: common {1}, others of 0 and 2 besides each other: {1} and {1, 3} -> 1 / 2
    np.testing.assert_allclose(col["neighbour_jaccard"], [1.0, 0.5, 0.5, 0.0], rtol=1e-6)
    assert not col["ip_linked"].any() and not col["dense_linked"].any()


def test_graph_inputs_carry_the_attributes_only_when_asked_and_model_inputs_asks_for_a_gate():
    features = pl.DataFrame({"account": np.arange(4, dtype=np.uint32), "f": [0.0, 1.0, 2.0, 3.0]})
    edges = pl.DataFrame(
        {
            "src": [0, 1],
            "dst": [1, 2],
            "sync_support": [1, 2],
            "sync_weight": [0.5, 0.5],
            "weight": [1.0, 1.0],
        },
        schema_overrides={"src": pl.UInt32, "dst": pl.UInt32},
    )
    plain = graph_inputs(features, edges)
    assert plain.edge_attr_dict is None
    gated = graph_inputs(features, edges, edge_attrs=True)
    for relation, edge_index in gated.edge_index_dict.items():
        torch.testing.assert_close(edge_index, plain.edge_index_dict[relation])
        assert gated.edge_attr_dict[relation].shape == (edge_index.size(1), len(EDGE_ATTR_NAMES))
    torch.testing.assert_close(gated.edge_attr_dict["sync"][:2], gated.edge_attr_dict["sync"][2:])
    y = np.array([0, 1, 0, 1])
    model = GraphSAGEDetector(edge_gate=True, epochs=3, hidden=4, val_fraction=0.0)
    model.fit(gated, y)
    assert model_inputs(model, features, edges).edge_attr_dict is not None
    plain_model = GraphSAGEDetector(epochs=3, hidden=4, val_fraction=0.0).fit(plain, y)
    assert model_inputs(plain_model, features, edges).edge_attr_dict is None
