"""A heterogeneous account-entity graph model: messages through devices, IPs, targets and
(target, hour) pairs instead of only through account-account projections.

The projections `graph.projections` build keep a pair of accounts only when enough evidence
links them, so weak co-activity (two members of a ring liking one post within minutes, among
its organic engagers) can fall below them. Here every account is linked to every entity it
used: its devices, its IPs, the targets it engaged, and the (target, UTC hour) slots it engaged
in, which carry the timing. A layer sends each account's state to its entities (mean), and each
entity's state back to its accounts (mean, per entity kind, with the entity's log degree),
beside a separate transform of the account's own state (ego-neighbour separation), in a pre-norm
residual block.

With ``label_input`` (the label trick, transductive) the input carries the training labels: in
each epoch a random half of the training accounts show their label (one-hot plus an indicator)
and the loss is taken on the other half, so no account reads its own label; at scoring every
training label is shown. Validation and test labels are never read.

`account_entity_edges` builds the bipartite edges from an event log; `fit_predict_hetero` trains
full batch and returns an abuse score (1 - p(benign)) per account, in `account_ids` order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import polars as pl
import torch
from torch import Tensor, nn

from graphguard import schema
from graphguard.metrics import auprc
from graphguard.models.baselines import balanced_class_weights, check_inputs, standardise

#: entity kinds of `account_entity_edges`, in order
KINDS = ("device", "ip", "target", "target_hour")


def account_entity_edges(
    events: pl.DataFrame, account_ids: pl.Series
) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """kind -> (account index, entity index, number of entities); one row per distinct pair.

    ``account_ids`` gives the account order (index = position); events of other accounts are
    dropped. ``target_hour`` pairs a target with the UTC hour of the engagement.
    """
    index = pl.DataFrame(
        {schema.ACCOUNT: account_ids.cast(pl.String), "_a": np.arange(account_ids.len())}
    )
    ev = (
        events.lazy()
        .with_columns(pl.col(schema.ACCOUNT).cast(pl.String))
        .join(index.lazy(), on=schema.ACCOUNT, how="inner")
    )
    hour = pl.col(schema.TIME).dt.epoch("s") // 3600
    keys = {
        "device": pl.col(schema.DEVICE),
        "ip": pl.col(schema.IP),
        "target": pl.col(schema.TARGET),
        "target_hour": pl.concat_str([pl.col(schema.TARGET), hour.cast(pl.String)], separator="@"),
    }
    out: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for kind in KINDS:
        pairs = (
            ev.select("_a", keys[kind].alias("_e"))
            .drop_nulls()
            .unique()
            .with_columns(pl.col("_e").rank("dense").cast(pl.Int64).alias("_e") - 1)
            .sort("_a", "_e")
            .collect()
        )
        top = pairs.get_column("_e").max()
        n_entities = 0 if top is None else int(top) + 1
        out[kind] = (
            pairs.get_column("_a").to_numpy().astype(np.int64),
            pairs.get_column("_e").to_numpy().astype(np.int64),
            n_entities,
        )
    return out


def _mean(values: Tensor, index: Tensor, n: int, count: Tensor) -> Tensor:
    out = torch.zeros((n, values.size(1)), dtype=values.dtype)
    out.index_add_(0, index, values)
    return out / count[:, None]


class _Block(nn.Module):
    def __init__(self, hidden: int, kinds: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.ego = nn.Linear(hidden, hidden)
        self.up = nn.ModuleList([nn.Linear(hidden + 1, hidden) for _ in range(kinds)])
        self.down = nn.ModuleList([nn.Linear(hidden, hidden, bias=False) for _ in range(kinds)])
        self.drop = nn.Dropout(dropout)
        self.act = nn.GELU()

    def forward(self, h: Tensor, graph: list[dict[str, Tensor]]) -> Tensor:
        z = self.norm(h)
        msg = self.ego(z)
        for k, g in enumerate(graph):
            ent = _mean(z[g["a"]], g["e"], g["n_e"], g["deg_e"])
            ent = self.act(self.up[k](torch.cat([ent, g["log_deg_e"]], dim=1)))
            msg = msg + self.down[k](_mean(ent[g["e"]], g["a"], h.size(0), g["deg_a"]))
        return h + self.drop(self.act(msg))


class HeteroNet(nn.Module):
    """Input MLP, ``layers`` pre-norm residual blocks over the entity kinds, a linear head."""

    def __init__(
        self, n_in: int, n_classes: int, kinds: int, hidden: int, layers: int, dropout: float
    ):
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(dropout))
        self.blocks = nn.ModuleList([_Block(hidden, kinds, dropout) for _ in range(layers)])
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, n_classes))

    def forward(self, x: Tensor, graph: list[dict[str, Tensor]]) -> Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, graph)
        return self.head(h)


def _graph(
    edges: Mapping[str, tuple[np.ndarray, np.ndarray, int]], n: int
) -> list[dict[str, Tensor]]:
    graph = []
    for a, e, n_e in edges.values():
        a_t, e_t = torch.from_numpy(a), torch.from_numpy(e)
        deg_e = torch.bincount(e_t, minlength=n_e).float()
        deg_a = torch.bincount(a_t, minlength=n).float().clamp(min=1)
        graph.append(
            {
                "a": a_t,
                "e": e_t,
                "n_e": n_e,
                "deg_e": deg_e.clamp(min=1),
                "log_deg_e": torch.log1p(deg_e)[:, None],
                "deg_a": deg_a,
            }
        )
    return graph


def fit_predict_hetero(
    x: np.ndarray,
    edges: Mapping[str, tuple[np.ndarray, np.ndarray, int]],
    y: np.ndarray,
    train_mask: np.ndarray,
    val_mask: np.ndarray,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    dropout: float = 0.2,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    epochs: int = 300,
    patience: int = 40,
    label_input: bool = True,
    clip: float = 5.0,
) -> np.ndarray:
    """Train `HeteroNet` full batch (AdamW, class-balanced cross-entropy); abuse score per row.

    Features are standardised with training-row statistics; the epoch with the best validation
    AUPRC (abusive vs benign) is kept. Seeded: the same inputs and seed give the same scores.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    train_mask, val_mask = np.asarray(train_mask, bool), np.asarray(val_mask, bool)
    check_inputs(x, y, train_mask, val_mask)
    n = x.shape[0]
    n_classes = int(y.max()) + 1
    features = torch.from_numpy(standardise(x, train_mask, clip))
    target = torch.from_numpy(np.maximum(y, 0).astype(np.int64))
    train_idx = np.flatnonzero(train_mask)
    val_idx = torch.from_numpy(np.flatnonzero(val_mask))
    weights = balanced_class_weights(y[train_mask], n_classes)
    graph = _graph(edges, n)
    n_lab = n_classes + 1 if label_input else 0

    def with_labels(shown: np.ndarray) -> Tensor:
        if not label_input:
            return features
        lab = torch.zeros((n, n_lab))
        idx = torch.from_numpy(shown)
        lab[idx, target[idx]] = 1.0
        lab[idx, n_classes] = 1.0
        return torch.cat([features, lab], dim=1)

    abusive_val = y[val_mask] > 0
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = HeteroNet(features.size(1) + n_lab, n_classes, len(graph), hidden, layers, dropout)
        loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        full = with_labels(train_idx)
        best, best_state, stale = -np.inf, None, 0
        for _ in range(epochs):
            model.train()
            if label_input:
                half = rng.random(train_idx.size) < 0.5
                shown, loss_rows = train_idx[half], train_idx[~half]
            else:
                shown, loss_rows = train_idx, train_idx
            rows = torch.from_numpy(loss_rows)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(with_labels(shown), graph)[rows], target[rows])
            loss.backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                p0 = torch.softmax(model(full, graph)[val_idx], dim=1)[:, 0].numpy()
            score = auprc(abusive_val, 1.0 - p0)
            score = -float(loss.detach()) if score is None else score
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
            return 1.0 - torch.softmax(model(full, graph), dim=1)[:, 0].numpy().astype(np.float64)
