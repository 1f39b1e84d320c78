# ruff: noqa: E402, SIM115
# Pilot script of section 5 round 6 of ../../README.md (scratch: paths under /tmp/hard6).
# Builds one min_support=1 hard world's inputs: python cache.py SEED
import os
import pickle
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../benchmarks"))
import hard_worlds as hw

from graphguard.compose import compose_config, settings
from graphguard.simulate import SimulationConfig, simulate

seed = int(sys.argv[1])
config = settings(compose_config(["graph.sync.min_support=1"])).detect
t = time.perf_counter()
world = simulate(SimulationConfig(n_accounts=4000, seed=seed, difficulty="hard"))
prep = hw.prepare(world, config)
with open(f"/tmp/hard6/prep_s1_{seed}.pkl", "wb") as f:
    pickle.dump(prep, f)
print(
    seed,
    round(time.perf_counter() - t, 1),
    prep["inputs"].x.shape,
    {r: e.shape[1] for r, e in prep["inputs"].edge_index_dict.items()},
    {k: (v[0].size, v[2]) for k, v in prep["hetero"].items()},
)
