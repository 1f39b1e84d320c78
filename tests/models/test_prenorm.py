"""The pre-norm residual GraphSAGE option (``block="prenorm"``, ``activation="gelu"``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from graphguard.config import ConfigError
from graphguard.graph.inputs import GraphInputs
from graphguard.models.detector import GraphSAGEDetector
from graphguard.models.params import GraphSAGEParams
from graphguard.models.sage import PreNormSAGEBlock, RelationalGraphSAGE, adjacency


def _graph(n: int = 90, m: int = 600, seed: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for relation, edges in (("a", m), ("b", m // 4)):
        pairs = torch.randint(0, n, (2, edges), generator=gen)
        pairs = pairs[:, pairs[0] != pairs[1]].unique(dim=1)
        out[relation] = torch.cat([pairs, pairs.flip(0)], dim=1)
    return out


def _model(seed: int = 0, **kwargs) -> RelationalGraphSAGE:
    torch.manual_seed(seed)
    settings = {"block": "prenorm", "activation": "gelu", **kwargs}
    return RelationalGraphSAGE(6, 16, 3, 3, relations=("a", "b"), **settings)


def test_prenorm_shapes_and_modules():
    n = 90
    model = _model().eval()
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(1))
    out = model(x, _graph(n))
    assert out.shape == (n, 3)
    assert all(isinstance(layer, PreNormSAGEBlock) for layer in model.layers)
    assert len(model.layers) == 3
    names = set(model.state_dict())
    assert {"input_proj.weight", "output_norm.weight", "layers.0.feed_forward.weight"} <= names
    # the ego (root) and neighbour (per relation) transforms are separate weights
    layer = model.layers[0]
    assert layer.root.weight.data_ptr() != layer.convs["a"].lin_l.weight.data_ptr()


def test_prenorm_is_deterministic_under_a_seed():
    n = 90
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(1))
    edges = _graph(n)
    first = _model(seed=4).eval()(x, edges)
    again = _model(seed=4).eval()(x, edges)
    other = _model(seed=5).eval()(x, edges)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_a_prenorm_block_is_its_input_plus_an_update():
    # with the feed-forward weights and bias at zero the block's update is zero, so the
    # block returns its input exactly: the identity path carries it past normalisation
    n = 40
    block = PreNormSAGEBlock(8, ("a",), dropout=0.0).eval()
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(2))
    edges = _graph(n, 200)
    with torch.no_grad():
        changed = block(x, {"a": edges["a"]})
        block.feed_forward.weight.zero_()
        block.feed_forward.bias.zero_()
        same = block(x, {"a": edges["a"]})
    assert torch.equal(same, x)
    assert not torch.allclose(changed, x)
    # and the update reads the neighbours: moving one node's features changes its neighbours
    with torch.no_grad():
        block.feed_forward.weight.copy_(torch.eye(8))
        moved = x.clone()
        moved[0, 0] += 5.0  # one feature: a shift of all of them is what LayerNorm removes
        before, after = block(x, {"a": edges["a"]}), block(moved, {"a": edges["a"]})
    neighbours = edges["a"][1][edges["a"][0] == 0]
    assert neighbours.numel() > 0
    assert not torch.allclose(before[neighbours], after[neighbours])


def test_prenorm_layerwise_inference_and_sparse_aggregation_match_the_forward():
    n = 90
    model = _model().eval()
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(1))
    edges = _graph(n)
    full = model(x, edges)
    assert torch.allclose(model.inference(x, edges, batch_size=13), full, atol=1e-5)
    sparse = {r: adjacency(e, n) for r, e in edges.items()}
    assert torch.allclose(model(x, sparse), full, atol=1e-5)


def test_default_model_state_dict_is_unchanged_by_the_new_options():
    # checkpoints of the default (post-norm) model must load as before: no new parameters
    torch.manual_seed(0)
    default = RelationalGraphSAGE(6, 16, 3, 2, relations=("a", "b"))
    torch.manual_seed(0)
    gelu = RelationalGraphSAGE(6, 16, 3, 2, relations=("a", "b"), activation="gelu")
    assert list(default.state_dict()) == list(gelu.state_dict())
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(1))
    edges = _graph(30, 100)
    assert not torch.allclose(default.eval()(x, edges), gelu.eval()(x, edges))


def test_bad_block_and_activation_are_refused():
    with pytest.raises(ValueError, match="block"):
        RelationalGraphSAGE(6, 16, 3, 2, relations=("a",), block="sandwich")
    with pytest.raises(ValueError, match="activation"):
        RelationalGraphSAGE(6, 16, 3, 2, relations=("a",), activation="tanh")
    with pytest.raises(ConfigError, match="model.block"):
        GraphSAGEParams(block="sandwich")
    with pytest.raises(ConfigError, match="model.activation"):
        GraphSAGEParams(activation="tanh")
    with pytest.raises(ConfigError, match="jumping_knowledge"):
        GraphSAGEParams(block="prenorm", jumping_knowledge=True)


def test_a_prenorm_detector_learns_a_neighbourhood_signal():
    # the class is the sign of the sum of a node's neighbours' first feature; its own features
    # say nothing of it, so a model that could not read its neighbourhood would score ~0.5
    n = 400
    gen = torch.Generator().manual_seed(0)
    src = torch.randint(0, n, (n * 8,), generator=gen)
    dst = torch.arange(n).repeat_interleave(8)
    x = torch.randn(n, 4, generator=gen)
    signal = torch.zeros(n).index_add_(0, dst, x[src, 0])
    labels = (signal > signal.median()).long().numpy()
    inputs = GraphInputs(
        x=x,
        edge_index_dict={"a": torch.stack([src, dst])},
        feature_names=("f0", "f1", "f2", "f3"),
    )
    train, val = np.zeros(n, bool), np.zeros(n, bool)
    train[: n // 2] = True
    val[n // 2 : 3 * n // 4] = True
    test = ~(train | val)
    detector = GraphSAGEDetector(
        block="prenorm",
        activation="gelu",
        hidden=32,
        layers=1,
        fanouts=[10],
        epochs=150,
        patience=150,
        lr=1e-2,
        dropout=0.0,
        select_on="auroc",
        device="cpu",
        seed=0,
    )
    detector.fit(inputs, labels, train_mask=train, val_mask=val)
    score = detector.decision_function(inputs)
    assert roc_auc_score(labels[test], score[test]) > 0.8
