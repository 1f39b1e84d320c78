# ruff: noqa: E402, SIM115
# Pilot of round 8 (../README.md) on cache.py's worlds (/tmp/hardw11/prep_SEED.pkl):
#   python pilot.py SEEDS "VARIANT;VARIANT" [RATES]
# variants: gbt (gbt+agg+evidence), sum (graphsage(sum)+evidence), gate (sum + model.edge_gate),
# gate_mean (mean + edge_gate), gate_lt (gate + label trick), sum3 / gate3 (3 layers), gbt_edge
# (the trees with each node's per-relation sums and maxima of its edges' attributes beside the
# aggregates). Logs p1_gate.log (support/weight attributes only, before the common-neighbour
# attributes were added), p2_structure.log, p3_layers3.log.
import dataclasses
import json
import os
import pickle
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.graph.inputs import graph_inputs, label_codes
from graphguard.metrics import auprc
from graphguard.models.baselines import fit_predict_gbt, neighbour_aggregate
from graphguard.models.params import GraphSAGEParams
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.train import build_detector
from graphguard.scores import noisy_or_array

config = DetectConfig()
seeds = [int(s) for s in sys.argv[1].split(",")]
variants = sys.argv[2].split(";")
rates = [float(r) for r in (sys.argv[3] if len(sys.argv) > 3 else "0.02,0.1,0.4").split(",")]
OVER = {
    "sum": {"aggr": "sum"},
    "gate": {"aggr": "sum", "edge_gate": True},
    "gate_mean": {"edge_gate": True},
    "gate_lt": {"aggr": "sum", "edge_gate": True, "label_input": True},
    "sum3": {"aggr": "sum", "layers": 3, "fanouts": [15, 10, 5]},
    "gate3": {"aggr": "sum", "edge_gate": True, "layers": 3, "fanouts": [15, 10, 5]},
}


def edge_sums(inputs):
    n = inputs.num_nodes
    cols = []
    for r, e in inputs.edge_index_dict.items():
        a = inputs.edge_attr_dict[r].numpy().astype(np.float64)
        total = np.zeros((n, a.shape[1]))
        np.add.at(total, e[1].numpy(), a)
        top = np.zeros((n, a.shape[1]))
        np.maximum.at(top, e[1].numpy(), a)
        cols.extend([total, top])
    return np.hstack(cols)


for seed in seeds:
    prep = pickle.load(open(f"/tmp/hardw11/prep_{seed}.pkl", "rb"))
    inputs = prep["inputs"]
    names = inputs.feature_names
    table = None
    if inputs.edge_attr_dict is None:
        # the cache's inputs with the edges' attributes (the same x and edge order)
        import polars as pl

        feats = pl.DataFrame(inputs.x.numpy(), schema=list(names)).with_row_index("account")
        inputs = graph_inputs(feats, prep["edges"], feature_names=names, edge_attrs=True)
        assert torch.equal(inputs.x, prep["inputs"].x)
        for r in inputs.edge_index_dict:
            assert torch.equal(inputs.edge_index_dict[r], prep["inputs"].edge_index_dict[r])
    abusive = (prep["truth"].get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    ev = prep["evidence"].get_column("risk").to_numpy()
    x = inputs.x.numpy()
    edges = inputs.edge_index_dict
    for rate in rates:
        y = label_codes(prep["ids"], hw.labels_at(prep, rate, seed))
        va = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed))).validation_split(y)
        tr = (y >= 0) & ~va
        un = y < 0
        res = {}
        for v in variants:
            t = time.perf_counter()
            extra = None
            if v.startswith("gbt"):
                X = neighbour_aggregate(x, edges)
                if v == "gbt_edge":
                    X = np.hstack([X, edge_sums(inputs)])
                s = noisy_or_array(fit_predict_gbt(X, y, tr, va, seed=seed), ev)
            else:
                model = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed)), **OVER[v])
                model.fit(inputs, y, train_mask=tr, val_mask=va)
                fused = fuse_scores(
                    prep["evidence"],
                    model.predict_proba(inputs),
                    config.scoring,
                    unseen=unseen_classes(model),
                )
                s = fused.get_column("risk").to_numpy()
                extra = getattr(model, "best_epoch_", None)
            res[v] = (round(auprc(abusive[un], s[un]), 4), extra, round(time.perf_counter() - t, 1))
        print(seed, rate, json.dumps(res), flush=True)
