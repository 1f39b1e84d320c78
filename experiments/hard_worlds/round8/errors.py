# ruff: noqa: E402, SIM115
# Error analysis of round 8 (../README.md): at one label rate, the positives the trees and
# GraphSAGE(sum) rank below the |P|-th score, and what edges they have.
#   python errors.py SEED [RATE]   (reads /tmp/hardw11/prep_SEED.pkl from cache.py)
import dataclasses
import json
import os
import pickle
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import polars as pl
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

from graphguard import schema
from graphguard.config import DetectConfig
from graphguard.graph.inputs import label_codes
from graphguard.models.baselines import fit_predict_gbt, neighbour_aggregate
from graphguard.models.params import GraphSAGEParams
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.train import build_detector
from graphguard.scores import noisy_or_array

seed = int(sys.argv[1])
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0.4
prep = pickle.load(open(f"/tmp/hardw11/prep_{seed}.pkl", "rb"))
abusive = (prep["truth"].get_column(schema.LABEL) != schema.BENIGN).to_numpy()
ev = prep["evidence"].get_column("risk").to_numpy()
x = prep["inputs"].x.numpy()
edges_t = prep["inputs"].edge_index_dict
y = label_codes(prep["ids"], hw.labels_at(prep, rate, seed))
va = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed))).validation_split(y)
tr = (y >= 0) & ~va
un = y < 0
gbt = noisy_or_array(fit_predict_gbt(neighbour_aggregate(x, edges_t), y, tr, va, seed=seed), ev)
model = build_detector(dataclasses.asdict(GraphSAGEParams(seed=seed)), aggr="sum")
model.fit(prep["inputs"], y, train_mask=tr, val_mask=va)
fused = fuse_scores(
    prep["evidence"],
    model.predict_proba(prep["inputs"]),
    DetectConfig().scoring,
    unseen=unseen_classes(model),
)
sage = fused.get_column("risk").to_numpy()
n_pos = int(abusive[un].sum())


def missed(score):
    idx = np.flatnonzero(un)
    order = idx[np.argsort(-score[idx], kind="stable")]
    top = set(order[:n_pos].tolist())
    return np.array([i for i in idx if abusive[i] and i not in top]), order[:n_pos]


e = prep["edges"]
both = pl.concat(
    [e, e.rename({"src": "dst", "dst": "src"}).select(e.columns)]
)  # each pair from both ends
member = pl.Series(abusive)
both = both.with_columns(
    pl.col("dst")
    .map_elements(lambda d: bool(abusive[d]), return_dtype=pl.Boolean)
    .alias("dst_abusive"),
    pl.col("dst")
    .map_elements(lambda d: bool(y[d] > 0), return_dtype=pl.Boolean)
    .alias("dst_known_abusive"),
)
out = {"seed": seed, "rate": rate, "unlabelled_positives": n_pos}
for name, score in (("gbt+agg+evidence", gbt), ("graphsage(sum)+evidence", sage)):
    miss, top = missed(score)
    fp = [i for i in top if not abusive[i]]
    out[name] = {"missed": len(miss), "false_in_top": len(fp)}
    for group, ids in (("missed", miss), ("false_in_top", np.array(fp, dtype=np.int64))):
        rows = both.filter(pl.col("src").is_in(ids.tolist()))
        per = rows.group_by("src").agg(
            pl.len().alias("edges"),
            (pl.col("sync_support") > 0).sum().alias("sync_edges"),
            ((pl.col("sync_support") > 0) & pl.col("dst_abusive")).sum().alias("sync_to_members"),
            ((pl.col("sync_support") > 0) & pl.col("dst_known_abusive"))
            .sum()
            .alias("sync_to_labelled_abusive"),
            ((pl.col("device_support") > 0) | (pl.col("ip_support") > 0)).sum().alias("hw_edges"),
            (pl.col("dense_support") > 0).sum().alias("dense_edges"),
        )
        out[name][group] = {
            "n": len(ids),
            "with_no_edge": int(len(ids) - per.height),
            "median": {
                c: float(per.get_column(c).median() or 0) for c in per.columns if c != "src"
            },
            "evidence_risk_median": float(np.median(ev[ids])) if len(ids) else None,
        }
# edge attributes of sync edges: member-member vs member-benign vs benign-benign
src_ab = both.get_column("src").map_elements(lambda d: bool(abusive[d]), return_dtype=pl.Boolean)
s = both.with_columns(src_ab.alias("src_abusive")).filter(pl.col("sync_support") > 0)
s = s.with_columns((pl.col("sync_support") / pl.col("sync_weight")).alias("inv_w"))
kind = (
    s.with_columns(
        pl.when(pl.col("src_abusive") & pl.col("dst_abusive"))
        .then(pl.lit("member-member"))
        .when(pl.col("src_abusive") | pl.col("dst_abusive"))
        .then(pl.lit("member-benign"))
        .otherwise(pl.lit("benign-benign"))
        .alias("kind")
    )
    .group_by("kind")
    .agg(
        (pl.len() // 2).alias("pairs"),
        pl.col("sync_support").mean().alias("mean_support"),
        (pl.col("sync_support") >= 2).mean().alias("share_support_ge2"),
        pl.col("inv_w").median().alias("median_log2_2_plus_pop"),
        pl.col("inv_w").quantile(0.1).alias("p10_log2_2_plus_pop"),
        (pl.col("dense_support") > 0).mean().alias("share_also_dense"),
        ((pl.col("device_support") > 0) | (pl.col("ip_support") > 0)).mean().alias("share_also_hw"),
    )
    .sort("kind")
)
out["sync_edge_kinds"] = kind.to_dicts()
# missed members (graphsage): their sync edges to fellow members vs to benign
miss, _ = missed(sage)
m = s.filter(pl.col("src").is_in(miss.tolist()))
out["missed_sage_sync_edges"] = (
    m.group_by("dst_abusive")
    .agg(
        pl.len().alias("edges"),
        pl.col("sync_support").mean().alias("mean_support"),
        pl.col("inv_w").median().alias("median_log2_2_plus_pop"),
        (pl.col("dense_support") > 0).mean().alias("share_also_dense"),
    )
    .sort("dst_abusive")
    .to_dicts()
)
print(json.dumps(out, indent=1, default=float))
