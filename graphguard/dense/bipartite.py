"""The account x target engagement graph that the dense-block methods read.

One edge per account and target it engaged (`graphguard.graph.context.engagements`: an
engagement type, a target, a like plus a comment is one act), so the dense-block methods count
exactly what the pipeline's dense projection counts. Accounts and targets are numbered by their
sorted ids, which makes every tie-break downstream deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from graphguard.errors import InputError
from graphguard.graph.build import index_events
from graphguard.graph.context import engagements


@dataclass(frozen=True)
class Bipartite:
    """Edges ``(account[i], target[i])``, each pair once, sorted by account then target."""

    account_ids: pl.Series  # account index -> id (every account of the log, engaged or not)
    target_ids: pl.Series  # target index -> id (engaged targets only)
    account: np.ndarray  # int64 account index per edge
    target: np.ndarray  # int64 target index per edge

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    @property
    def n_targets(self) -> int:
        return len(self.target_ids)

    @property
    def n_edges(self) -> int:
        return int(self.account.size)

    def account_degree(self) -> np.ndarray:
        return np.bincount(self.account, minlength=self.n_accounts)

    def target_degree(self) -> np.ndarray:
        return np.bincount(self.target, minlength=self.n_targets)


def log_weights(target_degree: np.ndarray, offset: float) -> np.ndarray:
    """FRAUDAR's column weight 1 / log(offset + degree): an edge to a target everyone engages
    says little, so camouflage on popular targets cannot dilute a block's density."""
    return 1.0 / np.log(offset + target_degree.astype(np.float64))


def bipartite(events: pl.DataFrame, engagement_types: Sequence[str]) -> Bipartite:
    """The engagement graph of a validated event frame (`graphguard.io.load_events`).

    Raises `InputError` when no event engages a target: the dense-block methods need targets.
    """
    indexed, account_ids = index_events(events)
    return indexed_bipartite(indexed, account_ids, engagement_types)


def indexed_bipartite(
    indexed: pl.DataFrame,
    account_ids: pl.Series,
    engagement_types: Sequence[str],
    *,
    strict: bool = True,
) -> Bipartite:
    """`bipartite` of an indexed frame (`graph.build.index_events`: account indices, target
    codes), as detect holds it; ``account_ids`` names the indices. Without ``strict`` a log
    without engagements gives a graph without edges instead of the `InputError`."""
    edges = engagements(indexed, engagement_types).select("account", "target")
    if edges.height == 0 and strict:
        with_target = indexed.get_column("target").is_not_null().sum()
        types = ", ".join(engagement_types)
        why = (
            "no event has a target_id"
            if with_target == 0
            else f"no event with a target has an engagement type ({types}); "
            "set graph.engagement_types"
        )
        raise InputError(f"no engagements to find dense blocks in: {why}")
    return pairs_bipartite(account_ids, edges)


def pairs_bipartite(account_ids: pl.Series, edges: pl.DataFrame) -> Bipartite:
    """The graph of distinct (account index, target) pairs ``edges`` (targets as codes that
    sort as their text, or as text: the numbering is the same)."""
    target_ids = edges.get_column("target").unique().sort()
    lookup = pl.DataFrame(
        {"target": target_ids, "_t": pl.arange(0, len(target_ids), dtype=pl.Int64, eager=True)}
    )
    edges = (
        edges.join(lookup, on="target", how="left")
        .select(pl.col("account").cast(pl.Int64), pl.col("_t"))
        .sort("account", "_t")
    )
    return Bipartite(
        account_ids=account_ids,
        # indexed targets are codes that sort as their text (`io.encode_ids`); ids are text
        target_ids=target_ids.cast(pl.String),
        account=edges.get_column("account").to_numpy(),
        target=edges.get_column("_t").to_numpy(),
    )
