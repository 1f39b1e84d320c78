"""Leiden community detection (igraph), one connected component at a time.

The procedure, shared by the local engine (`leiden`) and the Spark engine
(`graphguard.spark.communities`, which calls `partition_component` on the executors):

1. the connected components of the account graph (`components`); a component is named by its
   smallest account index, so the name does not depend on how the work was split;
2. every component with at least ``min_cluster_size`` accounts is partitioned by
   `partition_component`, a pure function of the component's accounts, its edges (in (src, dst)
   order), the config and a seed derived from ``config.seed`` and the component's name
   (`component_seed`); never from the order in which components are processed. With the
   modularity objective each component is partitioned at the resolution that makes its own
   objective the whole graph's (`component_resolution`), so per-component Leiden optimises what
   whole-graph Leiden optimised; the whole graph's weight is the one global number it reads
   (`total_weight`, exact and rounded, so both engines agree on it). A component
   smaller than ``min_cluster_size`` cannot hold a reported community, so it is not partitioned
   (its accounts get -1, exactly what partitioning it would give);
3. canonical ids (`canonical_ids`): communities below the size floor get -1, the others
   0.. ordered by their smallest account index.

No edge crosses a component, so the per-component partition is a partition of the whole graph;
its modularity over the whole graph is reported as the quality figure (`modularity`).
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graphguard.config import CommunityConfig, DenseConfig


def _igraph_without_plotting() -> ModuleType:
    """igraph, imported without matplotlib: igraph's drawing code imports matplotlib (about a
    second of every run's start-up) when it is installed, and graphguard never draws with
    igraph. While igraph is imported, matplotlib cannot be, so igraph takes its stand-in for a
    missing matplotlib; afterwards matplotlib imports as usual (the evaluation plots use it).
    Where either is imported already, igraph is imported as it is."""
    if "igraph" in sys.modules or "matplotlib" in sys.modules:
        import igraph

        return igraph
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # an import of it fails
    try:
        import igraph
    finally:
        del sys.modules["matplotlib"]
    return igraph


ig = _igraph_without_plotting()


@dataclass
class Partition:
    """Community of every account (-1: in no community) and how it was made."""

    membership: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)
    quality: float | None = None
    #: each account's Leiden community before the ``max_cluster_size`` split, named by its
    #: smallest account index (-1: in no partitioned component); `pre_split_communities`
    pre_split: np.ndarray | None = None


def to_igraph(n_accounts: int, edges: pl.DataFrame, weight: str = "weight") -> ig.Graph:
    """Undirected weighted igraph graph over all accounts (isolated ones included)."""
    src, dst = (edges.get_column(c).to_numpy() for c in ("src", "dst"))
    graph = ig.Graph(n=n_accounts, edges=_edge_list(src, dst), directed=False)
    graph.es["weight"] = edges.get_column(weight).to_numpy()
    return graph


#: above this many edges igraph gets a NumPy array: the Python tuples cost about 120 bytes an
#: edge while igraph builds the graph (16 for the array), 1.2 GB at this size
TUPLE_EDGES_MAX = 10_000_000


def _edge_list(src: np.ndarray, dst: np.ndarray) -> list[tuple[int, int]] | np.ndarray:
    """Edges as igraph takes them fastest: tuples of Python ints (it converts a NumPy array
    row by row, at twice the cost), or the array past `TUPLE_EDGES_MAX` edges, where the
    tuples' memory would count; the same edges in the same order either way."""
    if src.size > TUPLE_EDGES_MAX:
        return np.column_stack([src, dst]).astype(np.int64, copy=False)
    return list(zip(src.tolist(), dst.tolist(), strict=True))


def _run(
    graph: ig.Graph, cfg: CommunityConfig, resolution: float | None = None
) -> ig.VertexClustering:
    return graph.community_leiden(
        objective_function="modularity" if cfg.objective == "modularity" else "CPM",
        weights="weight",
        resolution=cfg.resolution if resolution is None else resolution,
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


#: ``community.max_cluster_size: auto``: the size past which a community is split again where
#: some event of the log has a device or an IP, and where none has (config.py says why)
MAX_CLUSTER_SIZE_HARDWARE = 50
MAX_CLUSTER_SIZE_PLAIN = 300


def resolve(cfg: CommunityConfig, has_hardware: Callable[[], bool] | None) -> CommunityConfig:
    """``cfg`` with ``max_cluster_size`` an integer: "auto" is `MAX_CLUSTER_SIZE_HARDWARE` where
    ``has_hardware()`` (asked only then; `graph.context.has_hardware`, the rule of
    ``graph.dense_cap: auto``), `MAX_CLUSTER_SIZE_PLAIN` otherwise. Both engines call it."""
    if cfg.max_cluster_size != "auto":
        return cfg
    if has_hardware is None:
        raise ValueError(
            "community.max_cluster_size is auto: pass has_hardware (whether the log has a "
            "device or an IP) to resolve it"
        )
    size = MAX_CLUSTER_SIZE_HARDWARE if has_hardware() else MAX_CLUSTER_SIZE_PLAIN
    return replace(cfg, max_cluster_size=size)


def component_seed(seed: int, component: int) -> int:
    """The seed of one component's Leiden run: from ``community.seed`` and the component's name
    (its smallest account index) only, so it is the same whichever engine, executor or order
    partitions it."""
    return int(np.random.SeedSequence([int(seed), int(component)]).generate_state(1)[0])


#: `total_weight` sums the weights as integers of this many units per 1.0
WEIGHT_UNITS = 1e9


def total_weight(weight: np.ndarray) -> float:
    """The graph's total edge weight as `partition_component` takes it: each weight rounded to
    1e-9 and summed as integers, so the sum is exact in any order and an engine that sums in
    another order (Spark: ``sum(rint(weight * 1e9))`` as a decimal) gets the same number."""
    units = np.rint(np.asarray(weight, dtype=np.float64) * WEIGHT_UNITS).astype(np.int64)
    return int(units.sum(dtype=np.int64)) / WEIGHT_UNITS


def component_resolution(cfg: CommunityConfig, component_weight: float, total: float) -> float:
    """The resolution that makes Leiden on one component optimise the whole graph's objective.

    Modularity is a sum over communities of L_c/m - resolution * (d_c / 2m)^2 (m: the whole
    graph's weight). Restricted to a component of weight m_k, that is m_k/m times the
    component's own modularity at resolution * m_k/m; and no optimal community spans two
    components (splitting it only lowers the penalty). So each component is partitioned at
    resolution * m_k / m, and the per-component result optimises what whole-graph Leiden did.
    CPM has no null model over the whole graph: its resolution is the same everywhere.
    """
    if cfg.objective != "modularity" or total <= 0:
        return cfg.resolution
    return cfg.resolution * component_weight / total


def partition_component(
    n_nodes: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    cfg: CommunityConfig,
    seed: int,
    total: float,
) -> tuple[np.ndarray, int]:
    """Leiden (then the ``max_cluster_size`` refinement) on one connected component.

    ``src``/``dst`` are local node numbers 0..n_nodes-1 (the component's accounts in index
    order) and the edges come in (src, dst) order; ``total`` is the whole graph's weight
    (`total_weight`): the result is a function of these, the config and ``seed`` alone.
    Returns (community of each node 0.., communities refined, community of each node before
    the refinement). igraph draws on Python's `random`, so it is seeded here and restored
    afterwards.
    """
    graph = ig.Graph(n=n_nodes, edges=_edge_list(src, dst), directed=False)
    graph.es["weight"] = weight
    resolution = component_resolution(cfg, math.fsum(weight.tolist()), total)
    state = random.getstate()
    try:
        random.seed(seed)
        unsplit = np.asarray(_run(graph, cfg, resolution).membership, dtype=np.int64)
        raw, refined = unsplit, 0
        if cfg.max_cluster_size > 0:
            raw, refined = _refine(graph, unsplit, cfg)
    finally:
        random.setstate(state)
    return raw, refined, unsplit


def named_by_first(community: np.ndarray, account: np.ndarray) -> np.ndarray:
    """Each node's community (any non-negative numbers) named by the smallest ``account``
    index among its nodes: a name that does not depend on how the work was numbered."""
    _, inverse = np.unique(community, return_inverse=True)
    first = np.full(inverse.max(initial=-1) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inverse, account)
    return first[inverse]


def pre_split_communities(membership: np.ndarray, pre_split: np.ndarray | None) -> pl.DataFrame:
    """Per reported community (``cluster``), ``pre_split_community``: the Leiden community its
    smallest member account was in before the ``max_cluster_size`` split (its pieces share
    it; `community.calibration` gives them one vote between them in the null). Without
    ``pre_split``, each community is its own (its smallest member account)."""
    account = np.nonzero(membership >= 0)[0]
    cluster = membership[account]
    first = np.full(int(cluster.max(initial=-1)) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cluster, account)
    parent = first if pre_split is None else np.asarray(pre_split)[first]
    return pl.DataFrame(
        {
            "cluster": np.arange(first.shape[0], dtype=np.int64),
            "pre_split_community": np.where(parent >= 0, parent, first).astype(np.int64),
        }
    )


def components(n_accounts: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected component of every account, named by its smallest account index (an account
    without edges is its own component)."""
    graph = coo_matrix(
        (np.ones(src.shape[0], dtype=np.int8), (src, dst)), shape=(n_accounts, n_accounts)
    )
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1 if n_accounts else 0, n_accounts, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n_accounts))
    return first[labels]


def canonical_ids(raw: np.ndarray, has_edge: np.ndarray, min_cluster_size: int) -> np.ndarray:
    """Community ids -> reported cluster ids: communities below ``min_cluster_size`` (and
    accounts without an edge) get -1, the others 0.. ordered by their smallest account index.
    ``raw`` holds any non-negative community number per account (-1: none)."""
    membership = np.full(raw.shape[0], -1, dtype=np.int64)
    if raw.shape[0] == 0 or raw.max() < 0:
        return membership
    placed = raw >= 0
    sizes = np.bincount(raw[placed])
    keep = placed & has_edge
    keep[placed] &= sizes[raw[placed]] >= min_cluster_size
    first_member = np.full(sizes.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first_member, raw[keep], np.nonzero(keep)[0])
    kept_ids = np.nonzero(first_member < np.iinfo(np.int64).max)[0]
    order = kept_ids[np.argsort(first_member[kept_ids], kind="stable")]
    new_id = np.full(sizes.shape[0], -1, dtype=np.int64)
    new_id[order] = np.arange(order.shape[0])
    membership[keep] = new_id[raw[keep]]
    return membership


def carve(
    membership: np.ndarray,
    blocks: list[np.ndarray],
    has_edge: np.ndarray,
    min_cluster_size: int,
) -> tuple[np.ndarray, int]:
    """``membership`` (cluster ids, -1: none) with ``blocks`` (account indices, in order of
    precedence) made communities of their own. Only accounts with an edge count. A block at
    least half of whose accounts are in one community carved before (the same group, refined
    from another seed) joins it with the rest of its accounts; otherwise its accounts in no
    earlier block become a new community, if at least ``min_cluster_size``. Canonical ids again
    afterwards (what carving leaves of a community below the floor gets -1). Returns
    (membership, communities carved); the loop is over a handful of blocks."""
    raw = membership.copy()
    next_id = int(raw.max(initial=-1)) + 1
    first_new = next_id
    owner = np.full(raw.shape[0], -1, dtype=np.int64)  # carved community of each account
    carved = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.int64)
        block = block[has_edge[block]]
        owners = owner[block]
        free = block[owners < 0]
        taken = owners[owners >= 0] - first_new
        if taken.shape[0]:
            largest = int(np.argmax(np.bincount(taken)))
            if 2 * int((taken == largest).sum()) >= block.shape[0]:
                raw[free] = owner[free] = first_new + largest
                continue
        if free.shape[0] < min_cluster_size:
            continue
        raw[free] = owner[free] = next_id
        next_id += 1
        carved += 1
    if not carved:
        return membership, 0
    return canonical_ids(raw, has_edge, min_cluster_size), carved


def dense_blocks_apply(cfg: CommunityConfig, has_hardware: Callable[[], bool]) -> bool:
    """Whether refined dense blocks become communities (``community.dense_blocks``): "auto"
    where the log has no device or IP (``has_hardware``, asked only then)."""
    if cfg.dense_blocks != "auto":
        return cfg.dense_blocks == "on"
    return not has_hardware()


def dense_block_communities(
    partition: Partition,
    indexed: pl.DataFrame,
    edges: pl.DataFrame,
    cfg: CommunityConfig,
    engagement_types: Sequence[str],
    has_hardware: Callable[[], bool],
) -> Partition:
    """``partition`` with the flagged refined dense blocks (`dense.seeded`) carved out as
    communities of their own (`carve`) where ``community.dense_blocks`` applies; run.json's
    parameters record it (``dense_blocks``, ``dense_block_communities``). The modularity stays
    Leiden's partition's."""
    params = dict(partition.parameters)
    params["dense_blocks"] = cfg.dense_blocks
    if not dense_blocks_apply(cfg, has_hardware):
        return Partition(partition.membership, params, partition.quality, partition.pre_split)
    from graphguard.dense.bipartite import indexed_bipartite
    from graphguard.dense.seeded import dense_block_members

    n_accounts = partition.membership.shape[0]
    ids = pl.Series("account", np.arange(n_accounts, dtype=np.int64))
    graph = indexed_bipartite(indexed, ids, engagement_types, strict=False)
    blocks = dense_block_members(graph, DenseConfig())
    has_edge = np.zeros(n_accounts, dtype=bool)
    has_edge[edges.get_column("src").to_numpy()] = True
    has_edge[edges.get_column("dst").to_numpy()] = True
    membership, carved = carve(partition.membership, blocks, has_edge, cfg.min_cluster_size)
    params["dense_block_communities"] = carved
    return Partition(membership, params, partition.quality, partition.pre_split)


def modularity(
    raw: np.ndarray, src: np.ndarray, dst: np.ndarray, weight: np.ndarray
) -> float | None:
    """Modularity (resolution 1) of a partition over the whole graph; ``raw`` -1 marks accounts
    each in a community of their own (they have no edges). Equal to igraph's
    ``Graph.modularity``; vectorised, so no whole-graph igraph object is built for it."""
    total = float(weight.sum())
    if total <= 0:
        return None
    n = raw.shape[0]
    community = np.where(raw >= 0, raw, raw.max(initial=-1) + 1 + np.arange(n))
    inside = community[src] == community[dst]
    strength = np.bincount(src, weight, n) + np.bincount(dst, weight, n)
    per_community = np.bincount(community, strength)
    return float(weight[inside].sum() / total - np.square(per_community / (2 * total)).sum())


def parameters(cfg: CommunityConfig, setting: Any = None) -> dict[str, Any]:
    """What run.json records of how the communities were made (``cfg`` resolved, `resolve`;
    ``setting``: the ``max_cluster_size`` it was resolved from, recorded where it was auto)."""
    params = {
        "method": "leiden",
        "implementation": f"igraph {ig.__version__}",
        "procedure": "per connected component",
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
    if setting == "auto":
        hardware = cfg.max_cluster_size == MAX_CLUSTER_SIZE_HARDWARE
        params["max_cluster_size_rule"] = (
            "auto: the log has devices or IPs" if hardware else "auto: no device or IP in the log"
        )
    return params


def leiden(
    n_accounts: int,
    edges: pl.DataFrame,
    cfg: CommunityConfig,
    has_hardware: Callable[[], bool] | None = None,
) -> Partition:
    """Partition accounts with Leiden, one connected component at a time (the module's
    procedure); accounts without edges or in tiny communities get -1. ``has_hardware``
    resolves ``max_cluster_size: auto`` (`resolve`); an integer setting needs none.

    The result depends only on the edge table, the config and the seed. The loop is over
    components of at least ``min_cluster_size`` accounts; each costs one small igraph call.
    """
    setting = cfg.max_cluster_size
    cfg = resolve(cfg, has_hardware)
    params = parameters(cfg, setting)
    membership = np.full(n_accounts, -1, dtype=np.int64)
    if edges.height == 0:
        return Partition(membership, params, None)
    edges = edges.select("src", "dst", "weight").sort("src", "dst")
    src = edges.get_column("src").to_numpy().astype(np.int64)
    dst = edges.get_column("dst").to_numpy().astype(np.int64)
    weight = edges.get_column("weight").to_numpy()
    component = components(n_accounts, src, dst)
    has_edge = np.zeros(n_accounts, dtype=bool)
    has_edge[src] = True
    has_edge[dst] = True
    size = np.bincount(component, minlength=n_accounts)
    # accounts of the components worth partitioning, grouped by component, in index order
    eligible = has_edge & (size[component] >= cfg.min_cluster_size)
    nodes = np.nonzero(eligible)[0]
    nodes = nodes[np.argsort(component[nodes], kind="stable")]
    local = np.empty(n_accounts, dtype=np.int64)
    node_comp = component[nodes]
    starts = np.flatnonzero(np.r_[nodes.size > 0, node_comp[1:] != node_comp[:-1]])
    bounds = np.r_[starts, nodes.shape[0]]
    local[nodes] = np.arange(nodes.shape[0]) - np.repeat(starts, np.diff(bounds))
    edge_comp = component[src]
    picked = np.nonzero(eligible[src])[0]
    picked = picked[np.argsort(edge_comp[picked], kind="stable")]  # stable: keeps (src, dst)
    edge_bounds = np.searchsorted(edge_comp[picked], node_comp[starts]).tolist()
    edge_bounds.append(picked.shape[0])
    total = total_weight(weight)
    raw = np.full(n_accounts, -1, dtype=np.int64)
    pre_split = np.full(n_accounts, -1, dtype=np.int64)
    refined = 0
    offset = 0
    for i, start in enumerate(starts.tolist()):
        members = nodes[start : bounds[i + 1]]
        chosen = picked[edge_bounds[i] : edge_bounds[i + 1]]
        parts, n_refined, unsplit = partition_component(
            members.shape[0],
            local[src[chosen]],
            local[dst[chosen]],
            weight[chosen],
            cfg,
            component_seed(cfg.seed, int(members[0])),
            total,
        )
        raw[members] = parts + offset
        pre_split[members] = named_by_first(unsplit, members)
        offset += int(parts.max()) + 1
        refined += n_refined
    if cfg.max_cluster_size > 0:
        params["refined_communities"] = refined
    params["components_partitioned"] = int(starts.shape[0])
    params["largest_component"] = int(size[component[has_edge]].max())
    # modularity of the final partition over the whole graph, whatever the objective; a
    # component too small to partition counts as one community (what Leiden makes of a pair)
    whole = raw.copy()
    small = has_edge & ~eligible
    whole[small] = offset + component[small]
    quality = modularity(whole, src, dst, weight)
    membership = canonical_ids(raw, has_edge, cfg.min_cluster_size)
    return Partition(membership, params, quality, pre_split)
