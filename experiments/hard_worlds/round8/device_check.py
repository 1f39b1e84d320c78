# ruff: noqa: E402
# Round 8 device check (../README.md): the edge-gated model on CUDA (the detector's device
# "auto" there, with mixed precision) against the same fits on the CPU, on seed 1's pilot
# world exported as Parquet (features, edges, evidence, truth) to DATA.
#   python device_check.py DATA
import json
import sys
import time

import numpy as np
import polars as pl
import torch

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.graph.inputs import graph_inputs, label_codes
from graphguard.metrics import auprc
from graphguard.models.detector import GraphSAGEDetector
from graphguard.pipeline.fusion import fuse_scores, unseen_classes

data = sys.argv[1]
seed = 1
features = pl.read_parquet(f"{data}/features.parquet")
edges = pl.read_parquet(f"{data}/edges.parquet")
evidence = pl.read_parquet(f"{data}/evidence.parquet")
truth = pl.read_parquet(f"{data}/truth.parquet")
names = [c for c in features.columns if c != "account"]
inputs = graph_inputs(features, edges, feature_names=names, edge_attrs=True)
abusive = (truth.get_column(schema.LABEL) != schema.BENIGN).to_numpy()
print("cuda", torch.cuda.is_available(), torch.__version__, flush=True)
for rate in (0.02, 0.1, 0.4):
    # benchmarks/hard_worlds.labels_at
    rng = np.random.default_rng([seed, int(rate * 1000), 0x4A4D])
    labels = truth.filter(pl.Series(rng.random(truth.height) < rate))
    y = label_codes(truth.get_column(schema.ACCOUNT), labels)
    va = GraphSAGEDetector(seed=seed).validation_split(y)
    tr = (y >= 0) & ~va
    un = y < 0
    out = {}
    for device in ("cuda", "cpu"):
        for name, over in (("sum", {"aggr": "sum"}), ("gate", {"aggr": "sum", "edge_gate": True})):
            start = time.perf_counter()
            model = GraphSAGEDetector(seed=seed, device=device, **over)
            model.fit(inputs, y, train_mask=tr, val_mask=va)
            proba = model.predict_proba(inputs)
            seconds = time.perf_counter() - start
            fused = fuse_scores(
                evidence, proba, DetectConfig().scoring, unseen=unseen_classes(model)
            ).get_column("risk")
            out[f"{name}@{device}"] = (
                round(auprc(abusive[un], fused.to_numpy()[un]), 4),
                model.best_epoch_,
                round(seconds, 2),
            )
    print(rate, json.dumps(out), flush=True)
