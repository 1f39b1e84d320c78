# ruff: noqa: E402, SIM115
# Round 8 pilot (../README.md): a gate that reads both ends of the edge as well as its
# attributes (GATv2-like, sigmoid instead of softmax so the sum still counts neighbours):
#   gate_ji = sigmoid(MLP(e_ji) + a(W h_j) + b(W h_i))
# patched into `EdgeGatedConv` for this process only (not in the library).
#   python pilot_attn.py SEEDS [RATES]
import dataclasses
import json
import os
import pickle
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import polars as pl
import torch
from torch import nn

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.graph.inputs import graph_inputs, label_codes
from graphguard.metrics import auprc
from graphguard.models import sage
from graphguard.models.params import GraphSAGEParams
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.train import build_detector

plain_init = sage.EdgeGatedConv.__init__


def init(self, in_channels, out_channels, edge_dim, *, aggr="sum", gate_hidden=16):
    plain_init(self, in_channels, out_channels, edge_dim, aggr=aggr, gate_hidden=gate_hidden)
    self.gate_src = nn.Linear(out_channels, out_channels, bias=False)
    self.gate_dst = nn.Linear(in_channels, out_channels, bias=False)


def forward(self, x, edges):
    x_src, x_dst = x
    src, dst = edges.edge_index[0], edges.edge_index[1]
    h = torch.nn.functional.linear(x_src, self.lin_l.weight)
    logit = self.gate(edges.edge_attr) + self.gate_src(h)[src] + self.gate_dst(x_dst)[dst]
    messages = h[src] * torch.sigmoid(logit)
    out = h.new_zeros((x_dst.size(0), h.size(1))).index_add(0, dst, messages)
    return out + self.lin_l.bias


sage.EdgeGatedConv.__init__ = init
sage.EdgeGatedConv.forward = forward
config = DetectConfig()
seeds = [int(s) for s in sys.argv[1].split(",")]
rates = [float(r) for r in (sys.argv[2] if len(sys.argv) > 2 else "0.02,0.1,0.4").split(",")]
for seed in seeds:
    prep = pickle.load(open(f"/tmp/hardw11/prep_{seed}.pkl", "rb"))
    names = prep["inputs"].feature_names
    feats = pl.DataFrame(prep["inputs"].x.numpy(), schema=list(names)).with_row_index("account")
    inputs = graph_inputs(feats, prep["edges"], feature_names=names, edge_attrs=True)
    abusive = (prep["truth"].get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    for rate in rates:
        y = label_codes(prep["ids"], hw.labels_at(prep, rate, seed))
        va = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed))).validation_split(y)
        tr = (y >= 0) & ~va
        un = y < 0
        t = time.perf_counter()
        model = build_detector(
            dataclasses.asdict(GraphSAGEParams(seed=seed)), aggr="sum", edge_gate=True
        )
        model.fit(inputs, y, train_mask=tr, val_mask=va)
        fused = fuse_scores(
            prep["evidence"],
            model.predict_proba(inputs),
            config.scoring,
            unseen=unseen_classes(model),
        )
        s = fused.get_column("risk").to_numpy()
        res = {
            "gate_attn": (
                round(auprc(abusive[un], s[un]), 4),
                model.best_epoch_,
                round(time.perf_counter() - t, 1),
            )
        }
        print(seed, rate, json.dumps(res), flush=True)
