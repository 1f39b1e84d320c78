"""A/B of GraphSAGE's full-graph aggregation on the CPU: per-edge scatter vs CSR matrix product.

The detector hands `SAGEConv` each relation's CSR adjacency on a CPU
(`GraphSAGEDetector._full_graph_edges`). This runs the same training and scoring in one process
with that method swapped for the plain edge lists, so both arms see the same machine state:

    python benchmarks/bench_aggregation.py --rounds 2               # the 107k graph
    python benchmarks/bench_aggregation.py --copies 10 --rounds 1   # 1.07M accounts
    python benchmarks/bench_aggregation.py --tolokers               # width 256, 3 layers

``--inputs`` (default benchmarks/out/inputs_100k.npz) come from
``python benchmarks/bench_train.py --prepare benchmarks/out``; Tolokers from ../shared/data.
Prints the median seconds per training epoch (first epoch dropped) and full-forward scoring
speed for each arm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from graphguard.models import detector as detector_mod  # noqa: E402

CSR = detector_mod.GraphSAGEDetector._full_graph_edges


def _edge_lists(self, inputs):
    return {r: e.to(self.device_) for r, e in inputs.edge_index_dict.items()}


def _load(args):
    if args.tolokers:
        from graphguard.datasets import load_dataset

        dataset = load_dataset("tolokers")
        train, val, _ = dataset.splits[0]
        params = {"hidden": 256, "layers": 3, "residual": True, "jumping_knowledge": True}
        params["fanouts"] = [10, 10, 10]  # unused: full batch; one per layer
        return dataset.inputs, dataset.y, train, params
    import bench_train

    inputs, y, _ = bench_train.load_inputs(torch, detector_mod, args.inputs, args.copies)
    probe = detector_mod.GraphSAGEDetector(seed=0)
    return inputs, y, (y >= 0) & ~probe.validation_split(y), {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=Path, default=Path("benchmarks/out/inputs_100k.npz"))
    parser.add_argument("--copies", type=int, default=1, help="disjoint copies of the graph")
    parser.add_argument("--tolokers", action="store_true", help="Tolokers instead of --inputs")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs (1 warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="times each arm runs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inputs, y, train_mask, params = _load(args)
    print(
        f"{inputs.num_nodes:,} nodes, {sum(e.size(1) for e in inputs.edge_index_dict.values()):,}"
        f" directed edges, {args.threads} threads"
    )
    for _ in range(args.rounds):
        for name, method in (("edge-list scatter", _edge_lists), ("CSR product", CSR)):
            detector_mod.GraphSAGEDetector._full_graph_edges = method
            detector = detector_mod.GraphSAGEDetector(
                seed=0,
                epochs=args.epochs,
                patience=args.epochs,
                full_batch_max_nodes=10**8,
                **params,
            )
            detector.fit(inputs, y, train_mask=train_mask, val_mask=np.zeros_like(train_mask))
            epochs = [h["train_seconds"] for h in detector.history_][1:]
            start = time.perf_counter()
            detector.predict_proba(inputs)
            rate = inputs.num_nodes / (time.perf_counter() - start)
            print(
                f"{name:>18}: {np.median(epochs):.3f} s/epoch (epochs {epochs}),"
                f" full-forward scoring {rate:,.0f} accounts/s",
                flush=True,
            )
    detector_mod.GraphSAGEDetector._full_graph_edges = CSR


if __name__ == "__main__":
    main()
