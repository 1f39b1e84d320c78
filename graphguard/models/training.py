"""The GraphSAGE epoch loop: full-batch or sampled mini-batch steps, validation, early stopping.

`train_epochs` trains a built `RelationalGraphSAGE` on already normalised inputs and leaves the
best epoch's weights in it; what counts as best is ``select_on``. The detector decides what the
inputs are (normalisation, degree features, the label trick's shown labels); this module only
decides how the weights are fitted to them. `with_labels` is the label trick's input layout,
shared with scoring.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from graphguard.graph.inputs import GraphInputs
from graphguard.metrics import auprc, auroc
from graphguard.models.params import SELECTION_SCORES as _SELECTION_SCORES
from graphguard.models.params import GraphSAGEParams
from graphguard.models.sampling import NeighborBatches
from graphguard.schema import BENIGN, LABELS

#: values of ``select_on`` (checked by `GraphSAGEParams`)
SELECTION_SCORES: tuple[str, ...] = _SELECTION_SCORES


@dataclass
class TrainingOutcome:
    """What the loop records: one dict per epoch, and the epoch whose weights were kept.

    ``best_epoch`` is None only when no epoch ran.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_auprc: float | None = None


def with_labels(x: Tensor, shown_labels: np.ndarray) -> Tensor:
    """``x`` next to a one-hot of ``shown_labels`` (class codes; -1: not shown, a zero row)."""
    codes = torch.from_numpy(np.asarray(shown_labels, dtype=np.int64)).to(x.device)
    onehot = torch.zeros((x.size(0), len(LABELS)), device=x.device, dtype=x.dtype)
    shown = codes >= 0
    onehot[shown, codes[shown]] = 1.0
    return torch.cat([x, onehot], dim=1)


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse class frequency, so each class weighs as much in the loss as the others; a class
    without training accounts gets weight 0 (it has no loss terms anyway)."""
    return np.where(counts > 0, counts.sum() / (len(LABELS) * np.maximum(counts, 1)), 0.0)


def train_epochs(
    model: nn.Module,
    inputs: GraphInputs,
    y: np.ndarray,
    *,
    x: Tensor,
    x_base: Tensor,
    full_edges: Mapping[str, Tensor] | None,
    train_idx: Tensor,
    val_idx: Tensor,
    params: GraphSAGEParams,
    amp_dtype: torch.dtype | None,
    progress: Callable[[str], None] | None = None,
    sample_weight: np.ndarray | None = None,
) -> TrainingOutcome:
    """Fit ``model`` for up to ``params.epochs`` epochs and load the best epoch's weights.

    Args:
        model: on the device the inputs are on.
        inputs: the graph; its edge lists feed the neighbour sampler in mini-batch training.
        y: ``[n]`` class codes (-1 unlabelled).
        x: model inputs as validation and scoring see them (with every training label shown
            under ``label_input``).
        x_base: the same without label columns; under ``label_input`` each epoch appends a
            fresh random share of the training labels to it.
        full_edges: the full graph's edges for full-batch training; None trains on sampled
            mini-batches of ``params.batch_size`` seeds.
        train_idx, val_idx: account indices (CPU) trained on and validated on.
        amp_dtype: autocast dtype (float16 also turns on loss scaling); None: full precision.
        sample_weight: ``[n]`` non-negative weight per account (read on the training rows);
            the training loss is then the class- and sample-weighted mean, and the class
            weights come from the weighted class counts. None: every training row weighs 1
            (the loss as without it).
    """
    device = x.device
    full_batch = full_edges is not None
    edge_index_dict = full_edges if full_batch else {}
    target = torch.from_numpy(y).to(device)
    if params.label_input:
        label_generator = torch.Generator().manual_seed(params.seed + 2)
    rows = train_idx.numpy()
    if sample_weight is None:
        counts = np.bincount(y[rows], minlength=len(LABELS))
    else:
        counts = np.bincount(y[rows], weights=sample_weight[rows], minlength=len(LABELS))
    class_weight = torch.tensor(class_weights(counts), dtype=torch.float32, device=device)
    loss_fn = nn.CrossEntropyLoss(weight=class_weight)
    row_weight = (
        None
        if sample_weight is None
        else torch.as_tensor(sample_weight, dtype=torch.float32, device=device)
    )

    def train_loss(logits: Tensor, labels: Tensor, rows: Tensor) -> Tensor:
        """``loss_fn``, or with sample weights the class- and row-weighted mean."""
        if row_weight is None:
            return loss_fn(logits, labels)
        per_row = nn.functional.cross_entropy(logits, labels, weight=class_weight, reduction="none")
        w = row_weight[rows]
        return (per_row * w).sum() / (class_weight[labels] * w).sum().clamp_min(1e-12)

    optimiser = torch.optim.AdamW(
        model.parameters(), lr=params.lr, weight_decay=params.weight_decay
    )
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    batches = None
    if not full_batch:
        batches = NeighborBatches(
            inputs.edge_index_dict,
            inputs.num_nodes,
            fanouts=params.fanouts,
            batch_size=params.batch_size,
            seed=params.seed,
        )

    def step(
        x_in: Tensor, edges_in: Mapping[str, Tensor], keep, labels: Tensor, rows: Tensor
    ) -> float:
        """One optimiser step on the loss of rows ``keep`` of the model's output (accounts
        ``rows``)."""
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(x_in, edges_in)[keep]
            loss = train_loss(logits.float(), labels, rows)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        return float(loss.detach())

    outcome = TrainingOutcome()
    best: tuple[float, float] | None = None
    best_state: dict[str, Tensor] = {}
    stale = 0
    train_on_device = train_idx.to(device)
    for epoch in range(1, params.epochs + 1):
        start = time.perf_counter()
        model.train()
        x_epoch, loss_idx, loss_on_device = x, train_idx, train_on_device
        if params.label_input:
            # a fresh random share of training nodes shows its label; the loss is taken on
            # the rest, whose own labels are nowhere in the input
            shown = torch.rand(train_idx.numel(), generator=label_generator)
            shown = shown < params.label_input_rate
            shown_labels = np.full(y.size, -1)
            shown_labels[train_idx[shown].numpy()] = y[train_idx[shown].numpy()]
            x_epoch = with_labels(x_base, shown_labels)
            loss_idx = train_idx[~shown]
            loss_on_device = loss_idx.to(device)
        if batches is None:
            losses = [
                step(
                    x_epoch,
                    edge_index_dict,
                    loss_on_device,
                    target[loss_on_device],
                    loss_on_device,
                )
            ]
        else:
            losses = []
            for sub in batches(loss_idx, shuffle=True):
                nodes = sub.node_ids.to(device)
                sub_edges = {r: e.to(device) for r, e in sub.edge_index_dict.items()}
                seeds = slice(0, sub.n_seeds)
                losses.append(
                    step(x_epoch[nodes], sub_edges, seeds, target[nodes[seeds]], nodes[seeds])
                )
        train_seconds = time.perf_counter() - start
        val_auprc, val_auroc, val_loss = validate(
            model, x, edge_index_dict, target, val_idx, loss_fn, batches, params
        )
        record = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)),
            "val_loss": val_loss,
            "val_auprc": val_auprc,
            **({"val_auroc": val_auroc} if params.select_on == "auroc" else {}),
            "train_seconds": round(train_seconds, 4),
        }
        outcome.history.append(record)
        if progress:
            shown_auprc = "n/a" if val_auprc is None else f"{val_auprc:.4f}"
            progress(
                f"epoch {epoch}: train loss {record['train_loss']:.4f}"
                f"  val loss {val_loss:.4f}  val AUPRC {shown_auprc}"
            )
        if params.select_on in ("auprc", "auroc"):
            # the score first; among equal scores (they saturate on easy data) the lower
            # loss wins, so the class split keeps improving after abusive-vs-benign is solved.
            value = val_auprc if params.select_on == "auprc" else val_auroc
            score = (round(value, 4) if value is not None else 0.0, -val_loss)
        else:
            score = (-round(val_loss, 6), 0.0)
        if val_idx.numel() == 0:
            score = (0.0, float(epoch))  # nothing to stop on: every epoch is the best yet
        if best is None or score > best:
            best, stale = score, 0
            best_state = copy.deepcopy(model.state_dict())
            outcome.best_epoch = epoch
            outcome.best_val_auprc = val_auprc
        else:
            stale += 1
            if stale >= params.patience:
                break
    if best_state:
        model.load_state_dict(best_state)
    model.eval()
    return outcome


@torch.no_grad()
def validate(
    model: nn.Module,
    x: Tensor,
    edge_index_dict: Mapping[str, Tensor],
    target: Tensor,
    val_idx: Tensor,
    loss_fn: nn.Module,
    batches: NeighborBatches | None,
    params: GraphSAGEParams,
) -> tuple[float | None, float | None, float]:
    """Validation AUPRC, ROC-AUC (only when ``select_on`` is auroc; else None) and loss.

    Abusive is any class but benign. With ``batches`` the validation accounts are scored on
    sampled neighbourhoods, otherwise on the full graph ``edge_index_dict``.
    """
    if val_idx.numel() == 0:
        return None, None, 0.0
    model.eval()
    device = x.device
    if batches is None:
        logits = model(x, edge_index_dict)[val_idx.to(device)]
    else:
        # the same sampled neighbourhoods every epoch, so epochs compare fairly
        parts = []
        for sub in batches(
            val_idx,
            shuffle=False,
            batch_size=params.inference_batch_size,
            generator=torch.Generator().manual_seed(params.seed + 1),
        ):
            nodes = sub.node_ids.to(device)
            sub_edges = {r: e.to(device) for r, e in sub.edge_index_dict.items()}
            parts.append(model(x[nodes], sub_edges)[: sub.n_seeds])
        logits = torch.cat(parts)
    labels = target[val_idx.to(device)]
    loss = float(loss_fn(logits.float(), labels))
    proba = torch.softmax(logits.float(), dim=1).cpu().numpy()
    abusive = labels.cpu().numpy() != LABELS.index(BENIGN)
    abuse = 1.0 - proba[:, LABELS.index(BENIGN)]
    val_auroc = auroc(abusive, abuse) if params.select_on == "auroc" else None
    return auprc(abusive, abuse), val_auroc, loss
