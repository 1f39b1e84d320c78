"""The real-data experiment runner and the detector options it uses, on tiny synthetic graphs:
the runner scores every model on test masks only, new model options keep old checkpoints and
state dicts as they were, and the label trick never shows a node its own label."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphguard.datasets import GraphDataset, stratified_splits
from graphguard.evaluation.real_data import format_table, run_real_experiment, select_on_validation
from graphguard.graph.inputs import GraphInputs
from graphguard.metrics import auroc
from graphguard.models.detector import GraphSAGEDetector
from graphguard.models.sage import RelationalGraphSAGE


def _ring_graph(n: int = 400, seed: int = 0) -> GraphDataset:
    """Abusive nodes sit in dense rings; their own features are noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    abusive = np.flatnonzero(y == 1)
    ring_pairs = rng.choice(abusive, size=(6 * abusive.size, 2))
    random_pairs = rng.integers(0, n, size=(2 * n, 2))
    pairs = np.concatenate([ring_pairs, random_pairs])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    both = torch.from_numpy(np.concatenate([pairs, pairs[:, ::-1]]).T.copy())
    x = torch.from_numpy(rng.normal(size=(n, 4)).astype(np.float32))
    inputs = GraphInputs(x=x, edge_index_dict={"link": both}, feature_names=("a", "b", "c", "d"))
    splits = stratified_splits(y, np.arange(n), seeds=(0, 1))
    return GraphDataset("rings", inputs, y, splits, metric="ROC-AUC on test")


@pytest.fixture(scope="module")
def rings():
    return _ring_graph()


def test_runner_scores_every_model_on_every_split(rings):
    fast_sage = {"epochs": 40, "patience": 10, "device": "cpu", "hidden": 16}
    fast_sage["degree_features"] = True  # ring members stand out by degree, not features
    outcome = run_real_experiment(
        rings,
        {
            "graphsage": fast_sage,
            "gbt": {"max_iter": 50},
            "mlp": {"epochs": 40},
            "agg_mlp": {"epochs": 40},
        },
    )
    assert set(outcome["results"]) == {"graphsage", "gbt", "mlp", "agg_mlp"}
    for result in outcome["results"].values():
        assert [run["split"] for run in result["runs"]] == [0, 1]
        assert 0.0 <= result["summary"]["roc_auc_mean"] <= 1.0
    # degree and neighbours give the graph models the rings; own features are noise
    assert outcome["results"]["graphsage"]["summary"]["roc_auc_mean"] > 0.8
    assert outcome["results"]["gbt"]["summary"]["roc_auc_mean"] > 0.8
    assert outcome["results"]["agg_mlp"]["summary"]["roc_auc_mean"] > 0.8
    assert outcome["results"]["mlp"]["summary"]["roc_auc_mean"] < 0.7
    assert "graphsage" in format_table(outcome)


def test_selection_reads_validation_only(rings):
    best, rows = select_on_validation(
        rings, "gbt", [{"max_iter": 1}, {"max_iter": 60}], splits=(0,)
    )
    assert len(rows) == 2 and best == max(rows, key=lambda r: r["val_roc_auc"])["params"]


def test_default_model_keeps_its_state_dict_layout():
    model = RelationalGraphSAGE(5, 8, 3, 2, relations=("a",))
    keys = set(model.state_dict())
    assert not any(k.startswith(("input_proj", "input_dropout")) for k in keys)
    assert model.head.in_features == 8


@pytest.mark.parametrize(
    "options",
    [
        {"residual": True, "jumping_knowledge": True, "input_dropout": 0.1},
        {"degree_features": True, "aggr": "max", "layers": 3, "fanouts": (5, 5, 5)},
    ],
)
def test_new_options_train_and_round_trip(rings, options, tmp_path):
    train, val, _ = rings.splits[0]
    detector = GraphSAGEDetector(epochs=5, hidden=8, device="cpu", **options)
    detector.fit(rings.inputs, rings.y, train_mask=train, val_mask=val)
    scores = detector.decision_function(rings.inputs)
    loaded = GraphSAGEDetector.load(
        detector.save(tmp_path / "m.pt"), feature_names=None, device="cpu"
    )
    np.testing.assert_allclose(loaded.decision_function(rings.inputs), scores, atol=1e-6)
    assert loaded.get_params() == {**detector.get_params(), "device": "cpu"}


def test_label_trick_never_shows_a_node_its_own_label():
    """No edges and noise features: only a leak of its own label could tell a node apart."""
    rng = np.random.default_rng(5)
    n = 400
    y = (rng.random(n) < 0.5).astype(np.int64)
    x = torch.from_numpy(rng.normal(size=(n, 3)).astype(np.float32))
    no_edges = {"link": torch.zeros((2, 0), dtype=torch.long)}
    inputs = GraphInputs(x=x, edge_index_dict=no_edges, feature_names=("a", "b", "c"))
    train = rng.random(n) < 0.6
    detector = GraphSAGEDetector(
        epochs=60, patience=60, hidden=16, device="cpu", label_input=True, select_on="auroc"
    )
    detector.fit(inputs, y, train_mask=train, val_mask=~train)
    # scoring shows every training label, so a model that had learned to copy its own label
    # would rank the training nodes perfectly
    scores = detector.decision_function(inputs)
    assert auroc(y[train] > 0, scores[train]) < 0.75
    with pytest.raises(ValueError, match="known_labels"):
        detector.decision_function(GraphInputs(x[:10], no_edges, ("a", "b", "c")))


def test_layerwise_inference_matches_forward_with_residual_and_jk():
    torch.manual_seed(0)
    model = RelationalGraphSAGE(
        5, 8, 3, 3, relations=("a", "b"), residual=True, jumping_knowledge=True
    ).eval()
    x = torch.randn(50, 5)
    edges = {"a": torch.randint(0, 50, (2, 200)), "b": torch.randint(0, 50, (2, 80))}
    with torch.no_grad():
        full = model(x, edges)
    np.testing.assert_allclose(model.inference(x, edges, batch_size=7), full, atol=1e-5)
