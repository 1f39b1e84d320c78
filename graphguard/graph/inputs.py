"""Conversion to PyG inputs: account features and account-graph edges as tensors per relation.

`graph_inputs` turns `account_features` output and `AccountGraph.edges` into the `GraphInputs`
every graph model reads (the real datasets build the same container from their own files);
`label_codes` turns a label table into one class code per account index. This is the only module
of `graphguard.graph` that imports torch, and `graphguard.graph` does not import it, so
detection without a model never loads torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import torch
from torch import Tensor

from graphguard.graph.projections import ANY_RELATION, RELATIONS
from graphguard.schema import ACCOUNT, LABEL, LABELS

#: the attributes of an account pair an edge-gated model reads (`edge_attributes`): per relation,
#: whether it links the pair, log1p of its support (shared devices, IP hours, co-engaged targets
#: within the sync window, shared targets), log of support / weight (the mean of what one
#: occurrence adds, inverted: for the target relations about log2(2 + the shared targets'
#: engagers), for the IP relation log2(1 + accounts in the shared hour), for the device
#: relation log of 1 / the pair's share of events on the device) and log1p of the pair's common
#: neighbours in that relation; then the pair's common neighbours (log1p) and their Jaccard
#: share in the whole account graph: how embedded the link is among the two accounts' others
EDGE_ATTR_NAMES: tuple[str, ...] = tuple(
    f"{relation}_{part}"
    for relation in RELATIONS
    for part in ("linked", "log_support", "log_inverse_weight", "log_common_neighbours")
) + ("log_common_neighbours", "neighbour_jaccard")
#: pairs whose common neighbours are counted at once (bounds the rows gathered together)
_COMMON_CHUNK = 1 << 16


def _common_neighbours(
    src: np.ndarray, dst: np.ndarray, linked: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each (src, dst) pair's common neighbours in the graph of the ``linked`` rows, and the
    graph's degrees. The rows of both ends are intersected a chunk of pairs at a time
    (sparse element-wise products), never the whole two-hop matrix."""
    from scipy.sparse import csr_matrix

    a, b = src[linked], dst[linked]
    ones = np.ones(2 * a.size, dtype=np.float64)
    adj = csr_matrix((ones, (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    adj.sum_duplicates()
    adj.data[:] = 1.0
    degree = np.diff(adj.indptr).astype(np.float64)
    common = np.zeros(src.size, dtype=np.float64)
    for start in range(0, src.size, _COMMON_CHUNK):
        stop = min(start + _COMMON_CHUNK, src.size)
        both = adj[src[start:stop]].multiply(adj[dst[start:stop]])
        common[start:stop] = np.asarray(both.sum(axis=1)).ravel()
    return common, degree


def edge_attributes(edges: pl.DataFrame) -> np.ndarray:
    """``[len(edges), len(EDGE_ATTR_NAMES)]`` float32 attributes of each row's account pair.

    From the `AccountGraph.edges` columns ``{relation}_support`` and ``{relation}_weight`` the
    projections already made (0 where a relation is absent or does not link the pair) and the
    graph those rows make (common neighbours), so a model trained on one log reads the same
    attributes on another.
    """
    out = np.zeros((edges.height, len(EDGE_ATTR_NAMES)), dtype=np.float32)
    if edges.height == 0:
        return out
    src = edges.get_column("src").to_numpy().astype(np.int64)
    dst = edges.get_column("dst").to_numpy().astype(np.int64)
    n = int(max(src.max(), dst.max())) + 1
    width = 4
    for i, relation in enumerate(RELATIONS):
        support, weight = f"{relation}_support", f"{relation}_weight"
        if support not in edges.columns:
            continue
        s = edges.get_column(support).fill_null(0).to_numpy().astype(np.float64)
        w = edges.get_column(weight).fill_null(0.0).to_numpy().astype(np.float64)
        linked = s > 0
        ratio = np.divide(s, w, out=np.ones_like(s), where=linked & (w > 0))
        out[:, width * i] = linked
        out[:, width * i + 1] = np.log1p(s)
        out[:, width * i + 2] = np.clip(np.log(ratio), 0.0, 20.0)
        out[:, width * i + 3] = np.log1p(_common_neighbours(src, dst, linked, n)[0])
    common, degree = _common_neighbours(src, dst, np.ones(src.size, dtype=bool), n)
    others = np.maximum(degree[src] + degree[dst] - common - 2.0, 1.0)
    out[:, -2] = np.log1p(common)
    out[:, -1] = common / others
    return out


@dataclass
class GraphInputs:
    """Tensors a detector reads: features and the account graph, one edge index per relation.

    ``x`` is ``[n, f]`` float32 with columns ``feature_names``; ``edge_index_dict[relation]`` is
    ``[2, 2E]`` int64 holding both directions of the relation's undirected edges;
    ``edge_weight_dict`` (optional) has the matching ``[2E]`` weights; ``edge_attr_dict``
    (optional, `edge_attributes`) the matching ``[2E, len(EDGE_ATTR_NAMES)]`` attributes of each
    edge's account pair, the same whichever relation's edge it is.
    """

    x: Tensor
    edge_index_dict: dict[str, Tensor]
    feature_names: tuple[str, ...]
    edge_weight_dict: dict[str, Tensor] | None = field(default=None)
    edge_attr_dict: dict[str, Tensor] | None = field(default=None)

    @property
    def num_nodes(self) -> int:
        return int(self.x.size(0))


def graph_inputs(
    features: pl.DataFrame,
    edges: pl.DataFrame,
    *,
    feature_names: Sequence[str] | None = None,
    relations: Sequence[str] = RELATIONS,
    edge_weights: bool = False,
    edge_attrs: bool = False,
) -> GraphInputs:
    """Turn `account_features` output and `AccountGraph.edges` into `GraphInputs`.

    ``feature_names`` are the columns of ``x``, in order; default: every column of ``features``
    but ``account`` (for `account_features` output, its `FEATURE_NAMES`). The graph layer sits
    below the features, so it takes the feature list from its input rather than importing it.
    A pair is an edge of relation r when its ``{r}_support`` is positive (of `ANY_RELATION`
    when its combined weight is); every edge appears in both directions because GraphSAGE
    aggregates over incoming edges. ``edge_attrs``: also ``edge_attr_dict`` (`edge_attributes`
    of each edge's pair), what ``model.edge_gate`` reads.
    """
    n = features.height
    accounts = features.get_column("account").to_numpy()
    if not np.array_equal(accounts, np.arange(n)):
        raise ValueError("features must have one row per account index 0..n-1, sorted")
    if feature_names is None:
        feature_names = [name for name in features.columns if name != "account"]
    missing = [name for name in feature_names if name not in features.columns]
    if missing:
        raise ValueError(f"features lack column {missing[0]!r}")
    x = torch.from_numpy(features.select(feature_names).to_numpy().astype(np.float32, copy=False))
    edge_index_dict: dict[str, Tensor] = {}
    weight_dict: dict[str, Tensor] = {}
    attr_dict: dict[str, Tensor] = {}
    every_attr = edge_attributes(edges) if edge_attrs else None
    for relation in relations:
        support = f"{relation}_support"
        if relation == ANY_RELATION:
            # every linked pair as one relation: the homogeneous graph, for comparison
            rows = (edges.get_column("weight") > 0).fill_null(False).to_numpy()
            linked = edges.filter(pl.Series(rows))
            pairs = linked.select("src", "dst").to_numpy().astype(np.int64)
            weight = linked.get_column("weight").to_numpy().astype(np.float32)
        elif support not in edges.columns:
            rows = np.zeros(edges.height, dtype=bool)
            pairs = np.zeros((0, 2), dtype=np.int64)
            weight = np.zeros(0, dtype=np.float32)
        else:
            rows = (edges.get_column(support) > 0).fill_null(False).to_numpy()
            linked = edges.filter(pl.Series(rows))
            pairs = linked.select("src", "dst").to_numpy().astype(np.int64)
            weight = linked.get_column(f"{relation}_weight").to_numpy().astype(np.float32)
        if pairs.size and pairs.max() >= n:
            raise ValueError(f"{relation} edges refer to account {pairs.max()} of {n}")
        both = np.concatenate([pairs, pairs[:, ::-1]]).T
        edge_index_dict[relation] = torch.from_numpy(np.ascontiguousarray(both))
        weight_dict[relation] = torch.from_numpy(np.concatenate([weight, weight]))
        if every_attr is not None:
            attr = every_attr[rows]
            attr_dict[relation] = torch.from_numpy(np.concatenate([attr, attr]))
    return GraphInputs(
        x=x,
        edge_index_dict=edge_index_dict,
        feature_names=tuple(feature_names),
        edge_weight_dict=weight_dict if edge_weights else None,
        edge_attr_dict=attr_dict if edge_attrs else None,
    )


def label_codes(account_ids: pl.Series, labels: pl.DataFrame) -> np.ndarray:
    """Class index (position in `LABELS`) of every account index, -1 where unlabelled.

    ``account_ids`` is `index_events`'s second value; ``labels`` has account_id and label.
    """
    codes = labels.select(
        pl.col(ACCOUNT).cast(pl.String),
        pl.col(LABEL).replace_strict(list(LABELS), list(range(len(LABELS))), return_dtype=pl.Int64),
    )
    lookup = pl.DataFrame({ACCOUNT: account_ids.cast(pl.String)})
    joined = lookup.join(codes, on=ACCOUNT, how="left", maintain_order="left")
    return joined.get_column(LABEL).fill_null(-1).to_numpy().astype(np.int64)
