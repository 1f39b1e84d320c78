# ruff: noqa: E402
# Round 8 error analysis (../README.md): at 40% labels, which accounts the trees, GraphSAGE(sum)
# and GraphSAGE(sum+gate) get wrong (positives below the |P|-th unlabelled score: "missed";
# benign above it: "false"), by campaign kind and by the simulator's hard-negative group.
#   python errors_kinds.py SEEDS [RATE]   (builds the worlds as hard_worlds.py does)
import dataclasses
import json
import os
import sys
from collections import Counter

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import polars as pl
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

from graphguard import schema
from graphguard.compose import compose_config, settings
from graphguard.graph.inputs import label_codes
from graphguard.models.baselines import fit_predict_gbt, neighbour_aggregate
from graphguard.models.params import GraphSAGEParams
from graphguard.pipeline.fusion import fuse_scores, unseen_classes
from graphguard.pipeline.train import build_detector
from graphguard.scores import noisy_or_array
from graphguard.simulate import SimulationConfig, simulate

config = settings(compose_config(["graph.sync.min_support=1"])).detect
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0.4
for seed in hw.parse_seeds(sys.argv[1]):
    world = simulate(SimulationConfig(n_accounts=4000, seed=seed, difficulty="hard"))
    prep = hw.prepare(world, config)
    truth = (
        pl.DataFrame({schema.ACCOUNT: prep["ids"].cast(pl.String)})
        .join(world.truth, on=schema.ACCOUNT, how="left")
        .with_columns(pl.col("campaign_kind", "hard_negative").fill_null("-"))
    )
    abusive = (truth.get_column(schema.LABEL) != schema.BENIGN).to_numpy()
    y = label_codes(prep["ids"], hw.labels_at(prep, rate, seed))
    params = dataclasses.asdict(GraphSAGEParams(seed=seed))
    va = build_detector(params).validation_split(y)
    tr = (y >= 0) & ~va
    un = np.flatnonzero(y < 0)
    ev = prep["evidence"].get_column("risk").to_numpy()
    x = prep["inputs"].x.numpy()
    scores = {
        "gbt+agg+evidence": noisy_or_array(
            fit_predict_gbt(
                neighbour_aggregate(x, prep["inputs"].edge_index_dict), y, tr, va, seed=seed
            ),
            ev,
        )
    }
    for name, over in (
        ("graphsage(sum)+evidence", {"aggr": "sum"}),
        ("graphsage(sum+gate)+evidence", {"aggr": "sum", "edge_gate": True}),
    ):
        model = build_detector(params, **over)
        model.fit(prep["inputs"], y, train_mask=tr, val_mask=va)
        fused = fuse_scores(
            prep["evidence"],
            model.predict_proba(prep["inputs"]),
            config.scoring,
            unseen=unseen_classes(model),
        )
        scores[name] = fused.get_column("risk").to_numpy()
    n_pos = int(abusive[un].sum())
    kinds = truth.get_column("campaign_kind").to_numpy()
    negatives = truth.get_column("hard_negative").to_numpy()
    out = {
        "seed": seed,
        "rate": rate,
        "unlabelled_positives": n_pos,
        "unlabelled_by_kind": dict(Counter(kinds[un][abusive[un]])),
        "unlabelled_hard_negatives": dict(Counter(negatives[un][~abusive[un]])),
    }
    for name, s in scores.items():
        top = un[np.argsort(-s[un], kind="stable")][:n_pos]
        in_top = np.zeros(abusive.size, dtype=bool)
        in_top[top] = True
        missed = un[abusive[un] & ~in_top[un]]
        false = top[~abusive[top]]
        out[name] = {
            "missed_by_kind": dict(Counter(kinds[missed])),
            "false_by_hard_negative": dict(Counter(negatives[false])),
        }
    print(json.dumps(out), flush=True)
