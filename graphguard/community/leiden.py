"""Leiden community detection (igraph) with an explicit objective, resolution and seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import igraph as ig
import numpy as np
import polars as pl

from graphguard.config import CommunityConfig


@dataclass
class Partition:
    """Community of every account (-1: in no community) and how it was made."""

    membership: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)
    quality: float | None = None


def to_igraph(n_accounts: int, edges: pl.DataFrame, weight: str = "weight") -> ig.Graph:
    """Undirected weighted igraph graph over all accounts (isolated ones included)."""
    pairs = edges.select("src", "dst").to_numpy().astype(np.int64, copy=False)
    graph = ig.Graph(n=n_accounts, edges=pairs, directed=False)
    graph.es["weight"] = edges.get_column(weight).to_numpy()
    return graph


def leiden(n_accounts: int, edges: pl.DataFrame, cfg: CommunityConfig) -> Partition:
    """Partition accounts with Leiden; accounts without edges or in tiny communities get -1.

    igraph draws on Python's `random` module, so it is seeded here, and restored afterwards so
    that calling this does not disturb the caller's random state. The result depends only on
    the edge table (sorted by the caller), the config and the seed.
    """
    if cfg.objective not in {"modularity", "cpm"}:
        raise ValueError(f"community.objective must be modularity or cpm, not {cfg.objective!r}")
    parameters = {
        "method": "leiden",
        "implementation": f"igraph {ig.__version__}",
        "objective": cfg.objective,
        "resolution": cfg.resolution,
        "beta": cfg.beta,
        "n_iterations": cfg.n_iterations,
        "seed": cfg.seed,
        "min_cluster_size": cfg.min_cluster_size,
        "weights": "combined relation weight",
    }
    membership = np.full(n_accounts, -1, dtype=np.int64)
    if edges.height == 0:
        return Partition(membership, parameters, None)
    graph = to_igraph(n_accounts, edges)
    state = random.getstate()
    try:
        random.seed(cfg.seed)
        clustering = graph.community_leiden(
            objective_function="modularity" if cfg.objective == "modularity" else "CPM",
            weights="weight",
            resolution=cfg.resolution,
            beta=cfg.beta,
            n_iterations=cfg.n_iterations,
        )
    finally:
        random.setstate(state)
    raw = np.asarray(clustering.membership, dtype=np.int64)
    quality = float(clustering.modularity) if cfg.objective == "modularity" else None
    # Renumber: communities below the size floor (and isolated accounts) -> -1; the rest get ids
    # 0.. ordered by their smallest account index, so ids are stable for the same input.
    sizes = np.bincount(raw)
    degree = np.asarray(graph.degree())
    keep = (sizes[raw] >= cfg.min_cluster_size) & (degree > 0)
    first_member = np.full(sizes.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first_member, raw[keep], np.nonzero(keep)[0])
    kept_ids = np.nonzero(first_member < np.iinfo(np.int64).max)[0]
    order = kept_ids[np.argsort(first_member[kept_ids], kind="stable")]
    new_id = np.full(sizes.shape[0], -1, dtype=np.int64)
    new_id[order] = np.arange(order.shape[0])
    membership = np.where(keep, new_id[raw], -1)
    return Partition(membership, parameters, quality)
