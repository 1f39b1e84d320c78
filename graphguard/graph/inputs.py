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


@dataclass
class GraphInputs:
    """Tensors a detector reads: features and the account graph, one edge index per relation.

    ``x`` is ``[n, f]`` float32 with columns ``feature_names``; ``edge_index_dict[relation]`` is
    ``[2, 2E]`` int64 holding both directions of the relation's undirected edges;
    ``edge_weight_dict`` (optional) has the matching ``[2E]`` weights.
    """

    x: Tensor
    edge_index_dict: dict[str, Tensor]
    feature_names: tuple[str, ...]
    edge_weight_dict: dict[str, Tensor] | None = field(default=None)

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
) -> GraphInputs:
    """Turn `account_features` output and `AccountGraph.edges` into `GraphInputs`.

    ``feature_names`` are the columns of ``x``, in order; default: every column of ``features``
    but ``account`` (for `account_features` output, its `FEATURE_NAMES`). The graph layer sits
    below the features, so it takes the feature list from its input rather than importing it.
    A pair is an edge of relation r when its ``{r}_support`` is positive (of `ANY_RELATION`
    when its combined weight is); every edge appears in both directions because GraphSAGE
    aggregates over incoming edges.
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
    for relation in relations:
        support = f"{relation}_support"
        if relation == ANY_RELATION:
            # every linked pair as one relation: the homogeneous graph, for comparison
            linked = edges.filter(pl.col("weight") > 0)
            pairs = linked.select("src", "dst").to_numpy().astype(np.int64)
            weight = linked.get_column("weight").to_numpy().astype(np.float32)
        elif support not in edges.columns:
            pairs = np.zeros((0, 2), dtype=np.int64)
            weight = np.zeros(0, dtype=np.float32)
        else:
            linked = edges.filter(pl.col(support) > 0)
            pairs = linked.select("src", "dst").to_numpy().astype(np.int64)
            weight = linked.get_column(f"{relation}_weight").to_numpy().astype(np.float32)
        if pairs.size and pairs.max() >= n:
            raise ValueError(f"{relation} edges refer to account {pairs.max()} of {n}")
        both = np.concatenate([pairs, pairs[:, ::-1]]).T
        edge_index_dict[relation] = torch.from_numpy(np.ascontiguousarray(both))
        weight_dict[relation] = torch.from_numpy(np.concatenate([weight, weight]))
    return GraphInputs(
        x=x,
        edge_index_dict=edge_index_dict,
        feature_names=tuple(feature_names),
        edge_weight_dict=weight_dict if edge_weights else None,
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
