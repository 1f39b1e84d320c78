"""Supervised experiments on the real labelled graphs: GraphSAGE against feature baselines.

`run_real_experiment` fits every model on every split of a `GraphDataset` and scores the test
nodes only; hyper-parameters come in from the caller (chosen on validation masks, see
`select_on_validation`), never from test results. Plain arguments in, a JSON-ready dict out, so
the benchmark script and a Hydra entry point call the same function.

Models:
- ``graphsage``: `GraphSAGEDetector` on the dataset's relations (binary labels mapped to
  benign / bot_ring; the third class is absent and gets zero loss weight).
- ``gbt``: `fit_predict_gbt` on raw features + `neighbour_aggregate` (mean and max per relation,
  plus 2-hop means), optionally with `neighbour_label_share` of training labels.
- ``mlp``: `fit_predict_mlp` on the raw features alone.
- ``agg_mlp``: `fit_predict_mlp` on the trees' inputs (raw features and their neighbour
  aggregates, optionally the label shares): the graph is read once, before training, as in
  SIGN (Frasca et al., 2020), instead of inside every layer as in GraphSAGE.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphguard.datasets import GraphDataset
from graphguard.metrics import auprc, auroc
from graphguard.models.baselines import (
    fit_predict_gbt,
    fit_predict_mlp,
    neighbour_aggregate,
    neighbour_label_share,
)
from graphguard.models.detector import GraphSAGEDetector

MODELS: tuple[str, ...] = ("graphsage", "gbt", "mlp", "agg_mlp")
#: models that read `neighbour_aggregate` features
AGGREGATE_MODELS: frozenset[str] = frozenset({"gbt", "agg_mlp"})


def split_metrics(y: np.ndarray, score: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """ROC-AUC and AUPRC of abusive (y > 0) vs benign over the ``mask`` nodes.

    A mask without both classes is an error: the splits are stratified, so it means a broken
    split, and a NaN would only surface later as a NaN mean.
    """
    truth = y[mask] > 0
    roc_auc, average_precision = auroc(truth, score[mask]), auprc(truth, score[mask])
    if roc_auc is None or average_precision is None:
        raise ValueError(
            f"split_metrics needs abusive and benign nodes in the mask; it has {int(truth.sum())}"
            f" abusive of {truth.size}"
        )
    return {"roc_auc": roc_auc, "auprc": average_precision}


def _summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in ("roc_auc", "auprc", "val_roc_auc", "seconds"):
        values = np.array([run[key] for run in runs], dtype=float)
        out[f"{key}_mean"] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    return out


def _score_model(
    model: str,
    dataset: GraphDataset,
    split_index: int,
    params: Mapping[str, Any],
    aggregated: np.ndarray | None,
) -> np.ndarray:
    train, val, _ = dataset.splits[split_index]
    x = dataset.inputs.x.numpy()
    if model == "graphsage":
        settings = {"seed": split_index, **params}
        # fan-outs only matter for mini-batch training, but must match the layer count
        settings.setdefault("fanouts", [10] * int(settings.get("layers", 2)))
        detector = GraphSAGEDetector(**settings)
        detector.fit(dataset.inputs, dataset.y, train_mask=train, val_mask=val)
        return detector.decision_function(dataset.inputs)
    if model in AGGREGATE_MODELS:
        settings = dict(params)
        label_share = settings.pop("label_share", False)
        features = aggregated if aggregated is not None else x
        if label_share:
            shares = neighbour_label_share(
                dataset.y, train, dataset.inputs.edge_index_dict, seed=split_index
            )
            features = np.hstack([features, shares])
        fit = fit_predict_gbt if model == "gbt" else fit_predict_mlp
        return fit(features, dataset.y, train, val, seed=split_index, **settings)
    if model == "mlp":
        return fit_predict_mlp(x, dataset.y, train, val, seed=split_index, **params)
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def run_real_experiment(
    dataset: GraphDataset,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    splits: Iterable[int] | None = None,
    *,
    models: Sequence[str] = MODELS,
    aggregate_hops: int = 2,
    keep_scores: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit and score ``models`` on each split; test metrics per split and mean / std.

    Args:
        dataset: from `graphguard.datasets.load_dataset`.
        model_params: per model, keyword arguments (``graphsage``: `GraphSAGEDetector`'s,
            seed excepted: the split index seeds every model; ``gbt``:
            `HistGradientBoostingClassifier`'s plus ``label_share``; ``mlp``:
            `fit_predict_mlp`'s; ``agg_mlp``: `fit_predict_mlp`'s plus ``label_share``).
        splits: split indices to run (default all).
        aggregate_hops: hops of `neighbour_aggregate` for the trees and ``agg_mlp``.
        keep_scores: also return every node's scores, ``"scores": {model: [n_splits, n]}``
            (numpy, not JSON), e.g. for `blend_on_validation`.

    Returns:
        ``{"dataset", "metric", "published", "params", "results": {model: {"runs": [...],
        "summary": {...}}}}``; each run has split, roc_auc, auprc, val_roc_auc, seconds.
    """
    model_params = {name: dict((model_params or {}).get(name, {})) for name in models}
    split_ids = list(range(len(dataset.splits)) if splits is None else splits)
    aggregated = None
    if AGGREGATE_MODELS.intersection(models):
        aggregated = neighbour_aggregate(
            dataset.inputs.x, dataset.inputs.edge_index_dict, hops=aggregate_hops
        )
    results: dict[str, Any] = {}
    kept: dict[str, np.ndarray] = {}
    for model in models:
        runs = []
        scores = []
        for index in split_ids:
            _, val, test = dataset.splits[index]
            start = time.perf_counter()
            score = _score_model(model, dataset, index, model_params[model], aggregated)
            seconds = time.perf_counter() - start
            scores.append(np.asarray(score, dtype=np.float32))
            run = {"split": index, **split_metrics(dataset.y, score, test)}
            run["val_roc_auc"] = split_metrics(dataset.y, score, val)["roc_auc"]
            run["seconds"] = seconds
            runs.append(run)
            if progress:
                progress(
                    f"{dataset.name} {model} split {index}: test ROC-AUC {run['roc_auc']:.4f}"
                    f" AUPRC {run['auprc']:.4f} (val ROC-AUC {run['val_roc_auc']:.4f},"
                    f" {seconds:.1f}s)"
                )
        results[model] = {"runs": runs, "summary": _summary(runs)}
        kept[model] = np.stack(scores)
    outcome = {
        "dataset": dataset.name,
        "metric": dataset.metric,
        "published": dataset.published,
        "params": model_params,
        "aggregate_hops": aggregate_hops,
        "splits": split_ids,
        "results": results,
    }
    if keep_scores:
        outcome["scores"] = kept
    return outcome


def result_from_scores(
    dataset: GraphDataset, scores: np.ndarray, splits: Sequence[int]
) -> dict[str, Any]:
    """Test / validation metrics of scores computed elsewhere (``[len(splits), n]``)."""
    runs = []
    for row, index in enumerate(splits):
        _, val, test = dataset.splits[index]
        run = {"split": index, **split_metrics(dataset.y, scores[row], test)}
        run["val_roc_auc"] = split_metrics(dataset.y, scores[row], val)["roc_auc"]
        run["seconds"] = float("nan")
        runs.append(run)
    return {"runs": runs, "summary": _summary(runs)}


def _rank(score: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(score, kind="stable"), kind="stable") / max(score.size - 1, 1)


def blend_on_validation(
    dataset: GraphDataset,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    splits: Sequence[int],
    weights: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
) -> dict[str, Any]:
    """Rank average ``w * rank(a) + (1 - w) * rank(b)`` with w chosen per split on validation.

    ``scores_a`` / ``scores_b`` are ``[len(splits), n]`` (as kept by `run_real_experiment`).
    Ranks are taken over all scored nodes, so the two models' scales do not matter.
    """
    runs = []
    for row, index in enumerate(splits):
        _, val, test = dataset.splits[index]
        scored = dataset.scored
        rank_a = np.zeros(dataset.y.size)
        rank_b = np.zeros(dataset.y.size)
        rank_a[scored] = _rank(scores_a[row][scored])
        rank_b[scored] = _rank(scores_b[row][scored])
        blends = {w: w * rank_a + (1 - w) * rank_b for w in weights}
        best = max(weights, key=lambda w: split_metrics(dataset.y, blends[w], val)["roc_auc"])
        run = {"split": index, "weight_a": best, **split_metrics(dataset.y, blends[best], test)}
        run["val_roc_auc"] = split_metrics(dataset.y, blends[best], val)["roc_auc"]
        run["seconds"] = 0.0
        runs.append(run)
    return {"runs": runs, "summary": _summary(runs)}


def select_on_validation(
    dataset: GraphDataset,
    model: str,
    candidates: Sequence[Mapping[str, Any]],
    splits: Iterable[int] = (0, 1, 2),
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The candidate with the best mean *validation* ROC-AUC over ``splits``.

    Test masks are scored by `run_real_experiment` but ignored here. Returns the winner and
    one row per candidate (its params and mean validation ROC-AUC).
    """
    rows = []
    for params in candidates:
        outcome = run_real_experiment(dataset, {model: params}, splits, models=(model,))
        summary = outcome["results"][model]["summary"]
        rows.append({"params": dict(params), "val_roc_auc": summary["val_roc_auc_mean"]})
        if progress:
            progress(f"{dataset.name} {model} {dict(params)}: val {rows[-1]['val_roc_auc']:.4f}")
    best = max(rows, key=lambda row: row["val_roc_auc"])
    return dict(best["params"]), rows


def format_table(outcome: Mapping[str, Any]) -> str:
    """A side-by-side plain-text table of test mean +- std per model."""
    lines = [
        f"{outcome['dataset']}: {outcome['metric']}",
        f"{'model':<12}{'ROC-AUC':>18}{'AUPRC':>18}{'val ROC-AUC':>14}{'s/run':>9}{'runs':>6}",
    ]
    for model, result in outcome["results"].items():
        s = result["summary"]
        lines.append(
            f"{model:<12}"
            f"{s['roc_auc_mean']:>10.4f} ± {s['roc_auc_std']:.4f}"
            f"{s['auprc_mean']:>10.4f} ± {s['auprc_std']:.4f}"
            f"{s['val_roc_auc_mean']:>14.4f}"
            f"{s['seconds_mean']:>9.1f}"
            f"{len(result['runs']):>6}"
        )
    for label, ref in outcome.get("published", {}).items():
        lines.append(f"  published {label}: {ref.get('roc_auc')}  ({ref.get('source')})")
    return "\n".join(lines)
