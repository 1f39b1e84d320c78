# ruff: noqa: E402, SIM115
# Pilot script of section 5 of ../README.md (scratch: paths under /tmp/hard5).
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
sys.path.insert(0, "/work/wt/hard5/benchmarks")
import hard_worlds as hw

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.graph.inputs import GraphInputs, label_codes
from graphguard.metrics import auprc
from graphguard.models.baselines import fit_predict_gbt, neighbour_aggregate, neighbour_label_share
from graphguard.models.params import GraphSAGEParams
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.train import build_detector
from graphguard.scores import noisy_or_array

config = DetectConfig()
tag = sys.argv[1]
seeds = [int(s) for s in sys.argv[2].split(",")]
variants = sys.argv[3].split(";")
rates = [float(r) for r in (sys.argv[4] if len(sys.argv) > 4 else "0.02,0.1,0.4").split(",")]


def sage(prep, inputs, y, tr, va, seed, **over):
    params = GraphSAGEParams(seed=seed)
    model = build_detector(dataclasses.asdict(params), **over)
    model.fit(inputs, y, train_mask=tr, val_mask=va)
    proba = model.predict_proba(inputs)
    fused = fuse_scores(prep["evidence"], proba, config.scoring, unseen=unseen_classes(model))
    return fused.get_column("risk").to_numpy(), getattr(model, "best_epoch_", None)


LONG = dict(epochs=400, patience=40)
V = {
    "sage": {},
    "long": LONG,
    "long_auprc": dict(LONG, select_on="auprc"),
    "prenorm": dict(LONG, block="prenorm", activation="gelu"),
    "res_jk": dict(LONG, residual=True, jumping_knowledge=True),
    "sum": dict(LONG, aggr="sum"),
    "max": dict(LONG, aggr="max"),
    "lr3": dict(LONG, lr=3e-3),
    "h128": dict(LONG, hidden=128),
    "l3": dict(LONG, layers=3, fanouts=[15, 10, 5]),
    "sum_w": dict(LONG, aggr="sum"),
    "sum_pre": dict(LONG, aggr="sum", block="prenorm", activation="gelu"),
    "sum_l3": dict(LONG, aggr="sum", layers=3, fanouts=[15, 10, 5]),
    "sum_short": dict(aggr="sum"),
}
import graphguard.models.detector as D

_orig = D.GraphSAGEDetector._full_graph_edges
WEIGHTS = {}


def _weighted(self, inputs):
    out = _orig(self, inputs)
    if WEIGHTS.get("on"):
        for r, a in out.items():
            w = WEIGHTS["w"][r]
            e = inputs.edge_index_dict[r]
            # adjacency sorts by (target, source) stably; rebuild with weights in that order
            order = torch.argsort(e[1] * inputs.num_nodes + e[0], stable=True)
            vals = w[order].float()
            out[r] = torch.sparse_csr_tensor(a.crow_indices(), a.col_indices(), vals, a.shape)
    return out


D.GraphSAGEDetector._full_graph_edges = _weighted

for seed in seeds:
    prep = pickle.load(open(f"/tmp/hard5/prep_{tag}_{seed}.pkl", "rb"))
    abusive = (prep["truth"].get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    ev = prep["evidence"].get_column("risk").to_numpy()
    for rate in rates:
        labels = hw.labels_at(prep, rate, seed)
        y = label_codes(prep["ids"], labels)
        det = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed)))
        va = det.validation_split(y)
        tr = (y >= 0) & ~va
        un = y < 0
        x = prep["inputs"].x.numpy()
        edges = prep["inputs"].edge_index_dict
        res = {}
        for v in variants:
            t = time.perf_counter()
            extra = None
            name = v
            if v.startswith("gbt"):
                X = neighbour_aggregate(
                    x, edges, aggregations=("mean", "max", "sum") if "sum" in v else ("mean", "max")
                )
                if "lshare" in v:
                    X = np.hstack([X, neighbour_label_share(y, tr, edges, seed=seed)])
                s = noisy_or_array(fit_predict_gbt(X, y, tr, va, seed=seed), ev)
            else:
                base, _, mod = v.partition("+")
                over = V[base]
                inputs = prep["inputs"]
                if "lshare" in mod:
                    sh = neighbour_label_share(y, tr, edges, seed=seed)
                    inputs = GraphInputs(
                        torch.cat([inputs.x, torch.from_numpy(sh)], 1),
                        edges,
                        inputs.feature_names + ("ls1", "lc1", "ls2", "lc2"),
                    )
                WEIGHTS["on"] = base.endswith("_w")
                WEIGHTS["w"] = prep["inputs"].edge_weight_dict
                s, extra = sage(prep, inputs, y, tr, va, seed, **over)
            res[name] = (
                round(auprc(abusive[un], s[un]), 4),
                extra,
                round(time.perf_counter() - t, 1),
            )
        print(tag, seed, rate, json.dumps(res), flush=True)
