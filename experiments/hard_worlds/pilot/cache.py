# ruff: noqa: E402, SIM115
# Pilot script of section 5 of ../README.md (scratch: paths under /tmp/hard5).
import os
import pickle
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch

torch.set_num_threads(1)
sys.path.insert(0, "/work/wt/hard5/benchmarks")
import functools

import hard_worlds as hw

hw.graph_inputs = functools.partial(hw.graph_inputs, edge_weights=True)
from graphguard.compose import compose_config, settings
from graphguard.config import DetectConfig
from graphguard.simulate import SimulationConfig, simulate

seed = int(sys.argv[1])
tag = sys.argv[2]
overrides = ["graph.sync.min_support=1"] if tag == "s1" else []
config = settings(compose_config(overrides)).detect if overrides else DetectConfig()
t = time.perf_counter()
world = simulate(SimulationConfig(n_accounts=4000, seed=seed, difficulty="hard"))
t1 = time.perf_counter()
prep = hw.prepare(world, config)
t2 = time.perf_counter()
# also keep events for later feature work
prep["events"] = world.events
with open(f"/tmp/hard5/prep_{tag}_{seed}.pkl", "wb") as f:
    pickle.dump(prep, f)
print(
    seed,
    tag,
    "sim",
    round(t1 - t, 1),
    "prep",
    round(t2 - t1, 1),
    prep["inputs"].x.shape,
    {r: e.shape[1] for r, e in prep["inputs"].edge_index_dict.items()},
)
