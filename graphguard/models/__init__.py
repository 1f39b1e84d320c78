"""Supervised models over the account graph: the GraphSAGE module, its sampler and detector."""

from graphguard.models.detector import GraphInputs, GraphSAGEDetector, graph_inputs, label_codes
from graphguard.models.sage import RelationalGraphSAGE
from graphguard.models.sampling import NeighborBatches, NeighborSampler

__all__ = [
    "GraphInputs",
    "GraphSAGEDetector",
    "NeighborBatches",
    "NeighborSampler",
    "RelationalGraphSAGE",
    "graph_inputs",
    "label_codes",
]
