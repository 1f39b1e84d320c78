# ruff: noqa: E402, SIM115
# Round 8 pilot (../README.md): would the pairs' co-engagement time gaps help, as edge
# attributes? Not in the account graph's edge table (the projections sum weights only), so
# here they are made from the log of cache.py's worlds (`windowed_pairs` on the engagements,
# the sync relation's window): per pair the smallest and the median gap, added to the edge
# attributes (log1p seconds; 0 and "no gap" where the pair never co-engaged in the window).
#   python pilot_gap.py SEEDS "VARIANT;..." [RATES]
# variants: gate_gap (graphsage(sum) + edge_gate on the attributes and the gaps), gbt_gap
# (the trees with per-relation sums and maxima of the same attributes), and pilot.py's ones.
import dataclasses
import json
import os
import pickle
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import polars as pl
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

import graphguard.models.detector as detector_module
from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.graph.build import index_events
from graphguard.graph.inputs import EDGE_ATTR_NAMES, GraphInputs, graph_inputs, label_codes
from graphguard.graph.projections import _engaged, windowed_pairs
from graphguard.metrics import auprc
from graphguard.models.baselines import fit_predict_gbt, neighbour_aggregate
from graphguard.models.params import GraphSAGEParams
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.train import build_detector
from graphguard.scores import noisy_or_array

GAP_NAMES = ("sync_has_gap", "sync_log_min_gap_s", "sync_log_median_gap_s")
# the gated model's edge width follows the attribute list: three more columns here
detector_module.EDGE_ATTR_NAMES = EDGE_ATTR_NAMES + GAP_NAMES
config = DetectConfig()
seeds = [int(s) for s in sys.argv[1].split(",")]
variants = sys.argv[2].split(";")
rates = [float(r) for r in (sys.argv[3] if len(sys.argv) > 3 else "0.02,0.1,0.4").split(",")]


def with_gaps(prep, inputs):
    cfg = config.graph
    indexed, ids = index_events(prep["events"])
    assert ids.equals(prep["ids"])
    occ = _engaged(indexed, cfg.engagement_types)
    pairs = windowed_pairs(
        occ,
        key="target",
        window_rows=cfg.sync.window_rows,
        max_gap_us=int(cfg.sync.max_gap_s * 1e6),
    )
    gaps = pairs.group_by("src", "dst").agg(
        (pl.col("dt_us").min() / 1e6).alias("min_gap"),
        (pl.col("dt_us").median() / 1e6).alias("median_gap"),
    )
    n = inputs.num_nodes
    key = gaps["src"].cast(pl.Int64).to_numpy() * n + gaps["dst"].cast(pl.Int64).to_numpy()
    order = np.argsort(key)
    key = key[order]
    lo, med = gaps["min_gap"].to_numpy()[order], gaps["median_gap"].to_numpy()[order]
    attr = {}
    for r, e in inputs.edge_index_dict.items():
        a, b = e[0].numpy(), e[1].numpy()
        k = np.minimum(a, b) * n + np.maximum(a, b)
        at = np.clip(np.searchsorted(key, k), 0, max(key.size - 1, 0))
        found = key[at] == k if key.size else np.zeros(k.size, dtype=bool)
        extra = np.zeros((k.size, 3), dtype=np.float32)
        extra[:, 0] = found
        extra[found, 1] = np.log1p(lo[at[found]])
        extra[found, 2] = np.log1p(med[at[found]])
        attr[r] = torch.cat([inputs.edge_attr_dict[r], torch.from_numpy(extra)], dim=1)
    return GraphInputs(inputs.x, inputs.edge_index_dict, inputs.feature_names, None, attr)


for seed in seeds:
    prep = pickle.load(open(f"/tmp/hardw11/prep_{seed}.pkl", "rb"))
    names = prep["inputs"].feature_names
    feats = pl.DataFrame(prep["inputs"].x.numpy(), schema=list(names)).with_row_index("account")
    inputs = with_gaps(
        prep, graph_inputs(feats, prep["edges"], feature_names=names, edge_attrs=True)
    )
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
            if v == "gbt_gap":
                X = np.hstack([neighbour_aggregate(x, edges), hw.edge_attribute_aggregate(inputs)])
                s = noisy_or_array(fit_predict_gbt(X, y, tr, va, seed=seed), ev)
            else:
                over = {"aggr": "sum", "edge_gate": True}
                model = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed)), **over)
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
