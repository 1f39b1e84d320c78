"""Feature-only baselines a graph model has to beat: gradient-boosted trees and an MLP.

Both take a plain feature matrix, class codes and masks, so they serve the real datasets and the
simulated worlds' account features alike. `neighbour_aggregate` gives the trees the graph the
cheap way (a node's features next to the mean and max of its neighbours', per relation), and
`neighbour_label_share` adds the share of abusive nodes among a node's *training-labelled*
neighbours, one and two hops out, never counting the node's own label; `label_propagation`
spreads the training labels over the whole graph instead (out of fold, too). Every model
returns an abuse score (1 - p(class 0), class 0 = benign) for every row.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from torch import Tensor, nn

from graphguard.metrics import auroc

# --------------------------------------------------------------------------------------------
# graph features for models that do not read the graph


def _as_tensor(x: np.ndarray | Tensor) -> Tensor:
    return x if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x))


def _scatter(values: Tensor, index: Tensor, n: int, reduce: str) -> Tensor:
    out = torch.zeros((n, values.size(1)), dtype=values.dtype)
    return out.scatter_reduce(
        0, index[:, None].expand_as(values), values, reduce=reduce, include_self=False
    )


def neighbour_aggregate(
    x: np.ndarray | Tensor,
    edge_index_dict: Mapping[str, np.ndarray | Tensor],
    *,
    aggregations: Sequence[str] = ("mean", "max"),
    hops: int = 1,
    degree: bool = True,
) -> np.ndarray:
    """Raw features next to aggregates of the neighbours' features, per relation.

    Hop 1: for every relation and aggregation (``"mean"``, ``"max"``, ``"min"``, ``"sum"``)
    the aggregate of the in-neighbours' raw features (zeros where a node has none). Hop k > 1:
    the mean over all in-neighbours (every relation) of hop k-1's mean block, so a user of a
    user-item graph sees the items' users two hops out. ``degree`` adds log1p of the
    in-degree per relation.

    Args:
        x: ``[n, f]`` features.
        edge_index_dict: relation -> ``[2, E]`` (row 0 source, row 1 target).

    Returns:
        ``[n, f * (1 + R * len(aggregations) + R * (hops - 1)) + R * degree]`` float32.
    """
    features = _as_tensor(x).float()
    n = features.size(0)
    edges = {r: _as_tensor(e).long() for r, e in edge_index_dict.items()}
    blocks = [features]
    mean_blocks = []
    degrees = []
    for edge_index in edges.values():
        src, dst = edge_index
        count = torch.bincount(dst, minlength=n).float()
        degrees.append(torch.log1p(count)[:, None])
        messages = features[src]
        for aggregation in aggregations:
            if aggregation == "mean":
                block = _scatter(messages, dst, n, "sum") / count.clamp(min=1)[:, None]
                mean_blocks.append(block)
            elif aggregation in ("max", "min", "sum"):
                reduce = {"max": "amax", "min": "amin", "sum": "sum"}[aggregation]
                block = _scatter(messages, dst, n, reduce)
            else:
                raise ValueError(f"unknown aggregation {aggregation!r}")
            blocks.append(block)
    if hops > 1:
        if "mean" not in aggregations:
            raise ValueError("hops > 1 needs the 'mean' aggregation")
        all_edges = torch.cat(list(edges.values()), dim=1)
        src, dst = all_edges
        count = torch.bincount(dst, minlength=n).float().clamp(min=1)[:, None]
        previous = torch.cat(mean_blocks, dim=1)
        for _ in range(hops - 1):
            previous = _scatter(previous[src], dst, n, "sum") / count
            blocks.append(previous)
    if degree:
        blocks.extend(degrees)
    return torch.cat(blocks, dim=1).numpy().astype(np.float32, copy=False)


def _label_graph(
    y: np.ndarray,
    known: np.ndarray,
    edge_index_dict: Mapping[str, np.ndarray | Tensor],
    folds: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the label features read: ``(y, known, src, dst, fold)`` with ``known`` limited to
    labelled nodes, every relation merged into one edge list without self-loops, and each known
    node's random out-of-fold fold (-1: unknown), from ``seed``."""
    y = np.asarray(y)
    known = np.asarray(known, dtype=bool) & (y >= 0)
    n = y.size
    src, dst = np.concatenate([_as_tensor(e).numpy() for e in edge_index_dict.values()], axis=1)
    keep = src != dst
    fold = np.full(n, -1)
    known_idx = np.flatnonzero(known)
    fold[known_idx] = np.random.default_rng(seed).permutation(known_idx.size) % folds
    return y, known, src[keep], dst[keep], fold


def neighbour_label_share(
    y: np.ndarray,
    known: np.ndarray,
    edge_index_dict: Mapping[str, np.ndarray | Tensor],
    *,
    folds: int = 5,
    seed: int = 0,
    prior: float = 1.0,
) -> np.ndarray:
    """Share of abusive nodes among a node's known-label neighbours, 1 and 2 hops out.

    Only labels of ``known`` nodes (the training mask) are read. A known node's own row is
    built out-of-fold: the known nodes are cut into ``folds`` random folds and a node's row
    reads only the other folds' labels, so its own label never enters it, not even through a
    walk that comes back to it (u -> item -> u). Leave-one-out would not do: it makes a
    positive's share lower than its negative neighbours' and trees learn to read the label
    back. Unknown nodes (validation, test, unlabelled) read every known label; their counts are
    larger by folds / (folds - 1), so known rows' counts are scaled up by that factor.
    Relations are merged into one graph. Shares are smoothed towards the abusive rate of the
    labels read (out-of-fold too) with ``prior`` pseudo-counts.

    Returns:
        ``[n, 4]`` float32: hop-1 share, log1p hop-1 known count, hop-2 share, log1p hop-2
        known count.
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    y, known, src, dst, fold = _label_graph(y, known, edge_index_dict, folds, seed)
    n = y.size

    def shares(readable: np.ndarray) -> np.ndarray:
        base_rate = (y[readable] > 0).mean() if readable.any() else 0.0
        abusive = (readable & (y > 0)).astype(np.float64)
        readable = readable.astype(np.float64)
        pos1 = np.bincount(dst, weights=abusive[src], minlength=n)
        cnt1 = np.bincount(dst, weights=readable[src], minlength=n)
        pos2 = np.bincount(dst, weights=pos1[src], minlength=n)
        cnt2 = np.bincount(dst, weights=cnt1[src], minlength=n)

        def smoothed(pos: np.ndarray, cnt: np.ndarray) -> np.ndarray:
            # no labelled neighbour at all (possible with prior 0): the base rate
            total = cnt + prior
            safe = np.where(total > 0, total, 1.0)
            return np.where(total > 0, (pos + prior * base_rate) / safe, base_rate)

        return np.column_stack([smoothed(pos1, cnt1), cnt1, smoothed(pos2, cnt2), cnt2])

    out = shares(known)
    for k in range(folds):  # a handful of passes, each vectorised over all edges
        in_fold = fold == k
        part = shares(known & ~in_fold)
        part[:, [1, 3]] *= folds / (folds - 1)
        out[in_fold] = part[in_fold]
    out[:, [1, 3]] = np.log1p(out[:, [1, 3]])
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------
# models


def standardise(X: np.ndarray, rows: np.ndarray, clip: float | None) -> np.ndarray:
    """``X`` standardised with the mean and std of ``rows`` (a constant column keeps std 1),
    clipped to +-``clip`` (None: not clipped); float32."""
    X = np.asarray(X, dtype=np.float32)
    mean, std = X[rows].mean(axis=0), X[rows].std(axis=0)
    z = (X - mean) / np.where(std > 1e-6, std, 1.0)
    if clip is not None:
        z = np.clip(z, -clip, clip)
    return z.astype(np.float32, copy=False)


def balanced_class_weights(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse class frequency of the training ``codes`` (each class weighs as much in the loss
    as the others); a class without training rows gets weight 0."""
    counts = np.bincount(codes, minlength=n_classes)
    return np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)


def check_inputs(
    X: np.ndarray, y: np.ndarray, train_mask: np.ndarray, val_mask: np.ndarray
) -> None:
    if X.shape[0] != y.shape[0] or train_mask.shape != y.shape or val_mask.shape != y.shape:
        raise ValueError(
            f"X {X.shape}, y {y.shape}, masks {train_mask.shape}/{val_mask.shape} disagree"
        )
    if (train_mask & val_mask).any():
        raise ValueError("train and validation masks overlap")
    if (y[train_mask] < 0).any() or (y[val_mask] < 0).any():
        raise ValueError("train/validation rows must be labelled (y >= 0)")


def fit_predict_gbt(
    X: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    val_mask: np.ndarray,
    *,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
    **params: Any,
) -> np.ndarray:
    """Histogram gradient-boosted trees; abuse score ``[n]`` (1 - p(class 0)) for every row.

    ``sample_weight`` (``[n]``, read on the training rows; with ``class_weight`` the two
    multiply) weighs rows in the fit, e.g. pseudo-labels by confidence; None: 1 each.

    Early stopping watches the loss on ``val_mask`` rows (not a random internal split) with a
    patience of 30 iterations. ``params`` go to `HistGradientBoostingClassifier` (defaults
    here: learning_rate 0.05, max_iter 1000, max_leaf_nodes 31, min_samples_leaf 20,
    l2_regularization 1.0, class_weight "balanced").
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    train_mask, val_mask = np.asarray(train_mask, bool), np.asarray(val_mask, bool)
    check_inputs(X, y, train_mask, val_mask)
    settings = {
        "learning_rate": 0.05,
        "max_iter": 1000,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 1.0,
        "class_weight": "balanced",
        "early_stopping": True,
        "n_iter_no_change": 30,
        "scoring": "loss",
        "random_state": seed,
    }
    settings.update(params)
    model = HistGradientBoostingClassifier(**settings)
    weight = None if sample_weight is None else np.asarray(sample_weight, float)[train_mask]
    model.fit(
        X[train_mask], y[train_mask], sample_weight=weight, X_val=X[val_mask], y_val=y[val_mask]
    )
    proba = model.predict_proba(X)
    benign = list(model.classes_).index(0) if 0 in model.classes_ else None
    return 1.0 - proba[:, benign] if benign is not None else np.ones(X.shape[0])


class _MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int, layers: int, dropout: float):
        super().__init__()
        blocks: list[nn.Module] = []
        width = n_in
        for _ in range(layers):
            blocks += [
                nn.Linear(width, hidden),
                nn.LayerNorm(hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
            width = hidden
        blocks.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def fit_predict_mlp(
    X: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    val_mask: np.ndarray,
    *,
    seed: int = 0,
    hidden: int = 128,
    layers: int = 2,
    dropout: float = 0.2,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    epochs: int = 500,
    patience: int = 30,
    clip: float | None = 5.0,
) -> np.ndarray:
    """Feature-only MLP (full batch, AdamW, class-balanced cross-entropy).

    Features are standardised with training-row statistics (clipped to +-``clip`` sd). Keeps the
    epoch with the best validation AUROC of abusive (class > 0) vs benign; abuse score ``[n]``
    (1 - p(class 0)) for every row. Seeded: the same inputs and seed give the same scores.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    train_mask, val_mask = np.asarray(train_mask, bool), np.asarray(val_mask, bool)
    check_inputs(X, y, train_mask, val_mask)
    n_classes = int(y.max()) + 1
    features = torch.from_numpy(standardise(X, train_mask, clip))
    target = torch.from_numpy(np.maximum(y, 0).astype(np.int64))
    train_idx = torch.from_numpy(np.flatnonzero(train_mask))
    val_idx = torch.from_numpy(np.flatnonzero(val_mask))
    weights = balanced_class_weights(y[train_mask], n_classes)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = _MLP(features.size(1), hidden, n_classes, layers, dropout)
        loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
        optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        best, best_state, stale = -np.inf, None, 0
        abusive_val = y[val_mask] > 0
        for _ in range(epochs):
            model.train()
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(features[train_idx]), target[train_idx])
            loss.backward()
            optimiser.step()
            model.eval()
            with torch.no_grad():
                proba = torch.softmax(model(features[val_idx]), dim=1)[:, 0].numpy()
            score = auroc(abusive_val, 1.0 - proba)
            if score is None:  # one class in validation: no ranking to select on, so the loss
                score = -float(loss_fn(model(features[val_idx]), target[val_idx]))
            if score > best:
                best, best_state, stale = score, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if stale >= patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        with torch.no_grad():
            return 1.0 - torch.softmax(model(features), dim=1)[:, 0].numpy().astype(np.float64)


def label_propagation(
    y: np.ndarray,
    known: np.ndarray,
    edge_index_dict: Mapping[str, np.ndarray | Tensor],
    *,
    alpha: float = 0.8,
    iterations: int = 20,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """The training labels propagated over the account graph (Zhou et al. 2004), as features.

    Two label masses, abusive and benign, each spread from the ``known`` nodes' labels (every
    class weighs one in total, so the 10% abusive count as much as the 90% benign) by
    ``F <- alpha * S F + (1 - alpha) Y`` with ``S = D^-1/2 A D^-1/2`` over every relation merged
    (a pair linked by two relations weighs two), ``iterations`` times. As in
    `neighbour_label_share`, a known node's row is built out of fold (from the other folds'
    labels only), so no node reads its own label back, and unknown nodes read every known label
    (each class's seeds share a mass of one whichever labels are read, so an out-of-fold row's
    masses match an unknown row's in expectation).

    Returns:
        ``[n, 2]`` float32: the abusive share ``F_abusive / (F_abusive + F_benign)`` (0.5 where
        no label reaches a node) and log1p of the total mass times n.
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y, known, src, dst, fold = _label_graph(y, known, edge_index_dict, folds, seed)
    n = y.size
    degree = np.bincount(dst, minlength=n).astype(np.float64)
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1.0)), 0.0)
    norm = inv_sqrt[src] * inv_sqrt[dst]

    def spread(readable: np.ndarray) -> np.ndarray:
        seeds = np.zeros((n, 2))
        for column, rows in enumerate((readable & (y > 0), readable & (y == 0))):
            if rows.any():
                seeds[rows, column] = 1.0 / rows.sum()
        mass = seeds
        for _ in range(iterations):
            # bincount adds in edge order: the same sums every run
            spread_mass = np.column_stack(
                [np.bincount(dst, weights=norm * mass[src, c], minlength=n) for c in range(2)]
            )
            mass = alpha * spread_mass + (1.0 - alpha) * seeds
        return mass

    mass = spread(known)
    for k in range(folds):
        in_fold = fold == k
        mass[in_fold] = spread(known & ~in_fold)[in_fold]
    total = mass.sum(axis=1)
    share = np.divide(mass[:, 0], total, out=np.full(n, 0.5), where=total > 0)
    return np.column_stack([share, np.log1p(total * n)]).astype(np.float32)
