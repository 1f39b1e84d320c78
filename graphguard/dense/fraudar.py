"""FRAUDAR-style greedy peeling over the account x target engagement graph.

The suspiciousness of a set S of accounts and targets is f(S), the summed weight of the edges
inside it, each edge weighing 1 / log(c + degree of its target) (`log_weights`); the density is
the average g(S) = f(S) / |S|. Peeling starts from the whole graph and removes, one node at a
time, the node whose edges into what is left weigh least, and keeps the prefix with the highest
g: a block that is dense in this sense survives the peeling longest. Camouflage (fake accounts
also engaging other, popular targets) adds nodes and light edges outside the block; it never
lowers the block's own f, so the block is still found (Hooi et al., KDD 2016, who prove the
greedy result is within a factor 2 of the optimum).

The removal order comes from a binary heap with lazy updates: a node whose priority dropped is
pushed again and stale entries are skipped when popped (entries are plain ints that pack the
priority, to 2^-20 or finer, above the node number). Each removal touches its node's edges
with numpy; the Python work is one heap pop per node and one push per edge, O(E log N) in all.
Ties are broken by node number (accounts by sorted id, then targets by sorted id), so the same
log always gives the same blocks. `find_blocks` repeats the peeling k times, removing each found
block's edges first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.dense.bipartite import Bipartite, log_weights

#: columns of the blocks frame `find_blocks` returns (and `graphguard dense` writes)
BLOCK_COLUMNS = (
    "block",
    "n_accounts",
    "n_targets",
    "size",
    "n_edges",
    "edge_density",
    "density",
    "accounts",
    "targets",
)


#: "density": FRAUDAR's g(S); "excess": g(S) less the configuration model's expectation
OBJECTIVES = ("density", "excess")


@dataclass(frozen=True)
class Peeled:
    """One peeling: the densest prefix's nodes and its density g."""

    accounts: np.ndarray  # account indices, sorted
    targets: np.ndarray  # target indices, sorted
    density: float
    mass: float  # f(S)


def peel(
    n_accounts: int,
    n_targets: int,
    account: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
) -> Peeled:
    """Greedy peeling of one bipartite graph (edges given as index arrays and weights)."""
    n_edges = account.size
    if n_edges == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Peeled(empty, empty, 0.0, 0.0)
    tnode = target + n_accounts
    # both CSR orders over edge ids
    by_account = np.argsort(account, kind="stable")
    by_target = np.argsort(target, kind="stable")
    a_ptr = np.zeros(n_accounts + 1, dtype=np.int64)
    np.cumsum(np.bincount(account, minlength=n_accounts), out=a_ptr[1:])
    t_ptr = np.zeros(n_targets + 1, dtype=np.int64)
    np.cumsum(np.bincount(target, minlength=n_targets), out=t_ptr[1:])

    prio = np.bincount(account, weights=weight, minlength=n_accounts)
    prio = np.concatenate([prio, np.bincount(target, weights=weight, minlength=n_targets)])
    degree = np.concatenate(
        [np.bincount(account, minlength=n_accounts), np.bincount(target, minlength=n_targets)]
    )
    alive_node = degree > 0
    alive_edge = np.ones(n_edges, dtype=bool)
    nodes = np.flatnonzero(alive_node)

    # Heap entries are single ints, floor(priority * scale) << bits | node: an int compares
    # several times faster than a (priority, node) tuple, and equal priorities (to within
    # 1/scale, far below any weight) fall back on the node number: deterministic ties.
    bits = max(int(prio.size).bit_length(), 1)
    scale = float(2 ** (62 - bits - int(np.ceil(np.log2(prio.max() + 2)))))
    mask = (1 << bits) - 1

    def keys(p: np.ndarray, v: np.ndarray) -> list[int]:
        q = np.floor(np.maximum(p, 0.0) * scale).astype(np.int64)
        return ((q << bits) | v).tolist()

    heap = keys(prio[nodes], nodes)
    current = np.zeros(prio.size, dtype=np.int64)
    current[nodes] = heap
    current = current.tolist()  # the key each node's live heap entry holds
    heapq.heapify(heap)

    size = int(nodes.size)
    mass = float(weight.sum())
    best_density, best_step = mass / size, 0
    order = np.empty(size, dtype=np.int64)
    step = 0
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        key = pop(heap)
        u = key & mask
        if key != current[u] or not alive_node[u]:
            continue  # a stale entry, or removed already
        alive_node[u] = False
        order[step] = u
        step += 1
        if u < n_accounts:
            edges = by_account[a_ptr[u] : a_ptr[u + 1]]
            other = tnode
        else:
            t = u - n_accounts
            edges = by_target[t_ptr[t] : t_ptr[t + 1]]
            other = account
        edges = edges[alive_edge[edges]]
        alive_edge[edges] = False
        mass -= prio[u]  # the weight of its edges still in S
        remaining = size - step
        if remaining and mass / remaining > best_density:
            best_density, best_step = mass / remaining, step
        if edges.size:
            neighbours = other[edges]  # distinct: one edge per account-target pair
            prio[neighbours] -= weight[edges]
            for v, q in zip(neighbours.tolist(), prio[neighbours].tolist(), strict=True):
                k = (int(q * scale) << bits) | v if q > 0 else v  # as `keys`, one at a time
                current[v] = k
                push(heap, k)
    kept = order[best_step:step]
    accounts = np.sort(kept[kept < n_accounts])
    targets = np.sort(kept[kept >= n_accounts] - n_accounts)
    return Peeled(accounts, targets, float(best_density), float(best_density * kept.size))


def peel_excess(
    n_accounts: int,
    n_targets: int,
    account: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    account_degree: np.ndarray,
    target_degree: np.ndarray,
    *,
    epsilon: float = 0.02,
) -> Peeled:
    """Peeling against the configuration model: the densest block by excess, not by mass.

    f(S) becomes the block's weight minus what the members' activity and the targets'
    popularity predict, F(S) = sum_(edges in S) w - (sum_(a in S) d_a)(sum_(t in S) w_t d_t) / E,
    so that a log's organic dense core (heavy users on blockbusters, which the whole graph's
    degrees explain; F of the whole graph is 0) no longer outweighs a planted block. A node's
    priority now has a term shared by every node of its side, which changes at each removal,
    so a heap cannot order them; the peeling goes in rounds instead: each round recomputes
    every priority in one vectorised step and removes the ``epsilon`` share of what is left
    with the lowest (at least one node; ties by node number), and the best round is kept.
    O(E) per round, about ln(N) / epsilon rounds; same input, same rounds. (Removing every
    node under the mean at once, as Bahmani et al.'s parallel peeling does, fails here: on the
    whole graph F is 0 and a planted block's nodes sit at the mean.)

    Where it fails: a block that makes its own targets popular in a sparse, long-tailed log
    (25 items nobody else rates, each rated by 27 fakes, among items rated 2-4 times). Its
    targets' degrees come from the block itself, the null expects much of them, and the
    fakes are peeled first; FRAUDAR's plain density finds that block. Use "density" there.
    """
    n_edges_total = float(account_degree.sum())
    w_t = np.zeros(n_targets)
    w_t[target] = weight  # one weight per target
    d_a = account_degree.astype(np.float64)
    wd_t = w_t * target_degree
    alive_a = np.bincount(account, minlength=n_accounts) > 0
    alive_t = np.bincount(target, minlength=n_targets) > 0
    best = (-np.inf, alive_a.copy(), alive_t.copy(), 0.0)
    while alive_a.any() and alive_t.any():
        live = alive_a[account] & alive_t[target]
        inner_a = np.bincount(account[live], weights=weight[live], minlength=n_accounts)
        inner_t = np.bincount(target[live], weights=weight[live], minlength=n_targets)
        mass_a = float(d_a[alive_a].sum())
        mass_t = float(wd_t[alive_t].sum())
        prio_a = inner_a - d_a * mass_t / n_edges_total
        prio_t = inner_t - wd_t * mass_a / n_edges_total
        excess = float(weight[live].sum()) - mass_a * mass_t / n_edges_total
        size = int(alive_a.sum() + alive_t.sum())
        density = excess / size
        if density > best[0]:
            best = (density, alive_a.copy(), alive_t.copy(), excess)
        nodes = np.concatenate([np.flatnonzero(alive_a), n_accounts + np.flatnonzero(alive_t)])
        prio = np.concatenate([prio_a[alive_a], prio_t[alive_t]])
        n_drop = max(1, int(epsilon * nodes.size))
        drop = nodes[np.lexsort((nodes, prio))[:n_drop]]  # lowest first, ties by node number
        alive_a[drop[drop < n_accounts]] = False
        alive_t[drop[drop >= n_accounts] - n_accounts] = False
    density, keep_a, keep_t, excess = best
    return Peeled(np.flatnonzero(keep_a), np.flatnonzero(keep_t), float(density), float(excess))


def find_blocks(
    graph: Bipartite,
    k: int = 1,
    *,
    offset: float = 5.0,
    min_accounts: int = 2,
    objective: str = "density",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The k densest blocks, each peeled after the edges of the ones before were removed.

    Weights come from the targets' degrees in the whole log (a block's removal does not make
    its targets look rare). A peel whose block has fewer than ``min_accounts`` accounts ends
    the search (what is left has no block worth a name).

    Returns ``(blocks, accounts)``: blocks has `BLOCK_COLUMNS` (``density`` is g, ``accounts``
    and ``targets`` the ids); accounts has one row per account of the log: ``account_id``,
    ``block`` (the first block it is in, null if none), ``block_density`` (that block's g, 0 if
    none) and ``block_share`` (share of the account's own engagements that go to that block's
    targets: 1.0 for a pure fake, lower for a camouflaged one).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    target_degree = graph.target_degree()
    weight = log_weights(target_degree, offset)[graph.target]
    alive = np.ones(graph.n_edges, dtype=bool)
    account_block = np.full(graph.n_accounts, -1, dtype=np.int64)
    account_density = np.zeros(graph.n_accounts)
    account_share = np.zeros(graph.n_accounts)
    account_degree = graph.account_degree()
    rows = []
    for b in range(k):
        if not alive.any():
            break
        sub = np.flatnonzero(alive)
        if objective == "excess":
            found = peel_excess(
                graph.n_accounts,
                graph.n_targets,
                graph.account[sub],
                graph.target[sub],
                weight[sub],
                account_degree,
                target_degree,
            )
        else:
            found = peel(
                graph.n_accounts,
                graph.n_targets,
                graph.account[sub],
                graph.target[sub],
                weight[sub],
            )
        if found.accounts.size < min_accounts:
            break
        in_a = np.zeros(graph.n_accounts, dtype=bool)
        in_a[found.accounts] = True
        in_t = np.zeros(graph.n_targets, dtype=bool)
        in_t[found.targets] = True
        inside = alive & in_a[graph.account] & in_t[graph.target]
        n_inside = int(inside.sum())
        alive &= ~inside
        # every edge of a member to the block's targets, for its share (incl. earlier blocks')
        member_edges = in_a[graph.account] & in_t[graph.target]
        share = np.bincount(graph.account[member_edges], minlength=graph.n_accounts)
        new = in_a & (account_block < 0)
        account_block[new] = b
        account_density[new] = found.density
        account_share[new] = share[new] / np.maximum(account_degree[new], 1)
        n_a, n_t = int(found.accounts.size), int(found.targets.size)
        rows.append(
            {
                "block": b,
                "n_accounts": n_a,
                "n_targets": n_t,
                "size": n_a + n_t,
                "n_edges": n_inside,
                "edge_density": n_inside / max(n_a * n_t, 1),
                "density": found.density,
                "accounts": graph.account_ids.gather(found.accounts).to_list(),
                "targets": graph.target_ids.gather(found.targets).to_list(),
            }
        )
    blocks = pl.DataFrame(
        rows,
        schema={
            "block": pl.Int64,
            "n_accounts": pl.Int64,
            "n_targets": pl.Int64,
            "size": pl.Int64,
            "n_edges": pl.Int64,
            "edge_density": pl.Float64,
            "density": pl.Float64,
            "accounts": pl.List(pl.String),
            "targets": pl.List(pl.String),
        },
    )
    accounts = pl.DataFrame(
        {
            schema.ACCOUNT: graph.account_ids,
            "block": pl.Series(account_block, dtype=pl.Int64),
            "block_density": account_density,
            "block_share": account_share,
        }
    ).with_columns(pl.when(pl.col("block") >= 0).then(pl.col("block")).alias("block"))
    return blocks, accounts
