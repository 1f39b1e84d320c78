"""Supervised models over the account graph: the GraphSAGE module, its sampler and detector.

Names are exported lazily (PEP 562), so importing a torch-free submodule such as
`graphguard.models.params` does not load torch through this package. ``GraphInputs``,
``graph_inputs`` and ``label_codes`` live in `graphguard.graph.inputs`; they are re-exported
here because callers imported them from this package before.
"""

from __future__ import annotations

import importlib
from typing import Any

#: exported name -> the module that defines it
_HOMES = {
    "GraphInputs": "graphguard.graph.inputs",
    "GraphSAGEDetector": "graphguard.models.detector",
    "GraphSAGEParams": "graphguard.models.params",
    "NeighborBatches": "graphguard.models.sampling",
    "NeighborSampler": "graphguard.models.sampling",
    "RelationalGraphSAGE": "graphguard.models.sage",
    "graph_inputs": "graphguard.graph.inputs",
    "label_codes": "graphguard.graph.inputs",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
