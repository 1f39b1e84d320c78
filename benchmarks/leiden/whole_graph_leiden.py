"""The whole-graph Leiden that graphguard ran before per-component Leiden (commit 96fdc2e), kept
only so that benchmarks/leiden/compare.py can measure the two side by side."""

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


def _run(graph: ig.Graph, cfg: CommunityConfig) -> ig.VertexClustering:
    return graph.community_leiden(
        objective_function="modularity" if cfg.objective == "modularity" else "CPM",
        weights="weight",
        resolution=cfg.resolution,
        beta=cfg.beta,
        n_iterations=cfg.n_iterations,
    )


def _refine(
    graph: ig.Graph, membership: np.ndarray, cfg: CommunityConfig
) -> tuple[np.ndarray, int]:
    """Split communities above ``max_cluster_size`` by running Leiden on their own subgraph.

    Modularity compares a community with what the *whole* graph would predict, so on a graph of
    millions of edges a small, tight ring gains more by joining its 800-account neighbourhood
    than by standing alone. Inside that neighbourhood's subgraph the ring stands out again.
    The loop is over oversized communities (a handful per million accounts), not over rows.
    """
    membership = membership.copy()
    next_id = int(membership.max()) + 1
    refined = 0
    for _ in range(cfg.refine_depth):
        sizes = np.bincount(membership)
        oversized = np.nonzero(sizes > cfg.max_cluster_size)[0]
        split_any = False
        for community in oversized:
            members = np.nonzero(membership == community)[0]
            sub = graph.subgraph(members.tolist())
            if sub.ecount() == 0:
                continue
            parts = np.asarray(_run(sub, cfg).membership, dtype=np.int64)
            if parts.max() == 0:
                continue
            # part 0 keeps the old id; the others get fresh ids
            new_ids = np.where(parts == 0, community, next_id + parts - 1)
            next_id += int(parts.max())
            membership[members] = new_ids
            refined += 1
            split_any = True
        if not split_any:
            break
    return membership, refined


def leiden(
    n_accounts: int, edges: pl.DataFrame, cfg: CommunityConfig, has_hardware: object = None
) -> Partition:
    """Partition accounts with Leiden; accounts without edges or in tiny communities get -1.

    igraph draws on Python's `random` module, so it is seeded here, and restored afterwards so
    that calling this does not disturb the caller's random state. The result depends only on
    the edge table (sorted by the caller), the config and the seed.
    """
    # ``has_hardware``: taken as graphguard's `leiden` takes it (the pipeline passes it); the
    # comparison runs with an integer max_cluster_size, so it is never asked
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
        "max_cluster_size": cfg.max_cluster_size,
        "refine_depth": cfg.refine_depth,
        "weights": "combined relation weight",
    }
    membership = np.full(n_accounts, -1, dtype=np.int64)
    if edges.height == 0:
        return Partition(membership, parameters, None)
    graph = to_igraph(n_accounts, edges)
    state = random.getstate()
    try:
        random.seed(cfg.seed)
        clustering = _run(graph, cfg)
        raw = np.asarray(clustering.membership, dtype=np.int64)
        if cfg.max_cluster_size > 0:
            raw, parameters["refined_communities"] = _refine(graph, raw, cfg)
    finally:
        random.setstate(state)
    # modularity of the final partition, whatever the objective, as a comparable figure
    quality = float(graph.modularity(raw.tolist(), weights="weight"))
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
