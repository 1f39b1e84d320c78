"""Interaction graphs: account-entity edges and account-account projections."""

from graphguard.graph.build import (
    AccountGraph,
    IndexedEvents,
    build_account_graph,
    entity_edges,
    index_events,
)
from graphguard.graph.projections import RELATIONS, windowed_pairs

__all__ = [
    "RELATIONS",
    "AccountGraph",
    "IndexedEvents",
    "build_account_graph",
    "entity_edges",
    "index_events",
    "windowed_pairs",
]
