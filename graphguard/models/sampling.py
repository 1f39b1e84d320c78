"""Uniform neighbour sampling over the account graph's relations, for mini-batch GraphSAGE.

PyG's `NeighborLoader` needs pyg-lib or torch-sparse for its sampler; when neither is installed
(the CPU wheels this project pins do not bring them) `NeighborSampler` does the same job in plain
torch: one CSR per relation built once, then per hop and relation up to ``fanout`` distinct
neighbours of every frontier node, drawn uniformly without replacement. Draws are vectorised over
nodes: rows with at most ``fanout`` neighbours take them all, larger rows run Floyd's algorithm
for ``fanout`` steps at once across every row, so a hub costs O(fanout^2), not O(degree).

`NeighborBatches` hands out mini-batches of sampled subgraphs from either sampler behind one
interface, so the training loop does not care which is installed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec

import torch
from torch import Tensor

#: True when PyG's own neighbour sampling backend (pyg-lib or torch-sparse) is importable.
PYG_SAMPLER_AVAILABLE: bool = (
    find_spec("pyg_lib") is not None or find_spec("torch_sparse") is not None
)


@dataclass
class SampledSubgraph:
    """Nodes reached from a batch of seeds and the sampled edges between them.

    ``node_ids`` holds global node ids with the ``n_seeds`` seeds first, in the order given;
    ``edge_index_dict[relation]`` is ``[2, E]`` in local ids (positions in ``node_ids``), row 0
    the sampled neighbour (message source) and row 1 the node it was sampled for (target).
    """

    node_ids: Tensor
    n_seeds: int
    edge_index_dict: dict[str, Tensor]


def to_csr(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """Incoming-neighbour CSR of a directed ``[2, E]`` edge index (row 0 source, row 1 target).

    Returns ``(rowptr [num_nodes + 1], col [E])``: the sources of edges into node v are
    ``col[rowptr[v]:rowptr[v + 1]]``, sorted, so the result does not depend on edge order.
    """
    src, dst = edge_index[0].long(), edge_index[1].long()
    order = torch.argsort(dst * num_nodes + src)
    col = src[order]
    counts = torch.bincount(dst, minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    rowptr[1:] = torch.cumsum(counts, 0)
    return rowptr, col


def sample_positions(
    degree: Tensor, fanout: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Up to ``fanout`` distinct positions in ``[0, degree[i])`` for every row i, uniformly.

    Args:
        degree: ``[m]`` neighbour counts.
        fanout: draws per row; negative takes every neighbour.

    Returns:
        ``(row [k], position [k])``: row index into ``degree`` and the drawn position, with
        ``min(degree[i], fanout)`` entries per row i.
    """
    degree = degree.long()
    take_all = degree <= fanout if fanout >= 0 else torch.ones_like(degree, dtype=torch.bool)
    small = torch.nonzero(take_all).flatten()
    counts = degree[small]
    row_small = torch.repeat_interleave(small, counts)
    starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    pos_small = torch.arange(row_small.numel()) - starts
    large = torch.nonzero(~take_all).flatten()
    if large.numel() == 0:
        return row_small, pos_small
    # Floyd's algorithm, one step for all rows at once: at step i draw t in [0, j] with
    # j = degree - fanout + i; keep t unless already chosen, else take j (never chosen before).
    # Every fanout-subset comes out with equal probability.
    d = degree[large]
    chosen = torch.empty((large.numel(), fanout), dtype=torch.long)
    for i in range(fanout):  # fanout steps, each over all rows
        j = d - fanout + i
        u = torch.rand(large.numel(), generator=generator, dtype=torch.float64)
        t = torch.minimum((u * (j + 1).double()).long(), j)
        seen = (chosen[:, :i] == t[:, None]).any(dim=1)
        chosen[:, i] = torch.where(seen, j, t)
    row_large = torch.repeat_interleave(large, fanout)
    return torch.cat([row_small, row_large]), torch.cat([pos_small, chosen.flatten()])


class NeighborSampler:
    """Uniform per-relation neighbour sampler in plain torch (CPU).

    Args:
        edge_index_dict: relation -> ``[2, E]`` directed edges over ``num_nodes`` nodes (give
            both directions of an undirected graph).
        num_nodes: number of nodes.
        seed: seed of the sampler's own `torch.Generator`; the global RNG is never touched.

    Example::

        sampler = NeighborSampler({"device": ei_device, "sync": ei_sync}, n, seed=0)
        sub = sampler.sample(torch.tensor([3, 17]), fanouts=[15, 10])
        out = model(x[sub.node_ids], sub.edge_index_dict)[: sub.n_seeds]
    """

    def __init__(self, edge_index_dict: Mapping[str, Tensor], num_nodes: int, *, seed: int = 0):
        self.num_nodes = int(num_nodes)
        self.csr = {
            relation: to_csr(edge_index.cpu(), self.num_nodes)
            for relation, edge_index in edge_index_dict.items()
        }
        self.generator = torch.Generator().manual_seed(seed)
        # global id -> local id of the subgraph being built; -1 elsewhere. Reset after each
        # sample, touching only the entries it set, so a batch costs O(batch), not O(graph).
        self._local = torch.full((self.num_nodes,), -1, dtype=torch.long)

    def sample(
        self,
        seed_nodes: Tensor,
        fanouts: Sequence[int] = (15, 10),
        generator: torch.Generator | None = None,
    ) -> SampledSubgraph:
        """Sample ``len(fanouts)`` hops around distinct ``seed_nodes``.

        Hop h draws up to ``fanouts[h]`` neighbours per relation for each node first reached at
        hop h - 1 (the seeds at hop 0), without replacement. Nodes reached at the last hop get
        no neighbours of their own: a model with ``len(fanouts)`` layers does not need them.
        """
        generator = generator or self.generator
        seeds = seed_nodes.long().cpu()
        if torch.unique(seeds).numel() != seeds.numel():
            raise ValueError("seed_nodes must be distinct")
        local = self._local
        parts = [seeds]
        local[seeds] = torch.arange(seeds.numel())
        n_total = seeds.numel()
        edges: dict[str, list[Tensor]] = {relation: [] for relation in self.csr}
        frontier = seeds
        try:
            for fanout in fanouts:
                if frontier.numel() == 0:
                    break
                picked: dict[str, tuple[Tensor, Tensor]] = {}
                for relation, (rowptr, col) in self.csr.items():
                    start = rowptr[frontier]
                    row, pos = sample_positions(rowptr[frontier + 1] - start, fanout, generator)
                    picked[relation] = (col[start[row] + pos], frontier[row])
                reached = torch.cat([neighbour for neighbour, _ in picked.values()])
                new = torch.unique(reached[local[reached] < 0])
                local[new] = torch.arange(n_total, n_total + new.numel())
                n_total += new.numel()
                parts.append(new)
                for relation, (neighbour, target) in picked.items():
                    edges[relation].append(torch.stack([local[neighbour], local[target]]))
                frontier = new
        finally:
            node_ids = torch.cat(parts)
            local[node_ids] = -1
        edge_index_dict = {
            relation: torch.cat(chunks, dim=1) if chunks else torch.zeros((2, 0), dtype=torch.long)
            for relation, chunks in edges.items()
        }
        return SampledSubgraph(node_ids, seeds.numel(), edge_index_dict)


class NeighborBatches:
    """Mini-batches of sampled subgraphs, from PyG's `NeighborLoader` when it can sample.

    Args:
        edge_index_dict: relation -> ``[2, E]`` directed edges (both directions).
        num_nodes: number of nodes.
        fanouts: neighbours per node, relation and hop.
        batch_size: seeds per batch.
        seed: seeds the shuffling and the sampling.
        backend: ``"auto"`` (PyG when `PYG_SAMPLER_AVAILABLE`, else torch), ``"pyg"`` or
            ``"torch"``.
    """

    def __init__(
        self,
        edge_index_dict: Mapping[str, Tensor],
        num_nodes: int,
        *,
        fanouts: Sequence[int] = (15, 10),
        batch_size: int = 1024,
        seed: int = 0,
        backend: str = "auto",
    ):
        if backend not in ("auto", "pyg", "torch"):
            raise ValueError(f"backend must be auto, pyg or torch, got {backend!r}")
        if backend == "pyg" and not PYG_SAMPLER_AVAILABLE:
            raise ValueError("backend 'pyg' needs pyg-lib or torch-sparse installed")
        self.backend = (
            "pyg" if backend == "pyg" or (backend == "auto" and PYG_SAMPLER_AVAILABLE) else "torch"
        )
        self.fanouts = [int(f) for f in fanouts]
        self.batch_size = int(batch_size)
        self.num_nodes = int(num_nodes)
        self.relations = list(edge_index_dict)
        self.generator = torch.Generator().manual_seed(seed)
        if self.backend == "torch":
            self._sampler = NeighborSampler(edge_index_dict, num_nodes, seed=seed)
        else:
            self._data = self._hetero_data(edge_index_dict)

    def __call__(
        self,
        seeds: Tensor,
        *,
        shuffle: bool = True,
        batch_size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Iterator[SampledSubgraph]:
        """Yield one `SampledSubgraph` per ``batch_size`` seeds (shuffled when asked).

        ``batch_size`` and ``generator`` override the instance's for this pass only, e.g. a
        freshly seeded generator so validation sees the same neighbourhoods every epoch.
        """
        seeds = seeds.long().cpu()
        batch_size = batch_size or self.batch_size
        generator = generator or self.generator
        if self.backend == "pyg":
            yield from self._pyg_batches(seeds, shuffle, batch_size, generator)
            return
        if shuffle:
            seeds = seeds[torch.randperm(seeds.numel(), generator=generator)]
        for batch in torch.split(seeds, batch_size):
            yield self._sampler.sample(batch, self.fanouts, generator)

    # ---------------------------------------------------------------- PyG path

    def _hetero_data(self, edge_index_dict: Mapping[str, Tensor]):
        from torch_geometric.data import HeteroData
        from torch_geometric.sampler import NeighborSampler as PygNeighborSampler

        data = HeteroData()
        data["account"].num_nodes = self.num_nodes
        for relation, edge_index in edge_index_dict.items():
            data["account", relation, "account"].edge_index = edge_index.long().cpu()
        # built once: the loader would otherwise convert the graph to CSC on every pass
        self._pyg_sampler = PygNeighborSampler(data, num_neighbors=self.fanouts)
        return data

    def _pyg_batches(
        self, seeds: Tensor, shuffle: bool, batch_size: int, generator: torch.Generator
    ) -> Iterator[SampledSubgraph]:
        from torch_geometric.loader import NeighborLoader

        # pyg-lib draws from the global RNG; seed it from our generator so runs repeat.
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        loader = NeighborLoader(
            self._data,
            num_neighbors=self.fanouts,
            input_nodes=("account", seeds),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            neighbor_sampler=self._pyg_sampler,
        )
        for batch in loader:
            store = batch["account"]
            edge_index_dict = {
                relation: batch["account", relation, "account"].edge_index
                if ("account", relation, "account") in batch.edge_types
                else torch.zeros((2, 0), dtype=torch.long)
                for relation in self.relations
            }
            yield SampledSubgraph(store.n_id, int(store.batch_size), edge_index_dict)
